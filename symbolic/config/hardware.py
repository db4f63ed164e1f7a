"""Accelerators as data: peak FLOP/s per dtype, memory bandwidth and capacity, interconnect.

``data/hardware.json`` quotes a source for every number. Peaks are dense unless a field says
sparse; int8 figures are operations per second. Users add or override accelerators with a file of
the same shape (``{"accelerators": [...]}``). Names are case-insensitive: stored and looked up in
lower case, while the label keeps the name as written.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

import sympy

from ..errors import SymbolicError
from ..units import binary_bytes, si, unit_factor
from .userfiles import Fields, parse_json, read_json, shown, shown_path


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
    host_link_bandwidth: sympy.Rational | None = None    # to host memory, one direction (PCIe)
    host_link_name: str = ""
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


MAX_LISTED = 30
"""The most accelerator names an error message lists."""
MAX_FIGURE = 10**24
"""The largest figure an accelerator may have, in base units (FLOP/s, bytes, bytes/s); the least is
1. Real devices sit between 10^9 and 10^16; the bounds keep every time and cost a finite float."""


def _figure(fields: Fields, name: str, scale: int | sympy.Rational = 1) -> sympy.Rational:
    """The positive figure in field ``name`` times ``scale`` (its unit), within 1..MAX_FIGURE."""
    value = fields.real(name, lambda x: x > 0, "a positive number") * scale
    if not 1 <= value <= MAX_FIGURE:
        raise fields.fail(f"{fields.field(name)} must come to between 1 and 10^24 in base units "
                          f"(FLOP/s, bytes, bytes/s), got {shown(fields.data[name])}")
    return value


def _per_dtype(fields: Fields, name: str) -> dict[str, sympy.Rational]:
    """An object of dtype -> figure, such as peak_flops."""
    table = fields.section(name)
    return {dtype: _figure(table, dtype) for dtype in table.data} if table else {}


def _sources(fields: Fields) -> dict:
    """Where each figure comes from: an object of field -> {"url", "quote", ...} or -> free text."""
    sources = fields.section("sources")
    if sources is None:
        return {}
    for key, value in sources.data.items():
        if not isinstance(value, str):
            entry = sources.section(key, required=True)
            entry.text("url", default=None)
            entry.text("quote", default=None)
    return sources.data


def _accelerator(fields: Fields) -> Accelerator:
    """One entry of a hardware file. Its name is kept lowercased (names are case-insensitive);
    its label, as written, defaults to the name as written."""
    written = fields.text("name", default=None)
    if written is None or not written.strip():
        raise fields.missing("name")
    fields = type(fields)(fields.data, f"{fields.where} ({shown(written.strip())})")
    memory = fields.section("memory", required=True)
    unit = unit_factor(memory.text("unit", default="B"))
    if unit is None or unit[0] != "bytes":
        raise memory.fail(f"{memory.field('unit')} must be a byte unit (B, GB, GiB, ...), "
                          f"got {shown(memory.data.get('unit'))}")
    link = fields.section("interconnect")
    host = fields.section("host_link")
    return Accelerator(
        name=written.strip().lower(),
        label=fields.text("label", default=None) or written.strip(),
        peak_flops=_per_dtype(fields, "peak_flops"),
        peak_flops_sparse=_per_dtype(fields, "peak_flops_sparse"),
        memory_bytes=_figure(memory, "value", unit[1]),
        memory_bandwidth=_figure(fields, "memory_bandwidth"),
        link_bandwidth=_figure(link, "per_direction") if link and link.present("per_direction") else None,
        link_name=link.text("name", default="") if link else "",
        host_link_bandwidth=(_figure(host, "per_direction") if host and host.present("per_direction")
                             else None),
        host_link_name=host.text("name", default="") if host else "",
        notes=fields.text("notes", default=""),
        sources=_sources(fields),
    )


def _read(data: object, where: str) -> list[Accelerator]:
    """The accelerators of a hardware file's parsed JSON: ``{"accelerators": [{...}, ...]}``."""
    entries = data.get("accelerators") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise SymbolicError(f"{where}: expected an object with an 'accelerators' list")
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise SymbolicError(f"{where}: accelerators[{i}] must be an object, got {shown(entry)}")
    return [_accelerator(Fields(entry, f"{where}: accelerators[{i}]")) for i, entry in enumerate(entries)]


@cache
def _shipped() -> dict[str, Accelerator]:
    text = resources.files("symbolic").joinpath("data/hardware.json").read_text(encoding="utf-8")
    return {a.name: a for a in _read(parse_json(text, "hardware.json"), "hardware.json")}


def accelerators(extra_file: str | Path | None = None) -> dict[str, Accelerator]:
    """The shipped accelerators, with a user's file added on top (its entries win), keyed by
    lowercased name."""
    known = dict(_shipped())
    if extra_file:
        path = Path(extra_file)
        known.update({a.name: a for a in _read(read_json(path, "hardware file"), shown_path(path))})
    return known


def get_accelerator(name: str, extra_file: str | Path | None = None) -> Accelerator:
    """The accelerator called ``name``, in any case."""
    known = accelerators(extra_file)
    key = name.strip().lower()
    if key in known:
        return known[key]
    close = difflib.get_close_matches(key, list(known), n=3, cutoff=0.4)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    names = sorted(known)
    more = len(names) - MAX_LISTED
    listed = ", ".join(names[:MAX_LISTED]) + (f" and {more} more" if more > 0 else "")
    raise SymbolicError(f"unknown accelerator {shown(name)}{hint}; known: {listed}")


def hardware_listing(known: dict[str, Accelerator], fmt: str) -> str:
    """What ``symbolic hardware`` prints: a table of the accelerators (name, label, dense bf16 or
    fp16 peak, memory, bandwidth), then the source of each figure (its url and quote in
    data/hardware.json); for ``fmt == "json"`` a list of the same figures with each ``sources``."""
    if fmt == "json":
        return json.dumps([{"name": a.name, "label": a.label,
                            "peak_flops": {k: float(v) for k, v in a.peak_flops.items()},
                            "memory_bytes": int(a.memory_bytes),
                            "memory_bandwidth": float(a.memory_bandwidth),
                            "link_bandwidth_per_direction": None if a.link_bandwidth is None
                            else float(a.link_bandwidth),
                            "host_link_bandwidth_per_direction": None if a.host_link_bandwidth is None
                            else float(a.host_link_bandwidth),
                            "sources": a.sources}
                           for a in known.values()], indent=2, allow_nan=False) + "\n"
    rows = [("name", "accelerator", "bf16/fp16 dense", "memory", "bandwidth")]
    for a in known.values():
        peak = a.peak_flops.get("bf16") or a.peak_flops.get("fp16")
        rows.append((a.name, a.label, si(peak, "FLOP/s") if peak else "-", binary_bytes(a.memory_bytes),
                     si(a.memory_bandwidth, "B/s")))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    table = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    sources = ["sources (the address read, then its wording):",
               *(line for a in known.values() for line in _source_lines(a))]
    return "\n".join([*table, *sources]) + "\n"


def _source_lines(accelerator: Accelerator) -> list[str]:
    """An accelerator's sources as text: for each figure, its url and then its quote."""
    if not accelerator.sources:
        return [f"{accelerator.name}: no source given"]
    lines = [f"{accelerator.name}:"]
    for figure, source in accelerator.sources.items():
        if isinstance(source, str):
            lines.append(f"  {figure}: {source}")
            continue
        lines.append(f"  {figure}: {source.get('url') or 'no url given'}")
        if source.get("quote"):
            lines.append(f'    "{source["quote"]}"')
    return lines
