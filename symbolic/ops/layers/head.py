"""Output side: the final norm (over every position) and the LM head (over the positions whose
logits are wanted; by default only the last). A tied head reads the embedding table and owns no
parameters of its own."""

from __future__ import annotations

from ...architecture.conventions import Conventions
from ...architecture.spec import Architecture
from ...symbols import B, H, V, n
from ..op import Op, Shard, fused_elementwise, matmul, norm


def head_ops(arch: Architecture, conv: Conventions) -> list[Op]:
    positions = 1 if conv.lm_head_positions == "last" else n
    ops = [norm("final_norm", "final_norm", B * n, H, arch.norm, conv),
           matmul("lm_head", "lm_head", B * positions, H, V, conv, shard=Shard.VOCAB,
                  owns_weights=not arch.tie_word_embeddings,
                  note="tied to embed_tokens" if arch.tie_word_embeddings else "")]
    if arch.final_logit_softcap:
        ops.append(fused_elementwise("logit_softcap", "lm_head", B * positions * V, conv.softcap_flops,
                                     shard=Shard.VOCAB))
    return ops
