"""Token mixers with a state of fixed size per sequence, as ops: what such a layer keeps of the past
does not grow with the context, so it holds no KV cache, and each decode step reads and rewrites
its whole state instead.

* short convolution (LFM2's ShortConv, transformers' Lfm2ShortConv): in_proj to B, C and x, a
  depthwise causal convolution of w_conv taps over B * x, the output gated by C, out_proj. The
  state is the convolution's window: transformers' LinearAttentionLayer keeps the last w_conv
  inputs of each of the H channels (a kernel needs w_conv - 1 of them).
* Gated DeltaNet (Qwen3-Next; transformers' Qwen3NextGatedDeltaNet): projections to q and k
  (n_lk heads of d_lk), v and the output gate z (n_lv heads of d_lv), and per value head beta and
  the decay; a short convolution over q, k and v; the delta rule over a state of d_lk x d_lv per
  value head; a gated RMSNorm and out_proj. The states are the convolution's window and the
  n_lv d_lk d_lv elements of the recurrent state.

A linear-attention step runs the chunked scan (transformers' torch_chunk_gated_delta_rule; the
``scan_chunk`` convention, 64): the n new tokens in chunks of m = min(n, scan_chunk), and for each
chunk and value head
  m x m products within the chunk, K_beta K^T and Q K^T (2 m^2 d_lk each) and (Q K^T) V (2 m^2 d_lv),
  the unit-triangular solves for the new values and decayed keys (m^2 (d_lk + d_lv)),
  products with the state, K_c S and Q S and the update K^T V (2 m d_lk d_lv each),
  the state's decay (d_lk d_lv).
Per token that is 4 m d_lk + 2 m d_lv + m (d_lk + d_lv) + 6 d_lk d_lv, and d_lk d_lv per chunk,
ceil(n / m) of them (within-chunk products are counted as if every chunk were whole); a decode
step (m = 1) is the recurrent update.

* Mamba-2 (Nemotron-H; transformers' NemotronHMamba2Mixer): in_proj to the gate z and x (n_m heads of
  d_m, d_in = n_m d_m in all), B and C (n_g groups of d_st) and dt (one per head); a causal
  convolution over x, B and C; the selective scan over a state of d_m x d_st per head; a gated
  RMSNorm over each group's d_in / n_g; out_proj. Its scan (the state-space dual form, Mamba-2
  paper section 6; transformers' mamba2_chunk_scan) in chunks of m = min(n, Q), Q the config's
  chunk_size, per chunk and head: C B^T (2 m^2 d_st) and its product with x (2 m^2 d_m) within
  the chunk; the chunk's states B^T x (2 m d_st d_m); the outputs from the state, C S
  (2 m d_st d_m); the state carried to the next chunk, decayed and added (2 d_st d_m). Per token
  2 m (d_st + d_m) + 4 d_st d_m, and 2 d_st d_m per chunk.
"""

from __future__ import annotations

import sympy

from ...architecture.conventions import Conventions
from ...architecture.spec import GatedDeltaNetSpec, Mamba2Spec, ShortConvSpec
from ...symbols import B, H, d_lk, d_lv, d_m, d_st, n, n_g, n_lk, n_lv, n_m, w_conv
from ..op import (
    Op,
    OpKind,
    Shard,
    attention_product,
    bias_add,
    depthwise_conv,
    elementwise,
    matmul,
    norm,
    recurrent_state,
)


def _chunks(m: sympy.Expr) -> sympy.Expr:
    """Chunks of m tokens in a step of n, ceil(n / m), written floor((n + m - 1) / m) so that the
    performance model's piecewise-linear cuts (floor and mod) apply."""
    return sympy.floor((n + m - 1) / m)


