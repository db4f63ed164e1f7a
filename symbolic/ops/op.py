"""Ops: the one description of a layer from which every cost is read.

An op is one step of a forward pass with symbolic shapes. Its constructor derives, from the shape
alone, everything the views need: FLOPs, the parameters it owns, the weight elements it reads,
the activation elements it reads and writes, and the KV-cache elements it holds, reads and writes.
Parameters, FLOPs and bytes are therefore never written as separate formulas and cannot drift apart.

Shapes use the workload symbols ``B`` (sequences) and ``n`` (new tokens per sequence) and, for
attention, ``c`` (tokens already cached); a prefill and a decode step are the same ops evaluated at
``n = S, c = 0`` and at ``n = 1``.

Ops that one device kernel runs together (attention's cache read, scores, softmax and values)
share a ``fused`` name; ``kernels`` groups a layer's ops into the kernels whose roofline times
make a step's time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

import sympy

from ..architecture.conventions import Conventions
from ..symbols import b_q, b_w, c

Expr = sympy.Expr
ZERO = sympy.Integer(0)


class OpKind(str, Enum):
    """What kind of work an op does; FLOPs are broken down by these."""

    MATMUL = "matmul"            # a product with a weight matrix (a linear layer)
    ATTENTION = "attention"      # the score (Q K^T) and value (P V) products: activations only
    ELEMENTWISE = "elementwise"  # norms, activations, softmax, RoPE, bias and residual adds
    GATHER = "gather"            # table lookups: no FLOPs, bytes read
    CACHE = "cache"              # the KV cache: no FLOPs, bytes held, read and written
    COLLECTIVE = "collective"    # communication between devices: bytes over a link, messages


FLOP_CATEGORIES = (OpKind.MATMUL, OpKind.ATTENTION, OpKind.ELEMENTWISE)


class Shard(str, Enum):
    """How tensor parallelism splits an op over N_tp ranks (Megatron-LM's scheme)."""

    REPLICATED = "replicated"  # every rank does all of it (norms, residual adds)
    COLUMN = "column"          # output features split: each rank holds d_out / N_tp of them
    FEATURES = "features"      # a pointwise op on a column-split tensor: reads and writes split
    ROW = "row"                # input features split; the partial outputs are summed (all-reduce)
    HEADS = "heads"            # attention heads split across ranks
    KV = "kv"                  # KV heads split, and replicated once ranks outnumber them
    VOCAB = "vocab"            # vocabulary split (embedding table, LM head)


@dataclass(frozen=True)
class Op:
    """One op. Every quantity is a SymPy expression (0 where it does not apply)."""

    name: str
    component: str
    kind: OpKind
    shape: tuple[tuple[str, Expr], ...]
    flops: Expr = ZERO
    params: Expr = ZERO
    active_params: Expr | None = None   # parameters one token uses; None: all of ``params``
    weights_read: Expr = ZERO
    row_flops: Expr = ZERO              # FLOPs of one more token row through the weights it reads
    activations_read: Expr = ZERO
    activations_written: Expr = ZERO
    kv_per_token: Expr = ZERO
    kv_held: Expr = ZERO
    kv_read: Expr = ZERO
    kv_written: Expr = ZERO
    state_per_sequence: Expr = ZERO     # of kv_held, what is held whatever the context (a fixed-size state)
    link_elements: Expr = ZERO          # activation elements one device sends over its link
    messages: Expr = ZERO               # collective calls, each paying the link latency t_link
    shard: Shard = Shard.REPLICATED
    routed: bool = False                # work of the routed experts (split by expert parallelism)
    fused: str = ""                     # the fused kernel the op runs in ("" : a kernel of its own)
    note: str = ""
    quantized: bool = False             # its weights are stored in the checkpoint's quantized format

    @property
    def bytes_per_weight(self) -> Expr:
        """b_q for weights stored quantized, else b_w."""
        return b_q if self.quantized else b_w

    @property
    def param_bytes(self) -> Expr:
        return self.params * self.bytes_per_weight

    @property
    def weights_read_bytes(self) -> Expr:
        return self.weights_read * self.bytes_per_weight

    def dims(self) -> dict[str, Expr]:
        return dict(self.shape)

    @property
    def active(self) -> Expr:
        """Parameters a token passes through: all of them, except in routed experts."""
        return self.params if self.active_params is None else self.active_params


@dataclass(frozen=True)
class DeviceKernel:
    """The ops one device kernel runs (a GPU launch; not a compiled sweep kernel): a single op, or
    every op of a layer that shares a ``fused`` name.
    A kernel's FLOPs and bytes are its ops' sums, and its roofline time is taken over those sums
    (FlashAttention reads the KV cache, computes scores, softmax and values in one pass)."""

    name: str
    ops: tuple[Op, ...]

    @property
    def label(self) -> str:
        """The name, and for a fused kernel the ops it runs: ``attention (kv_cache + scores + ...)``."""
        return self.name if len(self.ops) == 1 else f"{self.name} ({' + '.join(op.name for op in self.ops)})"


def fused(kernel: str, ops: list[Op]) -> list[Op]:
    """``ops`` marked as running in the one fused kernel ``kernel``."""
    return [replace(op, fused=kernel) for op in ops]


def kernels(ops: tuple[Op, ...] | list[Op]) -> list[DeviceKernel]:
    """A layer's ops grouped into kernels, in the order each kernel's first op appears."""
    groups: dict[str, list[Op]] = {}
    order: list[str | Op] = []
    for op in ops:
        if not op.fused:
            order.append(op)
        elif op.fused not in groups:
            groups[op.fused] = [op]
            order.append(op.fused)
        else:
            groups[op.fused].append(op)
    return [DeviceKernel(item.name, (item,)) if isinstance(item, Op)
            else DeviceKernel(item, tuple(groups[item])) for item in order]


def matmul(name: str, component: str, tokens: Expr, d_in: Expr, d_out: Expr, conv: Conventions,
           *, shard: Shard, owns_weights: bool = True, note: str = "") -> Op:
    """``tokens x d_in`` activations times a ``d_in x d_out`` weight: ``flops_per_mac * tokens * d_in *
    d_out`` FLOPs; ``d_in * d_out`` weights, owned unless shared (a tied LM head reads the embedding)."""
    weights = d_in * d_out
    return Op(name, component, OpKind.MATMUL,
              shape=(("tokens", tokens), ("d_in", d_in), ("d_out", d_out)),
              flops=conv.flops_per_mac * tokens * d_in * d_out,
              params=weights if owns_weights else ZERO,
              weights_read=weights, row_flops=conv.flops_per_mac * weights,
              activations_read=tokens * d_in,
              activations_written=tokens * d_out,
              shard=shard, note=note)


def batched_matmul(name: str, component: str, tokens: Expr, heads: Expr, d_in: Expr, d_out: Expr,
                   conv: Conventions, *, shard: Shard, note: str = "") -> Op:
    """One ``d_in x d_out`` weight per head, each applied to its head's slice of every token (MLA's
    absorbed projections): ``flops_per_mac * tokens * heads * d_in * d_out`` FLOPs."""
    weights = heads * d_in * d_out
    return Op(name, component, OpKind.MATMUL,
              shape=(("tokens", tokens), ("heads", heads), ("d_in", d_in), ("d_out", d_out)),
              flops=conv.flops_per_mac * tokens * weights, params=weights, weights_read=weights,
              row_flops=conv.flops_per_mac * weights,
              activations_read=tokens * heads * d_in, activations_written=tokens * heads * d_out,
              shard=shard, note=note)


def expert_matmul(name: str, component: str, tokens: Expr, experts: Expr, top_k: Expr, d_in: Expr,
                  d_out: Expr, conv: Conventions, *, shard: Shard, note: str = "") -> Op:
    """The same projection in each of ``experts`` routed experts; every token goes to ``top_k``.

    FLOPs: ``flops_per_mac * tokens * top_k * d_in * d_out`` (whichever experts the router picks).
    Parameters: all ``experts`` matrices; a token uses ``top_k`` of them. Weights read in a step:
    the experts at least one token picks, in expectation ``experts * (1 - (1 - top_k/experts)^tokens)``
    when every token picks uniformly and independently (exact, rational, never rounded). Under the
    ``moe_compute="all_experts"`` convention every token is computed by every expert, so ``experts``
    stands for ``top_k`` in the FLOPs, the activations and the weights read."""
    weights = d_in * d_out
    computed = experts_per_token(experts, top_k, conv)
    touched = experts * (1 - (1 - computed / experts) ** tokens)
    return Op(name, component, OpKind.MATMUL,
              shape=(("tokens", tokens), ("experts", experts), ("top_k", top_k), ("d_in", d_in),
                     ("d_out", d_out)),
              flops=conv.flops_per_mac * tokens * computed * weights,
              params=experts * weights, active_params=top_k * weights,
              weights_read=touched * weights, row_flops=conv.flops_per_mac * touched * weights,
              activations_read=tokens * computed * d_in, activations_written=tokens * computed * d_out,
              shard=shard, routed=True, note=note)


def experts_per_token(experts: Expr, top_k: Expr, conv: Conventions) -> Expr:
    """How many experts compute each token: ``top_k``, or all of them under the ``all_experts``
    convention (see :class:`~symbolic.architecture.conventions.Conventions`)."""
    return experts if conv.moe_compute == "all_experts" else top_k


def expert_bias(name: str, component: str, tokens: Expr, experts: Expr, top_k: Expr, width: Expr,
                conv: Conventions, *, shard: Shard) -> Op:
    """A bias of ``width`` in each of ``experts`` routed experts, added to the outputs of the
    ``top_k`` experts each token goes to (gpt-oss): like :func:`expert_matmul`, its weights read are
    those of the experts the step's tokens pick."""
    computed = experts_per_token(experts, top_k, conv)
    touched = experts * (1 - (1 - computed / experts) ** tokens)
    return Op(name, component, OpKind.ELEMENTWISE,
              shape=(("tokens", tokens), ("experts", experts), ("top_k", top_k), ("width", width)),
              flops=tokens * computed * width, params=experts * width, active_params=top_k * width,
              weights_read=touched * width, shard=shard, routed=True)


def bias_add(name: str, component: str, tokens: Expr, width: Expr, shard: Shard) -> Op:
    """A bias vector of ``width`` added to every token: ``tokens * width`` FLOPs. It is assumed fused
    into the preceding matmul, so it moves no activations of its own."""
    return Op(name, component, OpKind.ELEMENTWISE, shape=(("tokens", tokens), ("width", width)),
              flops=tokens * width, params=width, weights_read=width, shard=shard)


_NORM_NOTES = {"rms": "rmsnorm", "layer": "layernorm", "layer_no_bias": "layernorm, no shift",
               "l2": "rms normalisation, no scale"}


def norm(name: str, component: str, tokens: Expr, width: Expr, kind: str, conv: Conventions,
         shard: Shard = Shard.REPLICATED) -> Op:
    """RMSNorm (a scale vector), LayerNorm (scale and shift), LayerNorm without a shift, or an RMS
    normalisation without a scale (``l2``) over ``width`` for each of ``tokens`` rows."""
    scale = width
    if kind == "rms":
        per_element, params = conv.rmsnorm_flops, scale
    elif kind == "layer":
        per_element, params = conv.layernorm_flops, 2 * scale
    elif kind == "layer_no_bias":   # no shift to add
        per_element, params = max(conv.layernorm_flops - 1, 0), scale
    elif kind == "l2":              # no scale to multiply by
        per_element, params = max(conv.rmsnorm_flops - 1, 0), ZERO
    else:
        raise ValueError(f"unknown norm kind {kind!r}")
    return Op(name, component, OpKind.ELEMENTWISE, shape=(("tokens", tokens), ("width", width)),
              flops=per_element * tokens * width, params=params, weights_read=params,
              activations_read=tokens * width, activations_written=tokens * width,
              shard=shard, note=_NORM_NOTES[kind])


def elementwise(name: str, component: str, elements: Expr, flops_per_element: Expr, *,
                inputs: int = 1, shard: Shard = Shard.REPLICATED, routed: bool = False, note: str = "") -> Op:
    """A pointwise op over ``elements`` outputs reading ``inputs`` operands of that size."""
    return Op(name, component, OpKind.ELEMENTWISE, shape=(("elements", elements),),
              flops=flops_per_element * elements,
              activations_read=inputs * elements, activations_written=elements, shard=shard,
              routed=routed, note=note)


def fused_elementwise(name: str, component: str, elements: Expr, flops_per_element: Expr, *,
                      shard: Shard = Shard.REPLICATED, note: str = "") -> Op:
    """A pointwise op fused into its neighbour (softmax and soft caps inside attention): FLOPs only."""
    return Op(name, component, OpKind.ELEMENTWISE, shape=(("elements", elements),),
              flops=flops_per_element * elements, shard=shard, note=note)


def attention_product(name: str, component: str, batch: Expr, heads: Expr, pairs: Expr,
                      head_dim: Expr, conv: Conventions, *, reads: Expr = ZERO, writes: Expr = ZERO,
                      note: str = "") -> Op:
    """One of attention's two products, Q K^T or P V: a ``head_dim``-long dot product (or axpy) for
    every attended (query, key) pair of every head: ``flops_per_mac * batch * heads * pairs *
    head_dim``. Attention is taken as fused (FlashAttention-style): the scores never reach memory,
    so only Q (read) and the output (written) move, given as ``reads`` and ``writes``."""
    return Op(name, component, OpKind.ATTENTION,
              shape=(("batch", batch), ("heads", heads), ("pairs", pairs), ("head_dim", head_dim)),
              flops=conv.flops_per_mac * batch * heads * pairs * head_dim,
              activations_read=reads, activations_written=writes, shard=Shard.HEADS, note=note)


def gather(name: str, component: str, table_rows: Expr, width: Expr, rows_read: Expr, *,
           shard: Shard = Shard.REPLICATED, owns_weights: bool = True) -> Op:
    """A lookup in a ``table_rows x width`` table: no FLOPs; only the looked-up rows are read."""
    return Op(name, component, OpKind.GATHER,
              shape=(("table_rows", table_rows), ("width", width), ("rows_read", rows_read)),
              params=table_rows * width if owns_weights else ZERO,
              weights_read=rows_read * width, activations_written=rows_read * width, shard=shard)


def kv_cache(name: str, component: str, batch: Expr, per_token: Expr, held: Expr, new_tokens: Expr, *,
             shard: Shard = Shard.KV, note: str = "", read: Expr | None = None,
             kv_heads: Expr | None = None) -> Op:
    """A layer's KV cache: ``per_token`` elements for every token of every sequence (a key and a
    value per KV head, ``2 n_kv d_h``, or MLA's latent and rotary key, ``r_kv + d_rope``). Before a
    step it holds ``held`` tokens of each sequence; the step appends its ``new_tokens`` and reads
    every entry it attends to, ``held + new_tokens`` tokens' worth unless ``read`` says fewer
    (sparse attention reads only the entries its indexer picks). A cache split by KV head
    (``Shard.KV``) names its ``kv_heads``, which tensor parallelism divides until ranks outnumber them."""
    read = held + new_tokens if read is None else read
    heads = (("kv_heads", kv_heads),) if kv_heads is not None else ()
    return Op(name, component, OpKind.CACHE,
              shape=(("batch", batch), ("per_token", per_token), ("held", held), ("new_tokens", new_tokens),
                     *heads),
              kv_per_token=per_token,
              kv_held=batch * held * per_token,
              kv_read=batch * read * per_token,
              kv_written=batch * new_tokens * per_token,
              shard=shard, note=note)


def recurrent_state(name: str, component: str, batch: Expr, elements: Expr, heads: Expr, *,
                    note: str = "") -> Op:
    """A state of ``elements`` per sequence that a layer keeps in place of a growing KV cache (a
    convolution's last inputs, a linear-attention or SSM state). It is held whatever the context,
    and every step rewrites it; a step with a past reads it first, min(c, 1) times (kept
    unevaluated: ``c`` is declared positive, and a prefill's c = 0 must still read nothing).
    Tensor parallelism splits it by ``heads`` (channels for a convolution), as the KV cache."""
    has_past = sympy.Min(c, 1, evaluate=False)
    return Op(name, component, OpKind.CACHE,
              shape=(("batch", batch), ("elements", elements), ("kv_heads", heads)),
              kv_held=batch * elements, kv_read=batch * elements * has_past,
              kv_written=batch * elements, state_per_sequence=elements, shard=Shard.KV, note=note)


def depthwise_conv(name: str, component: str, tokens: Expr, channels: Expr, taps: Expr, *,
                   bias: bool = False, note: str = "") -> Op:
    """A causal convolution of ``taps`` over each of ``channels`` separately (groups = channels):
    ``2 taps`` FLOPs per output element, ``taps`` weights per channel (and a bias)."""
    weights = channels * taps + (channels if bias else 0)
    return Op(name, component, OpKind.ELEMENTWISE,
              shape=(("tokens", tokens), ("channels", channels), ("taps", taps)),
              flops=2 * taps * tokens * channels, params=weights, weights_read=weights,
              activations_read=tokens * channels, activations_written=tokens * channels,
              shard=Shard.FEATURES, note=note)


def collective(name: str, component: str, elements: Expr, messages: Expr, *, note: str = "") -> Op:
    """Communication between devices: ``elements`` activation elements one device sends over its
    link in ``messages`` collective calls. No FLOPs and no memory traffic of its own (see
    :mod:`symbolic.ops.sharding`, which adds these ops where parallelism needs them)."""
    return Op(name, component, OpKind.COLLECTIVE, shape=(("elements", elements), ("messages", messages)),
              link_elements=elements, messages=messages, note=note)
