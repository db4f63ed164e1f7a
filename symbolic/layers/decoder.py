"""One decoder layer: pre-norm attention and MLP blocks, each added back to the residual stream.
gemma-2 adds a norm after each block ("sandwich" norms)."""

from __future__ import annotations

from ..architecture import LayerSpec, MoESpec
from ..conventions import Conventions
from ..ops import Op, elementwise, norm
from ..symbols import B, H, n
from .attention import attention_ops
from .mlp import mlp_ops
from .moe import moe_ops


def decoder_layer_ops(spec: LayerSpec, conv: Conventions) -> list[Op]:
    tokens = B * n
    ops = [norm("attn_norm", "norm", tokens, H, spec.norm, conv), *attention_ops(spec.attention, conv)]
    if spec.sandwich_norms:
        ops.append(norm("attn_post_norm", "norm", tokens, H, spec.norm, conv))
    ops += [elementwise("attn_residual", "residual", tokens * H, 1, inputs=2),
            norm("mlp_norm", "norm", tokens, H, spec.norm, conv),
            *(moe_ops(spec.mlp, conv) if isinstance(spec.mlp, MoESpec) else mlp_ops(spec.mlp, conv))]
    if spec.sandwich_norms:
        ops.append(norm("mlp_post_norm", "norm", tokens, H, spec.norm, conv))
    ops.append(elementwise("mlp_residual", "residual", tokens * H, 1, inputs=2))
    return ops
