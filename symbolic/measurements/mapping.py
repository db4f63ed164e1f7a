"""How a measurement maps onto prefill and decode steps of the model, and its prediction.

Each mapping names what a benchmark timed, in steps of :class:`~symbolic.performance.roofline.
Performance` (the schema of the shared ``points.json``):

* ``static_e2e_throughput``: B OSL / (TTFT(B, ISL) + the OSL - 1 decode steps at contexts
  ISL .. ISL + OSL - 2): the prefill makes the first token; per-device units divide by the devices;
* ``static_e2e_latency``: TTFT(B, ISL) + the OSL - 1 decode steps;
* ``ttft_b1``: one prefill of ISL tokens at batch 1; ``prefill_rate_b1``: ISL / TTFT(1, ISL);
* ``decode_rate_b1``: OSL / (the OSL decode steps at batch 1 from context ISL); llama-bench's ``tg``
  starts from an empty cache (ISL 1), a benchmark that decodes after a prompt gives its length;
* ``tpot_concurrency``: serving at a concurrency C in a closed loop: the mean decode step at batch C
  over contexts ISL .. ISL + OSL - 1, plus (C - 1) TTFT(1, ISL) / OSL, the prefills of the C - 1
  requests that start during a request's life, interleaved with its decode steps;
* ``offline_max_throughput``: ``static_e2e_throughput`` at the batch whose KV cache fills 90% of
  device memory at ISL + OSL tokens a sequence, at most 2048.

A point is predicted in its own unit, exactly. A point the model cannot express (an unknown
mapping, unit or model, a dtype the accelerator lists no peak for, weights that do not fit) raises
:class:`NotExpressible` with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import sympy

from ..errors import SymbolicError
from ..performance.serving import serving_weights
from ..setting import Setting
from .points import Measurement

MAX_OFFLINE_BATCH = 2048
OFFLINE_MEMORY_FRACTION = sympy.Rational(9, 10)

PREFILL, BATCH_1_DECODE, LARGE_BATCH_DECODE = "prefill", "batch-1 decode", "large-batch decode"
REGIMES = (BATCH_1_DECODE, LARGE_BATCH_DECODE, PREFILL)


class NotExpressible(Exception):
    """A measurement the model cannot predict, with the reason in one line."""


@dataclass(frozen=True)
class Prediction:
    """A point's predicted value in its own unit, the regime it tests and the setting used."""

    value: sympy.Rational
    regime: str
    setting: str


RATE, TIME = "rate", "time"
UNITS: dict[str, tuple[str, sympy.Rational, bool]] = {
    # unit -> (kind, seconds or tokens/s per unit, per device)
    "tok/s": (RATE, sympy.Integer(1), False),
    "tokens/s": (RATE, sympy.Integer(1), False),
    "tok/s/gpu": (RATE, sympy.Integer(1), True),
    "tokens/s/gpu": (RATE, sympy.Integer(1), True),
    "tok/s/device": (RATE, sympy.Integer(1), True),
    "s": (TIME, sympy.Integer(1), False),
    "ms": (TIME, sympy.Rational(1, 1000), False),
    "us": (TIME, sympy.Rational(1, 10**6), False),
}


@dataclass(frozen=True)
class Recipe:
    """What a measurement timed, in steps of the model: a prefill of ``prefill_batch`` prompts of S
    tokens (the setting's prompt) taking t_p, and ``decode_steps`` decode steps at
    ``decode_batch`` from context ``first_context`` taking t_d in all. The measured quantity is
    ``a t_p + b t_d`` (a time) or ``tokens / (a t_p + b t_d)`` (a rate). Validation evaluates
    the times exactly; calibration evaluates the same recipe with the efficiency parameters free."""

    setting: Setting
    kind: str                     # RATE or TIME
    regime: str
    prefill_batch: int = 1
    prefill_weight: sympy.Rational = sympy.Integer(0)
    decode_batch: int = 1
    first_context: int = 1
    decode_steps: int = 0
    decode_weight: sympy.Rational = sympy.Integer(0)
    tokens: sympy.Rational = sympy.Integer(1)

    def value(self, prefill_s, decode_s):
        """The measured quantity from the two times (exact rationals or floats)."""
        total = self.prefill_weight * prefill_s + self.decode_weight * decode_s
        return self.tokens / total if self.kind == RATE else total

    def exact(self):
        """The quantity with every time exact (:class:`~symbolic.performance.roofline.Performance`)."""
        perf = self.setting.performance
        perf.check_weights_fit()
        prefill = perf.prefill_time(self.prefill_batch) if self.prefill_weight else sympy.Integer(0)
        decode = (perf.decode_sum(self.decode_batch, self.first_context, self.decode_steps)
                  if self.decode_weight else sympy.Integer(0))
        return self.value(prefill, decode)


def _setting(point: Measurement, options: Mapping, prompt: int, **extra) -> Setting:
    """The point's setting: its deployment and precision, the shared ``options`` and a prompt."""
    values = {"hardware": point.hardware, "tp": point.tp, "pp": point.pp, "ep": point.ep,
              "weight_dtype": point.weight_dtype, "kv_dtype": point.kv_dtype,
              "activation_dtype": point.act_dtype, "compute_dtype": point.compute_dtype,
              **extra, **options, "prompt": prompt}
    return Setting.from_mapping(point.preset, values)


