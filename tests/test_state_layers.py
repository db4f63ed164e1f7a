"""Layers with a fixed-size state (LFM2's short convolutions, Qwen3-Next's and Qwen3.5's Gated
DeltaNet, Nemotron-H's Mamba-2): their
scan against the FLOP counter where transformers' torch path does the same work, and the
properties that make them what they are (a state that does not grow with the context, a hybrid
whose cache grows only in its attention layers, decode steps that read and write the state).

Parameters, every tensor of the cache after a real forward, and the matmul and convolution FLOPs
of these families are checked with every other family (test_oracle_presets, test_oracle_drawn).
"""

import pytest
import sympy
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import symbolic
from symbolic.architecture.spec import AttentionSpec
from symbolic.strategies import hf_configs
from symbolic.symbols import B, c, n

from . import oracle

STATE_FAMILIES = ["lfm2", "qwen3_next", "qwen3_5_text", "qwen3_5_moe_text", "nemotron_h", "bamba",
                  "granitemoehybrid"]

# transformers 5.24, modeling_qwen3_next.py
QWEN3_NEXT = {"model_type": "qwen3_next", "vocab_size": 64, "hidden_size": 16, "intermediate_size": 24,
              "num_hidden_layers": 2, "layer_types": ["linear_attention", "full_attention"],
              "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 8,
              "linear_num_key_heads": 2, "linear_num_value_heads": 4, "linear_key_head_dim": 4,
              "linear_value_head_dim": 6, "num_experts": 0, "pad_token_id": 0}


@pytest.mark.oracle
@pytest.mark.parametrize("prompt", [64, 128])
def test_the_chunked_scan_equals_what_the_counter_sees_in_whole_chunks(prompt):
    """A prompt of whole 64-token chunks leaves torch_chunk_gated_delta_rule nothing to pad: its
    batched matmuls (the FLOP counter's bmm in the DeltaNet layer) are symbolic's scan products,
    all but the triangular solves, which have no counter formula."""
    batch = 2
    model = symbolic.load(QWEN3_NEXT, attention_count="full")
    real = oracle.measure_forward(QWEN3_NEXT, batch=batch, prompt=prompt)
    values = {**model.bindings(), B: batch, n: prompt, c: 0}

    def flops(names) -> int:
        return int(sum(op.flops for s in model.layer_sections for op in s.ops
                       if op.name in names).xreplace(values))

    scan = flops({"scan_intra_keys", "scan_intra_values", "scan_state"})
    attention_layer = flops({"scores", "values"})
    assert real.prefill.attention == attention_layer + scan
    assert scan > 0


def _state_and_growth(model: symbolic.Model, context: sympy.Expr) -> tuple[sympy.Expr, sympy.Expr]:
    """Per sequence: bytes the state ops hold, and bytes the other cache ops hold, at ``context``."""
    state = growing = sympy.Integer(0)
    for section in model.layer_sections:
        for op in section.ops:
            held = section.repeats * op.kv_held.xreplace({B: 1, c: context})
            if op.state_per_sequence != 0:
                state += held
            else:
                growing += held
    return state, growing


@settings(max_examples=30, deadline=None)
@given(config=st.sampled_from(STATE_FAMILIES).flatmap(hf_configs), context=st.integers(1, 10**6))
def test_a_state_does_not_grow_with_the_context(config, context):
    model = symbolic.load(config)
    assume(any(g.spec.mixer is not None and not isinstance(g.spec.mixer, AttentionSpec)
               for g in model.arch.layer_groups))
    state, _ = _state_and_growth(model, context)
    first, _ = _state_and_growth(model, 1)
    assert state == first
    d = symbolic.derive(model)
    assert d.value("kv_cache.state_elements_per_sequence") > 0
    assert not d["kv_cache.state_elements_per_sequence"].expr.free_symbols & {c, n}


@settings(max_examples=30, deadline=None)
@given(config=st.sampled_from(STATE_FAMILIES).flatmap(hf_configs))
def test_a_hybrid_cache_grows_only_in_its_attention_layers(config):
    """KV growth per token equals that of the attention layers alone, counted from their specs."""
    model = symbolic.load(config)
    arch = model.arch
    per_token = symbolic.derive(model).value("kv_cache.elements_per_token")
    attention_layers = sum(g.count for g in arch.layer_groups if isinstance(g.spec.mixer, AttentionSpec))
    assert per_token == attention_layers * 2 * arch.num_kv_heads * arch.head_dim


