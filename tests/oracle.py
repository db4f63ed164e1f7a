"""The real implementation, measured: transformers models built from config dicts (never the hub).

* parameters: the model built on the meta device, counted by module;
* KV cache: the shapes in ``past_key_values`` after a real forward of a scaled-down copy;
* FLOPs: ``torch.utils.flop_counter.FlopCounterMode`` over a prefill and one decode step of the
  scaled-down copy with eager attention. The counter sees matmuls only: ``mm``/``addmm`` are the
  weight matmuls, ``bmm`` the attention products (eager attention computes the full S x S score
  matrix, so the comparison uses ``attention_count="full"``; ``logits_to_keep=1`` makes the prefill
  compute the last position's logits only, our default ``lm_head_positions="last"``).

See ../shared/ORACLE-NOTES.md for what these tools do and do not count.
"""

from __future__ import annotations

from dataclasses import dataclass

try:
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import AutoConfig, AutoModelForCausalLM
except ImportError as error:   # a bare install: conftest skips the tests marked oracle, saying why
    MISSING: str | None = f"{error.name} is not installed (pip install '.[oracle]')"
else:
    MISSING = None
    # one thread per test process: pytest-xdist runs a process per core, and torch's default of a
    # thread per core in each of them makes them wait on each other (a forward takes 3 to 7 times
    # as long); the models measured here are small enough that one thread loses nothing
    torch.set_num_threads(1)

from symbolic.architecture.spec import Architecture
from symbolic.config.families import ALIASES

HUB_ONLY_FIELDS = ("architectures", "auto_map", "quantization_config", "torch_dtype", "dtype",
                   "transformers_version", "_name_or_path")
MATMUL_OPS = {"aten.mm", "aten.addmm"}
ATTENTION_OPS = {"aten.bmm"}
CONV_OPS = {"aten.convolution"}   # the short convolutions' torch fallbacks (F.conv1d)


def hf_config(config: dict):
    """A transformers config object for a config.json dict (a multimodal wrapper's language
    model, see :func:`language_config`)."""
    fields = {k: v for k, v in language_config(config).items() if k not in HUB_ONLY_FIELDS}
    model_type = fields.pop("model_type")
    return AutoConfig.for_model(ALIASES.get(model_type, model_type), **fields)


def language_config(config: dict) -> dict:
    """A multimodal wrapper's language model (its ``text_config``) as a complete flat config, each
    field it leaves out filled by transformers' own config class; any other config unchanged."""
    text = config.get("text_config")
    if not isinstance(text, dict):
        return config
    fields = {k: v for k, v in text.items() if k not in HUB_ONLY_FIELDS}
    model_type = fields.pop("model_type")
    if "tie_word_embeddings" in config:
        fields.setdefault("tie_word_embeddings", config["tie_word_embeddings"])
    full = {k: v for k, v in AutoConfig.for_model(model_type, **fields).to_dict().items()
            if k not in HUB_ONLY_FIELDS}
    return {**full, "model_type": model_type}


def build(config: dict, *, meta: bool):
    cfg = hf_config(config)
    if meta:
        with torch.device("meta"):
            return AutoModelForCausalLM.from_config(cfg)
    torch.manual_seed(0)
    # eager attention: the FLOP counter has no formula for CPU SDPA; eager experts: it has none for
    # grouped_mm either (see ORACLE-NOTES)
    return AutoModelForCausalLM.from_config(cfg, attn_implementation="eager",
                                            experts_implementation="eager").eval()


def _count(module) -> int:
    return sum(p.numel() for p in module.parameters()) if module is not None else 0


def _base(model):
    base = model.base_model
    # Llama4ForCausalLM names no base model prefix of its own; its decoder is .model
    return model.model if base is model and hasattr(model, "model") else base


def _layers(model):
    base = _base(model)
    return base.layers if hasattr(base, "layers") else base.h


@dataclass
class ParameterCounts:
    total: int
    embedding: int
    position_embedding: int
    lm_head: int
    final_norm: int
    per_layer: list[int]
    active: int        # total less the routed experts a token is not sent to


