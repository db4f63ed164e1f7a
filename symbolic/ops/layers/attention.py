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

Chunked attention (Llama-4's attention_chunk_size ``W_c``) cuts the sequence into chunks of W_c
positions; a query at position p (from 0) sees the keys of its own chunk up to itself, p mod W_c + 1
of them. Over positions 0..m-1 those sum to m + C(m), C(m) = floor(m / W_c) W_c (W_c - 1) / 2 +
r (r - 1) / 2 with r = m mod W_c, so a step of n new tokens after c sees n + C(c + n) - C(c) pairs.
transformers keeps the last W_c - 1 tokens of a chunked layer, as of a sliding one (cache_utils maps
both to DynamicSlidingWindowLayer); a server that frees past chunks keeps c mod W_c, at most as many.
"""

from __future__ import annotations

from dataclasses import replace

import sympy

from ...architecture.conventions import Conventions
from ...architecture.spec import AttentionSpec
from ...symbols import (
    B,
    H,
    W,
    W_c,
    c,
    d_h,
    d_hg,
    d_idx,
    d_nope,
    d_rope,
    d_v,
    k_idx,
    n,
    n_idx,
    n_kv,
    n_kvg,
    n_q,
    r_kv,
    r_q,
)
from ..op import (
    Op,
    OpKind,
    Shard,
    attention_product,
    batched_matmul,
    bias_add,
    elementwise,
    fused,
    fused_elementwise,
    kv_cache,
    matmul,
    norm,
)

ATTENTION_KERNEL = "attention"
"""The fused attention kernel (FlashAttention, FlashDecoding, FlashMLA): it reads the KV cache
and computes scores, softmax and values in one pass, so its time is one roofline over their
summed FLOPs and bytes, and a decode step's attention sits at the intensity of reading the cache."""


def cached_tokens(spec: AttentionSpec, context: sympy.Expr = c) -> sympy.Expr:
    """Tokens a layer's cache holds once ``context`` tokens have been processed."""
    if spec.sliding:
        return sympy.Min(context, W - 1)
    if spec.chunked:
        return sympy.Min(context, W_c - 1)
    return context


def _chunk_pairs_before(m: sympy.Expr) -> sympy.Expr:
    """C(m): sum of p mod W_c over the positions p = 0..m-1."""
    r = sympy.Mod(m, W_c)
    return sympy.floor(m / W_c) * W_c * (W_c - 1) / 2 + r * (r - 1) / 2


def attended_pairs(spec: AttentionSpec, conv: Conventions) -> sympy.Expr:
    """(query, key) pairs per head and sequence in a step of ``n`` new tokens after ``c`` cached.

    With a window W (or DeepSeek sparse attention's k_idx selected keys, counted alike), the first
    ``k = min(n, max(W - c, 0))`` new tokens see all ``c + i`` keys and the rest see ``W``:
    sum_i min(c + i, W) = k c + k (k + 1) / 2 + (n - k) W."""
    if conv.attention_count == "full":
        return n * (cached_tokens(spec) + n)
    if spec.chunked:
        return n + _chunk_pairs_before(c + n) - _chunk_pairs_before(c)
    window = W if spec.sliding else k_idx if spec.indexer else None
    if window is None:
        return n * c + n * (n + 1) / 2
    k = sympy.Min(n, sympy.Max(window - c, 0))
    return k * c + k * (k + 1) / 2 + (n - k) * window


def head_sizes(spec: AttentionSpec) -> tuple[sympy.Symbol, sympy.Symbol]:
    """A layer's head dimension and KV heads: d_h and n_kv, or d_hg and n_kvg in a layer whose heads
    have a size of their own (Gemma-4's full-attention layers: 512 wide, 4 KV heads for 31B,
    beside 256 and 16 in its sliding layers)."""
    return (d_hg, n_kvg) if spec.global_heads else (d_h, n_kv)


def qk_norm_op(name: str, spec: AttentionSpec, tokens: sympy.Expr, heads: sympy.Expr,
               conv: Conventions) -> Op:
    """The norm of q (``heads`` = n_q) or k (n_kv) before attention, as ``spec.qk_norm`` scopes it:
    over each head with a d_h scale the heads share (Qwen3), over each head with its own scale
    (Cohere), or over the whole projection with a scale per element (OLMo-2). The same elements are
    normalised in every scope; the scale's size differs. Under tensor parallelism a projection-wide
    norm needs its sum of squares from every shard (a scalar per token, left out of communication)."""
    head_dim, _ = head_sizes(spec)
    if spec.qk_norm == "head":
        return norm(name, "attention", tokens * heads, head_dim, spec.qk_norm_kind, conv, Shard.HEADS)
    note = "over each head, a scale per head" if spec.qk_norm == "head_separate" else "over the projection"
    op = norm(name, "attention", tokens, heads * head_dim, spec.qk_norm_kind, conv, Shard.HEADS)
    return replace(op, note=f"{op.note}, {note}")


def attention_sinks(conv: Conventions) -> Op:
    """gpt-oss's sinks: one learned logit per head, appended to every query's scores before the
    softmax and dropped after it, so a head may attend to nothing (transformers'
    eager_attention_forward in modeling_gpt_oss.py). n_q parameters; each query row's softmax
    takes one more element."""
    rows = B * n * n_q
    return Op("sinks", "attention", OpKind.ELEMENTWISE, shape=(("rows", rows),),
              flops=conv.softmax_flops * rows, params=n_q, weights_read=n_q, shard=Shard.HEADS,
              note="one logit per head")


def attention_ops(spec: AttentionSpec, conv: Conventions) -> list[Op]:
    """q, k, v projections, optional q/k norms and RoPE, the KV cache, scores, softmax, values and
    the output projection of one layer."""
    if spec.mla:
        return mla_ops(spec, conv)
    tokens = B * n
    pairs = attended_pairs(spec, conv)
    d, kv = head_sizes(spec)
    query_elements = tokens * n_q * d
    gate = 2 if spec.output_gate else 1     # the query's projection also makes the output gate
    ops = [
        matmul("q_proj", "attention", tokens, H, gate * n_q * d, conv, shard=Shard.COLUMN,
               note="queries and the output gate" if spec.output_gate else ""),
        matmul("k_proj", "attention", tokens, H, kv * d, conv, shard=Shard.COLUMN),
    ]
    if not spec.values_are_keys:
        ops.append(matmul("v_proj", "attention", tokens, H, kv * d, conv, shard=Shard.COLUMN))
    if spec.qkv_bias:
        ops += [bias_add("q_bias", "attention", tokens, gate * n_q * d, Shard.COLUMN),
                bias_add("k_bias", "attention", tokens, kv * d, Shard.COLUMN)]
        if not spec.values_are_keys:
            ops.append(bias_add("v_bias", "attention", tokens, kv * d, Shard.COLUMN))
    if spec.qk_norm:
        ops += [qk_norm_op("q_norm", spec, tokens, n_q, conv), qk_norm_op("k_norm", spec, tokens, kv, conv)]
    if spec.v_norm:
        ops.append(norm("v_norm", "attention", tokens * kv, d, "l2", conv, Shard.HEADS))
    if spec.rotary:
        # transformers rotates int(head_dim * partial_rotary_factor) dims of each head
        dims = d if spec.rotary_fraction == 1 else sympy.floor(d * spec.rotary_fraction)
        rotated = tokens * (n_q + kv) * dims
        ops.append(elementwise("rope", "attention", rotated, conv.rope_flops, shard=Shard.HEADS,
                               note="q and k"))
    values = "K and V, V the keys before RoPE" if spec.values_are_keys else "K and V"
    core = [
        kv_cache("kv_cache", "attention", B, 2 * kv * d, cached_tokens(spec), n, note=values, kv_heads=kv),
        attention_product("scores", "attention", B, n_q, pairs, d, conv, reads=query_elements,
                          note="Q K^T"),
    ]
    if spec.logit_softcap:
        core.append(fused_elementwise("score_softcap", "attention", B * n_q * pairs, conv.softcap_flops,
                                      shard=Shard.HEADS))
    if spec.sinks:
        core.append(attention_sinks(conv))
    core += [
        fused_elementwise("softmax", "attention", B * n_q * pairs, conv.softmax_flops, shard=Shard.HEADS),
        attention_product("values", "attention", B, n_q, pairs, d, conv, writes=query_elements,
                          note="P V"),
    ]
    ops += fused(ATTENTION_KERNEL, core)
    if spec.output_gate:
        ops.append(elementwise("output_gate", "attention", query_elements, conv.activation_flops + 1,
                               inputs=2, shard=Shard.HEADS, note="sigmoid(gate) times the output"))
    ops.append(matmul("o_proj", "attention", tokens, n_q * d, H, conv, shard=Shard.ROW))
    if spec.o_bias:
        ops.append(bias_add("o_bias", "attention", tokens, H, Shard.REPLICATED))
    return ops


INDEXER_KERNEL = "indexer"
"""DeepSeek-V3.2's indexer kernel: it reads the indexer's key cache and scores every visible token."""


def indexer_ops(spec: AttentionSpec, conv: Conventions) -> list[Op]:
    """DeepSeek sparse attention's indexer (DeepSeek-V3.2; transformers' DeepseekV32Indexer). From
    the compressed query (q_lora_rank) it makes n_idx heads of d_idx, and from the hidden state one
    key of d_idx per token (LayerNorm, RoPE on d_rope of it), which is cached beside MLA's latent.
    Every query scores every visible token, sum_h w_h ReLU(q_h . k) with per-head weights from
    the hidden state, and the k_idx best are the keys the main attention attends to."""
    tokens = B * n
    dense = replace(spec, indexer=False)     # the indexer itself scores every visible token
    pairs = attended_pairs(dense, conv)
    return [
        matmul("index_q_proj", "attention", tokens, r_q, n_idx * d_idx, conv, shard=Shard.REPLICATED,
               note="from the compressed query"),
        matmul("index_k_proj", "attention", tokens, H, d_idx, conv, shard=Shard.REPLICATED),
        norm("index_k_norm", "attention", tokens, d_idx, "layer", conv),
        matmul("index_weights_proj", "attention", tokens, H, n_idx, conv, shard=Shard.REPLICATED,
               note="a weight per indexer head"),
        elementwise("index_rope", "attention", tokens * (n_idx + 1) * d_rope, conv.rope_flops,
                    note="q and k of the indexer"),
        *fused(INDEXER_KERNEL, [
            kv_cache("index_cache", "attention", B, d_idx, cached_tokens(dense), n, shard=Shard.REPLICATED,
                     note="indexer keys"),
            attention_product("index_scores", "attention", B, n_idx, pairs, d_idx, conv,
                              reads=tokens * n_idx * d_idx, note="q k^T per indexer head, ReLU"),
            attention_product("index_weighting", "attention", B, 1, pairs, n_idx, conv,
                              note="heads weighted and summed; top-k_idx kept")]),
    ]


def mla_ops(spec: AttentionSpec, conv: Conventions) -> list[Op]:
    """Multi-head latent attention (DeepSeek-V2/V3). Keys and values are compressed into one
    latent of r_kv elements per token plus a shared rotary key of d_rope, which is all the cache
    holds. Heads have d_nope + d_rope query/key dimensions and d_v value dimensions.

    Two ways to compute it (the ``mla_form`` convention):

    * ``absorbed`` (as served by vLLM and SGLang): kv_b_proj's key half is folded into the query
      and its value half into the output, so attention runs in the latent space: scores over
      r_kv + d_rope per head, values of r_kv;
    * ``expanded`` (as transformers 5.23 computes it): every step re-expands the whole cached
      latent through kv_b_proj into per-head keys and values, then attends as usual.

    Both hold the same parameters and the same cache."""
    tokens = B * n
    head_qk = d_nope + d_rope
    keys = cached_tokens(spec) + n
    pairs = attended_pairs(spec, conv)
    ops: list[Op] = []
    if spec.q_lora:
        ops.append(matmul("q_a_proj", "attention", tokens, H, r_q, conv, shard=Shard.REPLICATED))
        if spec.qkv_bias:
            ops.append(bias_add("q_a_bias", "attention", tokens, r_q, Shard.REPLICATED))
        ops += [norm("q_a_norm", "attention", tokens, r_q, "rms", conv),
                matmul("q_b_proj", "attention", tokens, r_q, n_q * head_qk, conv, shard=Shard.COLUMN)]
    else:
        ops.append(matmul("q_proj", "attention", tokens, H, n_q * head_qk, conv, shard=Shard.COLUMN))
    ops.append(matmul("kv_a_proj", "attention", tokens, H, r_kv + d_rope, conv, shard=Shard.REPLICATED,
                      note="latent and rotary key"))
    if spec.qkv_bias:
        ops.append(bias_add("kv_a_bias", "attention", tokens, r_kv + d_rope, Shard.REPLICATED))
    ops += [norm("kv_a_norm", "attention", tokens, r_kv, "rms", conv),
            elementwise("rope", "attention", tokens * (n_q + 1) * d_rope, conv.rope_flops,
                        shard=Shard.HEADS, note="q and the shared k")]
    if spec.indexer:
        ops += indexer_ops(spec, conv)
    # with sparse attention each query reads only the k_idx latents its indexer picked
    read = sympy.Min(cached_tokens(spec) + n, n * k_idx) if spec.indexer else None
    cache = kv_cache("kv_cache", "attention", B, r_kv + d_rope, cached_tokens(spec), n,
                     shard=Shard.REPLICATED, note="latent and rotary key", read=read)
    softmax = fused_elementwise("softmax", "attention", B * n_q * pairs, conv.softmax_flops,
                                shard=Shard.HEADS)
    if conv.mla_form == "expanded":   # kv_b_proj reads the cache; attention runs on its output
        ops += [cache,
                matmul("kv_b_proj", "attention", B * keys, r_kv, n_q * (d_nope + d_v), conv,
                       shard=Shard.COLUMN, note="re-expands every cached latent"),
                *fused(ATTENTION_KERNEL, [
                    attention_product("scores", "attention", B, n_q, pairs, head_qk, conv,
                                      reads=tokens * n_q * head_qk, note="Q K^T"),
                    softmax,
                    attention_product("values", "attention", B, n_q, pairs, d_v, conv,
                                      writes=tokens * n_q * d_v, note="P V")])]
    else:                             # FlashMLA: one kernel reads the latent cache and attends
        ops += [batched_matmul("q_absorb", "attention", tokens, n_q, d_nope, r_kv, conv,
                               shard=Shard.HEADS, note="kv_b_proj's key half"),
                *fused(ATTENTION_KERNEL, [
                    cache,
                    attention_product("scores", "attention", B, n_q, pairs, r_kv + d_rope, conv,
                                      reads=tokens * n_q * (r_kv + d_rope), note="in the latent space"),
                    softmax,
                    attention_product("values", "attention", B, n_q, pairs, r_kv, conv,
                                      writes=tokens * n_q * r_kv, note="latent values")]),
                batched_matmul("v_absorb", "attention", tokens, n_q, r_kv, d_v, conv,
                               shard=Shard.HEADS, note="kv_b_proj's value half")]
    ops.append(matmul("o_proj", "attention", tokens, n_q * d_v, H, conv, shard=Shard.ROW))
    if spec.o_bias:
        ops.append(bias_add("o_bias", "attention", tokens, H, Shard.REPLICATED))
    return ops
