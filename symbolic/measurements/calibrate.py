"""Calibration: the efficiency parameters that make the model agree with measurements.

Each point's :class:`~symbolic.measurements.mapping.Recipe` is compiled once with the fitted
parameters left as symbols (everything else bound), to NumPy: its prefill step and its decode step
over the contexts it runs (a step is piecewise linear in the context, so a trapezoid over at most
``CONTEXT_SAMPLES`` contexts, with half of each end added, sums its integers exactly but near a kink).
The fit minimises the sum of squared log ratios ``log(predicted / measured)`` by Levenberg-Marquardt,
each parameter kept in its range through a transform (an efficiency in (0, 1) as a logistic, a
latency or a padding as an exponential), so no fitted profile is faster than the ideal roofline.

Before fitting, the data must determine every parameter asked for: more points than parameters,
and a Jacobian of full rank at the start (a parameter that no point exercises, such as the link's
efficiency without a multi-device point, is refused by name). After fitting: the in-sample errors,
and leave-one-out errors (each point predicted by a fit on all the others).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import sympy

from ..architecture.workload import DECODE_STEP, PREFILL
from ..errors import SymbolicError
from ..exact import for_floats, substitute
from ..symbols import VOCABULARY, B, c, c_dq, eta_a, eta_f, eta_l, eta_m, m_pad, t_kern, t_link, t_o
from .mapping import NotExpressible, recipe
from .points import Measurement

CONTEXT_SAMPLES = 64

EFFICIENCY, LATENCY, ROWS = "efficiency", "latency", "rows"


@dataclass(frozen=True)
class Parameter:
    """A parameter that can be fitted: its setting key, symbol, range kind and starting value."""

    key: str
    symbol: sympy.Symbol
    kind: str
    start: float
    floor: float = 0.0     # its ideal value, where that is not 0 (a collective's latency)

    def value(self, u: np.ndarray | float):
        """The parameter from its unconstrained coordinate ``u``: never better than ideal."""
        if self.kind == EFFICIENCY:
            return 1 / (1 + np.exp(-u))
        scale = 1e-6 if self.kind == LATENCY else 1.0
        return self.floor + scale * np.exp(u)

    def coordinate(self, value: float) -> float:
        if self.kind == EFFICIENCY:
            value = min(max(value, 1e-9), 1 - 1e-9)
            return math.log(value / (1 - value))
        scale = 1e-6 if self.kind == LATENCY else 1.0
        return math.log(max(value - self.floor, 1e-12) / scale)


PARAMETERS = {p.key: p for p in (
    Parameter("mfu", eta_f, EFFICIENCY, 0.7),
    Parameter("mbu", eta_m, EFFICIENCY, 0.8),
    Parameter("attention_efficiency", eta_a, EFFICIENCY, 0.7),
    Parameter("link_efficiency", eta_l, EFFICIENCY, 0.7),
    Parameter("kernel_latency", t_kern, LATENCY, 4e-6),
    Parameter("padding_rows", m_pad, ROWS, 32.0),
    Parameter("overhead", t_o, LATENCY, 2e-4),
    Parameter("link_latency", t_link, LATENCY, 1e-5, floor=5e-6),
    Parameter("dequant_flops", c_dq, ROWS, 0.5),
)}
"""Every parameter calibrate can fit, by the setting key (and command-line option) that sets it."""

DEFAULT_FIT = ("mfu", "mbu", "attention_efficiency", "kernel_latency", "padding_rows", "overhead")


def parse_fit(text: str | None, flag: str = "--fit") -> tuple[Parameter, ...]:
    """``--fit mfu,mbu,kernel_latency`` (option names with - or _ also read) as parameters; the
    default set where the option is not given."""
    if text is None:
        return tuple(PARAMETERS[n] for n in DEFAULT_FIT)
    names = [n.strip().replace("-", "_") for n in text.split(",") if n.strip()]
    if not names:
        raise SymbolicError(f"{flag} names no parameter; known: {', '.join(PARAMETERS)}")
    unknown = [n for n in names if n not in PARAMETERS]
    if unknown:
        raise SymbolicError(f"{flag}: unknown parameter {unknown[0]!r}; known: {', '.join(PARAMETERS)}")
    if len(set(names)) != len(names):
        raise SymbolicError(f"{flag} names a parameter twice")
    return tuple(PARAMETERS[n] for n in names)


class Compiled:
    """One point's recipe as a NumPy function of the fitted parameters, in the point's unit."""

    def __init__(self, point: Measurement, options: Mapping, fitted: tuple[Parameter, ...]):
        found, factor = recipe(point, options)
        self.point, self.recipe, self.factor = point, found, float(factor)
        perf = found.setting.performance
        symbols = [p.symbol for p in fitted]
        fixed = {k: v for k, v in perf.bindings.items() if k not in (B, c, *symbols)}
        self.prefill = self.decode = None
        if found.prefill_weight:
            expr = substitute(perf.step_time(PREFILL), {**fixed, B: found.prefill_batch},
                              fast_extrema=True)
            self.prefill = sympy.lambdify([symbols], for_floats(expr), modules="numpy")
        if found.decode_weight:
            expr = substitute(perf.step_time(DECODE_STEP), {**fixed, B: found.decode_batch},
                              fast_extrema=True)
            self.decode = sympy.lambdify([c, symbols], for_floats(expr), modules="numpy")
            self.contexts, self.weights = _context_samples(found.first_context, found.decode_steps)

    def __call__(self, values: list[float]) -> float:
        prefill = float(self.prefill(values)) if self.prefill else 0.0
        decode = 0.0
        if self.decode:
            steps = np.broadcast_to(self.decode(self.contexts, values), self.contexts.shape)
            decode = float(np.dot(self.weights, steps))
        r = self.recipe
        total = float(r.prefill_weight) * prefill + float(r.decode_weight) * decode
        return self.factor * (float(r.tokens) / total if r.kind == "rate" else total)


def _context_samples(first: int, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Contexts and weights whose dot product with a step's times is the sum over first ..
    first + steps - 1: every context when there are few, else a trapezoid over evenly spaced
    integers plus half of each end (exact for a linear step between samples)."""
    if steps <= CONTEXT_SAMPLES + 1:
        return np.arange(first, first + steps, dtype=np.float64), np.ones(steps)
    points = np.unique(np.round(np.linspace(first, first + steps - 1, CONTEXT_SAMPLES + 1)))
    gaps = np.diff(points)
    weights = np.zeros(len(points))
    weights[:-1] += gaps / 2
    weights[1:] += gaps / 2
    weights[0] += 0.5
    weights[-1] += 0.5
    return points, weights


