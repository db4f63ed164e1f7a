"""Efficiency profiles: values of the step time's efficiency parameters, fitted to measurements.

A profile is a JSON file that ``symbolic calibrate`` writes: its ``parameters`` are setting keys
(``mfu``, ``mbu``, ``attention_efficiency``, ``link_efficiency``, ``kernel_latency``,
``padding_rows``, ``overhead``, ``link_latency``) with their values, and beside them how they were
fitted (the points, their sources, the in-sample and leave-one-out errors). ``--profile FILE``
applies one; ``--engine NAME`` applies a profile shipped with the package (``data/profiles``),
fitted on public measurements of that serving engine. Options given on the command line win over
the profile's values. With neither, the model is the ideal roofline.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from ..errors import SymbolicError

PROFILE_KEYS = ("mfu", "mbu", "attention_efficiency", "link_efficiency", "kernel_latency", "padding_rows",
                "overhead", "link_latency", "dequant_flops")
"""The setting keys a profile may give."""

IDEAL = "ideal roofline"


@dataclass(frozen=True)
class Profile:
    """A named set of efficiency parameters (setting keys to values as written)."""

    name: str
    label: str
    parameters: tuple[tuple[str, object], ...]
    engines: tuple[str, ...] = ()         # the serving engines whose measurements it was fitted on
    selection: tuple[str, ...] = ()       # the measurements it was fitted on (``--select``)
    by_hardware: tuple[tuple[str, tuple[tuple[str, object], ...]], ...] = ()   # values of one accelerator

    def on(self, hardware: str | None) -> dict:
        """The parameters on an accelerator: its own values where the profile has them."""
        own = dict(self.by_hardware).get((hardware or "").strip().lower(), ())
        return {**dict(self.parameters), **dict(own)}


def _read(text: str, where: str) -> Profile:
    from ..config.userfiles import number, parse_json

    data = parse_json(text, where)
    if not isinstance(data, dict) or not isinstance(data.get("parameters"), dict):
        raise SymbolicError(f"{where}: a profile needs a 'parameters' object")
    parameters = data["parameters"]
    by_hardware = data.get("by_hardware", {})
    if not isinstance(by_hardware, dict) or not all(isinstance(v, dict) for v in by_hardware.values()):
        raise SymbolicError(f"{where}: 'by_hardware' must map accelerators to parameters")
    for values in (parameters, *by_hardware.values()):
        for key, value in values.items():
            if key not in PROFILE_KEYS:
                raise SymbolicError(f"{where}: unknown parameter {key!r}; known: {', '.join(PROFILE_KEYS)}")
            if isinstance(value, bool) or not isinstance(value, (int, float, str)) or number(value) is None:
                raise SymbolicError(f"{where}: parameter {key!r} must be a number, got {str(value)[:40]!r}")
    name = data.get("profile") if isinstance(data.get("profile"), str) else Path(where).stem
    label = data.get("label") if isinstance(data.get("label"), str) else name
    engines = tuple(e for e in data.get("engines", ()) if isinstance(e, str))
    own = tuple(sorted((h.lower(), tuple(sorted(v.items()))) for h, v in by_hardware.items()))
    fit = data.get("fit") if isinstance(data.get("fit"), dict) else {}
    selection = tuple(s for s in fit.get("selection", ()) if isinstance(s, str))
    return Profile(name, label, tuple(sorted(parameters.items())), engines, selection, own)


@cache
def _from_file(path: str, stamp: tuple) -> Profile:
    from ..config.userfiles import read_text

    return _read(read_text(path, "--profile"), f"--profile {Path(path).name}")


def read_profile(path: str) -> Profile:
    """The profile in a file (read again when the file changes)."""
    target = Path(path)
    if not target.is_file():
        raise SymbolicError(f"--profile {path!r} is not a file")
    status = target.stat()
    return _from_file(str(target.resolve()), (status.st_mtime_ns, status.st_size))


def engine_names() -> list[str]:
    folder = resources.files("symbolic") / "data" / "profiles"
    return sorted(entry.name.removesuffix(".json") for entry in folder.iterdir()
                  if entry.name.endswith(".json"))


@cache
def engine_profile(name: str) -> Profile:
    """The shipped profile of a serving engine."""
    key = name.strip().lower()
    if key not in engine_names():
        raise SymbolicError(f"--engine: unknown engine {name!r}; known: {', '.join(engine_names())}")
    text = (resources.files("symbolic") / "data" / "profiles" / f"{key}.json").read_text(encoding="utf-8")
    return _read(text, f"--engine {key}")
