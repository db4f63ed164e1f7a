"""Architecture: what a decoder-only transformer is made of, validated and typed.

An :class:`Architecture` holds the sizes (one value per vocabulary symbol) and the structure: layer
groups, each a :class:`LayerSpec` (which norms, biases, attention span and MLP shape a layer has)
and how many layers of that kind the model stacks. Sizes bind the symbols; structure decides which
ops a layer has. Reading Hugging Face configs into this form is :mod:`symbolic.families`' job.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy

from . import symbols as sym
from .errors import ConfigError

FULL = "full_attention"
SLIDING = "sliding_attention"


@dataclass(frozen=True)
class AttentionSpec:
    """Structure of one layer's self-attention."""

    sliding: bool = False          # keys limited to the last W positions
    qkv_bias: bool = False         # biases on the q, k and v projections
    o_bias: bool = False           # bias on the output projection
    qk_norm: bool = False          # RMSNorm over each head of q and k (Qwen3)
    rotary: bool = True            # rotary position embedding applied to q and k
    rotary_fraction: sympy.Rational = sympy.Integer(1)  # share of each head's dims rotated
    logit_softcap: bool = False    # tanh soft cap on the scores (gemma-2)


@dataclass(frozen=True)
class MLPSpec:
    """Structure of one layer's MLP."""

    gated: bool = True             # gate and up projections with a product (SwiGLU, GeGLU)
    bias: bool = False
    activation: str = "silu"


@dataclass(frozen=True)
class LayerSpec:
    """One kind of decoder layer."""

    kind: str
    attention: AttentionSpec
    mlp: MLPSpec
    norm: str = "rms"              # "rms" or "layer"
    sandwich_norms: bool = False   # extra norms after attention and after the MLP (gemma-2)


@dataclass(frozen=True)
class LayerGroup:
    spec: LayerSpec
    count: int

    @property
    def count_symbol(self) -> sympy.Symbol:
        return sym.LAYER_COUNT_SYMBOLS[self.spec.kind]


@dataclass(frozen=True)
class Architecture:
    """A decoder-only transformer: sizes and structure. Sizes are plain ints."""

    name: str
    model_type: str
    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    layer_groups: tuple[LayerGroup, ...]
    tie_word_embeddings: bool
    max_position_embeddings: int | None = None
    learned_positions: bool = False      # a learned position table (GPT-2)
    sliding_window: int | None = None
    norm: str = "rms"                    # the final norm's kind
    embedding_scale: bool = False        # embeddings multiplied by sqrt(H) (gemma)
    final_logit_softcap: bool = False    # tanh soft cap on the logits (gemma-2)
    source: str = ""
    config: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        for name in ("vocab_size", "hidden_size", "num_layers", "num_heads", "num_kv_heads",
                     "head_dim", "intermediate_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if self.num_heads % self.num_kv_heads:
            raise ConfigError(
                f"num_key_value_heads ({self.num_kv_heads}) must divide "
                f"num_attention_heads ({self.num_heads})")
        if sum(g.count for g in self.layer_groups) != self.num_layers:
            raise ConfigError("layer groups do not add up to num_hidden_layers")
        kinds = [g.spec.kind for g in self.layer_groups]
        if len(set(kinds)) != len(kinds):
            raise ConfigError(f"layer kinds must be distinct, got {kinds}")
        if any(g.spec.attention.sliding for g in self.layer_groups) and not self.sliding_window:
            raise ConfigError("sliding-window layers need a positive sliding_window")
        if self.learned_positions and not self.max_position_embeddings:
            raise ConfigError("a learned position table needs max_position_embeddings")

    @property
    def single_kind(self) -> bool:
        return len(self.layer_groups) == 1

    def layer_count_symbol(self, group: LayerGroup) -> sympy.Symbol:
        """``L`` when every layer is alike; ``L_full`` / ``L_sliding`` when kinds are mixed."""
        return sym.L if self.single_kind else group.count_symbol

    def bindings(self) -> dict[sympy.Symbol, sympy.Integer]:
        """Symbol -> exact value for every architecture symbol this model defines."""
        values = {
            sym.V: self.vocab_size,
            sym.H: self.hidden_size,
            sym.L: self.num_layers,
            sym.n_q: self.num_heads,
            sym.n_kv: self.num_kv_heads,
            sym.d_h: self.head_dim,
            sym.d_ff: self.intermediate_size,
        }
        if self.learned_positions:
            values[sym.n_pos] = self.max_position_embeddings
        if self.sliding_window:
            values[sym.W] = self.sliding_window
        if not self.single_kind:
            for group in self.layer_groups:
                values[group.count_symbol] = group.count
        return {k: sympy.Integer(v) for k, v in values.items()}

    def describe(self) -> dict[str, object]:
        """Symbol name -> value, meaning, the HF field it was read from, and its origin: 'config'
        (read from that field), 'default' (absent, the family's default applies) or 'counted'
        (layers of each kind, counted from layer_types or the family's rule)."""
        rows = {}
        for symbol, value in self.bindings().items():
            term = sym.term_of(symbol)
            field_name = _field_used(term, self.config)
            if symbol in sym.LAYER_COUNT_SYMBOLS.values():
                origin = "counted"
            else:
                origin = "config" if field_name else "default"
            rows[symbol.name] = {"value": int(value), "meaning": term.meaning, "hf_field": field_name,
                                 "origin": origin}
        return rows


def _field_used(term: sym.Term, config: dict) -> str | None:
    for name in term.hf_fields:
        if name in config:
            return name
    return None