def parameter_counts(model) -> ParameterCounts:
    """Counts of a built model; a tied LM head owns nothing (its matrix is the embedding's)."""
    base = _base(model)
    embedding = model.get_input_embeddings().weight
    head = model.get_output_embeddings()
    head_own = sum(p.numel() for p in head.parameters() if p is not embedding)
    final_norm = next(getattr(base, name)
                      for name in ("norm", "ln_f", "embedding_norm", "norm_f", "final_layernorm")
                      if hasattr(base, name))
    total = sum(p.numel() for p in model.parameters())
    routed = sum(p.numel() for name, p in model.named_parameters() if ".experts." in name)
    config = model.config
    experts = getattr(config, "num_local_experts", None) or getattr(config, "num_experts", None) \
        or getattr(config, "n_routed_experts", None)
    unused = routed * (experts - config.num_experts_per_tok) // experts if routed else 0
    return ParameterCounts(
        total=total,
        active=total - unused,
        embedding=embedding.numel(),
        position_embedding=_count(getattr(base, "wpe", None)),
        lm_head=head_own,
        final_norm=_count(final_norm),
        per_layer=[_count(layer) for layer in _layers(model)],
    )


def scaled_down(config: dict, arch: Architecture, *, layers: int = 2, vocab: int = 128,
                intermediate: int = 64, window: int = 4) -> dict:
    """A small copy that keeps the attention geometry (heads, KV heads, head_dim) and the layer
    kinds, with few layers, a small vocabulary and MLP, and (if the model slides) a short window.

    Families that read ``head_dim`` get a narrow hidden size; GPT-2 and Phi-3 derive head_dim from
    the hidden size, which they therefore keep."""
    small = {k: v for k, v in config.items() if k not in HUB_ONLY_FIELDS}
    model_type = small["model_type"]
    for key in ("pad_token_id", "bos_token_id", "eos_token_id"):
        if key in small:
            small[key] = 0
    small["vocab_size"] = vocab
    for key in ("moe_intermediate_size", "shared_expert_intermediate_size"):
        if key in small:
            small[key] = intermediate // 2
    if ALIASES.get(model_type, model_type).startswith("deepseek"):
        small["num_hidden_layers"] = min(layers + 1, arch.num_layers)   # a dense and an MoE layer
        small["first_k_dense_replace"] = min(small.get("first_k_dense_replace", 0), 1)
        small["intermediate_size"] = intermediate
        small["hidden_size"] = arch.num_heads * 4
        small.pop("quantization_config", None)
        if arch.index_topk:
            small["index_topk"] = window
        return small
    if model_type == "gpt2":
        small["n_layer"] = min(layers, arch.num_layers)
        small["n_inner"] = intermediate
        return small
    small["num_hidden_layers"] = min(layers, arch.num_layers)
    small["intermediate_size"] = intermediate
    if model_type not in ("phi3", "cohere2"):   # these derive head_dim from the hidden size
        small["head_dim"] = arch.head_dim
        small["hidden_size"] = arch.num_heads * 4
    if "layer_types" in small:
        small["layer_types"] = small["layer_types"][: small["num_hidden_layers"]]
    if model_type in ("qwen2", "qwen3") and small.get("use_sliding_window"):
        small["max_window_layers"] = 1
    if arch.sliding_window and small.get("sliding_window"):
        small["sliding_window"] = window
    if arch.attention_chunk_size:
        small["attention_chunk_size"] = window
    if "intermediate_size_mlp" in small:
        small["intermediate_size_mlp"] = intermediate
    _keep_hybrid_layers(small, model_type, arch)
    return small


def _keep_hybrid_layers(small: dict, model_type: str, arch: Architecture) -> None:
    """In a scaled-down hybrid, one layer of each kind (a state layer beside an attention layer),
    every state size kept."""
    if model_type in ("lfm2", "qwen3_next", "qwen3_5_text", "qwen3_5_moe_text"):
        small["layer_types"] = ["conv" if model_type == "lfm2" else "linear_attention", "full_attention"]
        small.pop("full_attn_idxs", None)
        small.pop("block_ff_dim", None)
    if model_type == "bamba":          # a Mamba layer and an attention layer
        small["attn_layer_indices"] = [1]
        small["hidden_size"] = arch.hidden_size   # the Mamba width is mamba_expand x hidden_size
    if model_type == "nemotron_h":     # a Mamba, an attention and an MLP block
        for key in ("layers_block_type", "layer_types", "num_hidden_layers"):
            small.pop(key, None)
        small["hybrid_override_pattern"] = "M*-E" if arch.has_moe else "M*-"
    if model_type == "gemma4_text":   # per_layer_config restates these for the full model's layer indices
        small.pop("per_layer_config", None)
        small["global_head_dim"] = arch.global_head_dim or arch.head_dim
        small["num_global_key_value_heads"] = arch.global_num_kv_heads or arch.num_kv_heads


