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
from ..exact import substitute
from ..symbols import B, c, eta_a, eta_f, eta_l, eta_m, m_pad, t_kern, t_link, t_o
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

    def value(self, u: np.ndarray | float):
        """The parameter from its unconstrained coordinate ``u``."""
        if self.kind == EFFICIENCY:
            return 1 / (1 + np.exp(-u))
        scale = 1e-6 if self.kind == LATENCY else 1.0
        return scale * np.exp(u)

    def coordinate(self, value: float) -> float:
        if self.kind == EFFICIENCY:
            value = min(max(value, 1e-9), 1 - 1e-9)
            return math.log(value / (1 - value))
        scale = 1e-6 if self.kind == LATENCY else 1.0
        return math.log(max(value, 1e-12) / scale)


PARAMETERS = {p.key: p for p in (
    Parameter("mfu", eta_f, EFFICIENCY, 0.7),
    Parameter("mbu", eta_m, EFFICIENCY, 0.8),
    Parameter("attention_efficiency", eta_a, EFFICIENCY, 0.7),
    Parameter("link_efficiency", eta_l, EFFICIENCY, 0.7),
    Parameter("kernel_latency", t_kern, LATENCY, 4e-6),
    Parameter("padding_rows", m_pad, ROWS, 32.0),
    Parameter("overhead", t_o, LATENCY, 2e-4),
    Parameter("link_latency", t_link, LATENCY, 5e-6),
)}
"""Every parameter calibrate can fit, by the setting key (and command-line option) that sets it."""

DEFAULT_FIT = ("mfu", "mbu", "attention_efficiency", "kernel_latency", "padding_rows", "overhead")


def parse_fit(text: str | None) -> tuple[Parameter, ...]:
    """``--fit mfu,mbu,kernel_latency`` (option names with - or _ also read) as parameters."""
    names = DEFAULT_FIT if not text else [n.strip().replace("-", "_") for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in PARAMETERS]
    if unknown or not names:
        raise SymbolicError(f"--fit: unknown parameter {(unknown or [''])[0]!r}; known: {', '.join(PARAMETERS)}")
    if len(set(names)) != len(names):
        raise SymbolicError("--fit names a parameter twice")
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
            expr = substitute(perf.step_time(PREFILL), {**fixed, B: found.prefill_batch}, fast_extrema=True)
            self.prefill = sympy.lambdify([symbols], expr, modules="numpy")
        if found.decode_weight:
            expr = substitute(perf.step_time(DECODE_STEP), {**fixed, B: found.decode_batch}, fast_extrema=True)
            self.decode = sympy.lambdify([c, symbols], expr, modules="numpy")
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


def _residuals(models: list[Compiled], fitted, u: np.ndarray) -> np.ndarray:
    values = [float(p.value(x)) for p, x in zip(fitted, u, strict=True)]
    return np.array([math.log(m(values) / float(m.point.value)) for m in models])


def _jacobian(models, fitted, u, base) -> np.ndarray:
    jac = np.empty((len(models), len(u)))
    for j in range(len(u)):
        step = np.zeros(len(u))
        step[j] = 1e-6
        jac[:, j] = (_residuals(models, fitted, u + step) - base) / 1e-6
    return jac


def _levenberg_marquardt(models, fitted, u0: np.ndarray, iterations: int = 100) -> tuple[np.ndarray, int]:
    u = u0.copy()
    damping = 1e-3
    base = _residuals(models, fitted, u)
    cost = float(base @ base)
    done = 0
    for done in range(1, iterations + 1):   # noqa: B007 - the count is returned
        jac = _jacobian(models, fitted, u, base)
        gradient = jac.T @ base
        normal = jac.T @ jac
        improved = False
        while damping < 1e12:
            step = np.linalg.solve(normal + damping * np.diag(np.diag(normal) + 1e-12), -gradient)
            trial = u + np.clip(step, -5, 5)
            trial_residuals = _residuals(models, fitted, trial)
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


def determined(models: list[Compiled], fitted: tuple[Parameter, ...], u0: np.ndarray) -> None:
    """Refuse a fit the data cannot determine: too few points, or a parameter whose effect no point
    shows or that moves the points as the others together do (a Jacobian of less than full rank)."""
    if len(models) <= len(fitted):
        raise SymbolicError(f"{len(models)} points cannot determine {len(fitted)} parameters "
                            f"({', '.join(p.key for p in fitted)}): give more points or --fit fewer")
    base = _residuals(models, fitted, u0)
    jac = _jacobian(models, fitted, u0, base)
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
              *, leave_one_out: bool = True) -> Fit:
    """Fit ``fitted`` to the points (the others as ``options`` set them, or at their defaults)."""
    options = dict(options or {})
    for p in fitted:
        if p.key in options:
            raise SymbolicError(f"--{p.key.replace('_', '-')} is set and fitted at once; leave it out of --fit")
    models, left_out = [], []
    for point in points:
        try:
            models.append(Compiled(point, options, fitted))
        except NotExpressible as exc:
            left_out.append((point, str(exc)))
    u0 = np.array([p.coordinate(p.start) for p in fitted])
    determined(models, fitted, u0)
    u, iterations = _levenberg_marquardt(models, fitted, u0)
    values = [float(p.value(x)) for p, x in zip(fitted, u, strict=True)]
    in_sample = [m(values) / float(m.point.value) for m in models]
    held_out = []
    if leave_one_out:
        for i, model in enumerate(models):
            rest = models[:i] + models[i + 1:]
            u_i, _ = _levenberg_marquardt(rest, fitted, u, iterations=30)
            held_out.append(model([float(p.value(x)) for p, x in zip(fitted, u_i, strict=True)])
                            / float(model.point.value))
    return Fit({p.key: v for p, v in zip(fitted, values, strict=True)}, in_sample, held_out,
               [m.point for m in models], left_out, iterations)


def error_summary(ratios: list[float]) -> dict:
    """Median |ratio - 1|, worst factor and count of predicted / measured ratios."""
    if not ratios:
        return {"n": 0, "median_abs_error": None, "worst_factor": None}
    return {"n": len(ratios), "median_abs_error": statistics.median(abs(r - 1) for r in ratios),
            "worst_factor": max(max(r, 1 / r) for r in ratios)}
