"""Quantities a claim may be held against beyond ``symbolic derive``'s JSON, read from the same op
lists: training FLOPs, one device's share under tensor, pipeline and expert parallelism, the bytes
one device sends over its links in a step, and the FLOPs, parameters and bytes of one op or one
fused kernel.

* ``flops.training.total`` / ``.per_token``: a forward over the B S prompt tokens with logits at
  every position, and a backward of twice its FLOPs (a gradient for the inputs and one for the
  weights of every matmul; Kaplan et al. 2020, "Scaling Laws", section 2.1, the basis of 6N).
* ``per_device.weights_bytes``, ``per_device.kv_cache.bytes_per_sequence``,
  ``per_device.flops.{prefill,decode_step}``, ``per_device.link_bytes.{prefill,decode_step}``:
  :func:`symbolic.quantities.sums.weights_bytes_per_device` and its kin, N_tp, N_pp and N_ep bound
  to the setting's ``--tp``, ``--pp`` and ``--ep`` (1 when not given).
* ``time.prefill``, ``time.decode_step``, ``time.request.decode``, ``time.request.total``: a
  request's times on ``--hardware`` (see :func:`request_times`).
* ``ops.<section>.<op>.<field>`` and ``kernels.<section>.<kernel>.<field>``: one op (or the ops one
  fused kernel runs) in one layer of a kind; fields ``params``, ``flops.<phase>`` and
  ``bytes.<phase>`` (weights read, KV cache read and written, activations read and written).
"""

from __future__ import annotations

import copy

import sympy

from ..architecture.workload import PHASES, PREFILL
from ..ops.model import Model
from ..ops.op import Op, kernels
from ..quantities import sums as q
from ..quantities.derive import Derivation
from ..symbols import B, N_ep, N_pp, N_tp, S, b_a, c

PER_DEVICE_TOTALS = {"per_device.weights_bytes": "memory.weights_bytes",
                     "per_device.kv_cache.bytes_per_sequence": "kv_cache.bytes_per_sequence",
                     "per_device.flops.prefill": "flops.prefill.total",
                     "per_device.flops.decode_step": "flops.decode_step.total"}
"""Each per-device quantity and the whole-model quantity it is a share of."""


FAMILIES = ("flops.training.", "per_device.", "ops.", "kernels.", "time.")


def posed(derivation: Derivation, key: str, tp: int | None = None, pp: int | None = None,
          ep: int | None = None, performance=None) -> Derivation:
    """``derivation``, or where ``key`` is one of this module's quantities (or a degree is given) a
    copy that also holds that quantity's family (the per-device shares), with N_tp, N_pp and N_ep
    bound, and for ``time.*`` the ``performance``'s (the original is left as it is: its JSON and
    documents do not change)."""
    family = next((f for f in FAMILIES if key.startswith(f)), None)
    if family is None and not (tp or pp or ep):
        return derivation
    if family is None:      # a whole-model quantity beside a deployment: its shares, to tell them apart
        family = "per_device."
    extended = copy.copy(derivation)
    extended.quantities = dict(derivation.quantities)
    extended.built = {}         # what was built from the original holds for its bindings only
    extended.bindings = {**derivation.bindings, N_tp: sympy.Integer(tp or 1), N_pp: sympy.Integer(pp or 1),
                         N_ep: sympy.Integer(ep or 1)}
    model = derivation.model
    if family == "time.":
        extended.bindings = {**performance.bindings, **extended.bindings}
        for name, seconds in request_times(performance).items():
            extended._add(name, seconds, "s")
    elif family == "flops.training.":
        training = training_flops(model)["total"]
        extended._add("flops.training.total", training, "FLOP")
        extended._add("flops.training.per_token", training / (B * S), "FLOP")
    elif family == "per_device.":
        for name, expr in per_device(model).items():
            extended._add(name, expr, "B" if "bytes" in name else "FLOP")
    else:
        for section in model.layer_sections:
            for op in section.ops:
                _add_ops(extended, f"ops.{section.name}.{op.name}", (op,))
            for kernel in kernels(section.ops):
                if len(kernel.ops) > 1:
                    _add_ops(extended, f"kernels.{section.name}.{kernel.name}", kernel.ops)
    return extended


def training_flops(model: Model) -> dict[str, sympy.Expr]:
    """A training step's FLOPs over B S tokens (total, matmul, attention, elementwise): a forward
    with logits at every position and MLA in its expanded form (the absorbed form saves work only
    when the cache is read token by token), and a backward of twice its FLOPs."""
    changes = {"lm_head_positions": "all"}
    if model.arch.all_mla:
        changes["mla_form"] = "expanded"
    forward = q.flops(Model(model.arch, model.conventions.replace(**changes)), PREFILL)
    return {name: 3 * expr for name, expr in forward.items()}


def request_times(performance) -> dict[str, sympy.Rational]:
    """A request's times on the setting's hardware at its first batch size (the roofline of
    :mod:`symbolic.performance.roofline`, with its efficiency model): the prefill (time to first
    token), one decode step at the context, the g decode steps (the exact sum over contexts S to
    S + g - 1) and the whole request. Numbers, not expressions: a formula is held against the value."""
    batch = performance.derivation.workload.batch
    prefill, decode = performance.prefill_time(batch), performance.decode_total(batch)
    return {"time.prefill": prefill, "time.decode_step": performance.token_step_time(batch),
            "time.request.decode": decode, "time.request.total": prefill + decode}


def per_device(model: Model) -> dict[str, sympy.Expr]:
    """One device's share of the weights, of one sequence's cache, of a step's FLOPs, and the bytes
    it sends over its links in a step."""
    shares = {"per_device.weights_bytes": q.weights_bytes_per_device(model),
              "per_device.kv_cache.bytes_per_sequence": q.kv_bytes_per_sequence_per_device(model, c)}
    for phase in PHASES:
        shares[f"per_device.flops.{phase.name}"] = q.device_sum(model, "flops", phase)
        shares[f"per_device.link_bytes.{phase.name}"] = q.device_sum(model, "link_elements", phase) * b_a
    return shares


EXAMPLES = ("flops.training.total", "flops.training.per_token", *PER_DEVICE_TOTALS,
            "time.prefill", "time.decode_step", "time.request.decode", "time.request.total",
            "per_device.link_bytes.decode_step", "ops.<layer kind>.<op>.{params,flops.<phase>,bytes.<phase>}",
            "kernels.<layer kind>.<kernel>.{params,flops.<phase>,bytes.<phase>}")
"""How the quantities of this module are named, for an error that lists what may be checked."""


def _add_ops(derivation: Derivation, prefix: str, ops: tuple[Op, ...]) -> None:
    """One op's (or one kernel's ops') parameters, and per phase its FLOPs and the bytes it moves
    (:func:`symbolic.performance.roofline.op_bytes`, the roofline's own count)."""
    from ..performance.roofline import op_bytes

    derivation._add(f"{prefix}.params", sympy.Add(*(op.params for op in ops)), "parameters")
    for phase in PHASES:
        flops = sympy.Add(*(op.flops for op in ops))
        derivation._add(f"{prefix}.flops.{phase.name}", q.at(flops, phase), "FLOP")
        derivation._add(f"{prefix}.bytes.{phase.name}", q.at(sympy.Add(*map(op_bytes, ops)), phase), "B")