@dataclass
class StepMeasurement:
    matmul: int
    attention: int
    convolution: int                   # F.conv1d in the short convolutions' torch fallbacks
    kv_elements_per_layer: list[int]   # per sequence, after the step: everything the cache holds
    state_elements_per_layer: list[int]  # of those, the fixed-size states


@dataclass
class ForwardMeasurement:
    prefill: StepMeasurement
    decode_step: StepMeasurement
    kv_dtype_bytes: int


def _split_flops(counter: FlopCounterMode) -> tuple[int, int, int]:
    """(weight matmuls, attention products, convolutions). Batched matmuls are attention's, except
    inside an ``experts`` module: Llama-4's experts multiply every token by every expert's weights
    with bmm."""
    by_module = counter.get_flop_counts()
    counts = {str(op): n for op, n in by_module["Global"].items()}
    unknown = set(counts) - MATMUL_OPS - ATTENTION_OPS - CONV_OPS
    if unknown:
        raise AssertionError(f"FLOP counter reports ops this oracle does not classify: {unknown}")
    expert_bmm = sum(n for module, ops in by_module.items() if module.endswith(".experts")
                     for op, n in ops.items() if str(op) in ATTENTION_OPS)
    matmul = sum(counts.get(op, 0) for op in MATMUL_OPS) + expert_bmm
    return (matmul, sum(counts.get(op, 0) for op in ATTENTION_OPS) - expert_bmm,
            sum(counts.get(op, 0) for op in CONV_OPS))


def _cache_elements(cache, batch: int) -> tuple[list[int], list[int]]:
    """Per layer and sequence: every element the cache object holds (keys, values, DeepSeek-V3.2's
    indexer keys, convolution and recurrent states), and of those the fixed-size states."""
    held, states = [], []
    for layer in cache.layers:
        state = sum(t.numel() for attribute in ("conv_states", "recurrent_states")
                    for t in (getattr(layer, attribute, None) or {}).values() if t is not None)
        total = state
        for attribute in ("keys", "values", "indexer_keys"):
            tensor = getattr(layer, attribute, None)
            if tensor is not None:
                total += tensor.numel()
        assert total % batch == 0 and state % batch == 0
        held.append(total // batch)
        states.append(state // batch)
    return held, states


def measure_forward(config: dict, batch: int, prompt: int, built=None) -> ForwardMeasurement:
    """A prefill of ``prompt`` random tokens for ``batch`` sequences, then one decode step, on
    ``built`` (the model built from ``config``; built here if not given). Each forward starts from
    an empty cache, and the weights are never changed, so one model serves several measurements."""
    model = built if built is not None else build(config, meta=False)
    vocab = model.config.vocab_size
    generator = torch.Generator().manual_seed(1)
    prompt_ids = torch.randint(0, vocab, (batch, prompt), generator=generator)
    next_ids = torch.randint(0, vocab, (batch, 1), generator=generator)
    steps = []
    cache = None
    with torch.no_grad():
        for ids in (prompt_ids, next_ids):
            counter = FlopCounterMode(display=False)
            with counter:
                out = model(input_ids=ids, past_key_values=cache, use_cache=True, logits_to_keep=1)
            cache = out.past_key_values
            steps.append(StepMeasurement(*_split_flops(counter), *_cache_elements(cache, batch)))
    keys = next(layer.keys for layer in cache.layers if getattr(layer, "keys", None) is not None)
    kv_bytes = keys.element_size()
    return ForwardMeasurement(steps[0], steps[1], kv_bytes)
