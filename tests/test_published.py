"""Published figures, each with its source beside it."""

import sympy

import symbolic
from symbolic.printing import decimal
from symbolic.symbols import H

# Seed 004 (../shared/seeds/004_*.txt), a translation of "LLM Inference Economics from First
# Principles", tensoreconomics.com: the Llama-3.3-70B derivation (the Llama-3.1-70B architecture).


def test_llama_70b_parameters_and_textbook_block():
    # "= 70,553,706,496" and "Total per transformer block = 12.75 x H^2 + 2 x H"
    for name in ("llama-3.1-70b", "llama-3.3-70b"):
        d = symbolic.derive(name)
        assert d.value("params.total") == 70_553_706_496
        block = d["params.per_layer.full_attention.total"].textbook
        assert sympy.expand(block - (sympy.Rational(51, 4) * H**2 + 2 * H)) == 0
        assert decimal(block) == "12.75*H**2 + 2*H"


def test_llama_70b_kv_cache_of_2048_tokens():
    # "kv cache = 2 x 2 x 80 x 128 x 8 x 2048 = 671MB" (bf16): 671,088,640 bytes
    d = symbolic.derive("llama-3.3-70b", prompt=2048, context=2048, kv_dtype="bf16")
    assert d.value("kv_cache.bytes_per_sequence") == 671_088_640


def test_llama_2_7b_kv_cache_per_token_and_for_4096_tokens():
    # Seed 002 (NVIDIA, "Mastering LLM Techniques: Inference Optimization"): Llama2 7B in 16 bits,
    # "1 * 1 * 2 * 32 * 4096 * 2 = 512KB" per token and "4096 ... = 2048MB = 2GB" (binary units).
    d = symbolic.derive("llama-2-7b", prompt=4096, context=4096, kv_dtype="fp16")
    assert d.value("kv_cache.bytes_per_token") == 512 * 2**10
    assert d.value("kv_cache.bytes_per_sequence") == 2 * 2**30


def test_llama_65b_kv_cache_per_token():
    # Seed 001: "对于 llama-65b 模型而言，其推理时，每个 token 大约消耗 2.5MB 的显存" (fp16): exactly 2.5 MiB
    d = symbolic.derive("llama-65b", kv_dtype="fp16")
    assert d.value("kv_cache.bytes_per_token") == sympy.Rational(5, 2) * 2**20


def test_llama_13b_kv_cache_per_token_is_about_one_megabyte():
    # Seed 001: "对于 llama-13b 模型而言，其推理时，每个 token 大约消耗 1MB 的显存" (fp16):
    # 2 x 40 layers x 5120 x 2 bytes = 819,200 bytes, 0.78 MiB: "about 1MB" rounds up by 28%.
    d = symbolic.derive("llama-13b", kv_dtype="fp16")
    assert d.value("kv_cache.bytes_per_token") == 819_200


def test_gpt2_parameter_counts_without_the_mask_buffers():
    # ../shared/ORACLE-NOTES.md: GPT-2's hub pages (137M, 1.61B) include causal-mask buffers; the
    # parameter counts are 124,439,808 and 1,557,611,200.
    assert symbolic.derive("gpt2").value("params.total") == 124_439_808
    assert symbolic.derive("gpt2-xl").value("params.total") == 1_557_611_200


def test_gpt2_block_has_twelve_h_squared_weights():
    # Kaplan et al. 2020, "Scaling Laws for Neural Language Models", Table 1: a layer holds
    # 2 d_model (2 d_attn + d_ff) = 12 d_model^2 weights when d_attn = d_model and d_ff = 4 d_model.
    block = symbolic.derive("gpt2")["params.per_layer.full_attention.total"].textbook
    assert sympy.Poly(block, H).coeff_monomial(H**2) == 12


def test_llama_3_1_8b_parameter_count():
    # Meta's model card: "Llama 3.1 8B"; the hub lists 8.03B parameters.
    total = symbolic.derive("llama-3.1-8b").value("params.total")
    assert round(int(total) / 10**9, 2) == 8.03
