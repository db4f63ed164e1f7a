"""Accelerators as data: peak FLOP/s per dtype, memory bandwidth and capacity, interconnect.

``data/hardware.json`` quotes a source for every number. Peaks are dense unless a field says
sparse; int8 figures are operations per second. Users add or override accelerators with a file of
the same shape (``{"accelerators": [...]}``).
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

import sympy

from .errors import SymbolicError
from .exact import to_rational
from .units import unit_factor


@dataclass(frozen=True)
class Accelerator:
    """One device. Numbers are exact rationals in base units (FLOP/s, bytes, bytes/s)."""

    name: str
    label: str
    peak_flops: dict[str, sympy.Rational]          # dense, per dtype
    memory_bytes: sympy.Rational
    memory_bandwidth: sympy.Rational
    link_bandwidth: sympy.Rational | None          # one direction
    link_name: str = ""
    peak_flops_sparse: dict[str, sympy.Rational] = field(default_factory=dict)
    notes: str = ""
    sources: dict = field(default_factory=dict, compare=False, repr=False)

    def peak(self, dtype: str) -> sympy.Rational:
        """Dense peak FLOP/s for ``dtype``; an error naming the dtypes the source lists."""
        if dtype in self.peak_flops:
            return self.peak_flops[dtype]
        if dtype == "bf16" and "fp16" in self.peak_flops and "bf16" not in self.peak_flops:
            raise SymbolicError(f"{self.name} has no bf16 tensor cores; use --activation-dtype fp16")
        known = ", ".join(self.peak_flops) or "none published"
        raise SymbolicError(f"{self.name} lists no {dtype} peak FLOP/s (listed: {known}); "
                            f"choose another compute dtype or add the figure in a --hardware-file")


def _number(entry: dict, value: str, where: str) -> sympy.Rational:
    exact = to_rational(value)
    if exact is None or exact <= 0:
        raise SymbolicError(f"hardware {entry.get('name', '?')}: {where} must be a positive number, "
                            f"got {value!r}")
    return exact


def _accelerator(entry: dict) -> Accelerator:
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise SymbolicError("hardware entry without a 'name'")
    for key in ("memory", "memory_bandwidth"):
        if key not in entry:
            raise SymbolicError(f"hardware {name}: field '{key}' is missing")
    memory = entry["memory"]
    unit = unit_factor(memory.get("unit", "B"))
    if unit is None or unit[0] != "bytes":
        raise SymbolicError(f"hardware {name}: memory unit {memory.get('unit')!r} is not a byte unit")
    link = entry.get("interconnect") or {}
    return Accelerator(
        name=name,
        label=entry.get("label", name),
        peak_flops={k: _number(entry, v, f"peak_flops.{k}") for k, v in entry.get("peak_flops", {}).items()},
        peak_flops_sparse={k: _number(entry, v, f"peak_flops_sparse.{k}")
                           for k, v in entry.get("peak_flops_sparse", {}).items()},
        memory_bytes=_number(entry, memory.get("value"), "memory.value") * unit[1],
        memory_bandwidth=_number(entry, entry["memory_bandwidth"], "memory_bandwidth"),
        link_bandwidth=_number(entry, link["per_direction"], "interconnect.per_direction")
        if "per_direction" in link else None,
        link_name=link.get("name", ""),
        notes=entry.get("notes", ""),
        sources=entry.get("sources", {}),
    )


def _read(text: str, where: str) -> list[Accelerator]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SymbolicError(f"{where}: not valid JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(data, dict) or not isinstance(data.get("accelerators"), list):
        raise SymbolicError(f"{where}: expected an object with an 'accelerators' list")
    return [_accelerator(entry) for entry in data["accelerators"]]


@cache
def _shipped() -> dict[str, Accelerator]:
    text = resources.files("symbolic").joinpath("data/hardware.json").read_text(encoding="utf-8")
    return {a.name: a for a in _read(text, "hardware.json")}


def accelerators(extra_file: str | Path | None = None) -> dict[str, Accelerator]:
    """The shipped accelerators, with a user's file added on top (its entries win)."""
    known = dict(_shipped())
    if extra_file:
        path = Path(extra_file)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SymbolicError(f"{path}: cannot read: {exc.strerror}") from None
        known.update({a.name: a for a in _read(text, str(path))})
    return known


def get_accelerator(name: str, extra_file: str | Path | None = None) -> Accelerator:
    known = accelerators(extra_file)
    key = name.strip().lower()
    if key in known:
        return known[key]
    close = difflib.get_close_matches(key, list(known), n=3, cutoff=0.4)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise SymbolicError(f"unknown accelerator {name!r}{hint}; known: {', '.join(sorted(known))}")
