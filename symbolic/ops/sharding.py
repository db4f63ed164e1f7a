"""Parallelism as a transform of the op list: what one device holds, computes and sends.

Every op is rewritten as one device runs it, with its fields divided by the shard it has
(:class:`~symbolic.ops.op.Shard`): tensor parallelism (``N_tp`` ranks, Megatron-LM's scheme) splits
column- and row-split matmuls, heads and vocabulary by ``N_tp``, the KV cache by
``min(N_tp, kv_heads)`` (KV heads are replicated once ranks outnumber them), norms and residual
adds not at all. Expert parallelism (``N_ep`` devices) gives each device 1/N_ep of the routed
experts, and runs the rest of the model data-parallel beside it, each device a copy of attention
and dense layers for B / N_ep of the sequences.

The communication parallelism needs is added as ops of kind ``collective``, so that every view
(time, documents, figures, sweeps) reads it from the same list:

* after every row-split matmul, an all-reduce of its output over a ring of ``N_tp`` ranks: each
  rank sends ``2 (N_tp - 1) / N_tp`` of the output (Patarasuk and Yuan, 'Bandwidth optimal
  all-reduce algorithms', JPDC 2009), in one call;
* in every layer with routed experts, two all-to-alls (dispatch to the experts, combine back):
  one device's B n / N_ep tokens' hidden states to each of their k experts, the
  ``(N_ep - 1) / N_ep`` of them held elsewhere;
* between pipeline stages, ``N_pp - 1`` transfers of the step's hidden states, B n H.

Everything stays symbolic in ``N_tp``, ``N_ep`` and ``N_pp``: at a degree of 1 the bytes vanish
(the ring's share is 0) and so do the calls (``min(N - 1, 1)`` of them), so an expression built
once holds for every degree.
"""

from __future__ import annotations

from dataclasses import replace

import sympy

from ..symbols import N_ep, N_pp, N_tp, n_kv
from .op import Op, OpKind, Shard, collective

_SPLIT = {  # shard -> fields divided by N_tp (KV fields by min(N_tp, the cache's KV heads))
    Shard.COLUMN: ("flops", "params", "weights_read", "row_flops", "activations_written"),
    Shard.FEATURES: ("flops", "params", "weights_read", "row_flops", "activations_read",
                     "activations_written"),
    Shard.ROW: ("flops", "params", "weights_read", "row_flops", "activations_read"),
    Shard.VOCAB: ("flops", "params", "weights_read", "row_flops", "activations_written"),
    Shard.HEADS: ("flops", "activations_read", "activations_written"),
    Shard.KV: ("kv_per_token", "kv_held", "kv_read", "kv_written", "state_per_sequence"),
    Shard.REPLICATED: (),
}

_PER_SEQUENCE = ("flops", "activations_read", "activations_written", "kv_held", "kv_read", "kv_written")
"""Fields that scale with the sequences a device runs: B / N_ep of them beside expert parallelism."""

_ROUTED = ("params", "weights_read", "row_flops")
"""Fields of the routed experts that expert parallelism spreads: 1/N_ep of the experts a device."""


def calls(degree: sympy.Expr) -> sympy.Expr:
    """One collective call when ``degree`` devices share the work, none when one device does it
    all: ``min(degree - 1, 1)``, kept unevaluated so that it prints as it reads."""
    return sympy.Min(degree - 1, 1, evaluate=False)


def tp_divisor(op: Op) -> sympy.Expr:
    """What tensor parallelism divides the op's split fields by: N_tp, or for a cache split by KV
    head, min(N_tp, its KV heads)."""
    return sympy.Min(N_tp, op.dims().get("kv_heads", n_kv)) if op.shard is Shard.KV else N_tp


def shard(op: Op) -> Op:
    """The op as one device runs it: one tensor-parallel rank of one expert-parallel rank."""
    divided = {}
    split = _SPLIT[op.shard]
    for name in {*split, *_PER_SEQUENCE, *(_ROUTED if op.routed else ())}:
        value = getattr(op, name)
        if value is None or value == 0:
            continue
        if name in split:
            value = value / tp_divisor(op)
        if name in _PER_SEQUENCE or op.routed:
            value = value / N_ep
        divided[name] = value
    return replace(op, **divided)


def all_reduce(op: Op) -> Op:
    """The all-reduce that sums a row-split matmul's partial outputs over the N_tp ranks (ring):
    the output of the sequences one tensor-parallel group runs (B / N_ep of them beside expert
    parallelism, as :func:`shard` gives it). Routed experts are summed once, after each token's
    k expert outputs are combined, so their all-reduce carries one output per token, not k
    (vLLM's FusedMoE reduces ``final_hidden_states`` once; Megatron-LM's MoE layer likewise)."""
    written = shard(op).activations_written
    if op.routed:
        dims = op.dims()
        written = written * dims["tokens"] * dims["d_out"] / op.activations_written
    return collective(f"{op.name}.all_reduce", op.component, 2 * (N_tp - 1) / N_tp * written, calls(N_tp),
                      note="ring all-reduce over N_tp ranks")


def all_to_alls(ops: tuple[Op, ...]) -> list[Op]:
    """The dispatch and combine all-to-alls of a layer with routed experts (none without): a
    device's B n / N_ep tokens, each to its k experts, H elements each, the (N_ep - 1) / N_ep of
    them held by other devices."""
    routed = next((op for op in ops if op.routed and op.kind is OpKind.MATMUL), None)
    if routed is None:
        return []
    dims = routed.dims()
    elements = dims["tokens"] / N_ep * dims["top_k"] * dims["d_in"] * (N_ep - 1) / N_ep
    return [collective(name, routed.component, elements, calls(N_ep),
                       note="all-to-all over N_ep devices") for name in ("dispatch", "combine")]


def stage_transfers(tokens: sympy.Expr, width: sympy.Expr) -> Op:
    """The hidden states a step passes from each pipeline stage to the next: N_pp - 1 transfers of
    ``tokens`` x ``width`` elements, one call each."""
    return collective("stage_transfers", "pipeline", (N_pp - 1) * tokens * width, N_pp - 1,
                      note="hidden states between the N_pp stages")


def device_ops(ops: tuple[Op, ...]) -> tuple[Op, ...]:
    """A section's ops as one device runs them, each row-split matmul followed by its all-reduce
    and the MoE layer's all-to-alls at its end."""
    out: list[Op] = []
    for op in ops:
        out.append(shard(op))
        if op.shard is Shard.ROW:
            out.append(all_reduce(op))
    return (*out, *all_to_alls(ops))
