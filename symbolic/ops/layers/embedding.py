"""Input side: the token-embedding lookup (0 FLOPs, its rows read), learned positions (GPT-2) and
gemma's scaling of embeddings by sqrt(H)."""

from __future__ import annotations

from ...architecture.conventions import Conventions
from ...architecture.spec import Architecture
from ...symbols import B, H, V, n, n_pos
from ..op import Op, Shard, elementwise, gather


def embedding_ops(arch: Architecture, conv: Conventions) -> list[Op]:
    tokens = B * n
    ops = [gather("embed_tokens", "embedding", V, H, rows_read=tokens, shard=Shard.VOCAB)]
    if arch.learned_positions:
        ops += [gather("embed_positions", "position_embedding", n_pos, H, rows_read=n),
                elementwise("add_positions", "position_embedding", tokens * H, 1, inputs=2)]
    if arch.embedding_scale:
        ops.append(elementwise("scale_embeddings", "embedding", tokens * H, 1,
                               note="times a constant: sqrt(H) in gemma, embedding_multiplier in Granite"))
    return ops
