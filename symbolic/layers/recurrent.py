"""Token mixers with a state of fixed size per sequence, as ops: what such a layer keeps of the past
does not grow with the context, so it holds no KV cache, and each decode step reads and rewrites
its whole state instead.

* short convolution (LFM2's ShortConv, transformers' Lfm2ShortConv): in_proj to B, C and x, a
  depthwise causal convolution of w_conv taps over B * x, the output gated by C, out_proj. The
  state is the convolution's window: transformers' LinearAttentionLayer keeps the last w_conv
  inputs of each of the H channels (a kernel needs w_conv - 1 of them).
"""

from __future__ import annotations

from ..architecture import ShortConvSpec
from ..conventions import Conventions
from ..ops import Op, Shard, bias_add, depthwise_conv, elementwise, matmul, recurrent_state
from ..symbols import B, H, n, w_conv


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
