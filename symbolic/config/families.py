"""Reading Hugging Face ``config.json`` files into :class:`~symbolic.architecture.spec.Architecture`.

Each supported ``model_type`` is a row of traits: which biases it has, its default ``head_dim`` and
tying, how it places sliding-window layers. Defaults for absent optional fields are those of the
transformers configuration classes (``LlamaConfig``, ``Qwen3Config``, ...), so a config means here
what it means to transformers. Required sizes that are absent are an error naming the field.

Every field is read through :class:`ConfigReader`, which checks its type and its range once for all
families: sizes are whole numbers (not floats, booleans or strings) from 1 to ``MAX_SIZE`` (2^40,
about a trillion: a hidden size that wide already means 2^80 weights a layer) and layer counts at
most ``MAX_LAYERS`` (a million; the deepest published models have a few hundred). The bounds keep
every count exact and every derivation well under a second, whatever the file says.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import sympy

from ..architecture.spec import (
    CHUNKED,
    FULL,
    SLIDING,
    Architecture,
    AttentionSpec,
    GatedDeltaNetSpec,
    LayerGroup,
    LayerSpec,
    Mamba2Spec,
    MLPSpec,
    MoESpec,
    ShortConvSpec,
)
from ..errors import ConfigError
from .stored_weights import stored_weights
from .userfiles import Fields, shown

_MISSING = object()

LEGACY_LAYER_TYPES = {"mamba": "linear_attention", "attention": "full_attention"}
"""Older layer-type names and what they mean now (transformers 5.24, configuration_utils.py,
_LEGACY_LAYER_TYPE_REMAP, applied to every config's layer_types)."""

MAX_SIZE = 2**40
"""The largest size a config may give: vocabulary, widths, heads, experts, window, positions."""
MAX_LAYERS = 10**6
"""The most layers a config may stack."""
_LAYER_COUNTS = ("num_hidden_layers", "n_layer")


class ConfigReader(Fields):
    """Typed, bounded access to a config dict (see :class:`symbolic.config.userfiles.Fields`): failures are
    :class:`ConfigError` naming the ``config field``."""

    error = ConfigError
    noun = "config field"

    @property
    def config(self) -> dict:
        return self.data

    def integer(self, *names: str, default=_MISSING, minimum: int = 1) -> int:
        """A whole number from the first of ``names`` present, or ``default`` when none is; at most
        ``MAX_LAYERS`` for a layer count, else at most ``MAX_SIZE``. ``names`` are one field's
        spellings (transformers' attribute_map: num_experts for num_local_experts): two of them
        present with different values contradict each other, and are refused."""
        given = [n for n in names if self.config.get(n) is not None]
        if len({repr(self.config[n]) for n in given}) > 1:
            shown_values = " and ".join(f"{self.field(n)} ({shown(self.config[n])})" for n in given)
            raise self.fail(f"{shown_values} name the same size and contradict each other")
        name = self.present(*names)
        if name is None:
            if default is _MISSING:
                raise self.missing(names[0])
            return default
        value = self.config[name]
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(f"{self.field(name)} must be an integer, got {shown(value)}")
        if value < minimum:
            kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
            raise self.fail(f"{self.field(name)} must be {kind}, got {shown(value)}")
        maximum = MAX_LAYERS if name in _LAYER_COUNTS else MAX_SIZE
        if value > maximum:
            raise self.fail(f"{self.field(name)} is {shown(value)}, more than symbolic accepts "
                            f"({maximum:,})")
        return value

    def fraction(self, name: str, default: sympy.Rational) -> sympy.Rational:
        return self.real(name, lambda x: 0 < x <= 1, "a number in (0, 1]", default)

    def layer_types(self, num_layers: int, allowed: tuple[str, ...] = (FULL, SLIDING),
                    name: str = "layer_types") -> list[str] | None:
        """The per-layer types in field ``name``, legacy names read as transformers reads them."""
        value = self.config.get(name)
        if value is None:
            return None
        if not isinstance(value, list) or len(value) != num_layers:
            raise self.fail(f"{self.field(name)} must list one type per layer ({num_layers})")
        value = [LEGACY_LAYER_TYPES.get(t, t) if isinstance(t, str) else t for t in value]
        for entry in value:
            if entry not in allowed:
                raise self.fail(f"{self.field(name)} has unsupported entry {shown(entry)}; "
                                f"supported: {', '.join(allowed)}")
        return value

    def layer_indices(self, name: str) -> set[int]:
        """The layer indices listed in field ``name`` (none when absent)."""
        value = self.config.get(name) or []
        if not isinstance(value, list) or not all(type(i) is int for i in value):
            raise self.fail(f"{self.field(name)} must be a list of layer indices, got {shown(value)}")
        return set(value)


# How each family decides which layers slide: (reader, num_layers) -> one bool per layer.
SlidingPolicy = Callable[[ConfigReader, int], list[bool]]


def _never(reader: ConfigReader, num_layers: int) -> list[bool]:
    return [False] * num_layers


def _every_layer_if_window(reader: ConfigReader, num_layers: int) -> list[bool]:
    """Mistral, Phi-3: a non-null sliding_window makes every layer slide."""
    return [reader.present("sliding_window") is not None] * num_layers


def _qwen(reader: ConfigReader, num_layers: int) -> list[bool]:
    """Qwen2/Qwen3: nothing slides unless use_sliding_window; then layer_types, or the layers from
    max_window_layers on (transformers' Qwen2Config.__post_init__)."""
    if not reader.flag("use_sliding_window", False) or reader.present("sliding_window") is None:
        return [False] * num_layers
    types = reader.layer_types(num_layers)
    if types is not None:
        return [t == SLIDING for t in types]
    first = reader.integer("max_window_layers", default=28, minimum=0)
    return [i >= first for i in range(num_layers)]


def _qwen_moe_sliding(reader: ConfigReader, num_layers: int) -> list[bool]:
    """Qwen3-MoE: use_sliding_window makes every layer slide (its config keeps no layer_types)."""
    if not reader.flag("use_sliding_window", False):
        return [False] * num_layers
    return _every_layer_if_window(reader, num_layers)


def _alternating(reader: ConfigReader, num_layers: int) -> list[bool]:
    """gemma-2: layer_types, or even-indexed layers slide (transformers' Gemma2Config)."""
    types = reader.layer_types(num_layers)
    if types is not None:
        return [t == SLIDING for t in types]
    return [(i + 1) % 2 == 1 for i in range(num_layers)]


def _periodic(pattern_field: str | None, period_default: int, needs_window: bool = False) -> SlidingPolicy:
    """layer_types, or every ``period``-th layer attends to everything and the others slide, the
    period read from ``pattern_field`` (gemma-3's sliding_window_pattern, default 6; EXAONE-4's and
    Cohere2's, default 4) or fixed (OLMo-3: 4). With ``needs_window``, a null sliding_window means
    no layer slides (EXAONE-4). transformers' Gemma3TextConfig, Exaone4Config, Cohere2Config and
    Olmo3Config build layer_types by this rule in __post_init__."""
    def policy(reader: ConfigReader, num_layers: int) -> list[bool]:
        if needs_window and "sliding_window" in reader.config and reader.config["sliding_window"] is None:
            return [False] * num_layers
        types = reader.layer_types(num_layers)
        if types is not None:
            return [t == SLIDING for t in types]
        period = reader.integer(pattern_field, default=period_default) if pattern_field else period_default
        return [(i + 1) % period != 0 for i in range(num_layers)]
    return policy


@dataclass(frozen=True)
class Experts:
    """Sizes and placement of a family's mixture-of-experts layers."""

    is_moe: list[bool]
    spec: MoESpec
    num_experts: int
    top_k: int
    expert_size: int
    shared_size: int | None = None


def _mixtral_experts(reader: ConfigReader, num_layers: int, activation: str) -> Experts:
    """Mixtral: every layer is MoE; intermediate_size is each expert's width; no shared expert."""
    return Experts([True] * num_layers, MoESpec(activation=activation),
                   reader.integer("num_local_experts", "num_experts", default=8),
                   reader.integer("num_experts_per_tok", default=2),
                   reader.integer("intermediate_size"))


def _gpt_oss_experts(reader: ConfigReader, num_layers: int, activation: str) -> Experts:
    """gpt-oss: every layer is MoE, each expert intermediate_size wide, with biases on the router
    and the experts and a clamped SwiGLU; num_experts is an alias of num_local_experts
    (GptOssConfig.attribute_map)."""
    return Experts([True] * num_layers, MoESpec(activation=activation, bias=True, clamped=True),
                   reader.integer("num_local_experts", "num_experts", default=128),
                   reader.integer("num_experts_per_tok", default=4),
                   reader.integer("intermediate_size"))


def _glm_experts(reader: ConfigReader, num_layers: int, activation: str) -> Experts:
    """GLM-4.5: dense layers before first_k_dense_replace, then MoE layers with sigmoid routing and
    n_shared_experts shared experts of moe_intermediate_size each (transformers' Glm4MoeMoE);
    num_local_experts is an alias of n_routed_experts (Glm4MoeConfig.attribute_map)."""
    dense = reader.integer("first_k_dense_replace", default=1, minimum=0)
    shared = reader.integer("n_shared_experts", default=1, minimum=0)
    size = reader.integer("moe_intermediate_size", default=1408)
    return Experts([i >= dense for i in range(num_layers)],
                   MoESpec(shared=shared > 0, activation=activation, scoring="sigmoid"),
                   reader.integer("n_routed_experts", "num_local_experts", default=128),
                   reader.integer("num_experts_per_tok", default=8), size, shared * size if shared else None)


def _minimax_experts(reader: ConfigReader, num_layers: int, activation: str) -> Experts:
    """MiniMax-M2: every layer is MoE, experts intermediate_size wide, sigmoid routing with a
    correction bias, no shared expert (transformers' MiniMaxM2SparseMoeBlock); num_experts is an
    alias of num_local_experts."""
    return Experts([True] * num_layers, MoESpec(activation=activation, scoring="sigmoid"),
                   reader.integer("num_local_experts", "num_experts", default=256),
                   reader.integer("num_experts_per_tok", default=8), reader.integer("intermediate_size"))


def _granite_experts(reader: ConfigReader, num_layers: int, activation: str) -> Experts:
    """Granite-MoE: every layer is MoE, experts intermediate_size wide; granitemoeshared adds one
    gated shared expert shared_intermediate_size wide when that is not 0 (transformers'
    GraniteMoeSharedMLP)."""
    shared = reader.integer("shared_intermediate_size", default=0, minimum=0)
    return Experts([True] * num_layers, MoESpec(shared=shared > 0, activation=activation),
                   reader.integer("num_local_experts", default=8),
                   reader.integer("num_experts_per_tok", default=2),
                   reader.integer("intermediate_size"), shared or None)


def _qwen_experts(shared: bool, experts_default: int, top_k_default: int, size_default: int,
                  spellings: tuple[str, ...] = ("num_experts",), shared_default: int = 5632):
    """Qwen2-MoE / Qwen3-MoE: layer i is MoE unless listed in mlp_only_layers or off the
    decoder_sparse_step (transformers' Qwen2MoeDecoderLayer); Qwen2-MoE adds a gated shared expert.
    ``spellings``: the names of the expert count (Qwen3MoeConfig also reads num_local_experts)."""
    def experts(reader: ConfigReader, num_layers: int, activation: str) -> Experts:
        count = reader.integer(*spellings, default=experts_default)
        step = reader.integer("decoder_sparse_step", default=1)
        dense = reader.layer_indices("mlp_only_layers")
        placement = [i not in dense and (i + 1) % step == 0 for i in range(num_layers)]
        return Experts(placement, MoESpec(shared=shared, shared_gate=shared, activation=activation), count,
                       reader.integer("num_experts_per_tok", default=top_k_default),
                       reader.integer("moe_intermediate_size", default=size_default),
                       reader.integer("shared_expert_intermediate_size", default=shared_default)
                       if shared else None)
    return experts


@dataclass(frozen=True)
class Family:
    """The traits of one ``model_type`` that decide its ops and its defaults."""

    model_type: str
    tie_default: bool
    head_dim_default: int | None = None      # None: hidden_size // num_attention_heads
    reads_head_dim: bool = True               # False: head_dim is hidden_size // heads (Cohere2)
    bias_field: str = "attention_bias"        # the flag that puts biases on q, k, v (and o)
    bias_default: bool = False
    qkv_bias: bool | None = None              # None: read bias_field
    o_bias: bool | None = None                # None: read bias_field
    mlp_bias_field: str | None = None         # the flag that puts biases on the MLP (llama's mlp_bias)
    gated_mlp: bool = True                    # False: up, activation, down (StarCoder2)
    norm: str = "rms"                         # the kind of every norm but q/k's (NORM_KINDS)
    block: str = "pre"                        # where a layer's norms sit (BLOCKS)
    qk_norm: str = ""                         # QK_NORMS
    qk_norm_field: str | None = None          # a flag that switches qk_norm on (Cohere's use_qk_norm)
    qk_norm_kind: str = "rms"                 # NORM_KINDS
    sliding: SlidingPolicy = _never
    sliding_window_default: int | None = None
    rotary_layers: str = "all"                # "all"; "sliding": only sliding layers rotate (Cohere2);
                                              # "sliding_if_any": so too, unless no layer slides (EXAONE-4)
    embedding_scale: bool = False
    softcaps: bool = False
    sinks: bool = False                       # a learned logit per head in each softmax (gpt-oss)
    rotary_fraction_field: str | None = None
    rotary_fraction_default: sympy.Rational = sympy.Integer(1)
    rotary_dim_field: str | None = None       # rotated dims per head, a legacy form (MiniMax-M2)
    experts: Callable[[ConfigReader, int, str], Experts] | None = None
    defaults: tuple[tuple[str, object], ...] = ()
    """Fields a saved config may leave out, with transformers' class defaults (a multimodal
    wrapper's text_config often holds only what differs from them)."""


FAMILIES: dict[str, Family] = {f.model_type: f for f in (
    Family("llama", tie_default=False, mlp_bias_field="mlp_bias"),
    Family("mistral", tie_default=False, qkv_bias=False, o_bias=False, sliding=_every_layer_if_window,
           sliding_window_default=4096),
    Family("qwen2", tie_default=False, qkv_bias=True, o_bias=False, sliding=_qwen,
           sliding_window_default=4096),
    Family("qwen3", tie_default=False, head_dim_default=128, qk_norm="head", sliding=_qwen,
           sliding_window_default=4096),
    Family("gemma", tie_default=True, head_dim_default=256, embedding_scale=True),
    Family("gemma2", tie_default=True, head_dim_default=256, sliding=_alternating,
           sliding_window_default=4096, block="sandwich", embedding_scale=True, softcaps=True),
    Family("gemma3_text", tie_default=True, head_dim_default=256, qk_norm="head",
           sliding=_periodic("sliding_window_pattern", 6), sliding_window_default=4096, block="sandwich",
           embedding_scale=True, softcaps=True,
           # transformers 5.24, models/gemma3/configuration_gemma3.py, Gemma3TextConfig
           defaults=(("vocab_size", 262_208), ("hidden_size", 2304), ("intermediate_size", 9216),
                     ("num_hidden_layers", 26), ("num_attention_heads", 8), ("num_key_value_heads", 4),
                     ("hidden_activation", "gelu_pytorch_tanh"), ("max_position_embeddings", 131_072))),
    Family("phi3", tie_default=False, qkv_bias=False, o_bias=False, sliding=_every_layer_if_window,
           rotary_fraction_field="partial_rotary_factor"),
    Family("mixtral", tie_default=False, qkv_bias=False, o_bias=False, sliding=_every_layer_if_window,
           experts=_mixtral_experts),
    Family("qwen2_moe", tie_default=False, bias_field="qkv_bias", bias_default=True, o_bias=False,
           sliding=_never, experts=_qwen_experts(True, 60, 4, 1408)),
    Family("qwen3_moe", tie_default=False, qk_norm="head", sliding=_qwen_moe_sliding,
           sliding_window_default=4096,
           experts=_qwen_experts(False, 128, 8, 768, ("num_experts", "num_local_experts"))),
    # GLM-4.5: half of each head rotated, dense first layers, sigmoid-routed MoE with a shared expert
    Family("glm4_moe", tie_default=False, o_bias=False, qk_norm="head", qk_norm_field="use_qk_norm",
           rotary_fraction_field="partial_rotary_factor", rotary_fraction_default=sympy.Rational(1, 2),
           experts=_glm_experts),
    # MiniMax-M2: RMSNorm over the whole q/k projections, a part of each head rotated, 256 experts
    Family("minimax_m2", tie_default=False, head_dim_default=128, qkv_bias=False, o_bias=False,
           qk_norm="projection", rotary_fraction_field="partial_rotary_factor", rotary_dim_field="rotary_dim",
           experts=_minimax_experts,
           # transformers 5.24, models/minimax_m2/configuration_minimax_m2.py, MiniMaxM2Config
           defaults=(("vocab_size", 200_064), ("hidden_size", 3072), ("intermediate_size", 1536),
                     ("num_hidden_layers", 62), ("num_attention_heads", 48), ("num_key_value_heads", 8),
                     ("max_position_embeddings", 196_608))),
    # Granite-MoE: Mixtral's layout with multipliers on the embeddings, residuals and logits (the
    # residual and logit multipliers are a multiply per element each, left out of the counts)
    Family("granitemoe", tie_default=False, embedding_scale=True, experts=_granite_experts),
    Family("granitemoeshared", tie_default=False, embedding_scale=True, experts=_granite_experts),
    # gpt-oss: sinks, sliding and full layers alternating, MoE with biases and a clamped SwiGLU
    Family("gpt_oss", tie_default=False, head_dim_default=64, bias_default=True,
           sliding=_periodic(None, 2), sliding_window_default=128, sinks=True, experts=_gpt_oss_experts,
           # transformers 5.24, models/gpt_oss/configuration_gpt_oss.py, GptOssConfig
           defaults=(("vocab_size", 201_088), ("hidden_size", 2880), ("intermediate_size", 2880),
                     ("num_hidden_layers", 36), ("num_attention_heads", 64), ("num_key_value_heads", 8),
                     ("max_position_embeddings", 131_072))),
    # OLMo-2/3: norms after each block only, and RMSNorm over the whole q and k projections
    Family("olmo2", tie_default=False, block="post", qk_norm="projection"),
    Family("olmo3", tie_default=False, block="post", qk_norm="projection", sliding=_periodic(None, 4),
           sliding_window_default=4096),
    # EXAONE-4: post-norm, per-head q/k norms, 3 sliding layers to 1 full layer without RoPE
    Family("exaone4", tie_default=False, qkv_bias=False, o_bias=False, block="post", qk_norm="head",
           sliding=_periodic("sliding_window_pattern", 4, needs_window=True), sliding_window_default=4096,
           rotary_layers="sliding_if_any"),
    # StarCoder2: LayerNorm, biases on every linear (use_bias), a plain GELU MLP
    Family("starcoder2", tie_default=True, bias_field="use_bias", bias_default=True,
           mlp_bias_field="use_bias", gated_mlp=False, norm="layer", sliding=_every_layer_if_window),
    # Cohere: attention and MLP in parallel on one LayerNorm without shift; optional q/k norms
    Family("cohere", tie_default=True, norm="layer_no_bias", block="parallel", qk_norm="head_separate",
           qk_norm_field="use_qk_norm", qk_norm_kind="layer_no_bias"),
    # Cohere2 (Command R7B): the same block; 3 sliding layers to 1 full layer, and only sliding layers rotate
    Family("cohere2", tie_default=True, reads_head_dim=False, norm="layer_no_bias", block="parallel",
           sliding=_periodic("sliding_window_pattern", 4, needs_window=True), sliding_window_default=4096,
           rotary_layers="sliding"),
)}

ALIASES = {"kimi_k2": "deepseek_v3"}
"""model_types that name a known family's geometry under another name: Kimi-K2's config.json says
kimi_k2 and its architectures DeepseekV3ForCausalLM (transformers has no kimi_k2 class)."""

SUPPORTED_MODEL_TYPES = tuple(sorted([*FAMILIES, "gpt2", "deepseek_v2", "deepseek_v3", "deepseek_v32",
                                      "llama4_text", "gemma4_text", "lfm2", "qwen3_next", "qwen3_5_text",
                                      "qwen3_5_moe_text", "nemotron_h", "bamba", "granitemoehybrid",
                                      *ALIASES]))

WRAPPERS = {"gemma3": "gemma3_text", "mistral3": "mistral", "llama4": "llama4_text", "gemma4": "gemma4_text",
            "qwen3_5": "qwen3_5_text", "qwen3_5_moe": "qwen3_5_moe_text"}
"""Multimodal model_types whose language model is a known family, held in ``text_config``, with
the family a text_config that names none has (transformers' Gemma3Config, Mistral3Config): the
language model is derived, and what is left out (the vision tower, the projector) is said."""


def language_model(config: dict, name: str) -> tuple[dict, tuple[str, ...]]:
    """The language model's config of a multimodal wrapper (its ``text_config``, with the
    wrapper's ``tie_word_embeddings`` where the text config does not say), and a note on what was
    left out; a config that is not a wrapper, unchanged."""
    model_type = config.get("model_type")
    if not isinstance(model_type, str) or model_type not in WRAPPERS:
        return config, ()
    reader = ConfigReader(config, name)
    text = reader.section("text_config", required=True)
    language = {**text.data, "model_type": text.text("model_type", default=WRAPPERS[model_type])}
    if "tie_word_embeddings" in config and "tie_word_embeddings" not in text.data:
        language["tie_word_embeddings"] = config["tie_word_embeddings"]
    vision = config.get("vision_config")
    tower = vision.get("model_type", "a vision tower") if isinstance(vision, dict) else "a vision tower"
    audio = " and the audio encoder" if isinstance(config.get("audio_config"), dict) else ""
    note = (f"{name} is a {model_type} vision-language model: its language model ({language['model_type']}, "
            f"text_config) is derived; the vision encoder ({shown(tower)}){audio} and the projector are "
            "left out")
    return language, (note,)


def architecture_from_config(config: object, name: str, source: str = "") -> Architecture:
    """The architecture a Hugging Face config dict describes."""
    if not isinstance(config, dict):
        raise ConfigError(f"{name}: a config must be a JSON object, got {type(config).__name__}")
    outer = config
    config, notes = language_model(config, name)
    reader = ConfigReader(config, name)
    model_type = reader.text("model_type", default=None)
    if model_type is None:
        raise reader.missing("model_type")
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise reader.fail(f"unknown model_type {shown(model_type)}; supported: "
                          f"{', '.join(SUPPORTED_MODEL_TYPES)} (and, through text_config, "
                          f"{', '.join(WRAPPERS)})")
    _rope_sections(reader)  # a broken rotary setting is refused, whatever the family
    model_type = ALIASES.get(model_type, model_type)
    if model_type == "gpt2":
        arch = _read_gpt2(reader, name, source)
    elif model_type in ("deepseek_v2", "deepseek_v3", "deepseek_v32"):
        arch = _read_deepseek(reader, model_type, name, source)
    elif model_type == "llama4_text":
        arch = _read_llama4(reader, name, source)
    elif model_type == "gemma4_text":
        arch = _read_gemma4(reader, name, source)
    elif model_type == "lfm2":
        arch = _read_lfm2(reader, name, source)
    elif model_type == "nemotron_h":
        arch = _read_nemotron_h(reader, name, source)
    elif model_type in ("bamba", "granitemoehybrid"):
        arch = _read_bamba(reader, model_type, name, source)
    elif model_type in ("qwen3_next", "qwen3_5_text", "qwen3_5_moe_text"):
        arch = _read_qwen3_next(reader, model_type, name, source)
    else:
        arch = _read_rotary_family(reader, FAMILIES[model_type], name, source)
    # a wrapper's quantization_config sits beside its text_config, or inside it (Kimi-K2.5)
    holder = config if "quantization_config" in config else {**config, **{
        k: outer[k] for k in ("quantization_config", "torch_dtype", "dtype")
        if k in outer and k not in config}}
    stored, unread = stored_weights(ConfigReader(holder, name), arch)
    notes = (*notes, *unread)
    return dataclasses.replace(arch, notes=notes, stored_weights=stored) if notes or stored else arch


def _kv_heads(reader: ConfigReader, heads: int) -> int:
    """num_key_value_heads (all heads when absent), which must divide num_attention_heads."""
    kv_heads = reader.integer("num_key_value_heads", default=heads)
    if heads % kv_heads:
        raise reader.fail(f"config field 'num_key_value_heads' ({kv_heads}) must divide "
                          f"num_attention_heads ({heads})")
    return kv_heads


def _head_dim(reader: ConfigReader, hidden: int, heads: int, default: int | None, reads: bool = True) -> int:
    """head_dim as given, else the family's default, else hidden_size / num_attention_heads (the
    only rule for a family that does not read head_dim, e.g. Cohere2)."""
    if reads and reader.present("head_dim") is not None:
        return reader.integer("head_dim")
    if reads and default is not None:
        return default
    if hidden % heads:
        given = "config field 'head_dim' is missing and " if reads else ""
        raise reader.fail(f"{given}hidden_size ({hidden}) is not divisible by num_attention_heads ({heads})")
    return hidden // heads


def _group_layers(kinds: list[Hashable], spec_of: Callable[..., LayerSpec]) -> tuple[LayerGroup, ...]:
    """Consecutive or not, layers of the same kind form one group, in order of first appearance.
    ``kinds`` holds one key per layer; ``spec_of(key)`` is that kind's LayerSpec, made once per kind."""
    return tuple(LayerGroup(spec_of(kind), count) for kind, count in Counter(kinds).items())


def _rope_sections(reader: ConfigReader) -> list[ConfigReader]:
    """The rotary settings of a config, each an object: ``rope_scaling``, then ``rope_parameters``
    (transformers 5) and the per-layer-type objects inside it. A ``factor`` in any of them must be a
    positive number, though the costs do not depend on it: a config that says otherwise is broken."""
    scaling, parameters = reader.section("rope_scaling"), reader.section("rope_parameters")
    per_type = [parameters.section(kind) for kind in (FULL, SLIDING)] if parameters else []
    sections = [s for s in (scaling, parameters, *per_type) if s]
    for section in sections:
        section.real("factor", lambda x: x > 0, "a positive number", None)
    return sections


def _rotary_fraction(reader: ConfigReader, family: Family, head_dim: int) -> sympy.Rational:
    """The share of each head's dimensions rotated: the family's fraction field
    (partial_rotary_factor) read from the rotary settings or the config itself; failing it, a
    count of rotated dimensions (MiniMax-M2's legacy rotary_dim, over head_dim, as
    MiniMaxM2Config.convert_rope_params_to_dict reads it); failing both, the family's default."""
    field = family.rotary_fraction_field
    if field is None:
        return family.rotary_fraction_default
    holder = next((s for s in (*_rope_sections(reader), reader) if s.present(field)), None)
    if holder is not None:
        return holder.fraction(field, family.rotary_fraction_default)
    if family.rotary_dim_field and reader.present(family.rotary_dim_field):
        rotated = reader.integer(family.rotary_dim_field)
        if rotated > head_dim:
            raise reader.fail(f"{reader.field(family.rotary_dim_field)} ({rotated}) exceeds head_dim "
                              f"({head_dim})")
        return sympy.Rational(rotated, head_dim)
    return family.rotary_fraction_default


def _core_sizes(reader: ConfigReader) -> tuple[int, int, int, int, int]:
    """The sizes every Llama-style config.json names alike: vocab_size, hidden_size,
    intermediate_size, num_hidden_layers, num_attention_heads (read in that order)."""
    return tuple(reader.integer(field) for field in (
        "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads"))


def _read_rotary_family(reader: ConfigReader, family: Family, name: str, source: str) -> Architecture:
    saved = reader.config
    if family.defaults:
        reader = ConfigReader({**dict(family.defaults), **saved}, reader.where)
    vocab, hidden, ffn, layers, heads = _core_sizes(reader)
    kv_heads = _kv_heads(reader, heads)
    head_dim = _head_dim(reader, hidden, heads, family.head_dim_default, reads=family.reads_head_dim)
    bias = reader.flag(family.bias_field, family.bias_default)
    sliding = family.sliding(reader, layers)
    window = None
    if any(sliding):
        window = reader.integer("sliding_window", default=family.sliding_window_default)
        if window is None:
            raise reader.missing("sliding_window")
    rotary_fraction = _rotary_fraction(reader, family, head_dim)
    activation = reader.text("hidden_activation", "hidden_act", default="silu")
    mlp_bias = reader.flag(family.mlp_bias_field, family.bias_default) if family.mlp_bias_field else False
    mlp = MLPSpec(gated=family.gated_mlp, bias=mlp_bias, activation=activation)
    experts = family.experts(reader, layers, activation) if family.experts else None
    is_moe = experts.is_moe if experts else [False] * layers
    qk_norm = family.qk_norm
    if family.qk_norm_field and not reader.flag(family.qk_norm_field, False):
        qk_norm = ""

    def rotates(slides: bool) -> bool:
        return slides or family.rotary_layers == "all" or (family.rotary_layers == "sliding_if_any"
                                                           and not any(sliding))

    def layer(slides: bool, moe: bool) -> LayerSpec:
        attention = AttentionSpec(
            sliding=slides,
            qkv_bias=bias if family.qkv_bias is None else family.qkv_bias,
            o_bias=bias if family.o_bias is None else family.o_bias,
            qk_norm=qk_norm,
            qk_norm_kind=family.qk_norm_kind,
            positions="rope" if rotates(slides) else "none",
            rotary_fraction=rotary_fraction,
            logit_softcap=family.softcaps and reader.present("attn_logit_softcapping") is not None,
            sinks=family.sinks,
        )
        return LayerSpec(attention, experts.spec if moe else mlp, norm=family.norm, block=family.block)

    return Architecture(
        name=name, model_type=family.model_type, vocab_size=vocab, hidden_size=hidden,
        num_layers=layers, num_heads=heads, num_kv_heads=kv_heads, head_dim=head_dim,
        intermediate_size=ffn,
        layer_groups=_group_layers(list(zip(sliding, is_moe, strict=True)), lambda kind: layer(*kind)),
        tie_word_embeddings=reader.flag("tie_word_embeddings", family.tie_default),
        max_position_embeddings=reader.integer("max_position_embeddings", default=None),
        sliding_window=window, norm=family.norm, embedding_scale=family.embedding_scale,
        final_logit_softcap=family.softcaps and reader.present("final_logit_softcapping") is not None,
        **_expert_sizes(experts), source=source, config=saved)


def _expert_sizes(experts: Experts | None) -> dict:
    if experts is None or not any(experts.is_moe):
        return {}
    return {"num_experts": experts.num_experts, "experts_per_token": experts.top_k,
            "expert_intermediate_size": experts.expert_size, "shared_intermediate_size": experts.shared_size}


def _read_deepseek(reader: ConfigReader, model_type: str, name: str, source: str) -> Architecture:
    """DeepSeek-V2/V3/V3.2: multi-head latent attention, and MoE layers with shared experts after
    the first ``first_k_dense_replace`` dense layers (transformers' DeepseekV2/V3/V32DecoderLayer);
    V3.2 adds the sparse-attention indexer (index_topk, index_n_heads, index_head_dim)."""
    v3 = model_type in ("deepseek_v3", "deepseek_v32")
    sparse = model_type == "deepseek_v32"
    vocab, hidden, ffn, layers, heads = _core_sizes(reader)
    q_rank = reader.integer("q_lora_rank", default=1536 if sparse else None)
    kv_rank = reader.integer("kv_lora_rank", default=512)
    nope = reader.integer("qk_nope_head_dim", default=128)
    rope = reader.integer("qk_rope_head_dim", default=64)
    v_dim = reader.integer("v_head_dim", default=128)
    # transformers' attribute_map: num_experts (V2) or num_local_experts (V3, V3.2) for n_routed_experts
    experts = reader.integer("n_routed_experts", "num_local_experts" if v3 else "num_experts",
                             default=256 if v3 else 64)
    top_k = reader.integer("num_experts_per_tok", default=8 if v3 else None)
    if top_k is None:
        raise reader.missing("num_experts_per_tok")
    shared = reader.integer("n_shared_experts", default=1 if v3 else 2, minimum=0)
    expert_size = reader.integer("moe_intermediate_size", default=2048 if v3 else 1407)
    dense_layers = reader.integer("first_k_dense_replace", default=3 if v3 else 0, minimum=0)
    attention_bias = reader.flag("attention_bias", False)
    activation = reader.text("hidden_act", default="silu")
    if sparse and q_rank is None:
        raise reader.fail("deepseek_v32's indexer reads the compressed query: config field 'q_lora_rank' "
                          "must not be null")
    index = {"index_topk": reader.integer("index_topk", default=2048),
             "index_n_heads": reader.integer("index_n_heads", default=64),
             "index_head_dim": reader.integer("index_head_dim", default=128)} if sparse else {}
    attention = AttentionSpec(qkv_bias=attention_bias, o_bias=attention_bias, mla=True,
                              q_lora=q_rank is not None, indexer=sparse)
    dense = MLPSpec(gated=True, bias=False if v3 else reader.flag("mlp_bias", False), activation=activation)
    moe = MoESpec(shared=shared > 0, activation=activation)
    return Architecture(
        name=name, model_type=model_type, vocab_size=vocab, hidden_size=hidden, num_layers=layers,
        num_heads=heads, num_kv_heads=heads, head_dim=nope + rope, intermediate_size=ffn,
        layer_groups=_group_layers([i >= dense_layers for i in range(layers)],
                                   lambda is_moe: LayerSpec(attention, moe if is_moe else dense)),
        tie_word_embeddings=reader.flag("tie_word_embeddings", False),
        max_position_embeddings=reader.integer("max_position_embeddings", default=None),
        num_experts=experts, experts_per_token=top_k, expert_intermediate_size=expert_size,
        shared_intermediate_size=shared * expert_size if shared else None,
        q_lora_rank=q_rank, kv_lora_rank=kv_rank, qk_nope_head_dim=nope, qk_rope_head_dim=rope,
        v_head_dim=v_dim, **index, source=source, config=reader.config)


_LLAMA4_DEFAULTS = (  # transformers 5.24, models/llama4/configuration_llama4.py, Llama4TextConfig
    ("vocab_size", 202_048), ("hidden_size", 5120), ("intermediate_size", 8192),
    ("intermediate_size_mlp", 16_384), ("num_hidden_layers", 48), ("num_attention_heads", 40),
    ("num_key_value_heads", 8), ("head_dim", 128), ("max_position_embeddings", 131_072))


def _read_llama4(reader: ConfigReader, name: str, source: str) -> Architecture:
    """Llama-4's language model (transformers' Llama4TextConfig and Llama4TextDecoderLayer).

    * RoPE layers (no_rope_layers[i] = 1; by default all but every no_rope_layer_interval-th, 4)
      attend within chunks of attention_chunk_size (8192; null: full attention) and, with
      use_qk_norm, normalise q and k without a scale; the other layers are full attention without
      RoPE (their query temperature tuning, a multiply per query element, is left out);
    * MoE layers (moe_layers, or every interleave_moe_layer_step-th from the step - 1) have
      num_local_experts experts and one shared expert, all intermediate_size wide, with sigmoid
      scores on the top-k; the other layers are a dense MLP intermediate_size_mlp wide."""
    reader = ConfigReader({**dict(_LLAMA4_DEFAULTS), **reader.config}, reader.where)
    vocab, hidden, expert_size, layers, heads = _core_sizes(reader)
    kv_heads = _kv_heads(reader, heads)
    head_dim = _head_dim(reader, hidden, heads, None)
    dense_size = reader.integer("intermediate_size_mlp")
    rope_flags = reader.config.get("no_rope_layers") or None
    if rope_flags is None:
        interval = reader.integer("no_rope_layer_interval", default=4)
        rope_flags = [int((i + 1) % interval != 0) for i in range(layers)]
    if not isinstance(rope_flags, list) or len(rope_flags) < layers \
            or any(type(f) is not int or f not in (0, 1) for f in rope_flags):
        raise reader.fail(f"{reader.field('no_rope_layers')} must list a 0 or 1 for each of the "
                          f"{layers} layers")
    if reader.present("moe_layers") is not None:
        moe_layers = reader.layer_indices("moe_layers")
    else:
        step = reader.integer("interleave_moe_layer_step", default=1)
        moe_layers = set(range(step - 1, layers, step))
    chunk = reader.integer("attention_chunk_size", default=None) if "attention_chunk_size" in reader.config \
        else 8192
    bias = reader.flag("attention_bias", False)
    qk_norm = reader.flag("use_qk_norm", True)
    activation = reader.text("hidden_act", default="silu")
    moe = MoESpec(shared=True, activation=activation, scoring="sigmoid")
    dense = MLPSpec(gated=True, activation=activation)

    types = reader.layer_types(layers, allowed=(FULL, CHUNKED))
    if types is None:
        types = [CHUNKED if rope_flags[i] and chunk is not None else FULL for i in range(layers)]
    if CHUNKED in types and chunk is None:
        raise reader.missing("attention_chunk_size")

    def layer(rotary: bool, chunked: bool, is_moe: bool) -> LayerSpec:
        attention = AttentionSpec(chunked=chunked, qkv_bias=bias, o_bias=bias,
                                  qk_norm="head" if qk_norm and rotary else "", qk_norm_kind="l2",
                                  positions="rope" if rotary else "none")
        return LayerSpec(attention, moe if is_moe else dense)

    kinds = [(bool(rope_flags[i]), types[i] == CHUNKED, i in moe_layers) for i in range(layers)]
    any_moe = any(is_moe for *_, is_moe in kinds)
    return Architecture(
        name=name, model_type="llama4_text", vocab_size=vocab, hidden_size=hidden, num_layers=layers,
        num_heads=heads, num_kv_heads=kv_heads, head_dim=head_dim, intermediate_size=dense_size,
        layer_groups=_group_layers(kinds, lambda kind: layer(*kind)),
        tie_word_embeddings=reader.flag("tie_word_embeddings", False),
        max_position_embeddings=reader.integer("max_position_embeddings", default=None),
        attention_chunk_size=chunk if CHUNKED in types else None,
        num_experts=reader.integer("num_local_experts", default=16) if any_moe else None,
        experts_per_token=reader.integer("num_experts_per_tok", default=1) if any_moe else None,
        expert_intermediate_size=expert_size if any_moe else None,
        shared_intermediate_size=expert_size if any_moe else None,
        source=source, config=reader.config)


_GEMMA4_DEFAULTS = (  # transformers 5.24, models/gemma4/configuration_gemma4.py, Gemma4TextConfig
    ("vocab_size", 262_144), ("hidden_size", 2304), ("intermediate_size", 9216), ("num_hidden_layers", 30),
    ("num_attention_heads", 8), ("num_key_value_heads", 4), ("head_dim", 256), ("global_head_dim", 512),
    ("sliding_window", 512), ("hidden_size_per_layer_input", 256), ("max_position_embeddings", 131_072))
_GEMMA4_PARTS_NOT_READ = (  # fields whose parts symbolic does not build yet, and the value that means "none"
    ("hidden_size_per_layer_input", 0, "per-layer input embeddings (Gemma-4 E2B/E4B)"),
    ("num_kv_shared_layers", 0, "layers that reuse another layer's KV cache"),
    ("enable_moe_block", False, "an MoE block beside the MLP (Gemma-4 26B-A4B)"))


def _read_gemma4(reader: ConfigReader, name: str, source: str) -> Architecture:
    """Gemma-4's language model (transformers' Gemma4TextConfig and Gemma4TextDecoderLayer).

    gemma-3's layout (four norms a layer, per-head q/k norms, embeddings scaled by sqrt(H), GeGLU,
    sliding layers with every sixth, and always the last, attending to everything), and:

    * the full-attention layers have heads of their own size: global_head_dim (512) wide and, with
      attention_k_eq_v, num_global_key_value_heads KV heads (Gemma4TextConfig's per_layer_config);
    * with attention_k_eq_v those layers have no v projection: the values are the keys as k_proj
      gives them, normalised (v_norm) but not rotated, and the cache holds both;
    * every layer normalises its values per head without a scale (v_norm);
    * the full layers' RoPE is 'proportional': rope_parameters.full_attention's
      partial_rotary_factor (0.25) of the angles turn, the rest stay at angle 0."""
    reader = ConfigReader({**dict(_GEMMA4_DEFAULTS), **reader.config}, reader.where)
    for field_name, none, part in _GEMMA4_PARTS_NOT_READ:
        if reader.config.get(field_name, none) not in (none, None):
            raise reader.fail(f"{reader.field(field_name)} asks for {part}, which symbolic does not "
                              f"build yet; set it to {str(none).lower()} or leave the field out")
    if reader.config.get("use_bidirectional_attention") == "all":
        raise reader.fail(f"{reader.field('use_bidirectional_attention')} is \"all\": an encoder, "
                          "not a decoder symbolic can cost")
    vocab, hidden, ffn, layers, heads = _core_sizes(reader)
    kv_heads = _kv_heads(reader, heads)
    head_dim = reader.integer("head_dim")
    global_dim = reader.integer("global_head_dim")
    values_are_keys = reader.flag("attention_k_eq_v", False)
    global_kv = reader.integer("num_global_key_value_heads", default=None) if values_are_keys else None
    global_kv = kv_heads if global_kv is None else global_kv
    if heads % global_kv:
        raise reader.fail(f"config field 'num_global_key_value_heads' ({global_kv}) must divide "
                          f"num_attention_heads ({heads})")
    sliding = _periodic(None, 6)(reader, layers)
    sliding[-1] = False           # transformers forces the last layer to full attention
    rope = reader.section("rope_parameters")

    def rotated(kind: str, default: sympy.Rational) -> sympy.Rational:
        section = rope.section(kind) if rope else None
        return section.fraction("partial_rotary_factor", sympy.Integer(1)) if section else default

    fractions = {True: rotated(SLIDING, sympy.Integer(1)), False: rotated(FULL, sympy.Rational(1, 4))}
    own_heads = (global_dim, global_kv) != (head_dim, kv_heads)
    bias = reader.flag("attention_bias", False)
    mlp = MLPSpec(gated=True, activation=reader.text("hidden_activation", "hidden_act",
                                                     default="gelu_pytorch_tanh"))

    def layer(slides: bool) -> LayerSpec:
        attention = AttentionSpec(sliding=slides, qkv_bias=bias, o_bias=bias, qk_norm="head",
                                  rotary_fraction=fractions[slides], v_norm=True,
                                  global_heads=own_heads and not slides,
                                  values_are_keys=values_are_keys and not slides)
        return LayerSpec(attention, mlp, block="sandwich")

    return Architecture(
        name=name, model_type="gemma4_text", vocab_size=vocab, hidden_size=hidden, num_layers=layers,
        num_heads=heads, num_kv_heads=kv_heads, head_dim=head_dim, intermediate_size=ffn,
        layer_groups=_group_layers(sliding, layer),
        tie_word_embeddings=reader.flag("tie_word_embeddings", True),
        max_position_embeddings=reader.integer("max_position_embeddings", default=None),
        sliding_window=reader.integer("sliding_window") if any(sliding) else None,
        embedding_scale=True, final_logit_softcap=reader.present("final_logit_softcapping") is not None,
        global_head_dim=global_dim if own_heads else None,
        global_num_kv_heads=global_kv if own_heads else None,
        source=source, config=reader.config)


_LFM2_DEFAULTS = (  # transformers 5.24, models/lfm2/configuration_lfm2.py, Lfm2Config
    ("vocab_size", 65_536), ("hidden_size", 2560), ("intermediate_size", 12_288), ("num_hidden_layers", 32),
    ("num_attention_heads", 32), ("num_key_value_heads", 8), ("max_position_embeddings", 128_000),
    ("conv_L_cache", 3))


def _lfm2_mlp_width(reader: ConfigReader, width: int) -> int:
    """Lfm2MLP's width: with block_auto_adjust_ff_dim, 2/3 of intermediate_size, times
    block_ffn_dim_multiplier, rounded up to a multiple of block_multiple_of (as int() truncates)."""
    if not reader.flag("block_auto_adjust_ff_dim", True):
        return width
    width = int(2 * width / 3)
    given = reader.config.get("block_ffn_dim_multiplier", 1)    # an explicit null means none
    multiplier = None if given is None else reader.real("block_ffn_dim_multiplier", lambda x: x > 0,
                                                        "a positive number", 1)
    if multiplier is not None:
        multiple = reader.integer("block_multiple_of", default=256)
        width = int(multiplier * width)
        width = multiple * ((width + multiple - 1) // multiple)
    if not 1 <= width <= MAX_SIZE:
        raise reader.fail(f"{reader.field('intermediate_size')} gives the MLP a width of {shown(width)} "
                          f"after block_auto_adjust_ff_dim; it must be from 1 to {MAX_SIZE:,}")
    return int(width)


def _read_lfm2(reader: ConfigReader, name: str, source: str) -> Architecture:
    """LFM2 (transformers' Lfm2Config and Lfm2DecoderLayer): gated short convolutions in most
    layers and GQA attention with per-head q/k norms in the others (layer_types, or full_attn_idxs;
    every layer attends when both are absent), each followed by a SwiGLU MLP whose width
    intermediate_size (or block_ff_dim) gives through :func:`_lfm2_mlp_width`."""
    saved = dict(reader.config)
    for theirs, ours in (("block_ff_dim", "intermediate_size"), ("tie_embedding", "tie_word_embeddings")):
        if theirs in saved:
            saved[ours] = saved.pop(theirs)
    reader = ConfigReader({**dict(_LFM2_DEFAULTS), **saved}, reader.where)
    vocab, hidden, ffn, layers, heads = _core_sizes(reader)
    kv_heads = _kv_heads(reader, heads)
    head_dim = _head_dim(reader, hidden, heads, None)
    types = reader.layer_types(layers, allowed=(FULL, "conv"))
    if types is None:
        attending = reader.layer_indices("full_attn_idxs") if reader.present("full_attn_idxs") \
            else set(range(layers))
        types = [FULL if i in attending else "conv" for i in range(layers)]
    mlp = MLPSpec(gated=True, activation="silu")
    attention = AttentionSpec(qk_norm="head")
    short_conv = ShortConvSpec(bias=reader.flag("conv_bias", False))
    return Architecture(
        name=name, model_type="lfm2", vocab_size=vocab, hidden_size=hidden, num_layers=layers,
        num_heads=heads, num_kv_heads=kv_heads, head_dim=head_dim,
        intermediate_size=_lfm2_mlp_width(reader, ffn),
        layer_groups=_group_layers(types, lambda t: LayerSpec(attention if t == FULL else short_conv, mlp)),
        tie_word_embeddings=reader.flag("tie_word_embeddings", True),
        max_position_embeddings=reader.integer("max_position_embeddings", default=None),
        conv_taps=reader.integer("conv_L_cache") if "conv" in types else None,
        source=source, config=reader.config)


_QWEN3_NEXT_DEFAULTS = (  # transformers 5.24, models/qwen3_next/configuration_qwen3_next.py, Qwen3NextConfig
    ("vocab_size", 151_936), ("hidden_size", 2048), ("intermediate_size", 5632), ("num_hidden_layers", 48),
    ("num_attention_heads", 16), ("num_key_value_heads", 2), ("head_dim", 256),
    ("max_position_embeddings", 32_768), ("num_experts", 512), ("num_experts_per_tok", 10),
    ("moe_intermediate_size", 512), ("shared_expert_intermediate_size", 512))
_QWEN3_5_DEFAULTS = (  # models/qwen3_5/configuration_qwen3_5.py, Qwen3_5TextConfig
    ("vocab_size", 248_320), ("hidden_size", 4096), ("intermediate_size", 12_288), ("num_hidden_layers", 32),
    ("num_attention_heads", 16), ("num_key_value_heads", 4), ("head_dim", 256),
    ("max_position_embeddings", 32_768))
_QWEN3_5_MOE_DEFAULTS = (  # models/qwen3_5_moe/configuration_qwen3_5_moe.py, Qwen3_5MoeTextConfig
    ("vocab_size", 248_320), ("hidden_size", 2048), ("num_hidden_layers", 40), ("num_attention_heads", 16),
    ("num_key_value_heads", 2), ("head_dim", 256), ("max_position_embeddings", 32_768), ("num_experts", 256),
    ("num_experts_per_tok", 8), ("moe_intermediate_size", 512), ("shared_expert_intermediate_size", 512),
    ("intermediate_size", 512))   # no dense MLP: every layer is MoE, so this width is never used
_LINEAR_DEFAULTS = (
    ("linear_conv_kernel_dim", 4), ("linear_key_head_dim", 128), ("linear_value_head_dim", 128),
    ("linear_num_key_heads", 16), ("linear_num_value_heads", 32))
LINEAR = "linear_attention"


def _qwen3_next_mlp(reader: ConfigReader, layers: int, model_type: str) -> tuple[list[bool], Experts | None]:
    """Which layers are MoE: Qwen3-Next as Qwen2-MoE (decoder_sparse_step, mlp_only_layers; none
    when num_experts is 0), Qwen3.5 none, Qwen3.5-MoE all (its decoder layer always builds the MoE)."""
    if model_type == "qwen3_5_text":
        return [False] * layers, None
    if reader.integer("num_experts", minimum=0) == 0:
        if model_type == "qwen3_5_moe_text":   # its decoder layer builds the MoE whatever the count
            raise reader.fail("config field 'num_experts' must be at least 1 for qwen3_5_moe_text, "
                              "whose every layer is MoE")
        return [False] * layers, None
    activation = reader.text("hidden_act", default="silu")
    experts = _qwen_experts(True, 0, 0, 0, shared_default=0)(reader, layers, activation)
    if model_type == "qwen3_5_moe_text":
        experts = dataclasses.replace(experts, is_moe=[True] * layers)
    return experts.is_moe, experts


def _read_qwen3_next(reader: ConfigReader, model_type: str, name: str, source: str) -> Architecture:
    """Qwen3-Next and Qwen3.5 (transformers' Qwen3NextConfig, Qwen3_5TextConfig, Qwen3_5MoeTextConfig
    and their decoder layers): Gated DeltaNet layers with gated full attention every
    full_attention_interval-th layer (4; or layer_types). The attention layers have an output gate
    from a doubled q_proj, per-head q/k norms and a quarter of each head rotated
    (partial_rotary_factor). Qwen3.5 splits the DeltaNet's input projection in four (in_proj_qkv,
    _z, _b, _a), the same matrices' worth. MLPs as :func:`_qwen3_next_mlp` places them, the MoE
    with a gated shared expert."""
    defaults = {"qwen3_next": _QWEN3_NEXT_DEFAULTS, "qwen3_5_text": _QWEN3_5_DEFAULTS,
                "qwen3_5_moe_text": _QWEN3_5_MOE_DEFAULTS}[model_type]
    reader = ConfigReader({**dict(_LINEAR_DEFAULTS), **dict(defaults), **reader.config}, reader.where)
    vocab, hidden, ffn, layers, heads = _core_sizes(reader)
    kv_heads = _kv_heads(reader, heads)
    head_dim = reader.integer("head_dim")
    key_heads, value_heads = reader.integer("linear_num_key_heads"), reader.integer("linear_num_value_heads")
    if value_heads % key_heads:
        raise reader.fail(f"config field 'linear_num_key_heads' ({key_heads}) must divide "
                          f"linear_num_value_heads ({value_heads})")
    types = reader.layer_types(layers, allowed=(FULL, LINEAR))
    if types is None:
        interval = reader.integer("full_attention_interval", default=4)
        types = [FULL if (i + 1) % interval == 0 else LINEAR for i in range(layers)]
    family = Family(model_type, tie_default=False, rotary_fraction_field="partial_rotary_factor",
                    rotary_fraction_default=sympy.Rational(1, 4))
    is_moe, experts = _qwen3_next_mlp(reader, layers, model_type)
    bias = reader.flag("attention_bias", False)
    attention = AttentionSpec(qkv_bias=bias, o_bias=bias, qk_norm="head", output_gate=True,
                              rotary_fraction=_rotary_fraction(reader, family, head_dim))
    dense = MLPSpec(gated=True, activation=reader.text("hidden_act", default="silu"))

    def layer(kind: str, moe: bool) -> LayerSpec:
        return LayerSpec(attention if kind == FULL else GatedDeltaNetSpec(), experts.spec if moe else dense)

    linear = LINEAR in types
    return Architecture(
        name=name, model_type=model_type, vocab_size=vocab, hidden_size=hidden, num_layers=layers,
        num_heads=heads, num_kv_heads=kv_heads, head_dim=head_dim, intermediate_size=ffn,
        layer_groups=_group_layers(list(zip(types, is_moe, strict=True)), lambda kind: layer(*kind)),
        tie_word_embeddings=reader.flag("tie_word_embeddings", False),
        max_position_embeddings=reader.integer("max_position_embeddings", default=None),
        conv_taps=reader.integer("linear_conv_kernel_dim") if linear else None,
        linear_num_key_heads=key_heads if linear else None,
        linear_num_value_heads=value_heads if linear else None,
        linear_key_head_dim=reader.integer("linear_key_head_dim") if linear else None,
        linear_value_head_dim=reader.integer("linear_value_head_dim") if linear else None,
        **_expert_sizes(experts), source=source, config=reader.config)


_NEMOTRON_H_DEFAULTS = (  # transformers 5.24, models/nemotron_h/configuration_nemotron_h.py, NemotronHConfig
    ("vocab_size", 131_072), ("hidden_size", 4096), ("intermediate_size", 21_504),
    ("num_attention_heads", 32), ("num_key_value_heads", 8), ("head_dim", 128),
    ("max_position_embeddings", 4096), ("ssm_state_size", 128), ("mamba_num_heads", 128),
    ("mamba_head_dim", 64), ("n_groups", 8), ("conv_kernel", 4), ("chunk_size", 128),
    ("num_experts_per_tok", 2), ("moe_intermediate_size", 7688),
    ("moe_shared_expert_intermediate_size", 7688))
_NEMOTRON_H_SPELLINGS = (  # NemotronHConfig.__post_init__ reads these older names for the same fields
    ("mamba_n_groups", "n_groups"), ("mamba_d_conv", "conv_kernel"), ("mamba_conv_bias", "use_conv_bias"),
    ("mamba_chunk_size", "chunk_size"))
_NEMOTRON_H_BLOCKS = {"M": "linear_attention", "E": "moe", "*": "full_attention", "-": "mlp"}


def _read_nemotron_h(reader: ConfigReader, name: str, source: str) -> Architecture:
    """Nemotron-H (transformers' NemotronHConfig and NemotronHBlock): every layer is one block, a
    norm, one part and a residual: a Mamba-2 mixer, attention without positions (no RoPE), a
    ReLU^2 MLP, or (Nemotron-3) an MoE of ReLU^2 experts without a gate, sigmoid-scored, beside a
    shared expert, as layers_block_type (or hybrid_override_pattern, M * - E) lists them; the
    number of layers is that list's length."""
    saved = dict(reader.config)
    for theirs, ours in _NEMOTRON_H_SPELLINGS:
        if theirs in saved:
            saved[ours] = saved.pop(theirs)
    reader = ConfigReader({**dict(_NEMOTRON_H_DEFAULTS), **saved}, reader.where)
    types = reader.config.get("layers_block_type") or reader.config.get("layer_types")
    if isinstance(types, list):
        types = [LEGACY_LAYER_TYPES.get(t, t) if isinstance(t, str) else t for t in types]
    if types is None and reader.present("hybrid_override_pattern"):
        pattern = reader.text("hybrid_override_pattern", default="")
        unknown = sorted(set(pattern) - set(_NEMOTRON_H_BLOCKS))
        if unknown or not pattern:
            raise reader.fail(f"{reader.field('hybrid_override_pattern')} must be a string of M, *, - and E, "
                              f"got {shown(pattern)}")
        types = [_NEMOTRON_H_BLOCKS[char] for char in pattern]
    if types is None:
        types = ["linear_attention", "moe", "full_attention", "mlp"]
    if not isinstance(types, list) or not types or len(types) > MAX_LAYERS \
            or any(t not in _NEMOTRON_H_BLOCKS.values() for t in types):
        given = next((f for f in ("layers_block_type", "layer_types", "hybrid_override_pattern")
                      if reader.config.get(f) is not None), "layers_block_type")
        raise reader.fail(f"{reader.field(given)} must give each of at most {MAX_LAYERS:,} layers one of "
                          f"linear_attention, full_attention, mlp or moe (M, *, -, E), got {shown(types)}")
    if "moe" in types and reader.config.get("moe_latent_size") is not None:
        raise reader.fail(f"{reader.field('moe_latent_size')} asks for experts in a latent space "
                          "(Nemotron-3 Super), which symbolic does not build yet")
    vocab, hidden, heads = (reader.integer(f) for f in ("vocab_size", "hidden_size", "num_attention_heads"))
    kv_heads = _kv_heads(reader, heads)
    attention = AttentionSpec(positions="none")
    mamba = Mamba2Spec(chunk=reader.integer("chunk_size"), conv_bias=reader.flag("use_conv_bias", True),
                       proj_bias=reader.flag("use_bias", False))
    mlp = MLPSpec(gated=False, bias=reader.flag("mlp_bias", False),
                  activation=reader.text("mlp_hidden_act", default="relu2"))
    has = set(types)
    experts = None
    if "moe" in has:   # NemotronHMoE: sigmoid-scored experts and a shared expert, all ReLU^2 without a gate
        experts = Experts([t == "moe" for t in types],
                          MoESpec(shared=True, gated=False, scoring="sigmoid", activation=mlp.activation,
                                  shared_bias=mlp.bias),
                          reader.integer("n_routed_experts", "num_local_experts", default=8),
                          reader.integer("num_experts_per_tok"), reader.integer("moe_intermediate_size"),
                          reader.integer("moe_shared_expert_intermediate_size"))
    parts = {"linear_attention": (mamba, None), "full_attention": (attention, None), "mlp": (None, mlp),
             "moe": (None, experts.spec if experts else None)}
    return Architecture(
        name=name, model_type="nemotron_h", vocab_size=vocab, hidden_size=hidden, num_layers=len(types),
        num_heads=heads, num_kv_heads=kv_heads, head_dim=reader.integer("head_dim"),
        intermediate_size=reader.integer("intermediate_size"),
        layer_groups=_group_layers(types, lambda t: LayerSpec(*parts[t])),
        tie_word_embeddings=False,   # NemotronHForCausalLM ties nothing (_tied_weights_keys is empty)
        max_position_embeddings=reader.integer("max_position_embeddings", default=None),
        conv_taps=reader.integer("conv_kernel") if "linear_attention" in has else None,
        **({"mamba_num_heads": reader.integer("mamba_num_heads"),
            "mamba_head_dim": reader.integer("mamba_head_dim"),
            "ssm_state_size": reader.integer("ssm_state_size"), "mamba_groups": reader.integer("n_groups")}
           if "linear_attention" in has else {}),
        **_expert_sizes(experts), source=source, config=reader.config)


_BAMBA_DEFAULTS = (  # transformers 5.24, models/bamba/configuration_bamba.py, BambaConfig
    ("vocab_size", 128_000), ("hidden_size", 4096), ("intermediate_size", 14_336), ("num_hidden_layers", 32),
    ("num_attention_heads", 32), ("num_key_value_heads", 8), ("max_position_embeddings", 262_144),
    ("mamba_n_heads", 128), ("mamba_n_groups", 1), ("mamba_d_state", 256), ("mamba_d_conv", 4),
    ("mamba_expand", 2), ("mamba_chunk_size", 256))
_GRANITE_HYBRID_DEFAULTS = (  # models/granitemoehybrid/configuration_granitemoehybrid.py
    ("vocab_size", 32_000), ("hidden_size", 4096), ("intermediate_size", 11_008), ("num_hidden_layers", 32),
    ("num_attention_heads", 32), ("max_position_embeddings", 2048), ("num_local_experts", 8),
    ("num_experts_per_tok", 2), ("shared_intermediate_size", 1024), ("mamba_n_heads", 128),
    ("mamba_n_groups", 1), ("mamba_d_state", 256), ("mamba_d_conv", 4), ("mamba_expand", 2),
    ("mamba_chunk_size", 256))


def _mamba_heads(reader: ConfigReader, hidden: int) -> tuple[int, int]:
    """Bamba's and Granite-4's Mamba-2 heads: mamba_n_heads of mamba_d_head ("auto": the width
    mamba_expand x hidden_size over the heads), which must make up that width."""
    heads, expand = reader.integer("mamba_n_heads"), reader.integer("mamba_expand")
    inner = expand * hidden
    if reader.config.get("mamba_d_head", "auto") == "auto":
        if inner % heads:
            raise reader.fail(f"config field 'mamba_n_heads' ({heads}) must divide mamba_expand x "
                              f"hidden_size ({inner})")
    else:
        head = reader.integer("mamba_d_head")
        if heads * head != inner:
            raise reader.fail(f"config field 'mamba_d_head' ({head}) times mamba_n_heads ({heads}) "
                              f"must equal mamba_expand x hidden_size ({inner})")
    groups = reader.integer("mamba_n_groups")
    if heads % groups:
        raise reader.fail(f"config field 'mamba_n_groups' ({groups}) must divide mamba_n_heads ({heads})")
    return heads, inner // heads


def _read_bamba(reader: ConfigReader, model_type: str, name: str, source: str) -> Architecture:
    """Bamba and Granite-4 (transformers' BambaConfig / GraniteMoeHybridConfig and their decoder
    layers): Llama's layout with Mamba-2 in place of attention in the layers that layer_types (or
    Bamba's attn_layer_indices) do not make attention. The Mamba-2 width is mamba_expand x
    hidden_size, in heads (:func:`_mamba_heads`). Bamba's attention rotates half of each head
    (partial_rotary_factor is fixed at 0.5) before a SwiGLU MLP. Granite-4's attention rotates
    only with position_embedding_type "rope"; its MLP is Granite-MoE's, experts of
    intermediate_size and an always-on shared MLP of shared_intermediate_size, or that shared MLP
    alone when num_local_experts is 0; it multiplies the embeddings (as Granite-MoE)."""
    granite = model_type == "granitemoehybrid"
    defaults = _GRANITE_HYBRID_DEFAULTS if granite else _BAMBA_DEFAULTS
    reader = ConfigReader({**dict(defaults), **reader.config}, reader.where)
    vocab, hidden, ffn, layers, heads = _core_sizes(reader)
    kv_heads = _kv_heads(reader, heads)
    head_dim = _head_dim(reader, hidden, heads, None)
    mamba_heads, mamba_head = _mamba_heads(reader, hidden)
    if granite:
        types = reader.layer_types(layers, allowed=(FULL, "linear_attention"))
        types = types or ["linear_attention"] * layers
    else:
        attending = reader.layer_indices("attn_layer_indices")
        types = [FULL if i in attending else "linear_attention" for i in range(layers)]
    bias = reader.flag("attention_bias", False)
    if granite:
        rope = reader.text("position_embedding_type", default=None) == "rope"
        attention = AttentionSpec(qkv_bias=bias, o_bias=bias, positions="rope" if rope else "none")
    else:
        attention = AttentionSpec(qkv_bias=bias, o_bias=bias, rotary_fraction=sympy.Rational(1, 2))
    mamba = Mamba2Spec(chunk=reader.integer("mamba_chunk_size"),
                       conv_bias=reader.flag("mamba_conv_bias", True),
                       proj_bias=reader.flag("mamba_proj_bias", False))
    activation = reader.text("hidden_act", default="silu")
    experts = None
    if granite and reader.integer("num_local_experts", minimum=0) > 0:
        experts = _granite_experts(reader, layers, activation)
        mlp = experts.spec
    elif granite:    # the shared MLP alone
        ffn = reader.integer("shared_intermediate_size")
        mlp = MLPSpec(gated=True, activation=activation)
    else:
        mlp = MLPSpec(gated=True, bias=reader.flag("mlp_bias", False), activation=activation)
    has_mamba = "linear_attention" in types
    return Architecture(
        name=name, model_type=model_type, vocab_size=vocab, hidden_size=hidden, num_layers=layers,
        num_heads=heads, num_kv_heads=kv_heads, head_dim=head_dim, intermediate_size=ffn,
        layer_groups=_group_layers(types, lambda t: LayerSpec(attention if t == FULL else mamba, mlp)),
        tie_word_embeddings=reader.flag("tie_word_embeddings", False),
        max_position_embeddings=reader.integer("max_position_embeddings", default=None),
        embedding_scale=granite,
        conv_taps=reader.integer("mamba_d_conv") if has_mamba else None,
        **({"mamba_num_heads": mamba_heads, "mamba_head_dim": mamba_head,
            "ssm_state_size": reader.integer("mamba_d_state"),
            "mamba_groups": reader.integer("mamba_n_groups")} if has_mamba else {}),
        **_expert_sizes(experts), source=source, config=reader.config)


def _read_gpt2(reader: ConfigReader, name: str, source: str) -> Architecture:
    """GPT-2: LayerNorm, biases everywhere, learned positions, a plain GELU MLP, tied embeddings."""
    vocab = reader.integer("vocab_size")
    hidden = reader.integer("n_embd", "hidden_size")
    layers = reader.integer("n_layer", "num_hidden_layers")
    heads = reader.integer("n_head", "num_attention_heads")
    positions = reader.integer("n_positions", "max_position_embeddings")
    if hidden % heads:
        raise reader.fail(f"config field 'n_embd' ({hidden}) must be divisible by n_head ({heads})")
    ffn = reader.integer("n_inner", default=4 * hidden)
    spec = LayerSpec(AttentionSpec(qkv_bias=True, o_bias=True, positions="learned"),
                     MLPSpec(gated=False, bias=True,
                             activation=reader.text("activation_function", default="gelu_new")),
                     norm="layer")
    return Architecture(
        name=name, model_type="gpt2", vocab_size=vocab, hidden_size=hidden, num_layers=layers,
        num_heads=heads, num_kv_heads=heads, head_dim=hidden // heads, intermediate_size=ffn,
        layer_groups=(LayerGroup(spec, layers),),
        tie_word_embeddings=reader.flag("tie_word_embeddings", True),
        max_position_embeddings=positions, learned_positions=True, norm="layer",
        source=source, config=reader.config)
