"""Architecture: what a decoder-only transformer is made of, validated and typed.

An :class:`Architecture` holds the sizes (one value per vocabulary symbol) and the structure: layer
groups, each a :class:`LayerSpec` (which norms, biases, attention span and MLP shape a layer has)
and how many layers of that kind the model stacks. Sizes bind the symbols; structure decides which
ops a layer has. Reading Hugging Face configs into this form is :mod:`symbolic.config.families`' job.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy

from .. import symbols as sym
from ..errors import ConfigError

FULL = "full_attention"
SLIDING = "sliding_attention"
CHUNKED = "chunked_attention"

NORM_KINDS = ("rms", "layer", "layer_no_bias", "l2")
"""RMSNorm (a scale), LayerNorm (a scale and a shift), LayerNorm with a scale only (Cohere), an
RMS normalisation without a scale (Llama-4's L2 norm of q and k)."""
QK_NORMS = ("", "head", "head_separate", "projection")
"""Norms on q and k before attention: none; over each head with one scale of d_h shared by the
heads (Qwen3, gemma-3, EXAONE-4); over each head with a scale per head (Cohere's use_qk_norm); over
the whole projection, n d_h wide (OLMo-2/3)."""
POSITIONS = ("rope", "none", "learned")
"""Where a layer's positions come from: rotary embeddings on q and k; none at all (NoPE layers of
Llama-4, EXAONE-4 and Cohere2, which rely on the causal mask alone); a learned table added to the
embeddings before the first layer (GPT-2)."""
BLOCKS = ("pre", "sandwich", "post", "parallel")
"""How a layer wires its norms and residuals: a norm before each block (Llama); a norm before and
after each block (gemma-2/3); a norm after each block only (OLMo-2/3, EXAONE-4); attention and MLP
side by side on one norm, both added to the residual (Cohere, GPT-J)."""


@dataclass(frozen=True)
class AttentionSpec:
    """Structure of one layer's self-attention."""

    sliding: bool = False          # keys limited to the last W positions
    chunked: bool = False          # keys limited to the query's own chunk of W_c positions (Llama-4)
    qkv_bias: bool = False         # biases on the q, k and v projections
    o_bias: bool = False           # bias on the output projection
    qk_norm: str = ""              # one of QK_NORMS
    qk_norm_kind: str = "rms"      # the q/k norms' kind, one of NORM_KINDS
    positions: str = "rope"        # one of POSITIONS: how the layer learns where tokens are
    rotary_fraction: sympy.Rational = sympy.Integer(1)  # share of each head's dims rotated
    logit_softcap: bool = False    # tanh soft cap on the scores (gemma-2)
    sinks: bool = False            # a learned logit per head that joins each softmax (gpt-oss)
    global_heads: bool = False     # heads of their own size: d_hg wide, n_kvg KV heads (Gemma-4 full layers)
    values_are_keys: bool = False  # no v projection: values are the keys before RoPE (Gemma-4's k_eq_v)
    v_norm: bool = False           # values normalised per head without a scale (Gemma-4)
    mla: bool = False              # multi-head latent attention (DeepSeek-V2/V3): a compressed KV cache
    q_lora: bool = False           # MLA with a compressed query (q_lora_rank)
    indexer: bool = False          # DeepSeek sparse attention: an indexer picks the k_idx keys a query sees
    output_gate: bool = False      # a sigmoid gate per query element on the attention output (Qwen3-Next)

    @property
    def rotary(self) -> bool:
        """RoPE applied to q and k."""
        return self.positions == "rope"

    @property
    def span(self) -> str:
        """Which keys a query sees: ``full_attention``, ``sliding_attention`` or ``chunked_attention``."""
        return SLIDING if self.sliding else CHUNKED if self.chunked else FULL


@dataclass(frozen=True)
class ShortConvSpec:
    """A gated short convolution in place of attention (LFM2's ShortConv): in_proj makes B, C and x
    (H each), a depthwise causal convolution of w_conv taps runs over B * x, C gates its output,
    out_proj maps it back. Its only memory of the past is the convolution's window, a state of a
    fixed size per sequence (transformers keeps the last w_conv inputs of every channel)."""

    bias: bool = False
    span: str = field(default="short_conv", init=False)


@dataclass(frozen=True)
class GatedDeltaNetSpec:
    """Gated DeltaNet linear attention (Qwen3-Next, Qwen3.5): q, k (n_lk heads of d_lk), v and an
    output gate z (n_lv heads of d_lv) and per-head beta and decay from the hidden state; a short
    convolution over q, k, v; a recurrent state of n_lv x d_lk x d_lv per sequence, updated by the
    delta rule for every token; a gated RMSNorm and out_proj. No cache grows with the context."""

    span: str = field(default="linear_attention", init=False)


@dataclass(frozen=True)
class Mamba2Spec:
    """A Mamba-2 state-space mixer (Nemotron-H, Bamba, Falcon-H1, Granite-4): in_proj makes the gate
    z and x (n_m heads of d_m), B and C (n_g groups of d_st) and a step size per head; a causal
    convolution over x, B and C; the selective scan over a state of d_m x d_st per head, in chunks
    of ``chunk`` tokens; a gated RMSNorm over each group and out_proj."""

    chunk: int = 256                 # the config's chunk_size (mamba_chunk_size)
    conv_bias: bool = True           # use_conv_bias
    proj_bias: bool = False          # biases on in_proj and out_proj
    span: str = field(default="mamba", init=False)




@dataclass(frozen=True)
class MLPSpec:
    """Structure of one layer's MLP."""

    gated: bool = True             # gate and up projections with a product (SwiGLU, GeGLU)
    bias: bool = False
    activation: str = "silu"


@dataclass(frozen=True)
class MoESpec:
    """Structure of a mixture-of-experts MLP: a router, E routed experts (gated, each d_e wide) of
    which each token uses k, and optionally always-on shared experts (d_s wide in all)."""

    shared: bool = False           # shared expert(s) every token passes through
    shared_gate: bool = False      # a sigmoid gate on the shared expert's output (Qwen2-MoE)
    activation: str = "silu"
    bias: bool = False             # biases on the router and on every expert projection (gpt-oss)
    scoring: str = "softmax"       # the router's scores: "softmax" or "sigmoid" (GLM-4.5, DeepSeek-V3)
    clamped: bool = False          # gate and up clamped, (up + 1) times the gate (gpt-oss's SwiGLU)
    gated: bool = True             # False: experts and shared expert are up, activation, down (Nemotron-3)
    shared_bias: bool = False      # biases on the shared expert's projections (Nemotron-3's mlp_bias)


@dataclass(frozen=True)
class LayerSpec:
    """One kind of decoder layer: its parts. Its kind's name, and the symbol counting the layers
    of that kind, are made from the parts that tell kinds apart (:attr:`kind`); documents and the
    performance model ask the parts (:attr:`slides`, :attr:`is_moe`), never the name."""

    mixer: AttentionSpec | ShortConvSpec | GatedDeltaNetSpec | Mamba2Spec | None
    mlp: MLPSpec | MoESpec | None
    norm: str = "rms"              # one of NORM_KINDS
    block: str = "pre"             # one of BLOCKS

    def __post_init__(self):
        if self.mixer is None and self.mlp is None:
            raise ValueError("a layer needs a token mixer, an MLP or both")
        checks = [(self.norm, NORM_KINDS), (self.block, BLOCKS)]
        if self.attention is not None:
            checks += [(self.attention.positions, POSITIONS), (self.attention.qk_norm, QK_NORMS),
                       (self.attention.qk_norm_kind, NORM_KINDS)]
        for value, allowed in checks:
            if value not in allowed:
                raise ValueError(f"{value!r} is not one of {allowed}")

    @property
    def attention(self) -> AttentionSpec | None:
        """The layer's attention, or None where a part with a fixed-size state mixes the tokens."""
        return self.mixer if isinstance(self.mixer, AttentionSpec) else None

    @property
    def slides(self) -> bool:
        """Keys limited to the last W positions."""
        return self.attention is not None and self.attention.sliding

    @property
    def chunked(self) -> bool:
        """Keys limited to the query's own chunk of W_c positions."""
        return self.attention is not None and self.attention.chunked

    @property
    def is_moe(self) -> bool:
        return isinstance(self.mlp, MoESpec)

    @property
    def span(self) -> str:
        """What a token sees of the past: ``full_attention``, ``sliding_attention`` or
        ``chunked_attention`` keys, or a fixed-size state (``short_conv``, ``linear_attention``,
        ``mamba``); ``mlp`` for a layer that is an MLP alone (Nemotron-H)."""
        return self.mixer.span if self.mixer is not None else "mlp"

    @property
    def kind(self) -> str:
        """The kind's name, one label per distinguishing part: the mixer's span, ``_nope`` for
        attention without position information, ``_moe`` for a mixture-of-experts MLP, and
        ``_only`` for a layer without an MLP where its model has layers that are MLPs alone
        (``full_attention``, ``sliding_attention_moe``, ``full_attention_nope_moe``, ``short_conv``,
        ``mamba_only``, ``mlp``, ``mlp_moe``)."""
        nope = "_nope" if self.attention is not None and self.attention.positions == "none" else ""
        alone = "_only" if self.mlp is None else ""
        return self.span + nope + alone + ("_moe" if self.is_moe else "")


@dataclass(frozen=True)
class StoredWeights:
    """How a checkpoint stores its weights (its ``quantization_config``): the weight matrices it
    quantizes, in ``dtype`` (a :mod:`symbolic.architecture.dtypes` name, scales included), and the rest in
    ``base`` (its torch_dtype). Matrices whose op name or component is in ``kept`` stay in ``base``
    (modules_to_not_convert, and what the method never converts: the LM head, the router)."""

    method: str
    dtype: str
    base: str
    kept: tuple[str, ...] = ("lm_head", "router")

    def quantizes(self, name: str, component: str) -> bool:
        return name not in self.kept and component not in self.kept


@dataclass(frozen=True)
class LayerGroup:
    spec: LayerSpec
    count: int

    @property
    def count_symbol(self) -> sympy.Symbol:
        return sym.layer_count_symbol(self.spec.kind)


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
    attention_chunk_size: int | None = None  # Llama-4's chunked attention
    norm: str = "rms"                    # the final norm's kind, one of NORM_KINDS
    embedding_scale: bool = False        # embeddings multiplied by sqrt(H) (gemma)
    final_logit_softcap: bool = False    # tanh soft cap on the logits (gemma-2)
    num_experts: int | None = None       # MoE: routed experts per MoE layer
    experts_per_token: int | None = None
    expert_intermediate_size: int | None = None
    shared_intermediate_size: int | None = None
    q_lora_rank: int | None = None       # MLA
    kv_lora_rank: int | None = None
    qk_nope_head_dim: int | None = None
    qk_rope_head_dim: int | None = None
    v_head_dim: int | None = None
    index_topk: int | None = None        # DeepSeek sparse attention (DeepSeek-V3.2)
    index_n_heads: int | None = None
    index_head_dim: int | None = None
    global_head_dim: int | None = None       # heads of the global_heads layers (Gemma-4)
    global_num_kv_heads: int | None = None
    conv_taps: int | None = None             # taps of a short convolution (LFM2, Gated DeltaNet)
    linear_num_key_heads: int | None = None  # Gated DeltaNet linear attention (Qwen3-Next)
    linear_num_value_heads: int | None = None
    linear_key_head_dim: int | None = None
    linear_value_head_dim: int | None = None
    mamba_num_heads: int | None = None      # Mamba-2 (Nemotron-H)
    mamba_head_dim: int | None = None
    ssm_state_size: int | None = None
    mamba_groups: int | None = None
    stored_weights: StoredWeights | None = None   # a quantized checkpoint's formats
    source: str = ""
    notes: tuple[str, ...] = ()          # what reading the config left out (a vision tower)
    config: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        """Refuse, naming the field, an architecture whose parts cannot be built."""
        self._check_sizes()
        self._check_attention()
        self._check_mixers()
        self._check_experts()

    def _check_sizes(self) -> None:
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
            raise ConfigError(f"layers that differ must differ in a part their kind names, got {kinds}")
        if self.learned_positions and not self.max_position_embeddings:
            raise ConfigError("a learned position table needs max_position_embeddings")

    def _check_attention(self) -> None:
        """Heads of their own size, windows, chunks and sparse attention's indexer."""
        if any(g.spec.attention and g.spec.attention.global_heads for g in self.layer_groups):
            if not (self.global_head_dim and self.global_num_kv_heads):
                raise ConfigError("layers with heads of their own size need global_head_dim and "
                                  "num_global_key_value_heads")
            if self.num_heads % self.global_num_kv_heads:
                raise ConfigError(f"num_global_key_value_heads ({self.global_num_kv_heads}) must divide "
                                  f"num_attention_heads ({self.num_heads})")
        if any(g.spec.slides for g in self.layer_groups) and not self.sliding_window:
            raise ConfigError("sliding-window layers need a positive sliding_window")
        if any(g.spec.chunked for g in self.layer_groups) and not self.attention_chunk_size:
            raise ConfigError("chunked-attention layers need a positive attention_chunk_size")
        if any(g.spec.attention and g.spec.attention.indexer for g in self.layer_groups) and not (
                self.index_topk and self.index_n_heads and self.index_head_dim and self.q_lora_rank):
            raise ConfigError("sparse attention needs index_topk, index_n_heads, index_head_dim and "
                              "q_lora_rank")

    def _check_mixers(self) -> None:
        """The sizes each token mixer with a state needs."""
        if any(isinstance(g.spec.mixer, ShortConvSpec) for g in self.layer_groups) and not self.conv_taps:
            raise ConfigError("short-convolution layers need a positive convolution width (conv_L_cache)")
        if any(isinstance(g.spec.mixer, GatedDeltaNetSpec) for g in self.layer_groups) and not (
                self.conv_taps and self.linear_num_key_heads and self.linear_num_value_heads
                and self.linear_key_head_dim and self.linear_value_head_dim):
            raise ConfigError("linear-attention layers need a convolution width (linear_conv_kernel_dim) "
                              "and the linear heads and head sizes")
        if any(isinstance(g.spec.mixer, Mamba2Spec) for g in self.layer_groups):
            if not (self.conv_taps and self.mamba_num_heads and self.mamba_head_dim and self.ssm_state_size
                    and self.mamba_groups):
                raise ConfigError("Mamba layers need a convolution width (conv_kernel), mamba_num_heads, "
                                  "mamba_head_dim, ssm_state_size and n_groups")
            if self.mamba_num_heads % self.mamba_groups:
                raise ConfigError(f"n_groups ({self.mamba_groups}) must divide mamba_num_heads "
                                  f"({self.mamba_num_heads})")

    def _check_experts(self) -> None:
        if self.has_moe:
            if not (self.num_experts and self.experts_per_token and self.expert_intermediate_size):
                raise ConfigError("MoE layers need num_experts, num_experts_per_tok and the expert size")
            if self.experts_per_token > self.num_experts:
                raise ConfigError(f"num_experts_per_tok ({self.experts_per_token}) exceeds the "
                                  f"{self.num_experts} experts")

    @property
    def has_moe(self) -> bool:
        return any(g.spec.is_moe for g in self.layer_groups)

    @property
    def has_dense_mlp(self) -> bool:
        return any(not g.spec.is_moe for g in self.layer_groups)

    @property
    def all_mla(self) -> bool:
        return all(g.spec.attention and g.spec.attention.mla for g in self.layer_groups)

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
        }
        attention = [g.spec.attention for g in self.layer_groups if g.spec.attention]
        if any(not a.mla and not a.global_heads for a in attention):
            values[sym.n_kv] = self.num_kv_heads
            values[sym.d_h] = self.head_dim
        if any(a.global_heads for a in attention):
            values[sym.n_kvg] = self.global_num_kv_heads
            values[sym.d_hg] = self.global_head_dim
        if self.has_dense_mlp:
            values[sym.d_ff] = self.intermediate_size
        optional = {sym.E: self.num_experts, sym.k: self.experts_per_token,
                    sym.d_e: self.expert_intermediate_size, sym.d_s: self.shared_intermediate_size,
                    sym.r_q: self.q_lora_rank, sym.r_kv: self.kv_lora_rank,
                    sym.d_nope: self.qk_nope_head_dim, sym.d_rope: self.qk_rope_head_dim,
                    sym.d_v: self.v_head_dim, sym.k_idx: self.index_topk, sym.n_idx: self.index_n_heads,
                    sym.d_idx: self.index_head_dim, sym.w_conv: self.conv_taps,
                    sym.n_lk: self.linear_num_key_heads, sym.n_lv: self.linear_num_value_heads,
                    sym.d_lk: self.linear_key_head_dim, sym.d_lv: self.linear_value_head_dim,
                    sym.n_m: self.mamba_num_heads, sym.d_m: self.mamba_head_dim,
                    sym.d_st: self.ssm_state_size, sym.n_g: self.mamba_groups}
        values.update({symbol: v for symbol, v in optional.items() if v})
        if self.learned_positions:
            values[sym.n_pos] = self.max_position_embeddings
        if self.sliding_window:
            values[sym.W] = self.sliding_window
        if self.attention_chunk_size:
            values[sym.W_c] = self.attention_chunk_size
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
            if sym.is_layer_count(symbol) and symbol is not sym.L:
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
