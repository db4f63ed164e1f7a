"""A measurements file: published inference measurements, each with its full setting.

The form is that of ``points.json`` in the project's shared measurements: an object with a
``points`` list (a bare list is read too), each point an object with

* ``id``: a name unique in the file;
* ``preset``: the model, a preset name or a config.json path (relative to the file);
* ``hardware``, ``tp``, ``pp``, ``ep``, ``devices``: the deployment;
* ``batch`` (or ``concurrency``), ``isl``, ``osl``: the workload, prompt and output tokens;
* ``weight_dtype``, ``kv_dtype``, ``act_dtype``, ``compute_dtype``: the precision;
* ``metric``, ``value``, ``unit`` and ``mapping``: what was measured and how it maps onto steps of
  the model (:mod:`symbolic.measurements.mapping`);
* ``engine``, ``engine_version``: who measured it, with which release (shipped profiles are
  fitted per engine and release line, and ``--engine auto`` picks by both);
* ``source``, ``quote``: where it was read (kept, not used).

A point that is malformed (a field missing or not a number) is refused in one line naming the
point and the field: it is bad input. A well-formed point the model cannot express (an unknown
mapping or preset, hardware without a figure the point needs) is kept and reported with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SymbolicError
from ..exact import to_rational

MAX_POINTS = 100_000
SHIPPED = Path(__file__).resolve().parent.parent / "data" / "measurements.json"
"""The published measurements shipped with symbolic, each with its quote and source."""

_COUNTS = ("tp", "pp", "ep", "batch", "concurrency", "isl", "osl", "devices")
_TEXTS = ("id", "preset", "hardware", "metric", "unit", "mapping", "weight_dtype", "kv_dtype", "act_dtype",
          "compute_dtype", "engine", "engine_version", "source", "quote")
_REQUIRED = ("id", "preset", "hardware", "value", "unit", "mapping", "isl", "osl")


@dataclass(frozen=True)
class Measurement:
    """One published measurement and the setting it was taken in."""

    id: str
    preset: str
    hardware: str
    value: object                 # an exact rational
    unit: str
    mapping: str
    isl: int
    osl: int
    batch: int = 1
    concurrency: int | None = None
    tp: int = 1
    pp: int = 1
    ep: int = 1
    devices: int | None = None
    metric: str = ""
    weight_dtype: str | None = None
    kv_dtype: str | None = None
    act_dtype: str | None = None
    compute_dtype: str | None = None
    engine: str = ""
    engine_version: str = ""
    source: str = ""
    quote: str = field(default="", compare=False)


def _where(index: int, raw: dict) -> str:
    name = raw.get("id") if isinstance(raw.get("id"), str) else None
    return f"point {name!r}" if name else f"point {index + 1}"


def read_point(raw, index: int, folder: Path) -> Measurement:
    if not isinstance(raw, dict):
        raise SymbolicError(f"point {index + 1}: expected an object, got {type(raw).__name__}")
    where = _where(index, raw)
    for key in _REQUIRED:
        if raw.get(key) is None:
            raise SymbolicError(f"{where}: missing field {key!r}")
    values: dict = {}
    for key in _TEXTS:
        if raw.get(key) is not None:
            if not isinstance(raw[key], str) or (key in _REQUIRED and not raw[key].strip()):
                raise SymbolicError(f"{where}: field {key!r} must be text")
            values[key] = raw[key].strip() if key != "quote" else raw[key]
    for key in _COUNTS:
        if raw.get(key) is not None:
            value = raw[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SymbolicError(f"{where}: field {key!r} must be a positive whole number, got {value!r}")
            values[key] = value
    number = raw["value"]
    readable = isinstance(number, (int, float, str)) and not isinstance(number, bool)
    value = to_rational(number) if readable else None
    if value is None or value <= 0:
        raise SymbolicError(f"{where}: field 'value' must be a positive number, got {str(number)[:40]!r}")
    preset = values["preset"]
    if preset.endswith(".json") and not Path(preset).is_absolute():
        preset = str(folder / preset)
    return Measurement(**{**values, "preset": preset, "value": value})


def read_measurements(path: str | Path) -> list[Measurement]:
    """Every point of a measurements file, in its order (one-line errors for malformed input)."""
    from ..config.userfiles import read_json

    path = Path(path)
    data = read_json(path, "measurements file")
    points = data.get("points") if isinstance(data, dict) else data
    if not isinstance(points, list):
        raise SymbolicError(f"{path.name}: expected a 'points' list")
    if not points:
        raise SymbolicError(f"{path.name}: no points")
    if len(points) > MAX_POINTS:
        raise SymbolicError(f"{path.name}: more than {MAX_POINTS:,} points")
    read = [read_point(raw, i, path.parent) for i, raw in enumerate(points)]
    seen: set[str] = set()
    for point in read:
        if point.id in seen:
            raise SymbolicError(f"{path.name}: point id {point.id!r} appears twice")
        seen.add(point.id)
    return read


def _selection(text: str) -> tuple[str, bool, list[str]]:
    """``KEY=PATTERN`` or ``KEY!=PATTERN`` as (key, whether it must match, the patterns): a pattern
    is a shell pattern, any case, and ``A|B`` matches either."""
    import dataclasses

    fields = {f.name for f in dataclasses.fields(Measurement)}
    key, sep, pattern = text.partition("=")
    negated = key.endswith("!")
    key = key.removesuffix("!").strip()
    if not sep or key not in fields:
        raise SymbolicError(f"--select {text!r} must read KEY=PATTERN or KEY!=PATTERN with KEY one of "
                            f"{', '.join(sorted(fields))}")
    patterns = [p.strip().lower() for p in pattern.split("|")]
    if len(patterns) > 1 and "" in patterns:
        raise SymbolicError(f"--select {text!r}: an empty alternative (KEY= alone selects an empty field)")
    return key, not negated, patterns


def matches(point: Measurement, selections: list[str] | tuple[str, ...]) -> bool:
    """Whether the point's fields match every selection (see :func:`select`)."""
    import fnmatch

    for text in selections:
        key, wanted, patterns = _selection(text)
        value = str(getattr(point, key)).lower()
        if any(fnmatch.fnmatch(value, p) for p in patterns) != wanted:
            return False
    return True


def select(points: list[Measurement], selections: list[str]) -> list[Measurement]:
    """The points whose fields match every ``KEY=PATTERN`` (a shell pattern, any case; ``A|B``
    for either; ``KEY!=PATTERN`` for the others): ``engine=vLLM``, ``hardware=h100*|h200``."""
    for text in selections:
        _selection(text)
    chosen = [p for p in points if matches(p, selections)]
    if not chosen:
        raise SymbolicError(f"--select {' '.join(selections)}: no point matches")
    return chosen
