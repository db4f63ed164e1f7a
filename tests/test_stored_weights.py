"""Weights as a checkpoint stores them (its quantization_config): which matrices are quantized and
how many bytes each element takes, against the parameters transformers builds and the formats'
specifications (OCP Microscaling Formats v1.0: MXFP4 is one E2M1 element of 4 bits per value and
one E8M0 scale of 8 bits per block of 32, 17/32 bytes per element)."""

import pytest
import sympy

import symbolic
from symbolic.dtypes import dtype
from symbolic.errors import SymbolicError
from symbolic.presets import get_preset

from . import oracle

MXFP4_BYTES = sympy.Rational(4, 8) + sympy.Rational(8, 8 * 32)


@pytest.mark.oracle
@pytest.mark.parametrize("name", ["gpt-oss-20b", "gpt-oss-120b"])
def test_gpt_oss_experts_in_mxfp4_and_the_rest_in_bf16(name):
    # modules_to_not_convert keeps self_attn, the router, embed_tokens and lm_head in bf16: the
    # expert matrices (not their biases) are what MXFP4 stores
    model = oracle.build(get_preset(name).config, meta=True)
    quantized = sum(p.numel() for n, p in model.named_parameters()
                    if ".experts." in n and n.endswith(("gate_up_proj", "down_proj")))
    total = sum(p.numel() for p in model.parameters())
    expected = quantized * MXFP4_BYTES + (total - quantized) * 2
    assert symbolic.derive(name).value("memory.weights_bytes") == expected


def test_a_given_weight_dtype_overrides_the_stored_formats():
    stored = symbolic.derive("gpt-oss-20b")
    given = symbolic.derive("gpt-oss-20b", weight_dtype="bf16")
    assert given.value("memory.weights_bytes") == 2 * given.value("params.total")
    assert stored.value("memory.weights_bytes") < given.value("memory.weights_bytes")
    assert stored.precision.quantized.name == "mxfp4" and given.precision.quantized is None


def test_block_wise_fp8_adds_one_scale_per_block():
    # DeepSeek-V3's quantization_config: fp8 (e4m3) with weight_block_size [128, 128] and a float32
    # scale (weight_scale_inv) per block; DeepSeek-V3.2 writes its scales as ue8m0 (one byte)
    assert symbolic.derive("deepseek-v3").precision.quantized.bytes == 1 + sympy.Rational(4, 128 * 128)
    assert symbolic.derive("deepseek-v3.2").precision.quantized.bytes == 1 + sympy.Rational(1, 128 * 128)


def test_a_model_stored_unquantized_has_no_quantized_format():
    d = symbolic.derive("llama-3.1-8b")
    assert d.precision.quantized is None
    assert d.value("memory.weights_bytes") == 2 * d.value("params.total")


def test_quantization_methods_not_read_are_said():
    config = {**get_preset("qwen3-8b").config, "quantization_config": {"quant_method": "awq", "bits": 4}}
    d = symbolic.derive(config)
    assert d.precision.quantized is None
    assert any("'awq' is not read" in w for w in d.warnings)


@pytest.mark.parametrize(("block", "field"), [([128], "weight_block_size"), ("128x128", "weight_block_size")])
def test_a_malformed_block_size_is_refused(block, field):
    config = {**get_preset("deepseek-v3").config}
    config["quantization_config"] = {**config["quantization_config"], "weight_block_size": block}
    with pytest.raises(SymbolicError, match=field):
        symbolic.derive(config)


def test_microscaling_formats():
    assert dtype("mxfp4").bytes == MXFP4_BYTES
    # NVFP4: E2M1 values with an E4M3 scale per 16 (NVIDIA Blackwell), 9/16 bytes per element
    assert dtype("nvfp4").bytes == sympy.Rational(1, 2) + sympy.Rational(1, 16)


@pytest.mark.parametrize(("name", "total_size"), [
    # model.safetensors.index.json, "metadata": {"total_size": ...}: gpt-oss-20b as quoted whole in a
    # public copy of the hub files (find_string id 31112482743); gpt-oss-120b as asserted by two
    # public checkpoint readers (ids 59724567210, 57403603525), and equal to the hub's own count of
    # U8 block bytes plus 2 bytes per BF16 parameter (60,914,073,600 + 2 x 2,167,371,072)
    ("gpt-oss-20b", 13_761_264_768),
    ("gpt-oss-120b", 65_248_815_744),
])
def test_gpt_oss_weights_equal_the_checkpoints_tensor_bytes(name, total_size):
    assert symbolic.derive(name).value("memory.weights_bytes") == total_size