@dataclass(frozen=True)
class Fit:
    """A calibration: the parameters, and how well they predict."""

    parameters: dict[str, float]
    in_sample: list[float]          # predicted / measured, each point, fitted on all
    leave_one_out: list[float]      # predicted / measured, each point, fitted on the others
    points: list[Measurement]
    left_out: list[tuple[Measurement, str]]
    iterations: int
    by_hardware: dict[str, dict[str, float]]    # the parameters fitted per accelerator, on each


PRIOR_WIDTH = 10.0
"""How far (in a parameter's coordinate: logit or log) an accelerator's own value may stray from the
shared one per unit of log error: a weak prior, so that even one or two points of an accelerator set
its value (a width of 3 held them half-way, and leave-one-out error on llama.cpp's points was 17%
against 9% at 10), while an accelerator without points that depend on it keeps the shared one."""


class Problem:
    """The least-squares problem: log(predicted / measured) of every point, a coordinate for each
    fitted parameter, and for the parameters fitted per accelerator an offset for each accelerator
    (held near the shared value by a prior of width ``PRIOR_WIDTH``)."""

    def __init__(self, models: list[Compiled], fitted: tuple[Parameter, ...],
                 per_hardware: tuple[str, ...] = ()):
        self.models, self.fitted = models, fitted
        hardware = sorted({m.point.hardware for m in models}) if per_hardware else []
        self.offsets = [(h, i) for h in hardware for i, p in enumerate(fitted) if p.key in per_hardware]
        self.size = len(fitted) + len(self.offsets)

    def values(self, u: np.ndarray, hardware: str) -> list[float]:
        """The parameters' values on one accelerator (the shared ones for a name without offsets)."""
        coordinates = np.array(u[:len(self.fitted)], dtype=np.float64)
        for j, (h, i) in enumerate(self.offsets):
            if h == hardware:
                coordinates[i] += u[len(self.fitted) + j]
        return [float(p.value(x)) for p, x in zip(self.fitted, coordinates, strict=True)]

    def ratio(self, model: Compiled, u: np.ndarray) -> float:
        return model(self.values(u, model.point.hardware)) / float(model.point.value)

    def residuals(self, u: np.ndarray, models: list[Compiled] | None = None) -> np.ndarray:
        data = [math.log(self.ratio(m, u)) for m in (self.models if models is None else models)]
        prior = u[len(self.fitted):] / PRIOR_WIDTH
        return np.concatenate([np.array(data), prior])

    def jacobian(self, u: np.ndarray, base: np.ndarray, models=None) -> np.ndarray:
        jac = np.empty((len(base), len(u)))
        for j in range(len(u)):
            step = np.zeros(len(u))
            step[j] = 1e-6
            jac[:, j] = (self.residuals(u + step, models) - base) / 1e-6
        return jac

    def solve(self, u0: np.ndarray, models=None, iterations: int = 100) -> tuple[np.ndarray, int]:
        """Levenberg-Marquardt from ``u0`` (on ``models``, a subset, if given)."""
        u = u0.copy()
        damping = 1e-3
        base = self.residuals(u, models)
        cost = float(base @ base)
        done = 0
        for done in range(1, iterations + 1):   # noqa: B007 - the count is returned
            jac = self.jacobian(u, base, models)
            gradient, normal = jac.T @ base, jac.T @ jac
            improved = False
            while damping < 1e12:
                step = np.linalg.solve(normal + damping * np.diag(np.diag(normal) + 1e-12), -gradient)
                trial = u + np.clip(step, -5, 5)
                trial_residuals = self.residuals(trial, models)
                trial_cost = float(trial_residuals @ trial_residuals)
                if math.isfinite(trial_cost) and trial_cost < cost:
                    improved = cost - trial_cost > 1e-12 * max(cost, 1e-30)
                    u, base, cost = trial, trial_residuals, trial_cost
                    damping = max(damping / 10, 1e-12)
                    break
                damping *= 10
            if not improved:
                break
        return u, done

    def determined(self, u0: np.ndarray) -> None:
        """Refuse a fit the data cannot determine: too few points, or a shared parameter whose
        effect no point shows or that moves the points as the others together do (a Jacobian of
        less than full rank). Offsets per accelerator are held by their prior."""
        fitted, models = self.fitted, self.models
        if len(models) <= len(fitted):
            raise SymbolicError(f"{len(models)} points cannot determine {len(fitted)} parameters "
                                f"({', '.join(p.key for p in fitted)}): give more points or --fit fewer")
        base = self.residuals(u0)
        jac = self.jacobian(u0, base)[:len(models), :len(fitted)]
        norms = np.linalg.norm(jac, axis=0)
        for parameter, norm in zip(fitted, norms, strict=True):
            if norm < 1e-6:
                raise SymbolicError(f"no point depends on {parameter.key} ({parameter.symbol}): "
                                    f"leave it out of --fit")
        _, singular, vt = np.linalg.svd(jac / norms, full_matrices=False)
        if singular[-1] < 1e-6 * singular[0]:
            mixed = [fitted[i].key for i in np.argsort(-np.abs(vt[-1]))[:2]]
            raise SymbolicError(f"the points cannot tell {mixed[0]} from {mixed[1]} apart: "
                                f"leave one out of --fit or add points where they differ")