def _regime(point: Measurement, batch: int) -> str:
    if point.osl == 1:
        return PREFILL
    return BATCH_1_DECODE if batch == 1 else LARGE_BATCH_DECODE


def _static(point: Measurement, options: Mapping, *, rate: bool, batch: int | None = None) -> Recipe:
    """A static batch: a prefill of ISL tokens that makes the first token, then OSL - 1 steps."""
    batch = point.batch if batch is None else batch
    one = sympy.Integer(1)
    return Recipe(_setting(point, options, point.isl), RATE if rate else TIME, _regime(point, batch),
                  prefill_batch=batch, prefill_weight=one, decode_batch=batch, first_context=point.isl,
                  decode_steps=point.osl - 1, decode_weight=one if point.osl > 1 else sympy.Integer(0),
                  tokens=sympy.Integer(batch * point.osl))


def _ttft(point, options, *, rate: bool) -> Recipe:
    return Recipe(_setting(point, options, point.isl), RATE if rate else TIME, PREFILL,
                  prefill_weight=sympy.Integer(1), tokens=sympy.Integer(point.isl))


def _decode_rate(point, options) -> Recipe:
    return Recipe(_setting(point, options, point.isl), RATE, BATCH_1_DECODE, first_context=point.isl,
                  decode_steps=point.osl, decode_weight=sympy.Integer(1), tokens=sympy.Integer(point.osl))


def _tpot_concurrency(point, options) -> Recipe:
    users = point.concurrency or point.batch
    prefill_weight, decode_weight = serving_weights(users, point.osl)
    return Recipe(_setting(point, options, point.isl), TIME, _regime(point, users),
                  prefill_weight=prefill_weight, decode_batch=users, first_context=point.isl,
                  decode_steps=point.osl, decode_weight=decode_weight)


def _offline(point, options) -> Recipe:
    sizing = _setting(point, options, point.isl, memory_fraction=OFFLINE_MEMORY_FRACTION, output=point.osl)
    sizing.performance.check_weights_fit()
    batch = min(sizing.performance.max_batch(), MAX_OFFLINE_BATCH)
    if batch < 1:
        raise NotExpressible("no sequence's KV cache fits beside the weights")
    return _static(point, options, rate=True, batch=batch)


MAPPINGS: dict[str, Callable[[Measurement, Mapping], Recipe]] = {
    "static_e2e_throughput": lambda p, o: _static(p, o, rate=True),
    "static_e2e_latency": lambda p, o: _static(p, o, rate=False),
    "ttft_b1": lambda p, o: _ttft(p, o, rate=False),
    "prefill_rate_b1": lambda p, o: _ttft(p, o, rate=True),
    "decode_rate_b1": _decode_rate,
    "tpot_concurrency": _tpot_concurrency,
    "offline_max_throughput": _offline,
}
"""Each mapping: (point, setting options) -> its :class:`Recipe`."""


def recipe(point: Measurement, options: Mapping | None = None) -> tuple[Recipe, sympy.Rational]:
    """The point's recipe and the factor from the recipe's value (tokens/s or seconds) to the
    point's unit; :class:`NotExpressible` when the model cannot express the point."""
    mapper = MAPPINGS.get(point.mapping)
    if mapper is None:
        raise NotExpressible(f"unknown mapping {point.mapping!r}; known: {', '.join(MAPPINGS)}")
    unit = UNITS.get(point.unit.lower())
    if unit is None:
        raise NotExpressible(f"unit {point.unit!r} is not one of {', '.join(UNITS)}")
    kind, scale, per_device = unit
    try:
        found = mapper(point, options or {})
        found.setting.performance.check_weights_fit()
    except SymbolicError as exc:
        raise NotExpressible(str(exc)) from None
    if kind != found.kind:
        raise NotExpressible(f"unit {point.unit!r} is a {kind}, but {point.mapping} predicts a {found.kind}")
    devices = found.setting.performance.deployment.devices
    if point.devices is not None and point.devices != devices:
        raise NotExpressible(f"devices {point.devices} is not tp x pp x ep = {devices}: the layout "
                             f"does not say how the devices are used")
    return found, 1 / (scale * (devices if per_device else 1))


def predict(point: Measurement, options: Mapping | None = None) -> Prediction:
    """The point's value as the model predicts it, in the point's unit, exactly; ``options`` are
    setting keys applied to every point (efficiencies, a hardware file, conventions)."""
    found, factor = recipe(point, options)
    try:
        value = found.exact() * factor
    except SymbolicError as exc:
        raise NotExpressible(str(exc)) from None
    perf = found.setting.performance
    dep = perf.deployment
    setting = (f"{perf.model.arch.name}, {dep.devices} x {dep.accelerator.name} (tp {dep.tp}, pp {dep.pp}, "
               f"ep {dep.ep}), {perf.derivation.precision.weight_label}/{perf.derivation.precision.kv.name}, "
               f"S={perf.derivation.workload.prompt}")
    return Prediction(value, found.regime, setting)
