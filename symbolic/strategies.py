"""Hypothesis strategies for property tests of inference costs (yours and ours).

    from hypothesis import given
    from symbolic.strategies import architectures, workloads

    @given(architectures(), workloads())
    def test_decode_reads_every_weight(arch, workload): ...

:func:`hf_configs` draws Hugging Face ``config.json`` dicts that transformers accepts for every
supported family (so the same draw can build a real model); :func:`architectures` reads them.
Sizes are small by default so that a drawn model can run a forward pass; raise the bounds for
purely symbolic tests. Requires ``hypothesis`` (``pip install symbolic[strategies]``).
"""

from __future__ import annotations

from dataclasses import dataclass

try:
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("symbolic.strategies needs hypothesis: python -m pip install hypothesis") from exc

from .architecture.conventions import Conventions
from .architecture.dtypes import DTYPES, Precision
from .architecture.spec import FULL, SLIDING, Architecture
from .architecture.workload import Workload
from .config.families import FAMILIES, SUPPORTED_MODEL_TYPES, architecture_from_config
from .ops.model import Model


@dataclass(frozen=True)
class Bounds:
    """Size limits of drawn configs."""

    max_kv_heads: int = 4
    max_group: int = 4          # query heads per KV head
    max_head_dim: int = 16      # drawn head_dims are even (RoPE rotates pairs)
    max_width_factor: int = 4   # hidden_size = num_attention_heads x (1..this)
    max_intermediate: int = 96
    max_layers: int = 4
    max_vocab: int = 300
    max_window: int = 12
    max_experts: int = 8


SMALL = Bounds()