def test_a_decode_step_reads_and_writes_the_whole_state():
    model = symbolic.load("qwen3-next-80b-a3b")
    d = symbolic.derive(model, batch=4, context=1000)
    state = d.value("kv_cache.state_bytes_per_sequence")
    kv_read = d.value("memory.decode_step.kv_read")
    kv_written = d.value("memory.decode_step.kv_written")
    # the 12 attention layers' K and V of 1,001 tokens read and one token written, besides the state
    kv_per_token = d.value("kv_cache.bytes_per_token")
    assert kv_read == 4 * (state + 1001 * kv_per_token)
    assert kv_written == 4 * (state + kv_per_token)
    prefill = symbolic.derive(model, batch=4, prompt=1000)
    # no past, so no state to read: only attention reading the keys and values it just wrote
    assert prefill.value("memory.prefill.kv_read") == 4 * 1000 * kv_per_token


def test_capacity_counts_the_state_beside_the_growing_cache():
    """Qwen3-Next's 36 DeltaNet layers hold 40 MB a sequence whatever its length; its 12 attention
    layers 24 kB a token: both go into what a sequence needs, and so into the largest batch."""
    from symbolic.config.hardware import get_accelerator
    from symbolic.performance.roofline import Deployment, Performance

    d = symbolic.derive("qwen3-next-80b-a3b", batch=1, prompt=1000)
    perf = Performance(d, Deployment(get_accelerator("h200"), tp=2), 24)
    state, per_token = d.value("kv_cache.state_bytes_per_sequence"), d.value("kv_cache.bytes_per_token")
    assert perf.kv_bytes_per_sequence_at_end == (state + 1024 * per_token) / 2
    free = perf.free_bytes_per_device
    assert perf.max_batch() == free // ((state + 1024 * per_token) / 2)


@pytest.mark.parametrize("model, claim, against, mistake, corrected", [
    # "the KV cache of Qwen3-Next grows like a Llama's": 2 (K and V) x all 48 layers x n_kv d_h x 2 bytes
    ("qwen3-next-80b-a3b", "2 * 2 * L * n_kv * d_h", "kv_cache.bytes_per_token", "every_layer_caches_kv",
     "2 * 2 * 12 * n_kv * d_h"),
    ("nemotron-h-56b-base", "2 * L * n_kv * d_h * c * b_kv", "kv_cache.bytes_per_sequence",
     "every_layer_caches_kv", None),
    # the 10 attention blocks' cache alone, the Mamba states forgotten
    ("nemotron-h-56b-base", "2 * 10 * n_kv * d_h * c * b_kv", "kv_cache.bytes_per_sequence",
     "state_left_out",
     "2 * 10 * n_kv * d_h * c * b_kv"
     " + 54 * (n_m * d_m * d_st + w_conv * (n_m * d_m + 2 * n_g * d_st)) * b_kv"),
    ("lfm2-350m", "2 * 6 * n_kv * d_h * c * b_kv", "kv_cache.bytes_per_sequence", "state_left_out",
     "2 * 6 * n_kv * d_h * c * b_kv + 10 * H * w_conv * b_kv"),
])
def test_the_checker_names_a_cache_counted_like_a_transformers(model, claim, against, mistake, corrected):
    from symbolic.check.checker import check_formula

    derivation = symbolic.derive(model)
    verdict = check_formula(claim, against, [derivation]).verdicts[0]
    assert verdict.status == "not_equivalent"
    assert mistake in [m.key for m in verdict.mistakes]
    if corrected:
        assert check_formula(corrected, against, [derivation]).verdicts[0].holds


@pytest.mark.parametrize("config, field", [
    # transformers' Bamba and Granite-4 mixers need the groups to divide the heads
    ({"model_type": "bamba", "mamba_n_groups": 3}, "mamba_n_groups"),
    ({"model_type": "bamba", "mamba_d_head": 60}, "mamba_d_head"),
    # Qwen3.5-MoE builds its MoE block in every layer, whatever num_experts says
    ({"model_type": "qwen3_5_moe_text", "num_experts": 0}, "num_experts"),
    ({"model_type": "nemotron_h", "hybrid_override_pattern": "M*X"}, "hybrid_override_pattern"),
    ({"model_type": "nemotron_h", "hybrid_override_pattern": "E", "moe_latent_size": 64}, "moe_latent_size"),
    ({"model_type": "lfm2", "block_ffn_dim_multiplier": 1e300}, "intermediate_size"),
    ({"model_type": "qwen3_next", "linear_num_key_heads": 3, "linear_num_value_heads": 32},
     "linear_num_key_heads"),
])
def test_a_hybrid_config_that_cannot_be_built_is_refused_naming_the_field(config, field):
    from symbolic.errors import SymbolicError

    with pytest.raises(SymbolicError, match=field):
        symbolic.derive(config)


def test_nemotron_h_reads_the_expert_count_under_either_spelling():
    """NemotronHConfig's attribute_map reads num_local_experts as n_routed_experts."""
    config = {"model_type": "nemotron_h", "hybrid_override_pattern": "*E", "num_local_experts": 16}
    assert symbolic.load(config).arch.num_experts == 16
