"""One decoder layer: attention and MLP blocks added to the residual stream, with norms placed as
the layer's ``block`` says (see :data:`symbolic.architecture.spec.BLOCKS`):

* ``pre``: x + attn(norm(x)), then the same with the MLP (Llama and most decoders);
* ``sandwich``: x + norm(attn(norm(x))), a norm before and after each block (gemma-2/3);
* ``post``: x + norm(attn(x)), a norm after each block only (OLMo-2/3, EXAONE-4);
* ``parallel``: x + attn(norm(x)) + mlp(norm(x)), both blocks on one norm (Cohere; GPT-J).

A layer may hold one block alone, a token mixer or an MLP (Nemotron-H's blocks), with its norm and
residual.
"""

from __future__ import annotations

from ...architecture.conventions import Conventions
from ...architecture.spec import (
    AttentionSpec,
    GatedDeltaNetSpec,
    LayerSpec,
    Mamba2Spec,
    MoESpec,
    ShortConvSpec,
)
from ...symbols import B, H, n
from ..op import Op, elementwise, norm
from .attention import attention_ops
from .mlp import mlp_ops
from .moe import moe_ops
from .recurrent import gated_deltanet_ops, mamba2_ops, short_conv_ops

MIXER_BUILDERS = {AttentionSpec: attention_ops, ShortConvSpec: short_conv_ops,
                  GatedDeltaNetSpec: gated_deltanet_ops, Mamba2Spec: mamba2_ops}
"""Each mixer spec's builder: a new part is a spec and a builder, added here."""


def decoder_layer_ops(spec: LayerSpec, conv: Conventions) -> list[Op]:
    tokens = B * n

    def layer_norm(name: str) -> Op:
        return norm(name, "norm", tokens, H, spec.norm, conv)

    def residual(name: str, inputs: int = 2) -> Op:
        return elementwise(name, "residual", tokens * H, inputs - 1, inputs=inputs)

    attention = MIXER_BUILDERS[type(spec.mixer)](spec.mixer, conv) if spec.mixer is not None else []
    if spec.mlp is None:
        mlp = []
    else:
        mlp = moe_ops(spec.mlp, conv) if isinstance(spec.mlp, MoESpec) else mlp_ops(spec.mlp, conv)
    if spec.block == "parallel":
        return [layer_norm("input_norm"), *attention, *mlp,
                residual("residual", inputs=3)]
    before = spec.block in ("pre", "sandwich")
    after = spec.block in ("sandwich", "post")
    ops: list[Op] = []
    for block, ops_of_block in (("attn", attention), ("mlp", mlp)):
        if not ops_of_block:        # a layer that is a mixer or an MLP alone (Nemotron-H)
            continue
        if before:
            ops.append(layer_norm(f"{block}_norm"))
        ops += ops_of_block
        if after:
            ops.append(layer_norm(f"{block}_post_norm"))
        ops.append(residual(f"{block}_residual"))
    return ops
