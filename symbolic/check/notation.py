"""The letters common sources write, and warnings where a one-letter name may not mean what its
writer meant.

The vocabulary reads names case-insensitively (``nlayers``, ``NLayers``), so one-letter names of
other notations can be read as a different symbol: ``K`` as top-k where the scaling book means the
KV heads, ``N`` as the new tokens of a step where it means the query heads. A formula's verdict
notes how each one-letter name of another case was read, and ``--notation`` reads a source's letters
as that source means them (``H`` then the head dimension):

* ``scaling-book``: "How to Scale Your Model" (Austin et al., 2025,
  https://jax-ml.github.io/scaling-book/transformers/): B batch, T sequence length, D model width,
  F MLP width, N query heads, K KV heads, H head dimension, L layers, V vocabulary.
* ``megatron``: Narayanan et al., "Efficient Large-Scale Language Model Training on GPU Clusters
  Using Megatron-LM" (2021, https://arxiv.org/abs/2104.04473): l layers, h hidden size, a attention
  heads, s sequence length, b or B batch, V vocabulary, t and p the tensor- and pipeline-parallel
  degrees.
* ``kipply``: "Transformer Inference Arithmetic" (kipply, 2022,
  https://kipp.ly/transformer-inference-arithmetic/): d_model, n_layers, n_heads, d_head (the
  vocabulary's aliases already read these) and n_ctx, the tokens in the cache.
"""

from __future__ import annotations

from ..errors import SymbolicError
from ..symbols import VOCABULARY, B, H, L, N_pp, N_tp, S, V, c, d_ff, d_h, n_kv, n_q, term_of

NOTATIONS = {
    "default": {},
    "scaling-book": {"B": B, "T": S, "D": H, "F": d_ff, "N": n_q, "K": n_kv, "H": d_h, "L": L, "V": V},
    "megatron": {"l": L, "h": H, "a": n_q, "s": S, "B": B, "b": B, "V": V, "t": N_tp, "p": N_pp},
    "kipply": {"d_model": H, "n_layers": L, "n_heads": n_q, "d_head": d_h, "n_ctx": c},
}
"""Each notation's names, read as written (case matters: scaling-book's K is not top-k's k)."""

TELLS = {"K": "the KV heads", "N": "the query heads"}
"""One-letter names the scaling book uses otherwise than the vocabulary reads them (its D, F and T
are unknown to the vocabulary: their error says which notation knows them)."""


def notation_names(name: str) -> dict:
    """The names ``--notation name`` reads, for the formula parser's ``lets``."""
    if name not in NOTATIONS:
        raise SymbolicError(f"--notation: unknown notation {name[:40]!r}; known: {', '.join(NOTATIONS)}")
    return dict(NOTATIONS[name])


def reading_warnings(readings: list[tuple[str, str]], notation: str = "default") -> list[str]:
    """How each one-letter name of another case or notation was read, and how to say otherwise.
    ``readings`` are (name as written, vocabulary name) in the order read."""
    if notation != "default":
        return []
    warnings = []
    for written, name in dict.fromkeys(readings):
        if len(written) != 1 or written == name:
            continue
        meaning = VOCABULARY[name].meaning
        note = f"read {written} as {name} ({meaning})"
        if written in TELLS:
            note += (f"; in the scaling book's notation {written} is {TELLS[written]}: "
                     f"--notation scaling-book reads it so")
        warnings.append(note)
    return warnings


def unknown_name_hint(name: str) -> str:
    """A hint for a name the vocabulary does not know but a notation does."""
    found = [key for key, names in NOTATIONS.items() if name in names]
    if not found:
        return ""
    meaning = term_of(NOTATIONS[found[0]][name]).meaning
    return f"; in {found[0]} notation {name} is {meaning}: --notation {found[0]}"
