"""A mixture-of-experts MLP as ops: the router, E gated experts of which each token uses k, the
weighted combination of their outputs, and optional shared experts (with Qwen2-MoE's gate).

Routed FLOPs depend only on tokens x k, not on which experts the router picks; the weights a step
reads depend on how many distinct experts its tokens pick (see :func:`symbolic.ops.expert_matmul`).
"""

from __future__ import annotations

from dataclasses import replace

from ..architecture import MLPSpec, MoESpec
from ..conventions import Conventions
from ..ops import Op, Shard, elementwise, expert_matmul, matmul
from ..symbols import B, E, H, d_e, d_s, k, n
from .mlp import mlp_ops


def moe_ops(spec: MoESpec, conv: Conventions) -> list[Op]:
    tokens = B * n
    routed = tokens * k * d_e    # elements of the routed experts' inner activations
    ops = [
        matmul("router", "mlp", tokens, H, E, conv, shard=Shard.REPLICATED, note="expert scores"),
        elementwise("router_softmax", "mlp", tokens * E, conv.softmax_flops, note="and top-k"),
        expert_matmul("expert_gate_proj", "mlp", tokens, E, k, H, d_e, conv, shard=Shard.COLUMN),
        expert_matmul("expert_up_proj", "mlp", tokens, E, k, H, d_e, conv, shard=Shard.COLUMN),
        elementwise("expert_activation", "mlp", routed, conv.activation_flops, shard=Shard.FEATURES,
                    routed=True, note=spec.activation),
        elementwise("expert_gate_product", "mlp", routed, 1, inputs=2, shard=Shard.FEATURES, routed=True),
        expert_matmul("expert_down_proj", "mlp", tokens, E, k, d_e, H, conv, shard=Shard.ROW),
        elementwise("expert_combine", "mlp", tokens * k * H, 2, note="weight and sum k outputs"),
    ]
    if spec.shared:
        shared = mlp_ops(MLPSpec(gated=True, activation=spec.activation), conv, width=d_s)
        ops += [_renamed(op, "shared_" + op.name) for op in shared]
        if spec.shared_gate:
            ops += [matmul("shared_expert_gate", "mlp", tokens, H, 1, conv, shard=Shard.REPLICATED),
                    elementwise("shared_gate_sigmoid", "mlp", tokens, conv.activation_flops),
                    elementwise("shared_gate_product", "mlp", tokens * H, 1, inputs=2)]
        ops.append(elementwise("shared_add", "mlp", tokens * H, 1, inputs=2, note="routed + shared"))
    return ops


def _renamed(op: Op, name: str) -> Op:
    return replace(op, name=name)