def short_conv_ops(spec: ShortConvSpec, conv: Conventions) -> list[Op]:
    """LFM2's gated short convolution (modeling_lfm2.py, Lfm2ShortConv.forward)."""
    tokens = B * n
    ops = [matmul("in_proj", "mixer", tokens, H, 3 * H, conv, shard=Shard.COLUMN, note="B, C and x")]
    if spec.bias:   # conv_bias puts a bias on in_proj, the convolution and out_proj alike
        ops.append(bias_add("in_bias", "mixer", tokens, 3 * H, Shard.COLUMN))
    ops += [
        elementwise("input_gate", "mixer", tokens * H, 1, inputs=2, shard=Shard.FEATURES, note="B * x"),
        recurrent_state("conv_state", "mixer", B, H * w_conv, H, note="the last w_conv inputs"),
        depthwise_conv("conv", "mixer", tokens, H, w_conv, bias=spec.bias, note="causal, per channel"),
        elementwise("output_gate", "mixer", tokens * H, 1, inputs=2, shard=Shard.FEATURES, note="C * y"),
        matmul("out_proj", "mixer", tokens, H, H, conv, shard=Shard.ROW),
    ]
    if spec.bias:
        ops.append(bias_add("out_bias", "mixer", tokens, H, Shard.REPLICATED))
    return ops


def gated_deltanet_ops(spec: GatedDeltaNetSpec, conv: Conventions) -> list[Op]:
    """Gated DeltaNet (modeling_qwen3_next.py, Qwen3NextGatedDeltaNet.forward and
    torch_chunk_gated_delta_rule); the scan's FLOPs as the module docstring derives them."""
    tokens = B * n
    keys, values = n_lk * d_lk, n_lv * d_lv
    channels = 2 * keys + values            # q, k and v through the convolution
    m = sympy.Min(n, conv.scan_chunk)       # tokens per chunk
    heads = B * n_lv                        # one scan per value head and sequence
    per_head = tokens * n_lv
    params = [
        matmul("in_proj_qkvz", "mixer", tokens, H, 2 * keys + 2 * values, conv, shard=Shard.COLUMN,
               note="q, k, v and the gate z"),
        matmul("in_proj_ba", "mixer", tokens, H, 2 * n_lv, conv, shard=Shard.COLUMN,
               note="beta and the decay's input per value head"),
        recurrent_state("conv_state", "mixer", B, channels * w_conv, n_lv, note="the last w_conv inputs"),
        depthwise_conv("conv", "mixer", tokens, channels, w_conv, note="causal, over q, k and v"),
        elementwise("conv_activation", "mixer", tokens * channels, conv.activation_flops,
                    shard=Shard.FEATURES, note="silu"),
        Op("decay_and_beta", "mixer", OpKind.ELEMENTWISE, shape=(("elements", per_head),),
           flops=per_head * (conv.activation_flops + 4), params=2 * n_lv, weights_read=2 * n_lv,
           shard=Shard.HEADS, note="beta = sigmoid(b); g = -exp(A_log) softplus(a + dt_bias)"),
        norm("qk_l2norm", "mixer", tokens * n_lk * 2, d_lk, "l2", conv, Shard.HEADS),
        recurrent_state("recurrent_state", "mixer", B, n_lv * d_lk * d_lv, n_lv,
                        note="d_lk x d_lv per value head"),
    ]
    scan = [
        attention_product("scan_intra_keys", "mixer", heads, 2, n * m, d_lk, conv,
                          note="K_beta K^T and Q K^T within each chunk"),
        attention_product("scan_intra_values", "mixer", heads, 1, n * m, d_lv, conv,
                          note="(Q K^T) V within each chunk"),
        Op("scan_solve", "mixer", OpKind.ATTENTION,
           shape=(("heads", heads), ("pairs", n * m)),
           flops=heads * n * m * (d_lk + d_lv), shard=Shard.HEADS,
           note="unit-triangular solves for new values and decayed keys"),
        attention_product("scan_state", "mixer", heads, 3, n, d_lk * d_lv, conv,
                          reads=per_head * (2 * d_lk + d_lv), writes=per_head * d_lv,
                          note="K_c S, Q S and the update K^T V"),
        Op("state_decay", "mixer", OpKind.ELEMENTWISE, shape=(("elements", heads * d_lk * d_lv),),
           flops=heads * d_lk * d_lv * _chunks(m), shard=Shard.HEADS, note="once per chunk"),
    ]
    return [
        *params,
        *scan,
        norm("gated_norm", "mixer", per_head, d_lv, "rms", conv, Shard.HEADS),
        elementwise("output_gate", "mixer", per_head * d_lv, conv.activation_flops + 1, inputs=2,
                    shard=Shard.FEATURES, note="silu(z) times the normed output"),
        matmul("out_proj", "mixer", tokens, values, H, conv, shard=Shard.ROW),
    ]