def calibrate(points: list[Measurement], fitted: tuple[Parameter, ...], options: Mapping | None = None,
              *, per_hardware: tuple[str, ...] = (), leave_one_out: bool = True) -> Fit:
    """Fit ``fitted`` to the points (the others as ``options`` set them, or at their defaults); the
    parameters named in ``per_hardware`` get a value of their own on each accelerator."""
    options = dict(options or {})
    for p in fitted:
        if p.key in options:
            raise SymbolicError(f"--{p.key.replace('_', '-')} is set and fitted at once; "
                                f"leave it out of --fit")
    unfitted = [key for key in per_hardware if key not in {p.key for p in fitted}]
    if unfitted:
        raise SymbolicError(f"--per-hardware {unfitted[0]}: only fitted parameters can vary by accelerator")
    models, left_out = [], []
    for point in points:
        try:
            models.append(Compiled(point, options, fitted))
        except NotExpressible as exc:
            left_out.append((point, str(exc)))
    problem = Problem(models, fitted, per_hardware)
    u0 = np.concatenate([[p.coordinate(p.start) for p in fitted], np.zeros(len(problem.offsets))])
    problem.determined(u0)
    u, iterations = problem.solve(u0)
    in_sample = [problem.ratio(m, u) for m in models]
    held_out = []
    if leave_one_out:
        for i, model in enumerate(models):
            u_i, _ = problem.solve(u, models[:i] + models[i + 1:], iterations=30)
            held_out.append(problem.ratio(model, u_i))
    shared = problem.values(u[:len(fitted)], "")
    by_hardware = {h: {} for h, _ in problem.offsets}
    for h in by_hardware:
        own = problem.values(u, h)
        by_hardware[h] = {p.key: own[i] for i, p in enumerate(fitted) if p.key in per_hardware}
    return Fit({p.key: v for p, v in zip(fitted, shared, strict=True)}, in_sample, held_out,
               [m.point for m in models], left_out, iterations, by_hardware)


