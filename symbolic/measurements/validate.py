"""Validation: every measurement of a file against the model's prediction, and the statistics.

For each point, ``ratio = predicted / measured`` (the values as reported, in the point's unit) and
its error ``|ratio - 1|``; ``speedup`` says which way the model errs whatever the unit: predicted
speed over measured speed (the ratio for a rate, its inverse for a time), above 1 when the model
is optimistic. A set of points is summed up by the median error, the worst factor
``max(ratio, 1 / ratio)`` and the geometric mean speedup; over all points and by regime (batch-1
decode, large-batch decode, prefill). Points the model cannot express are listed with the reason.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass

from ..outputs.files import dumps
from .mapping import REGIMES, TIME, UNITS, NotExpressible, Prediction, predict
from .points import Measurement, matches


@dataclass(frozen=True)
class Checked:
    """One point with its prediction."""

    point: Measurement
    prediction: Prediction

    @property
    def ratio(self) -> float:
        return float(self.prediction.value / self.point.value)

    @property
    def error(self) -> float:
        return abs(self.ratio - 1)

    @property
    def factor(self) -> float:
        return max(self.ratio, 1 / self.ratio)

    @property
    def speedup(self) -> float:
        is_time = UNITS[self.point.unit.lower()][0] == TIME
        return 1 / self.ratio if is_time else self.ratio


@dataclass(frozen=True)
class Validation:
    """The points predicted and the points left out, with the reason for each."""

    checked: tuple[Checked, ...]
    left_out: tuple[tuple[Measurement, str], ...]
    label: str                  # the efficiency model used ("ideal roofline", an engine profile, ...)


AUTO = "auto"
"""``--engine auto``: each point with the shipped profile of the engine and release that measured it."""


def profile_for(point: Measurement) -> str | None:
    """The shipped profile whose measurements (its ``fit.selection``) include points like this one:
    the same engine, and the same release line."""
    from ..performance.profiles import engine_names, engine_profile

    for name in engine_names():
        selection = engine_profile(name).selection
        if selection and matches(point, selection):
            return name
    return None


def options_for(point: Measurement, options: Mapping) -> Mapping:
    """The options a point is predicted with: ``--engine auto`` becomes its own engine's profile."""
    if options.get("engine") != AUTO:
        return options
    name = profile_for(point)
    if name is None:
        version = f" {point.engine_version}" if point.engine_version else ""
        raise NotExpressible(f"no shipped profile for engine {point.engine!r}{version} (--engine auto)")
    return {**options, "engine": name}


def validate(points: list[Measurement], options: Mapping | None = None, label: str = "ideal roofline"
             ) -> Validation:
    checked, left_out = [], []
    for point in points:
        try:
            checked.append(Checked(point, predict(point, options_for(point, options or {}))))
        except NotExpressible as exc:
            left_out.append((point, str(exc)))
    return Validation(tuple(checked), tuple(left_out), label)


def summary(checked) -> dict:
    """Median |error|, worst factor, geometric-mean speedup and count of a set of points."""
    checked = list(checked)
    if not checked:
        return {"n": 0, "median_abs_error": None, "worst_factor": None, "geomean_speedup": None}
    return {"n": len(checked),
            "median_abs_error": statistics.median(c.error for c in checked),
            "worst_factor": max(c.factor for c in checked),
            "geomean_speedup": math.exp(statistics.fmean(math.log(c.speedup) for c in checked))}


def summaries(v: Validation) -> dict:
    """The summary of all points, and of each regime that has points."""
    return {**summary(v.checked),
            "by_regime": {regime: summary(c for c in v.checked if c.prediction.regime == regime)
                          for regime in REGIMES if any(c.prediction.regime == regime for c in v.checked)}}


def json_report(v: Validation) -> str:
    return dumps({
        "efficiency_model": v.label,
        "summary": summaries(v),
        "points": [{"id": c.point.id, "engine": c.point.engine, "mapping": c.point.mapping,
                    "regime": c.prediction.regime, "unit": c.point.unit,
                    "measured": float(c.point.value), "predicted": float(c.prediction.value),
                    "ratio": c.ratio, "abs_error": c.error, "speedup": c.speedup,
                    "setting": c.prediction.setting, "source": c.point.source} for c in v.checked],
        "not_expressible": [{"id": p.id, "reason": reason} for p, reason in v.left_out],
    }, indent=2) + "\n"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _number(value) -> str:
    number = float(value)
    return f"{number:,.4g}" if abs(number) < 1000 else f"{number:,.0f}"


def summary_table(v: Validation) -> list[str]:
    """The statistics as Markdown table rows: all points, then each regime."""
    s = summaries(v)
    lines = ["| points | n | median abs error | worst factor | geomean speedup |",
             "|---|---:|---:|---:|---:|"]
    for name, row in [("all", s), *s["by_regime"].items()]:
        lines.append(f"| {name} | {row['n']} | {_percent(row['median_abs_error'])} | "
                     f"{_x(row['worst_factor'])} | {_x(row['geomean_speedup'])} |")
    return lines


def markdown_report(v: Validation, title: str) -> str:
    """The statistics table, then every point, then the points left out."""
    lines = [f"# {title}", "", f"Efficiency model: {v.label}. Ratio is predicted / measured; speedup is "
             "predicted speed / measured speed (above 1: the model is optimistic).", "",
             *summary_table(v)]
    lines += ["", "| point | regime | setting | unit | measured | predicted | ratio |",
              "|---|---|---|---|---:|---:|---:|"]
    for c in v.checked:
        lines.append(f"| `{c.point.id}` | {c.prediction.regime} | {c.prediction.setting} | {c.point.unit} | "
                     f"{_number(c.point.value)} | {_number(c.prediction.value)} | {c.ratio:.3f} |")
    if v.left_out:
        lines += ["", "Not expressible:", ""]
        lines += [f"- `{p.id}`: {reason}" for p, reason in v.left_out]
    return "\n".join(lines) + "\n"