def mamba2_ops(spec: Mamba2Spec, conv: Conventions) -> list[Op]:
    """Mamba-2 (modeling_nemotron_h.py, NemotronHMamba2Mixer.torch_forward path and
    mamba2_chunk_scan); the scan's FLOPs as the module docstring derives them."""
    tokens = B * n
    inner = n_m * d_m                       # d_in, x and the gate z each
    channels = inner + 2 * n_g * d_st       # x, B and C through the convolution
    m = sympy.Min(n, spec.chunk)
    heads = B * n_m
    per_head = tokens * n_m
    projected = 2 * inner + 2 * n_g * d_st + n_m
    ops = [matmul("in_proj", "mixer", tokens, H, projected, conv, shard=Shard.COLUMN,
                  note="z, x, B, C and dt")]
    if spec.proj_bias:
        ops.append(bias_add("in_bias", "mixer", tokens, projected, Shard.COLUMN))
    ops += [
        recurrent_state("conv_state", "mixer", B, channels * w_conv, n_m, note="the last w_conv inputs"),
        depthwise_conv("conv", "mixer", tokens, channels, w_conv, bias=spec.conv_bias,
                       note="causal, over x, B and C"),
        elementwise("conv_activation", "mixer", tokens * channels, conv.activation_flops,
                    shard=Shard.FEATURES, note="silu"),
        Op("step_sizes", "mixer", OpKind.ELEMENTWISE, shape=(("elements", per_head),),
           flops=per_head * (conv.activation_flops + 2), params=3 * n_m, weights_read=3 * n_m,
           shard=Shard.HEADS, note="dt = softplus(dt + dt_bias); A = -exp(A_log); D"),
        recurrent_state("ssm_state", "mixer", B, n_m * d_m * d_st, n_m, note="d_m x d_st per head"),
        attention_product("scan_intra", "mixer", heads, 1, n * m, d_st + d_m, conv,
                          note="C B^T and its product with x within each chunk"),
        attention_product("scan_state", "mixer", heads, 2, n, d_m * d_st, conv,
                          reads=per_head * d_m, writes=per_head * d_m,
                          note="the chunk's states B^T x and the outputs C S"),
        Op("state_carry", "mixer", OpKind.ELEMENTWISE, shape=(("elements", heads * d_m * d_st),),
           flops=2 * heads * d_m * d_st * _chunks(m), shard=Shard.HEADS,
           note="decayed and added, once per chunk"),
        elementwise("skip", "mixer", per_head * d_m, 2, inputs=2, shard=Shard.FEATURES, note="+ D x"),
        norm("gated_norm", "mixer", tokens, inner, "rms", conv, Shard.FEATURES),
        elementwise("output_gate", "mixer", tokens * inner, conv.activation_flops + 1, inputs=2,
                    shard=Shard.FEATURES, note="silu(z) times the scan's output"),
        matmul("out_proj", "mixer", tokens, inner, H, conv, shard=Shard.ROW),
    ]
    if spec.proj_bias:
        ops.append(bias_add("out_bias", "mixer", tokens, H, Shard.REPLICATED))
    return ops