def error_summary(ratios: list[float]) -> dict:
    """Median |ratio - 1|, worst factor and count of predicted / measured ratios."""
    if not ratios:
        return {"n": 0, "median_abs_error": None, "worst_factor": None}
    return {"n": len(ratios), "median_abs_error": statistics.median(abs(r - 1) for r in ratios),
            "worst_factor": max(max(r, 1 / r) for r in ratios)}


def _rounded(value: float) -> float:
    """Four significant digits: what a fit of a few dozen measurements can tell."""
    return float(f"{value:.4g}")


def profile_document(fit: Fit, fitted: tuple[Parameter, ...], name: str, *, engines: list[str],
                     measured_in: str, selection: list[str], sources: dict, fixed: Mapping,
                     releases: str = "") -> dict:
    """The profile file ``calibrate`` writes: the parameters (fitted, and those fixed by options),
    their meanings, how well they predict, and the points with their sources."""
    parameters = {**{k: v for k, v in fixed.items() if k in PARAMETERS},
                  **{k: _rounded(v) for k, v in fit.parameters.items()}}
    used = sorted({p.source for p in fit.points if p.source})
    return {
        "profile": name,
        "label": f"{name} profile (fitted on {len(fit.points)} points of {measured_in}"
                 + (f": {releases})" if releases else ")"),
        "engines": engines,
        "parameters": parameters,
        "by_hardware": {h: {k: _rounded(v) for k, v in own.items()} for h, own in fit.by_hardware.items()},
        "symbols": {str(PARAMETERS[k].symbol): {"key": k, "value": v, "fitted": k in fit.parameters,
                                                  "meaning": VOCABULARY[str(PARAMETERS[k].symbol)].meaning,
                                                  "unit": VOCABULARY[str(PARAMETERS[k].symbol)].unit}
                    for k, v in parameters.items()},
        "fit": {"measurements": measured_in, "selection": selection, "fitted": [p.key for p in fitted],
                "per_hardware": sorted({k for own in fit.by_hardware.values() for k in own}),
                "method": "Levenberg-Marquardt on log(predicted / measured), parameters kept in range",
                "iterations": fit.iterations,
                "in_sample": error_summary(fit.in_sample),
                "leave_one_out": error_summary(fit.leave_one_out)},
        "points": [{"id": p.id, "engine": p.engine, "source": p.source,
                    "in_sample_ratio": round(r, 4),
                    **({"leave_one_out_ratio": round(fit.leave_one_out[i], 4)} if fit.leave_one_out else {})}
                   for i, (p, r) in enumerate(zip(fit.points, fit.in_sample, strict=True))],
        "not_expressible": [{"id": p.id, "reason": reason} for p, reason in fit.left_out],
        "sources": {key: sources[key] for key in used if key in sources},
    }


def fit_report(profile: dict) -> str:
    """A short Markdown report of a profile: its parameters and its errors."""
    fit = profile["fit"]
    lines = [f"# {profile['label']}", "", "| parameter | symbol | value | fitted |", "|---|---|---:|---|"]
    for symbol, entry in profile["symbols"].items():
        unit = entry["unit"] if entry["unit"] != "1" else ""
        fitted = "yes" if entry["fitted"] else "no"
        latex = VOCABULARY[symbol].latex
        lines.append(f"| {entry['key']} | ${latex}$ | {entry['value']:.4g} {unit} | {fitted} |")
    lines += ["", "| errors | n | median abs error | worst factor |", "|---|---:|---:|---:|"]
    for name in ("in_sample", "leave_one_out"):
        row = fit[name]
        if row["n"]:
            lines.append(f"| {name.replace('_', ' ')} | {row['n']} | {100 * row['median_abs_error']:.1f}% | "
                         f"{row['worst_factor']:.2f}x |")
    if profile["not_expressible"]:
        lines += ["", "Not expressible:", ""]
        lines += [f"- `{p['id']}`: {p['reason']}" for p in profile["not_expressible"]]
    return "\n".join(lines) + "\n"
