"""Self-attention (MHA, GQA, MQA; full or sliding window) as ops.

Which keys a query sees decides the attention FLOPs and the KV cache. A step processes ``n`` new
tokens of each sequence with ``c`` tokens already cached; the i-th new token (i = 1..n) sees the
``c + i`` tokens up to itself, or the last ``W`` of them in a sliding-window layer.

* causal pairs, full attention: sum_i (c + i) = n c + n (n + 1) / 2 (S (S + 1) / 2 in a prefill);
* causal pairs, sliding window: sum_i min(c + i, W), in closed form with min and max;
* 'full' counting: every new query against every key present, n (c + n) (S^2 in a prefill), as
  eager kernels compute it; a sliding layer then holds min(c, W - 1) cached keys.

A sliding layer's cache keeps the last ``W - 1`` tokens, so the next token's keys make ``W``
(transformers' DynamicSlidingWindowLayer); a full layer keeps all ``c``.
"""

from __future__ import annotations

import sympy

from ..architecture import AttentionSpec
from ..conventions import Conventions
from ..ops import (
    Op,
    Shard,
    attention_product,
    bias_add,
    elementwise,
    fused_elementwise,
    kv_cache,
    matmul,
    norm,
)
from ..symbols import B, H, W, c, d_h, n, n_kv, n_q


def cached_tokens(spec: AttentionSpec, context: sympy.Expr = c) -> sympy.Expr:
    """Tokens a layer's cache holds once ``context`` tokens have been processed."""
    return sympy.Min(context, W - 1) if spec.sliding else context


def attended_pairs(spec: AttentionSpec, conv: Conventions) -> sympy.Expr:
    """(query, key) pairs per head and sequence in a step of ``n`` new tokens after ``c`` cached.

    With a window, the first ``k = min(n, max(W - c, 0))`` new tokens see all ``c + i`` keys and the
    rest see ``W``: sum_i min(c + i, W) = k c + k (k + 1) / 2 + (n - k) W."""
    if conv.attention_count == "full":
        return n * (cached_tokens(spec) + n)
    if not spec.sliding:
        return n * c + n * (n + 1) / 2
    k = sympy.Min(n, sympy.Max(W - c, 0))
    return k * c + k * (k + 1) / 2 + (n - k) * W


def attention_ops(spec: AttentionSpec, conv: Conventions) -> list[Op]:
    """q, k, v projections, optional q/k norms and RoPE, the KV cache, scores, softmax, values and
    the output projection of one layer."""
    tokens = B * n
    pairs = attended_pairs(spec, conv)
    query_elements = tokens * n_q * d_h
    ops = [
        matmul("q_proj", "attention", tokens, H, n_q * d_h, conv, shard=Shard.COLUMN),
        matmul("k_proj", "attention", tokens, H, n_kv * d_h, conv, shard=Shard.COLUMN),
        matmul("v_proj", "attention", tokens, H, n_kv * d_h, conv, shard=Shard.COLUMN),
    ]
    if spec.qkv_bias:
        ops += [bias_add("q_bias", "attention", tokens, n_q * d_h, Shard.COLUMN),
                bias_add("k_bias", "attention", tokens, n_kv * d_h, Shard.COLUMN),
                bias_add("v_bias", "attention", tokens, n_kv * d_h, Shard.COLUMN)]
    if spec.qk_norm:
        ops += [norm("q_norm", "attention", tokens * n_q, d_h, "rms", conv, Shard.HEADS),
                norm("k_norm", "attention", tokens * n_kv, d_h, "rms", conv, Shard.HEADS)]
    if spec.rotary:
        rotated = tokens * (n_q + n_kv) * d_h * spec.rotary_fraction
        ops.append(elementwise("rope", "attention", rotated, conv.rope_flops, shard=Shard.HEADS,
                               note="q and k"))
    ops += [
        kv_cache("kv_cache", "attention", B, n_kv, d_h, cached_tokens(spec), n),
        attention_product("scores", "attention", B, n_q, pairs, d_h, conv, reads=query_elements,
                          note="Q K^T"),
    ]
    if spec.logit_softcap:
        ops.append(fused_elementwise("score_softcap", "attention", B * n_q * pairs, conv.softcap_flops,
                                     shard=Shard.HEADS))
    ops += [
        fused_elementwise("softmax", "attention", B * n_q * pairs, conv.softmax_flops, shard=Shard.HEADS),
        attention_product("values", "attention", B, n_q, pairs, d_h, conv, writes=query_elements,
                          note="P V"),
        matmul("o_proj", "attention", tokens, n_q * d_h, H, conv, shard=Shard.ROW),
    ]
    if spec.o_bias:
        ops.append(bias_add("o_bias", "attention", tokens, H, Shard.REPLICATED))
    return ops
