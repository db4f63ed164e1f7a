"""The mistakes people make, as edits of the exact expression, and the search for the edits that
turn the exact expression into what someone wrote.

Each :class:`Mutation` of the catalogue names one mistake in a practitioner's words (the K/V factor
2 lost, query heads where GQA caches KV heads, all experts where top-k run, 6N for inference, GB for
GiB, ...) and makes, for one model and quantity, the :class:`Edit` that commits it. An edit is one of
three things, or a mix:

* a substitution ``sigma`` of symbols (``n_kv -> n_q``, ``k -> E``, ``d_ff -> 4H``);
* a constant ``factor`` (1/2 for MACs counted as FLOPs, 3 for training FLOPs, 1024^3/10^9);
* an additive ``delta`` (the attention term left out, the tied embedding counted again, a gated MLP's
  gate matrix left out), read from the model's own op list.

The mutated expression is ``factor * sigma(exact + delta)``. :func:`search` looks for the smallest
set of edits (one, then two) that makes a formula or a stated figure come out: first with exact
rational values at one random point (the values of a combination are sums and products of values
computed once per substitution, so hundreds of combinations cost no more than a few evaluations),
then, for a formula, confirmed as an identity (:func:`equivalence.same`). Some edits are
``negligible`` (norm and bias parameters, elementwise FLOPs, or terms the user declares with
``--neglect``): a formula that differs only by those is an approximation, and the verdict says which
terms it neglects.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

import sympy

from ..ops.op import OpKind
from ..quantities import sums as q
from ..symbols import (
    B,
    E,
    H,
    L_sliding,
    L_sliding_moe,
    N_pp,
    N_tp,
    S,
    W,
    b_kv,
    b_w,
    c,
    d_e,
    d_ff,
    d_h,
    d_idx,
    d_nope,
    d_rope,
    d_v,
    k,
    n_kv,
    n_kvg,
    n_pos,
    n_q,
    r_kv,
)
from ..units import BINARY_READING, DECIMAL_READING, unit_factor
from . import equivalence as eq
from .equivalence import value_at
from .posable import PER_DEVICE_TOTALS, training_flops

NEGLIGIBLE_BY_DEFAULT = ("norms", "elementwise", "own_key")
"""Terms every hand count leaves out and no one calls a mistake: norm and bias parameters, the
elementwise FLOPs (norms, activations, residual adds, softmax), and in a decode step the new token's
attention to its own key (c keys for c + 1)."""
NEGLECTABLE = ("norms", "elementwise", "own_key", "attention", "embedding", "lm_head", "state")
"""The terms ``--neglect`` may declare negligible."""


@dataclass(frozen=True)
class Finding:
    """One named mistake (or neglected term) in a verdict: its key, and the words for it."""

    key: str
    reason: str


@dataclass(frozen=True)
class Edit:
    """One way to commit a mistake on one model: ``factor * sigma(expr + delta)``."""

    key: str
    reason: str
    sigma: tuple = ()                    # ((symbol, replacement), ...)
    factor: sympy.Expr = sympy.Integer(1)
    delta: sympy.Expr = sympy.Integer(0)
    negligible: bool = False

    @property
    def finding(self) -> Finding:
        return Finding(self.key, self.reason)

    def apply(self, expr: sympy.Expr) -> sympy.Expr:
        return self.factor * (expr + self.delta).xreplace(dict(self.sigma))


@dataclass
class Context:
    """What a mutation needs to know: the derivation, the quantity, its exact expression (with the
    the assumptions that hold on the model, under which it is compared), and what the user neglects."""

    derivation: object
    key: str
    kind: str                       # kv, flops, params, bytes
    exact: sympy.Expr
    assumptions: tuple = ()         # equivalence.Assumption's this model satisfies, applied to every point
    neglect: tuple[str, ...] = NEGLIGIBLE_BY_DEFAULT
    cache: dict = field(default_factory=dict)

    @property
    def model(self):
        return self.derivation.model

    def quantity(self, key: str) -> sympy.Expr | None:
        if key not in self.derivation.quantities:
            return None
        return self.derivation[key].expr

    @property
    def phase(self) -> str | None:
        """prefill or decode_step, for a FLOP or traffic key."""
        parts = self.key.split(".")
        return parts[1] if parts[0] in ("flops", "memory") and len(parts) > 2 else None

    @property
    def kind_words(self) -> str:
        return "FLOPs" if self.kind == "flops" else "parameters"

    @property
    def training(self) -> bool:
        return self.key.startswith("flops.training.")

    @property
    def whole(self) -> bool:
        """A FLOP count of a whole step (or a training step's token), not of one part."""
        step = self.phase is not None and self.key.endswith(".total")
        return self.kind == "flops" and (self.training or step)

    @property
    def tokens(self) -> sympy.Expr:
        """Tokens one step runs: B S in a prefill or a training step, B in a decode step, 1 for a
        training step's FLOPs per token."""
        if self.key == "flops.training.per_token":
            return sympy.Integer(1)
        return B * S if self.phase in ("prefill", "training") else B

    @property
    def passes(self) -> int:
        """3 for training (forward and a backward of twice its FLOPs), else 1."""
        return 3 if self.training else 1

    def flops_part(self, name: str) -> sympy.Expr | None:
        """The matmul, attention or elementwise FLOPs of this key's step (see :attr:`whole`)."""
        matmul_key = self.kind == "flops" and self.key.endswith(".matmul") and name == "matmul"
        if not self.whole and not matmul_key:
            return None
        if not self.training:
            return self.quantity(f"flops.{self.phase}.{name}")
        part = training_flops(self.model)[name]
        return part / (B * S) if self.key.endswith("per_token") else part

    def ops_part(self, wanted: Callable) -> sympy.Expr | None:
        """The part of this quantity that the ops ``wanted(op)`` make (a parameter, weight-byte or
        FLOP key of the whole model, of its layers or of one kind of layer), or None."""
        parts = self.key.split(".")
        model = self.model
        if self.key == "per_device.weights_bytes":
            return _device_weights(model, wanted)
        if parts[0] == "params" and parts[1] in ("total", "active", "layers", "per_layer"):
            field_name, phase, scale = "params", None, 1
        elif self.key == "memory.weights_bytes":
            field_name, phase, scale = "params", None, b_w
        elif parts[0] == "flops" and parts[1] in ("prefill", "decode_step") \
                and parts[-1] in ("total", "matmul"):
            from ..architecture.workload import PHASES
            field_name, phase = "flops", next(p for p in PHASES if p.name == parts[1])
            scale = 1
        else:
            return None
        sections = model.sections
        if parts[1] == "layers":
            sections = model.layer_sections
        elif parts[1] == "per_layer":
            sections = [s for s in model.layer_sections if s.name == parts[2]]
        kinds = (OpKind.MATMUL,) if parts[-1] == "matmul" else None
        total = sympy.Add(*(s.repeats * sympy.Add(*(getattr(op, field_name) for op in s.ops
                                                     if wanted(op) and (kinds is None or op.kind in kinds)))
                            for s in sections))
        if parts[1] == "per_layer":
            total = total / sections[0].repeats if sections else total
        if parts[1] == "active":
            total = total.xreplace({E: k})
        return q.at(total, phase) * scale


def _device_weights(model, wanted: Callable) -> sympy.Expr:
    """The weight bytes one device holds of the ops ``wanted(op)`` (see
    :func:`symbolic.quantities.sums.weights_bytes_per_device`), from a copy of the model that has
    only those ops."""
    from dataclasses import replace as with_ops

    from ..ops.model import Model
    only = Model(model.arch, model.conventions)
    only.__dict__["sections"] = tuple(with_ops(s, ops=tuple(op for op in s.ops if wanted(op)))
                                      for s in model.sections)
    return q.weights_bytes_per_device(only)


Variants = Callable[[Context], list[Edit]]


@dataclass(frozen=True)
class Mutation:
    """A known mistake: ``variants`` makes its edits on one model (none where it cannot occur)."""

    key: str
    reason: str
    kinds: tuple[str, ...] | None
    variants: Variants
    negligible: str = ""            # the NEGLECTABLE term it drops, for a term one may neglect

    def edits(self, ctx: Context) -> list[Edit]:
        if self.kinds is not None and ctx.kind not in self.kinds:
            return []
        negligible = bool(self.negligible) and self.negligible in ctx.neglect
        found = []
        for edit in self.variants(ctx):
            reason = edit.reason or self.reason
            found.append(Edit(self.key, reason, edit.sigma, edit.factor, edit.delta, negligible))
        return found


def _sub(mapping: dict, reason: str = "") -> Variants:
    def variants(ctx: Context) -> list[Edit]:
        sigma = {s: v for s, v in mapping.items() if s in ctx.exact.free_symbols}
        return [Edit("", reason, tuple(sigma.items()))] if sigma else []
    return variants


def _scale(factor, reason: str = "") -> Variants:
    return lambda ctx: [Edit("", reason, factor=sympy.sympify(factor))]


def _delta(make: Callable[[Context], sympy.Expr | None]) -> Variants:
    def variants(ctx: Context) -> list[Edit]:
        delta = make(ctx)
        return [Edit("", "", delta=delta)] if delta is not None and delta != 0 else []
    return variants


def _toward(make: Callable[[Context], sympy.Expr | None]) -> Variants:
    """The exact expression replaced by a relative of it: its delta is relative - exact."""
    return _delta(lambda ctx: None if (other := make(ctx)) is None else other - ctx.exact)


def _drop_ops(wanted: Callable) -> Callable[[Context], sympy.Expr | None]:
    def make(ctx: Context) -> sympy.Expr | None:
        part = ctx.ops_part(wanted)
        return None if part is None else -part
    return make


def _named(*prefixes: str) -> Callable:
    return lambda op: op.name.startswith(prefixes)


def _experts(old: sympy.Symbol, new: sympy.Symbol) -> Variants:
    """The routed experts counted ``new`` times where they are ``old``: throughout (the router too),
    or in the experts' own matrices only."""
    def variants(ctx: Context) -> list[Edit]:
        if old not in ctx.exact.free_symbols:
            return []
        part = ctx.ops_part(_named("expert_"))
        edits = [Edit("", "", ((old, new),))]
        if part is not None and part.has(old):
            edits.append(Edit("", "", delta=part.xreplace({old: new}) - part))
        return edits
    return variants


def _ffn_ratios(ctx: Context) -> list[Edit]:
    """d_ff (or an expert's width) hard-coded as a multiple of H that the model does not have."""
    edits = []
    for symbol in (d_ff, d_e):
        if symbol not in ctx.exact.free_symbols or symbol not in ctx.derivation.bindings:
            continue
        actual = ctx.derivation.bindings[symbol] / ctx.derivation.bindings[H]
        for ratio, words in ((4, "4H"), (sympy.Rational(8, 3), "8H/3"), (sympy.Rational(16, 3), "16H/3")):
            if actual != ratio:
                edits.append(Edit("", f"hard-codes {symbol.name} = {words}; this model's {symbol.name} is "
                                      f"{ctx.derivation.bindings[symbol]} ({_ratio_words(actual)} H)",
                                  ((symbol, ratio * H),)))
    return edits


def _ratio_words(value: sympy.Rational) -> str:
    return str(value) if value.q == 1 else f"{float(value):.4g}"


def _head_dim_from_hidden(ctx: Context) -> list[Edit]:
    bindings = ctx.derivation.bindings
    if d_h not in ctx.exact.free_symbols or bindings.get(d_h) == bindings[H] / bindings[n_q]:
        return []
    computed = _ratio_words(bindings[H] / bindings[n_q])
    return [Edit("", f"takes the head dimension as H / n_q = {computed}; this model's heads are "
                     f"d_h = {bindings[d_h]} wide", ((d_h, H / n_q),))]


def _no_window(ctx: Context) -> sympy.Expr | None:
    if W not in ctx.exact.free_symbols:
        return None
    return ctx.exact.xreplace({W: sympy.Integer(10) ** 30})


def _sliding_dropped(ctx: Context) -> list[Edit]:
    sigma = {s: sympy.Integer(0) for s in (L_sliding, L_sliding_moe) if s in ctx.exact.free_symbols}
    return [Edit("", "", tuple(sigma.items()))] if sigma else []


def _mla_as_gqa(ctx: Context) -> list[Edit]:
    """MLA's latent (r_kv + d_rope per layer and token) replaced by the keys and values of every
    head, as GQA would cache them, or by the latent taken as separate keys and values."""
    if r_kv not in ctx.exact.free_symbols or d_rope not in ctx.exact.free_symbols or ctx.kind != "kv":
        return []
    shapes = ((2 * n_q * (d_nope + d_rope), "the keys and values of every head at the query-key head "
                                            "dimension (2 n_q (d_nope + d_rope))"),
              (n_q * (d_nope + d_rope + d_v), "every head's key (d_nope + d_rope) and value (d_v)"),
              (2 * n_q * d_v, "the keys and values of every head at the value head dimension (2 n_q d_v)"),
              (2 * r_kv, "the latent twice, as if it were separate keys and values, and no rotary key"),
              (2 * H, "keys and values of the hidden size (2 H), as MHA would"))
    return [Edit("", f"MLA treated as GQA: caches {words} where MLA caches one latent of r_kv + d_rope "
                     f"per layer and token", ((r_kv, shape - d_rope),))
            for shape, words in shapes]


def _experts_as_models(ctx: Context) -> list[Edit]:
    """Mixtral 8x7B read as 8 (or, active, 2) whole 7B models: a one-expert model times E or k."""
    if E not in ctx.exact.free_symbols or ctx.kind not in ("params", "bytes"):
        return []
    one = ((E, sympy.Integer(1)), (k, sympy.Integer(1)))
    return [Edit("", f"each expert counted as a whole model ({count} copies of a one-expert model, as "
                     f"'8x7B' reads)", one, factor=factor) for factor, count in ((E, "E"), (k, "k"))]


def _every_layer_kv(ctx: Context) -> sympy.Expr | None:
    return ctx.cache.get("every_layer_caches_kv")


def _state_left_out(ctx: Context) -> sympy.Expr | None:
    state = ctx.quantity("kv_cache.state_bytes_per_sequence")
    if state is None or ctx.key not in ("kv_cache.bytes_per_sequence", "kv_cache.bytes_per_batch"):
        return None
    return -state * (B if ctx.key.endswith("batch") else 1)


def _flops_part(name: str) -> Callable[[Context], sympy.Expr | None]:
    """The attention or elementwise FLOPs of this key's phase (for a total)."""
    return lambda ctx: ctx.flops_part(name) if ctx.whole else None


def _minus(make: Callable[[Context], sympy.Expr | None]) -> Callable[[Context], sympy.Expr | None]:
    return lambda ctx: None if (part := make(ctx)) is None else -part


def _own_key(ctx: Context) -> sympy.Expr | None:
    """Decode attention over c keys instead of c + 1."""
    if ctx.phase != "decode_step" or not ctx.key.endswith(("total", "attention")):
        return None
    attention = ctx.derivation["flops.decode_step.attention"].expr
    if c not in attention.free_symbols:
        return None
    return attention.xreplace({c: c - 1}) - attention


def _causal_in_decode(ctx: Context) -> sympy.Expr | None:
    if ctx.phase != "decode_step" or not ctx.key.endswith(("total", "attention")):
        return None
    return -ctx.quantity("flops.decode_step.attention") / 2


def _other_attention_count(ctx: Context) -> sympy.Expr | None:
    return ctx.cache.get("other_attention_count")


def _embedding_as_matmul(ctx: Context) -> sympy.Expr | None:
    if ctx.flops_part("matmul") is None:
        return None
    table = ctx.quantity("params.embedding")
    return 2 * ctx.passes * ctx.tokens * table if table else None


def _two_flops_per_parameter(ctx: Context) -> list[Edit]:
    """2 FLOPs for every parameter and token (2N), in place of the matmuls' count."""
    matmul = ctx.flops_part("matmul")
    if matmul is None:
        return []
    edits = []
    per = 2 * ctx.passes
    table = ctx.quantity("params.embedding") or 0
    for key, words in (("params.total", "N, all parameters"), ("params.active", "N, the active parameters"),
                       ("params.total", "N without the embedding table, Kaplan's count, which leaves out "
                                        "the LM head too where it is tied to the table")):
        params = ctx.quantity(key)
        if "Kaplan" in words:
            params = params - table
        if params is None or any(eq.same(e.delta + matmul, per * ctx.tokens * params) for e in edits):
            continue
        head = ", and the LM head at every prompt position" if ctx.phase == "prefill" else ""
        edits.append(Edit("", f"{per}N: {per} FLOPs for every parameter ({words}) and token, as if the "
                              f"embedding lookup and the norms were matmuls{head}",
                          delta=per * ctx.tokens * params - matmul))
    return edits


def _training(ctx: Context) -> list[Edit]:
    """A training step's FLOPs for an inference step's: three times the count, or the training FLOPs
    of as many tokens at this context (a forward with logits everywhere, and a backward)."""
    edits = [Edit("", "", factor=sympy.Integer(3))]
    if ctx.whole and not ctx.training:
        per_token = training_flops(ctx.model)["total"] / (B * S)
        if ctx.phase == "decode_step":
            per_token = per_token.xreplace({S: c})
        edits.append(Edit("", "the FLOPs of training on these tokens (forward and backward, about 6N per "
                              "token), not of running them (about 2N)",
                          delta=ctx.tokens * per_token - ctx.exact))
    return edits


def _replicated_split(ctx: Context) -> sympy.Expr | None:
    """A per-device weight count that shares the replicated norms among the N_tp devices."""
    if ctx.key != "per_device.weights_bytes" or ctx.derivation.bindings.get(N_tp, 1) == 1:
        return None
    held = ctx.ops_part(lambda op: op.kind not in (OpKind.MATMUL, OpKind.GATHER))
    return None if not held else -held * (1 - 1 / N_tp)


def _tied_twice(ctx: Context) -> sympy.Expr | None:
    if not ctx.model.arch.tie_word_embeddings or ctx.kind not in ("params", "bytes"):
        return None
    if ctx.key not in ("params.total", "params.active", "memory.weights_bytes"):
        return None
    table = ctx.quantity("params.embedding")
    return table * (b_w if ctx.key == "memory.weights_bytes" else 1) if table else None


def _head_missing(ctx: Context) -> sympy.Expr | None:
    return _drop_ops(lambda op: op.name == "lm_head")(ctx)


def _embedding_missing(ctx: Context) -> sympy.Expr | None:
    if ctx.kind not in ("params", "bytes"):
        return None
    return _drop_ops(lambda op: op.component == "embedding" or op.name == "embed_tokens")(ctx)


def _vocab_per_layer(ctx: Context) -> sympy.Expr | None:
    table = ctx.quantity("params.embedding")
    if not table or ctx.key not in ("params.total", "params.layers", "params.active"):
        return None
    layers = sympy.Add(*(s.repeats for s in ctx.model.layer_sections))
    return (layers - (1 if ctx.key != "params.layers" else 0)) * table


def _weights_only(ctx: Context) -> sympy.Expr | None:
    part = ctx.ops_part(lambda op: op.kind not in (OpKind.MATMUL, OpKind.GATHER))
    return None if part is None or part == 0 else -part


def _fp32(ctx: Context) -> list[Edit]:
    sigma = {s: sympy.Integer(4) for s in (b_w, b_kv) if s in ctx.exact.free_symbols
             and ctx.derivation.bindings.get(s) != 4}
    return [Edit("", "", tuple(sigma.items()))] if sigma else []


def _unit_factors(ctx: Context) -> list[Edit]:
    """A figure written in a decimal unit that is right in its binary twin (GB for GiB), or the
    reverse: the factor of the unit the figure is written in (1000^3 / 1024^3 for GB)."""
    unit = ctx.cache.get("unit", "")
    twin = BINARY_READING.get(unit) or DECIMAL_READING.get(unit)
    if not twin:
        return []
    factor = sympy.Rational(unit_factor(twin)[1], unit_factor(unit)[1])
    return [Edit("", f"decimal and binary units mixed up: the figure is right in {twin}, not in {unit}",
                 factor=1 / factor)]


def _share(ctx: Context) -> sympy.Expr | None:
    """One device's share of this whole-model quantity, where a deployment of more than one device
    is given."""
    shared = next((share for share, total in PER_DEVICE_TOTALS.items() if total == ctx.key), None)
    degrees = [ctx.derivation.bindings.get(symbol, 1) for symbol in (N_tp, N_pp)]
    if shared is None or all(degree == 1 for degree in degrees):
        return None
    return ctx.quantity(shared)


def _layers(ctx: Context, power: int) -> list[Edit]:
    """A factor of L (the layers of every kind together) too many or too few."""
    return [Edit("", "", factor=sympy.Add(*(s.repeats for s in ctx.model.layer_sections)) ** power)]


def _pair(reason_up: str, reason_down: str, factor) -> Variants:
    return lambda ctx: [Edit("", reason_up, factor=sympy.sympify(factor)),
                        Edit("", reason_down, factor=1 / sympy.sympify(factor))]


KV, FLOPS, PARAMS, BYTES = ("kv",), ("flops",), ("params",), ("bytes",)

CATALOGUE: tuple[Mutation, ...] = (
    Mutation("lost_factor_two", "the factor 2 for K and V is missing (both are cached)", KV,
             _scale(sympy.Rational(1, 2))),
    Mutation("query_heads_for_kv", "sized with the query heads (n_q d_h, the hidden size) where GQA has "
                                   "only n_kv KV heads: the cache holds, and the K and V projections make, "
                                   "n_kv d_h per token", None,
             _sub({n_kv: n_q, n_kvg: n_q})),
    Mutation("hidden_size_for_kv", "sized with the hidden size H where the cache holds, and the K and V "
                                   "projections make, n_kv d_h per layer and token", None,
             _sub({n_kv: H / d_h})),
    Mutation("head_dim_from_hidden", "takes the head dimension as H / n_q; this model's heads are d_h wide",
             None, _head_dim_from_hidden),
    Mutation("mla_as_gqa", "MLA treated as GQA", KV + BYTES, _mla_as_gqa),
    Mutation("indexer_cache_left_out", "leaves out the sparse-attention indexer's cached key (d_idx per "
                                       "layer and token)", KV, _sub({d_idx: sympy.Integer(0)})),
    Mutation("sliding_window_ignored", "the sliding window is ignored: a sliding layer keeps at most "
                                       "W - 1 tokens, not all c", None, _toward(_no_window)),
    Mutation("sliding_layers_dropped", "only the full-attention layers are counted: the sliding-window "
                                       "layers keep a cache (or do work) too", KV + FLOPS, _sliding_dropped),
    Mutation("every_layer_caches_kv", "counts a KV cache that grows in every layer, but only the attention "
                                      "layers have one: the others (linear attention, state-space, short "
                                      "convolution) keep a state of fixed size per sequence", KV,
             _toward(_every_layer_kv)),
    Mutation("state_left_out", "leaves out the fixed-size state of the linear-attention, state-space or "
                               "convolution layers, which every sequence holds whatever its context", KV,
             _delta(_state_left_out), negligible="state"),
    Mutation("moe_without_top_k", "counts all E routed experts for every token; each token runs only its "
                                  "top-k experts", None, _experts(k, E)),
    Mutation("moe_active_only", "counts only the k active experts; all E routed experts are held (and may "
                                "be read)", PARAMS + BYTES + KV, _experts(E, k)),
    Mutation("shared_experts_missing", "leaves out the shared expert(s), which every token runs beside its "
                                       "routed experts", None, _delta(_drop_ops(_named("shared_")))),
    Mutation("gate_missing", "a gated MLP counted with two matrices instead of three (the gate projection "
                             "is missing)", PARAMS + FLOPS + BYTES,
             _delta(_drop_ops(_named("gate_proj", "expert_gate_proj", "shared_gate_proj")))),
    Mutation("ffn_ratio_hard_coded", "hard-codes the MLP width as a multiple of H", PARAMS + FLOPS + BYTES,
             _ffn_ratios),
    Mutation("macs_as_flops", "half the exact count: multiply-accumulates (MACs) counted as FLOPs", FLOPS,
             _scale(sympy.Rational(1, 2))),
    Mutation("training_flops", "three times the count: 6N is the FLOPs per token of training (forward and "
                               "backward), inference is 2N", FLOPS, lambda ctx: _training(ctx)),
    Mutation("two_flops_per_parameter", "2N", FLOPS, _two_flops_per_parameter),
    Mutation("attention_missing", "leaves out the attention FLOPs (QK^T and AV over the cached "
                                  "context)", FLOPS,
             _delta(_minus(_flops_part("attention"))), negligible="attention"),
    Mutation("own_key_left_out", "attends to the c cached keys but not the new token's own (c for c + 1)",
             FLOPS, _delta(_own_key), negligible="own_key"),
    Mutation("causal_discount_in_decode", "halves decode attention as if causal; the one new token attends "
                                          "to every cached key", FLOPS, _delta(_causal_in_decode)),
    Mutation("full_square_for_causal", "counts every query against every key (S^2 pairs); a causal mask "
                                       "keeps S(S+1)/2", FLOPS, _toward(_other_attention_count)),
    Mutation("embedding_as_matmul", "counts the embedding lookup as a matmul (2 V H FLOPs per token); it is "
                                    "a table lookup", FLOPS, _delta(_embedding_as_matmul)),
    Mutation("elementwise_left_out", "leaves out the elementwise FLOPs (norms, activations, softmax, "
                                     "residual adds)", FLOPS, _delta(_minus(_flops_part("elementwise"))),
             negligible="elementwise"),
    Mutation("norms_left_out", "leaves out the norm and bias parameters", PARAMS + BYTES,
             _delta(_weights_only), negligible="norms"),
    Mutation("replicated_split", "divides the norm and bias parameters by N_tp too; every device holds "
                                 "all of them", BYTES, _delta(_replicated_split), negligible="norms"),
    Mutation("tied_counted_twice", "the tied embedding counted twice (embedding and LM head share V H)",
             PARAMS + BYTES, _delta(_tied_twice)),
    Mutation("lm_head_missing", "the LM head (V H) left out", None, _delta(_head_missing),
             negligible="lm_head"),
    Mutation("embedding_missing", "the embedding table (V H) left out", PARAMS + BYTES,
             _delta(_embedding_missing), negligible="embedding"),
    Mutation("vocab_per_layer", "the embedding (V H) counted in every layer", PARAMS,
             _delta(_vocab_per_layer)),
    Mutation("position_table_missing", "the learned position table (n_pos H) left out", PARAMS + BYTES,
             _delta(lambda ctx: -n_pos * H if n_pos in ctx.exact.free_symbols else None)),
    Mutation("fp32_bytes", "4 bytes per element (fp32) where the model stores fewer", KV + BYTES, _fp32),
    Mutation("bits_for_bytes", "", KV + BYTES,
             _pair("bits counted as bytes (8 times too many)", "bytes counted as bits (an eighth)", 8)),
    Mutation("total_for_per_device", "the whole model's figure where one device holds (or does) only its "
                                     "share under tensor or pipeline parallelism", None,
             _toward(lambda ctx: ctx.quantity(PER_DEVICE_TOTALS.get(ctx.key, "")))),
    Mutation("share_for_total", "one device's share under tensor or pipeline parallelism where the whole "
                                "model's figure is asked", None, _toward(_share)),
    Mutation("per_layer", "counted once per layer (L times too many)", None, lambda ctx: _layers(ctx, 1)),
    Mutation("layers_missing", "the number of layers L is missing", None, lambda ctx: _layers(ctx, -1)),
    Mutation("experts_as_whole_models", "experts counted as whole models", PARAMS + BYTES,
             _experts_as_models),
    Mutation("double_counted", "twice the exact value", None, _scale(2)),
    Mutation("half", "half the exact value", PARAMS + BYTES, _scale(sympy.Rational(1, 2))),
)
"""The catalogue, in the order verdicts name its mistakes."""

UNIT_MUTATION = Mutation("decimal_for_binary", "", KV + BYTES, _unit_factors)
"""For stated figures: a unit mixed up (a formula has no units)."""


def edits_for(ctx: Context, figures: bool = False) -> list[Edit]:
    """Every mistake's edits on this model and quantity (with a figure's unit mixed up too),
    remembered with the derivation: they depend on nothing else."""
    memo = ctx.derivation.built.setdefault("mistakes", {})
    key = (ctx.key, ctx.neglect, figures, ctx.cache.get("unit", ""))
    if key not in memo:
        relatives(ctx)
        catalogue = (*CATALOGUE, UNIT_MUTATION) if figures else CATALOGUE
        memo[key] = [edit for mutation in catalogue for edit in mutation.edits(ctx)]
    return memo[key]


@dataclass(frozen=True)
class Diagnosis:
    """The edits that turn the exact expression into the claim: mistakes, and neglected terms."""

    mistakes: tuple[Edit, ...]
    neglected: tuple[Edit, ...]

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(e.finding for e in self.mistakes)


class _Values(dict):
    """The exact expression (key "exact") and deltas at one point, each evaluated when first asked."""

    def __init__(self, exact: sympy.Expr, point: dict):
        super().__init__()
        self.exact, self.point = exact, point

    def __missing__(self, key):
        self[key] = value_at(self.exact if key == "exact" else key, self.point)
        return self[key]


MAX_MISTAKES = 2
MAX_SCALES = 2
_SEED = 20261201


def assumed(point: dict, assumptions) -> dict:
    """``point`` moved so that ``assumptions`` hold there (n_kv = n_q, ...): an expression with the
    assumptions applied has, at ``point``, the value the expression has at the moved point."""
    for assumption in reversed(tuple(assumptions)):
        point = {**point, **{s: value_at(v, point) for s, v in assumption.substitutions.items()}}
    return point


def _sigma_point(sigma: tuple, point: dict) -> dict:
    moved = dict(point)
    for symbol, replacement in sigma:
        moved[symbol] = value_at(replacement, point)
    return moved


def search(ctx: Context, target, point: dict, matches: Callable, figures: bool = False,
           confirm: Callable[[sympy.Expr], bool] | None = None, most: int = MAX_MISTAKES + 1
           ) -> list[Diagnosis]:
    """The smallest combinations of edits (at most MAX_MISTAKES mistakes and one constant factor, at
    most two neglected terms) whose
    value at ``point`` ``matches`` ``target``, each ``confirm``-ed when given. All of the smallest
    size are returned (two mistakes can make the same expression on one model)."""
    edits = edits_for(ctx, figures)
    point = assumed({s: Fraction(int(v.p), int(v.q)) for s, v in point.items()}, ctx.assumptions)
    ctx.cache["point"] = point
    if value_at(ctx.exact, point) is None:
        return []
    table: dict = {}

    def at(sigma: tuple) -> _Values:
        if sigma not in table:
            table[sigma] = _Values(ctx.exact, _sigma_point(sigma, point) if sigma else point)
        return table[sigma]

    negligible = [e for e in edits if e.negligible]
    mistakes = [e for e in edits if not e.negligible]
    neglect_sets = [()] + [(e,) for e in negligible] + list(itertools.combinations(negligible, 2))
    scales = [e for e in mistakes if not e.sigma and e.delta == 0]
    structural = [e for e in mistakes if e not in scales]
    found: list[Diagnosis] = []
    for size in range(0, most + 1):
        for scaled in range(0, min(size, MAX_SCALES) + 1):
            if size - scaled > MAX_MISTAKES:
                continue
            for combo in itertools.product(itertools.combinations(structural, size - scaled),
                                           itertools.combinations(scales, scaled)):
                found += _matching(ctx, combo[0] + combo[1], at, neglect_sets, matches, confirm)
        if found:
            return _simplest(found)
    return _partly_neglected(ctx, at(()), target, confirm)


MAX_NEGLECTED_PARTS = 14


def _partly_neglected(ctx: Context, values: dict, target, confirm: Callable | None) -> list[Diagnosis]:
    """A formula that leaves out some of the negligible terms and keeps others (the norms' FLOPs but
    not the activation's): the exact expression less a subset of the negligible ops' parts, found
    by meeting in the middle (the subsets' sums of each half of the parts, matched), smallest
    subsets first."""
    parts = negligible_parts(ctx)
    if not parts or len(parts) > MAX_NEGLECTED_PARTS or not isinstance(target, Fraction):
        return []
    point_values = [value_at(delta, ctx.cache["point"]) for _, delta in parts]
    if values["exact"] is None or None in point_values:
        return []
    need = values["exact"] - target
    half = len(parts) // 2
    first: dict = {}
    for size in range(half + 1):
        for chosen in itertools.combinations(range(half), size):
            first.setdefault(sum((point_values[i] for i in chosen), Fraction(0)), chosen)
    found = []
    for size in range(len(parts) - half + 1):
        for chosen in itertools.combinations(range(half, len(parts)), size):
            rest = need - sum((point_values[i] for i in chosen), Fraction(0))
            if rest in first and first[rest] + chosen:
                found.append(first[rest] + chosen)
    for chosen in sorted(found, key=len)[:8]:
        edits = tuple(Edit(parts[i][0], f"the {parts[i][0]} {ctx.kind_words}", delta=-parts[i][1],
                           negligible=True) for i in chosen)
        if confirm is None or confirm(_build(ctx.exact, edits)):
            return [Diagnosis((), edits)]
    return []


def negligible_parts(ctx: Context) -> list[tuple[str, sympy.Expr]]:
    """The negligible ops' parts of this quantity, one per op name (the same op in every kind of
    layer taken together): elementwise ops of a FLOP count, norm and bias parameters of a count."""
    wanted = {"flops": lambda op: op.kind is OpKind.ELEMENTWISE,
              "params": lambda op: op.kind not in (OpKind.MATMUL, OpKind.GATHER),
              "bytes": lambda op: op.kind not in (OpKind.MATMUL, OpKind.GATHER)}.get(ctx.kind)
    if wanted is None or not (set(ctx.neglect) & {"elementwise", "norms"}):
        return []
    names = dict.fromkeys(op.name for s in ctx.model.sections for op in s.ops if wanted(op))
    parts = []
    for name in names:
        part = ctx.ops_part(lambda op, name=name: op.name == name and wanted(op))
        if part is not None and part != 0:
            parts.append((name, part))
    return parts


def _matching(ctx: Context, combo: tuple[Edit, ...], at: Callable, neglect_sets: list, matches: Callable,
              confirm: Callable | None) -> list[Diagnosis]:
    """The diagnoses ``combo`` makes with each set of neglected terms."""
    sigma = tuple(s for e in combo for s in e.sigma)
    if len({s for s, _ in sigma}) < len(sigma):
        return []                        # two edits of the same symbol
    values = at(sigma)
    factor = value_at(sympy.Mul(*(e.factor for e in combo)), ctx.cache["point"])
    found = []
    for neglected in neglect_sets:
        if not combo and not neglected:
            continue
        terms = [values["exact"], *(values[e.delta] for e in (*combo, *neglected) if e.delta != 0)]
        if factor is None or None in terms or not matches(factor * sum(terms)):
            continue
        if confirm is not None and not confirm(_build(ctx.exact, combo + neglected)):
            continue
        found.append(Diagnosis(combo, neglected))
    return found


def negligible_total(ctx: Context) -> tuple[sympy.Expr, tuple[Edit, ...]]:
    """The exact expression less every term ``ctx.neglect`` declares negligible, and those terms."""
    expr, edits = ctx.exact, []
    for edit in edits_for(ctx):
        if edit.negligible and edit.delta != 0 and not edit.sigma:
            expr, edits = expr + edit.delta, [*edits, edit]
    return expr, tuple(edits)


def _build(exact: sympy.Expr, edits: tuple[Edit, ...]) -> sympy.Expr:
    sigma = dict(s for e in edits for s in e.sigma)
    factor = sympy.Mul(*(e.factor for e in edits))
    delta = sympy.Add(*(e.delta for e in edits))
    return factor * (exact + delta).xreplace(sigma)


def _simplest(found: list[Diagnosis]) -> list[Diagnosis]:
    """Of the diagnoses found, those neglecting fewest terms, each set of mistakes once."""
    fewest = min(len(d.neglected) for d in found)
    kept: dict[tuple, Diagnosis] = {}
    for d in found:
        if len(d.neglected) == fewest:
            kept.setdefault(tuple(e.key for e in d.mistakes), d)
    return list(kept.values())


def random_point(exprs, assumptions=()) -> dict:
    """One point of exact values for every symbol of ``exprs`` and of ``assumptions`` (fixed seed),
    drawn as :func:`equivalence.sample` draws: whole numbers for integer symbols, small ones in
    exponents."""
    named = set().union(*(e.free_symbols for e in exprs))
    for assumption in assumptions:
        named |= set(assumption.substitutions)
        named |= set().union(*(v.free_symbols for v in assumption.substitutions.values()))
    symbols = tuple(sorted(named, key=lambda s: s.name))
    return eq._point(symbols, eq.exponent_symbols(exprs, assumptions), random.Random(_SEED))


def relatives(ctx: Context) -> None:
    """The relatives some mutations read: the cache of a hybrid as if every layer cached keys and
    values, and a prefill's FLOPs under the other attention-count convention."""
    derivation, key = ctx.derivation, ctx.key
    model = derivation.model
    parts = key.split(".")
    if parts[0] == "flops" and parts[1] == "prefill" and parts[2] in ("total", "attention", "elementwise"):
        from ..architecture.workload import PREFILL
        from ..ops.model import Model
        conv = model.conventions
        other = "full" if conv.attention_count == "causal" else "causal"
        twin = q.flops(Model(model.arch, conv.replace(attention_count=other)), PREFILL)[parts[2]]
        ctx.cache["other_attention_count"] = twin
    if key.startswith("kv_cache.") and "kv_cache.state_elements_per_sequence" in derivation.quantities:
        attending = {q.layer_cache(s)["elements_per_token"] for s in model.layer_sections
                     if s.group.spec.attention is not None}
        scale = {"kv_cache.elements_per_token": 1, "kv_cache.bytes_per_token": b_kv,
                 "kv_cache.bytes_per_sequence": c * b_kv, "kv_cache.bytes_per_batch": B * c * b_kv}
        if len(attending) == 1 and key in scale:
            layers = sympy.Add(*(s.repeats for s in model.layer_sections))
            ctx.cache["every_layer_caches_kv"] = layers * attending.pop() * scale[key]


def same_as_formula(formula: sympy.Expr, candidate: sympy.Expr, assumptions=()) -> bool:
    """:func:`equivalence.same` for a user's formula and a candidate built from the exact
    expression, with ``assumptions`` applied to both: the formula evaluated as ``same`` does
    (bounded), the candidate with plain fractions (:func:`value_at`), at the same points."""
    used = {s for a in assumptions for s in (*a.substitutions, *(v for x in a.substitutions.values()
                                                               for v in x.free_symbols))}
    symbols = tuple(sorted(formula.free_symbols | candidate.free_symbols | used, key=lambda s: s.name))
    exponents = eq.exponent_symbols((formula, candidate), assumptions)
    for point in eq._points(symbols, exponents, eq.points_for(formula, candidate)):
        moved = assumed({s: Fraction(int(v.p), int(v.q)) for s, v in point.items()}, assumptions)
        if any(v is None for v in moved.values()):
            return False
        value = eq.evaluate(formula, {s: sympy.Rational(v.numerator, v.denominator)
                                      for s, v in moved.items()})
        mine = value_at(candidate, moved)
        if mine is None or not value.is_Rational or Fraction(int(value.p), int(value.q)) != mine:
            return False
    return True
