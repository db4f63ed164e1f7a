"""A mixture-of-experts MLP as ops: the router, E experts (gated, or up-activation-down as
Nemotron-3's) of which each token uses k, the
weighted combination of their outputs, and optional shared experts (with Qwen2-MoE's gate).
gpt-oss adds biases to the router and to every expert projection, and clamps its SwiGLU: the gate
at most ``limit``, the up projection within +-limit, then (up + 1) times the gate's activation
(transformers' GptOssExperts._apply_gate), counted as 4 FLOPs per inner element.

Routed FLOPs depend only on tokens x k, not on which experts the router picks; the weights a step
reads depend on how many distinct experts its tokens pick (see :func:`symbolic.ops.op.expert_matmul`).
"""

from __future__ import annotations

from dataclasses import replace

from ...architecture.conventions import Conventions
from ...architecture.spec import MLPSpec, MoESpec
from ...symbols import B, E, H, d_e, d_s, k, n
from ..op import Op, Shard, bias_add, elementwise, expert_bias, expert_matmul, experts_per_token, matmul
from .mlp import mlp_ops


def moe_ops(spec: MoESpec, conv: Conventions) -> list[Op]:
    tokens = B * n
    computed = experts_per_token(E, k, conv)   # k, or E under moe_compute="all_experts"
    routed = tokens * computed * d_e           # elements of the routed experts' inner activations
    ops = [matmul("router", "mlp", tokens, H, E, conv, shard=Shard.REPLICATED, note="expert scores")]
    if spec.bias:
        ops.append(bias_add("router_bias", "mlp", tokens, E, Shard.REPLICATED))
    if spec.scoring == "sigmoid":   # each expert scored alone; a correction bias steers the top-k
        ops.append(elementwise("router_sigmoid", "mlp", tokens * E, conv.activation_flops, note="and top-k"))
    else:
        ops.append(elementwise("router_softmax", "mlp", tokens * E, conv.softmax_flops, note="and top-k"))
    for name in ("expert_gate_proj", "expert_up_proj") if spec.gated else ("expert_up_proj",):
        ops.append(expert_matmul(name, "mlp", tokens, E, k, H, d_e, conv, shard=Shard.COLUMN))
        if spec.bias:
            ops.append(expert_bias(name.replace("_proj", "_bias"), "mlp", tokens, E, k, d_e, conv,
                                   shard=Shard.COLUMN))
    if spec.clamped:
        ops.append(elementwise("expert_clamp", "mlp", routed, 4, shard=Shard.FEATURES, routed=True,
                               note="gate <= limit, -limit <= up <= limit, up + 1"))
    ops.append(elementwise("expert_activation", "mlp", routed, conv.activation_flops, shard=Shard.FEATURES,
                           routed=True, note=spec.activation))
    if spec.gated:
        ops.append(elementwise("expert_gate_product", "mlp", routed, 1, inputs=2, shard=Shard.FEATURES,
                               routed=True))
    ops.append(expert_matmul("expert_down_proj", "mlp", tokens, E, k, d_e, H, conv, shard=Shard.ROW))
    if spec.bias:
        ops.append(expert_bias("expert_down_bias", "mlp", tokens, E, k, H, conv, shard=Shard.REPLICATED))
    ops.append(elementwise("expert_combine", "mlp", tokens * computed * H, 2,
                           note="weight and sum the outputs"))
    if spec.shared:
        shared = mlp_ops(MLPSpec(gated=spec.gated, bias=spec.shared_bias, activation=spec.activation), conv,
                         width=d_s)
        ops += [_renamed(op, "shared_" + op.name) for op in shared]
        if spec.shared_gate:
            ops += [matmul("shared_expert_gate", "mlp", tokens, H, 1, conv, shard=Shard.REPLICATED),
                    elementwise("shared_gate_sigmoid", "mlp", tokens, conv.activation_flops),
                    elementwise("shared_gate_product", "mlp", tokens * H, 1, inputs=2)]
        ops.append(elementwise("shared_add", "mlp", tokens * H, 1, inputs=2, note="routed + shared"))
    return ops


def _renamed(op: Op, name: str) -> Op:
    return replace(op, name=name)
