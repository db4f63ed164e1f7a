"""The MLP: gated (SwiGLU / GeGLU: gate, up, activation, product, down) or plain (up, activation,
down), as ops."""

from __future__ import annotations

from ...architecture.conventions import Conventions
from ...architecture.spec import MLPSpec
from ...symbols import B, H, d_ff, n
from ..op import Op, Shard, bias_add, elementwise, matmul


def mlp_ops(spec: MLPSpec, conv: Conventions, width=d_ff) -> list[Op]:
    """A dense MLP ``width`` wide (d_ff; a shared expert passes d_s)."""
    tokens = B * n
    inner = tokens * width
    up_names = ("gate_proj", "up_proj") if spec.gated else ("up_proj",)
    ops: list[Op] = []
    for name in up_names:
        ops.append(matmul(name, "mlp", tokens, H, width, conv, shard=Shard.COLUMN))
        if spec.bias:
            ops.append(bias_add(name.replace("_proj", "_bias"), "mlp", tokens, width, Shard.COLUMN))
    ops.append(elementwise("activation", "mlp", inner, conv.activation_flops, shard=Shard.FEATURES,
                           note=spec.activation))
    if spec.gated:
        ops.append(elementwise("gate_product", "mlp", inner, 1, inputs=2, shard=Shard.FEATURES))
    ops.append(matmul("down_proj", "mlp", tokens, width, H, conv, shard=Shard.ROW))
    if spec.bias:
        ops.append(bias_add("down_bias", "mlp", tokens, H, Shard.REPLICATED))
    return ops