@st.composite
def _heads(draw, b: Bounds):
    kv = draw(st.integers(1, b.max_kv_heads))
    q = kv * draw(st.integers(1, b.max_group))
    head_dim = 2 * draw(st.integers(1, b.max_head_dim // 2))
    return q, kv, head_dim


@st.composite
def _common(draw, b: Bounds, model_type: str, heads_fix_width: bool):
    """Fields every rotary family shares. Where the family reads head_dim, it is either given
    (with a free hidden size) or left out, to exercise the family's default."""
    q, kv, head_dim = draw(_heads(b))
    family = FAMILIES.get(model_type)   # None: a family with a reader of its own (llama4_text)
    heads_fix_width = heads_fix_width or (family is not None and not family.reads_head_dim)
    omit_head_dim = heads_fix_width or draw(st.booleans())
    if omit_head_dim and (heads_fix_width or family is None or family.head_dim_default is None):
        hidden = q * head_dim
    else:
        hidden = q * draw(st.integers(1, b.max_width_factor))
    config = {
        "model_type": model_type,
        "vocab_size": draw(st.integers(2, b.max_vocab)),
        "hidden_size": hidden,
        "intermediate_size": draw(st.integers(1, b.max_intermediate)),
        "num_hidden_layers": draw(st.integers(1, b.max_layers)),
        "num_attention_heads": q,
        "num_key_value_heads": kv,
        "max_position_embeddings": 4096,
    }
    if not omit_head_dim:
        config["head_dim"] = head_dim
    if draw(st.booleans()):
        config["tie_word_embeddings"] = draw(st.booleans())
    return config


def _window(draw, b: Bounds) -> int:
    return draw(st.integers(2, b.max_window))


@st.composite
def _llama(draw, b: Bounds):
    config = draw(_common(b, "llama", heads_fix_width=False))
    config["attention_bias"] = draw(st.booleans())
    config["mlp_bias"] = draw(st.booleans())
    return config


@st.composite
def _mistral(draw, b: Bounds):
    config = draw(_common(b, "mistral", heads_fix_width=False))
    config["sliding_window"] = draw(st.one_of(st.none(), st.integers(2, b.max_window)))
    return config


@st.composite
def _qwen(draw, b: Bounds, model_type: str):
    config = draw(_common(b, model_type, heads_fix_width=False))
    if model_type == "qwen3":
        config["attention_bias"] = draw(st.booleans())
    if draw(st.booleans()):
        config["use_sliding_window"] = True
        config["sliding_window"] = _window(draw, b)
        config["max_window_layers"] = draw(st.integers(0, config["num_hidden_layers"]))
    return config


@st.composite
def _gemma(draw, b: Bounds, model_type: str):
    config = draw(_common(b, model_type, heads_fix_width=False))
    config["attention_bias"] = draw(st.booleans())
    config["hidden_activation"] = "gelu_pytorch_tanh"
    if model_type == "gemma3_text":
        config["sliding_window"] = _window(draw, b)
        config["query_pre_attn_scalar"] = 16
        if draw(st.booleans()):
            config["sliding_window_pattern"] = draw(st.integers(1, config["num_hidden_layers"] + 1))
        elif draw(st.booleans()):
            config["layer_types"] = _layer_types(draw, config["num_hidden_layers"])
    if model_type == "gemma2":
        config["sliding_window"] = _window(draw, b)
        config["query_pre_attn_scalar"] = 16
        config["attn_logit_softcapping"] = draw(st.sampled_from([None, 50.0]))
        config["final_logit_softcapping"] = draw(st.sampled_from([None, 30.0]))
        if draw(st.booleans()):
            config["layer_types"] = _layer_types(draw, config["num_hidden_layers"])
    return config


def _experts(draw, b: Bounds, config: dict, field: str, fewest: int = 1) -> None:
    """An expert count under the family's field name, and experts per token no more than it."""
    config[field] = experts = draw(st.integers(fewest, max(fewest, b.max_experts)))
    config["num_experts_per_tok"] = draw(st.integers(1, experts))


def _layer_types(draw, layers: int) -> list[str]:
    return draw(st.lists(st.sampled_from([FULL, SLIDING]), min_size=layers, max_size=layers))


@st.composite
def _post_norm(draw, b: Bounds, model_type: str):
    """OLMo-2, OLMo-3, EXAONE-4: post-norm layers; the last two slide in a period or by layer_types."""
    config = draw(_common(b, model_type, heads_fix_width=False))
    if model_type != "exaone4":
        config["attention_bias"] = draw(st.booleans())
    if model_type == "olmo2":
        return config
    config["sliding_window"] = _window(draw, b)
    layers = config["num_hidden_layers"]
    if draw(st.booleans()):
        config["layer_types"] = _layer_types(draw, layers)
    elif model_type == "exaone4":
        if draw(st.booleans()):
            config["sliding_window_pattern"] = draw(st.integers(1, layers + 1))
        elif draw(st.booleans()):
            config["sliding_window"] = None
            config["layer_types"] = [FULL] * layers
    return config


@st.composite
def _starcoder2(draw, b: Bounds):
    config = draw(_common(b, "starcoder2", heads_fix_width=False))
    config["use_bias"] = draw(st.booleans())
    config["sliding_window"] = draw(st.one_of(st.none(), st.integers(2, b.max_window)))
    config["hidden_act"] = "gelu_pytorch_tanh"
    config["bos_token_id"] = config["eos_token_id"] = 0
    return config


@st.composite
def _cohere(draw, b: Bounds, model_type: str):
    config = draw(_common(b, model_type, heads_fix_width=False))
    config["attention_bias"] = draw(st.booleans())
    config["pad_token_id"] = config["bos_token_id"] = config["eos_token_id"] = 0
    if model_type == "cohere":
        config["use_qk_norm"] = draw(st.booleans())
        return config
    config["sliding_window"] = _window(draw, b)
    layers = config["num_hidden_layers"]
    if draw(st.booleans()):
        config["layer_types"] = _layer_types(draw, layers)
    elif draw(st.booleans()):
        config["sliding_window_pattern"] = draw(st.integers(1, layers + 1))
    return config


@st.composite
def _gpt_oss(draw, b: Bounds):
    config = draw(_common(b, "gpt_oss", heads_fix_width=False))
    _experts(draw, b, config, "num_local_experts")
    config["attention_bias"] = draw(st.booleans())
    config["sliding_window"] = _window(draw, b)
    if draw(st.booleans()):
        config["layer_types"] = _layer_types(draw, config["num_hidden_layers"])
    return config


@st.composite
def _glm4_moe(draw, b: Bounds):
    config = draw(_common(b, "glm4_moe", heads_fix_width=False))
    layers = config["num_hidden_layers"]
    # the router scores each group by its best two experts: at least two experts
    _experts(draw, b, config, "n_routed_experts", fewest=2)
    config["moe_intermediate_size"] = draw(st.integers(1, b.max_intermediate))
    config["n_shared_experts"] = draw(st.integers(0, 2))
    config["first_k_dense_replace"] = draw(st.integers(0, layers))
    config["attention_bias"] = draw(st.booleans())
    config["use_qk_norm"] = draw(st.booleans())
    config["partial_rotary_factor"] = draw(st.sampled_from([0.5, 1.0, 0.25]))
    return config


@st.composite
def _minimax_m2(draw, b: Bounds):
    config = draw(_common(b, "minimax_m2", heads_fix_width=False))
    _experts(draw, b, config, "num_local_experts")
    head_dim = config.get("head_dim", 128)
    if draw(st.booleans()):
        config["rotary_dim"] = 2 * draw(st.integers(1, head_dim // 2))
    return config


@st.composite
def _granite_moe(draw, b: Bounds, model_type: str):
    config = draw(_common(b, model_type, heads_fix_width=False))
    _experts(draw, b, config, "num_local_experts")
    config["attention_bias"] = draw(st.booleans())
    config["embedding_multiplier"] = 12.0
    config["residual_multiplier"] = 0.22
    if model_type == "granitemoeshared":
        config["shared_intermediate_size"] = draw(st.integers(0, b.max_intermediate))
    return config


@st.composite
def _llama4(draw, b: Bounds):
    """Llama-4's language model: chunked RoPE layers and full NoPE layers, MoE layers interleaved
    with dense ones of another width."""
    config = draw(_common(b, "llama4_text", heads_fix_width=False))
    layers = config["num_hidden_layers"]
    config["head_dim"] = config.get("head_dim") or 2 * draw(st.integers(1, b.max_head_dim // 2))
    config["intermediate_size_mlp"] = draw(st.integers(1, b.max_intermediate))
    _experts(draw, b, config, "num_local_experts")
    config["use_qk_norm"] = draw(st.booleans())
    config["attention_bias"] = draw(st.booleans())
    config["attention_chunk_size"] = draw(st.one_of(st.none(), st.integers(2, b.max_window)))
    config["interleave_moe_layer_step"] = draw(st.integers(1, 2))
    if draw(st.booleans()):
        config["no_rope_layers"] = draw(st.lists(st.integers(0, 1), min_size=layers, max_size=layers))
    else:
        config["no_rope_layer_interval"] = draw(st.integers(1, 4))
    config["pad_token_id"] = config["bos_token_id"] = config["eos_token_id"] = 0
    return config


@st.composite
def _gemma4(draw, b: Bounds):
    """Gemma-4's language model: sliding layers and full layers whose heads may have another width
    and, with attention_k_eq_v, other KV heads and values that are the keys."""
    config = draw(_common(b, "gemma4_text", heads_fix_width=False))
    config["head_dim"] = config.get("head_dim") or 2 * draw(st.integers(1, b.max_head_dim // 2))
    config["global_head_dim"] = 2 * draw(st.integers(1, b.max_head_dim // 2))
    config["attention_k_eq_v"] = draw(st.booleans())
    heads = config["num_attention_heads"]
    config["num_global_key_value_heads"] = draw(st.sampled_from(
        [None, *(d for d in range(1, heads + 1) if heads % d == 0)]))
    config["sliding_window"] = _window(draw, b)
    if draw(st.booleans()):
        config["layer_types"] = _layer_types(draw, config["num_hidden_layers"])
    config["attention_bias"] = draw(st.booleans())
    config["final_logit_softcapping"] = draw(st.sampled_from([None, 30.0]))
    config["hidden_size_per_layer_input"] = 0
    config["pad_token_id"] = config["bos_token_id"] = config["eos_token_id"] = 0
    return config


@st.composite
def _lfm2(draw, b: Bounds):
    """LFM2: short-convolution and attention layers; the MLP width from intermediate_size through
    the auto-adjust rule, with a small rounding multiple."""
    config = draw(_common(b, "lfm2", heads_fix_width=True))
    layers = config["num_hidden_layers"]
    config["conv_L_cache"] = draw(st.integers(1, 4))
    config["conv_bias"] = draw(st.booleans())
    # at least one attention layer: transformers' cache cannot tell a sequence's length without one
    attending = draw(st.lists(st.integers(0, layers - 1), unique=True, min_size=1, max_size=layers))
    if draw(st.booleans()):
        config["layer_types"] = [FULL if i in attending else "conv" for i in range(layers)]
    else:
        config["full_attn_idxs"] = attending
    config["intermediate_size"] = draw(st.integers(3, b.max_intermediate))
    config["block_multiple_of"] = draw(st.integers(1, 16))
    config["block_auto_adjust_ff_dim"] = draw(st.booleans())
    config["pad_token_id"] = config["bos_token_id"] = config["eos_token_id"] = 0
    return config


@st.composite
def _qwen3_next(draw, b: Bounds, model_type: str):
    """Qwen3-Next and Qwen3.5: Gated DeltaNet layers with gated attention layers among them (at
    least one), dense or MoE MLPs as the family places them."""
    config = draw(_common(b, model_type, heads_fix_width=False))
    layers = config["num_hidden_layers"]
    config["head_dim"] = config.get("head_dim") or 2 * draw(st.integers(1, b.max_head_dim // 2))
    key_heads = draw(st.integers(1, b.max_kv_heads))
    config["linear_num_key_heads"] = key_heads
    config["linear_num_value_heads"] = key_heads * draw(st.integers(1, b.max_group))
    config["linear_key_head_dim"] = draw(st.integers(1, b.max_head_dim))
    config["linear_value_head_dim"] = draw(st.integers(1, b.max_head_dim))
    config["linear_conv_kernel_dim"] = draw(st.integers(1, 4))
    attending = draw(st.lists(st.integers(0, layers - 1), unique=True, min_size=1, max_size=layers))
    config["layer_types"] = [FULL if i in attending else "linear_attention" for i in range(layers)]
    config["attention_bias"] = draw(st.booleans())
    if model_type == "qwen3_5_moe_text" or (model_type == "qwen3_next" and draw(st.booleans())):
        _experts(draw, b, config, "num_experts")
        config["moe_intermediate_size"] = draw(st.integers(1, b.max_intermediate))
        config["shared_expert_intermediate_size"] = draw(st.integers(1, b.max_intermediate))
        if model_type == "qwen3_next":
            config["decoder_sparse_step"] = draw(st.integers(1, 2))
    elif model_type == "qwen3_next":
        config["num_experts"] = 0
    config["pad_token_id"] = config["bos_token_id"] = config["eos_token_id"] = 0
    return config


@st.composite
def _nemotron_h(draw, b: Bounds):
    """Nemotron-H and Nemotron-3: Mamba-2, attention (at least one), ReLU^2 MLP and MoE blocks, one
    part a layer; short scan chunks, so that prompts span several."""
    config = draw(_common(b, "nemotron_h", heads_fix_width=False))
    layers = config.pop("num_hidden_layers")
    config["head_dim"] = config.get("head_dim") or 2 * draw(st.integers(1, b.max_head_dim // 2))
    blocks = draw(st.lists(st.sampled_from("M*-E"), min_size=layers, max_size=layers))
    blocks[draw(st.integers(0, layers - 1))] = "*"
    config["hybrid_override_pattern"] = "".join(blocks)
    groups = draw(st.integers(1, 2))
    config["n_groups"] = groups
    config["mamba_num_heads"] = groups * draw(st.integers(1, 2))
    config["mamba_head_dim"] = draw(st.integers(1, 8))
    config["ssm_state_size"] = draw(st.integers(1, 8))
    config["conv_kernel"] = draw(st.integers(1, 4))
    config["chunk_size"] = draw(st.integers(1, 8))
    _experts(draw, b, config, "n_routed_experts", fewest=2)   # the router's top-2 per group needs two
    config["moe_intermediate_size"] = draw(st.integers(1, b.max_intermediate))
    config["moe_shared_expert_intermediate_size"] = draw(st.integers(1, b.max_intermediate))
    for flag in ("use_conv_bias", "use_bias", "mlp_bias"):
        config[flag] = draw(st.booleans())
    config["pad_token_id"] = config["bos_token_id"] = config["eos_token_id"] = 0
    return config


@st.composite
def _bamba(draw, b: Bounds, model_type: str = "bamba"):
    """Bamba and Granite-4: Mamba-2 layers and attention layers (at least one), each with an MLP
    (Granite-4's MoE and shared MLP, or the shared MLP alone); the Mamba width mamba_expand x
    hidden_size in heads that divide it."""
    config = draw(_common(b, model_type, heads_fix_width=False))
    layers, hidden = config["num_hidden_layers"], config["hidden_size"]
    config["mamba_expand"] = expand = draw(st.integers(1, 2))
    heads = draw(st.sampled_from([d for d in range(1, expand * hidden + 1) if expand * hidden % d == 0][:6]))
    config["mamba_n_heads"] = heads
    config["mamba_n_groups"] = draw(st.sampled_from([g for g in (1, 2) if heads % g == 0]))
    config["mamba_d_head"] = draw(st.sampled_from(["auto", expand * hidden // heads]))
    config["mamba_d_state"] = draw(st.integers(1, 8))
    config["mamba_d_conv"] = draw(st.integers(1, 4))
    config["mamba_chunk_size"] = draw(st.integers(1, 8))
    attending = draw(st.lists(st.integers(0, layers - 1), unique=True, min_size=1))
    if model_type == "bamba":
        config["attn_layer_indices"] = attending
        config["mlp_bias"] = draw(st.booleans())
    else:   # the legacy names ("mamba", "attention") mean the same to transformers
        names = draw(st.sampled_from([(FULL, "linear_attention"), ("attention", "mamba")]))
        config["layer_types"] = [names[0] if i in attending else names[1] for i in range(layers)]
        config["position_embedding_type"] = draw(st.sampled_from(["rope", None]))
        config["num_local_experts"] = draw(st.integers(0, b.max_experts))
        config["num_experts_per_tok"] = draw(st.integers(1, max(1, config["num_local_experts"])))
        config["shared_intermediate_size"] = draw(st.integers(1, b.max_intermediate))
        config["embedding_multiplier"] = draw(st.sampled_from([1.0, 12.0]))
    for flag in ("mamba_conv_bias", "mamba_proj_bias", "attention_bias"):
        config[flag] = draw(st.booleans())
    config["pad_token_id"] = config["bos_token_id"] = config["eos_token_id"] = 0
    return config


@st.composite
def _phi3(draw, b: Bounds):
    config = draw(_common(b, "phi3", heads_fix_width=True))
    config["sliding_window"] = draw(st.one_of(st.none(), st.integers(2, b.max_window)))
    config["pad_token_id"] = 0
    config["bos_token_id"] = 0
    config["eos_token_id"] = 0
    return config


@st.composite
def _gpt2(draw, b: Bounds):
    heads = draw(st.integers(1, b.max_kv_heads * b.max_group))
    head_dim = draw(st.integers(1, b.max_head_dim))
    config = {
        "model_type": "gpt2",
        "vocab_size": draw(st.integers(2, b.max_vocab)),
        "n_embd": heads * head_dim,
        "n_layer": draw(st.integers(1, b.max_layers)),
        "n_head": heads,
        "n_positions": draw(st.integers(64, 1024)),
        "n_inner": draw(st.one_of(st.none(), st.integers(1, b.max_intermediate))),
    }
    if draw(st.booleans()):
        config["tie_word_embeddings"] = draw(st.booleans())
    return config


@st.composite
def _mixtral(draw, b: Bounds):
    config = draw(_common(b, "mixtral", heads_fix_width=False))
    _experts(draw, b, config, "num_local_experts")
    config["sliding_window"] = draw(st.one_of(st.none(), st.integers(2, b.max_window)))
    return config


@st.composite
def _qwen_moe(draw, b: Bounds, model_type: str):
    config = draw(_common(b, model_type, heads_fix_width=False))
    layers = config["num_hidden_layers"]
    _experts(draw, b, config, "num_experts")
    config["moe_intermediate_size"] = draw(st.integers(1, b.max_intermediate))
    config["decoder_sparse_step"] = draw(st.integers(1, 2))
    config["mlp_only_layers"] = draw(st.lists(st.integers(0, layers - 1), unique=True, max_size=layers))
    if model_type == "qwen2_moe":
        config["shared_expert_intermediate_size"] = draw(st.integers(1, b.max_intermediate))
        config["qkv_bias"] = draw(st.booleans())
    else:
        config["attention_bias"] = draw(st.booleans())
    return config


@st.composite
def _deepseek(draw, b: Bounds, model_type: str):
    heads = draw(st.integers(1, b.max_kv_heads * b.max_group))
    layers = draw(st.integers(1, b.max_layers))
    experts = draw(st.integers(1, b.max_experts))
    config = {
        "model_type": model_type,
        "vocab_size": draw(st.integers(2, b.max_vocab)),
        "hidden_size": heads * draw(st.integers(1, b.max_width_factor)),
        "intermediate_size": draw(st.integers(1, b.max_intermediate)),
        "moe_intermediate_size": draw(st.integers(1, b.max_intermediate)),
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": heads,
        "q_lora_rank": draw(st.one_of(st.none(), st.integers(1, 4 * b.max_head_dim))),
        # even: DeepSeek-V2's complex-number RoPE needs the rotary key at an even offset
        "kv_lora_rank": 2 * draw(st.integers(1, 2 * b.max_head_dim)),
        "qk_nope_head_dim": 2 * draw(st.integers(1, b.max_head_dim // 2)),
        "qk_rope_head_dim": 2 * draw(st.integers(1, b.max_head_dim // 2)),
        "v_head_dim": draw(st.integers(1, b.max_head_dim)),
        "n_routed_experts": experts,
        "n_shared_experts": draw(st.integers(0, 2)),
        "first_k_dense_replace": draw(st.integers(0, layers)),
        "max_position_embeddings": 4096,
    }
    if model_type == "deepseek_v32":   # the indexer: its key holds the rotary part and more
        config["q_lora_rank"] = config["q_lora_rank"] or draw(st.integers(1, 4 * b.max_head_dim))
        config["index_n_heads"] = draw(st.integers(1, 4))
        config["index_head_dim"] = config["qk_rope_head_dim"] + 2 * draw(st.integers(0, b.max_head_dim // 2))
        config["index_topk"] = draw(st.integers(1, b.max_window))
    if model_type != "deepseek_v2":   # deepseek_v3, deepseek_v32 and the alias kimi_k2
        # the router scores each group by its best two experts: groups of at least two
        experts = config["n_routed_experts"] = max(experts, 2)
        groups = draw(st.sampled_from([g for g in range(1, experts // 2 + 1) if experts % g == 0]))
        config["n_group"] = groups
        config["topk_group"] = top_groups = draw(st.integers(1, groups))
        config["num_experts_per_tok"] = draw(st.integers(1, top_groups * experts // groups))
    else:
        config["num_experts_per_tok"] = draw(st.integers(1, experts))
    if draw(st.booleans()):
        config["tie_word_embeddings"] = draw(st.booleans())
    return config


_FAMILY_STRATEGIES = {
    "llama": _llama,
    "mistral": _mistral,
    "qwen2": lambda b: _qwen(b, "qwen2"),
    "qwen3": lambda b: _qwen(b, "qwen3"),
    "gemma": lambda b: _gemma(b, "gemma"),
    "gemma2": lambda b: _gemma(b, "gemma2"),
    "gemma3_text": lambda b: _gemma(b, "gemma3_text"),
    "phi3": _phi3,
    "gpt2": _gpt2,
    "mixtral": _mixtral,
    "qwen2_moe": lambda b: _qwen_moe(b, "qwen2_moe"),
    "qwen3_moe": lambda b: _qwen_moe(b, "qwen3_moe"),
    "deepseek_v2": lambda b: _deepseek(b, "deepseek_v2"),
    "deepseek_v3": lambda b: _deepseek(b, "deepseek_v3"),
    "kimi_k2": lambda b: _deepseek(b, "kimi_k2"),
    "deepseek_v32": lambda b: _deepseek(b, "deepseek_v32"),
    "olmo2": lambda b: _post_norm(b, "olmo2"),
    "olmo3": lambda b: _post_norm(b, "olmo3"),
    "exaone4": lambda b: _post_norm(b, "exaone4"),
    "starcoder2": _starcoder2,
    "gpt_oss": _gpt_oss,
    "glm4_moe": _glm4_moe,
    "minimax_m2": _minimax_m2,
    "granitemoe": lambda b: _granite_moe(b, "granitemoe"),
    "granitemoeshared": lambda b: _granite_moe(b, "granitemoeshared"),
    "llama4_text": _llama4,
    "gemma4_text": _gemma4,
    "lfm2": _lfm2,
    "nemotron_h": _nemotron_h,
    "bamba": _bamba,
    "granitemoehybrid": lambda b: _bamba(b, "granitemoehybrid"),
    "qwen3_next": lambda b: _qwen3_next(b, "qwen3_next"),
    "qwen3_5_text": lambda b: _qwen3_next(b, "qwen3_5_text"),
    "qwen3_5_moe_text": lambda b: _qwen3_next(b, "qwen3_5_moe_text"),
    "cohere": lambda b: _cohere(b, "cohere"),
    "cohere2": lambda b: _cohere(b, "cohere2"),
}
assert set(_FAMILY_STRATEGIES) == set(SUPPORTED_MODEL_TYPES)

MODEL_TYPES = tuple(sorted(_FAMILY_STRATEGIES))


def hf_configs(model_type: str | None = None, bounds: Bounds = SMALL) -> st.SearchStrategy[dict]:
    """Hugging Face config dicts of one family (or any supported family)."""
    if model_type is None:
        return st.sampled_from(MODEL_TYPES).flatmap(lambda t: hf_configs(t, bounds))
    return _FAMILY_STRATEGIES[model_type](bounds)


def architectures(model_type: str | None = None, bounds: Bounds = SMALL) -> st.SearchStrategy[Architecture]:
    """Valid architectures, read from drawn configs."""
    return hf_configs(model_type, bounds).map(lambda cfg: architecture_from_config(cfg, "drawn"))


def conventions() -> st.SearchStrategy[Conventions]:
    """Counting conventions, defaults and alternatives."""
    small = st.integers(0, 10)
    return st.builds(Conventions, flops_per_mac=st.sampled_from([1, 2]),
                     attention_count=st.sampled_from(["causal", "full"]),
                     lm_head_positions=st.sampled_from(["last", "all"]),
                     softmax_flops=small, rmsnorm_flops=small, layernorm_flops=small,
                     activation_flops=small, rope_flops=small, softcap_flops=small,
                     mla_form=st.sampled_from(["absorbed", "expanded"]),
                     moe_compute=st.sampled_from(["routed", "all_experts"]))


def models(model_type: str | None = None, bounds: Bounds = SMALL) -> st.SearchStrategy[Model]:
    return st.builds(Model, architectures(model_type, bounds), conventions())


def workloads(max_batch: int = 64, max_prompt: int = 8192, max_context: int = 131072
              ) -> st.SearchStrategy[Workload]:
    """Batches, prompt lengths and decode contexts (for models without a learned position table;
    see :func:`scenarios`)."""
    return st.builds(Workload, batch=st.integers(1, max_batch), prompt=st.integers(1, max_prompt),
                     context=st.integers(0, max_context))


def fitting_workloads(arch: Architecture, max_batch: int = 64, max_prompt: int = 8192,
                      max_context: int = 131072) -> st.SearchStrategy[Workload]:
    """Workloads ``arch`` can run: within its learned position table, if it has one."""
    if arch.learned_positions:
        limit = arch.max_position_embeddings
        max_prompt, max_context = min(max_prompt, limit), min(max_context, limit - 1)
    return workloads(max_batch, max_prompt, max_context)


def scenarios(model_type: str | None = None, bounds: Bounds = SMALL, **workload_limits
              ) -> st.SearchStrategy[tuple[Architecture, Workload]]:
    """(architecture, workload) pairs that fit together."""
    return architectures(model_type, bounds).flatmap(
        lambda arch: st.tuples(st.just(arch), fitting_workloads(arch, **workload_limits)))


def precisions() -> st.SearchStrategy[Precision]:
    names = sorted(DTYPES)
    return st.builds(Precision.of, st.sampled_from(names), st.sampled_from(names), st.sampled_from(names))
