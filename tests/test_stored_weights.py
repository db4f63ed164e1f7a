"""Weights as a checkpoint stores them (its quantization_config): which matrices are quantized and
how many bytes each element takes, against the parameters transformers builds and the formats'
specifications (OCP Microscaling Formats v1.0: MXFP4 is one E2M1 element of 4 bits per value and
one E8M0 scale of 8 bits per block of 32, 17/32 bytes per element)."""

import pytest
import sympy

import symbolic
from symbolic.architecture.dtypes import dtype
from symbolic.config.presets import get_preset
from symbolic.errors import SymbolicError

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


def _compressed(weights: dict, **extra) -> dict:
    return {**get_preset("llama-3.2-1b").config, "quantization_config": {
        "quant_method": "compressed-tensors",
        "config_groups": {"group_0": {"targets": ["Linear"], "weights": weights}}, **extra}}


@pytest.mark.parametrize(("config", "field"), [
    # a regex that backtracks without end is stopped by its time limit, not run for hours
    (_compressed({"num_bits": 8, "type": "float"}, ignore=["re:(?:.|.)*x"]), "ignore"),
    (_compressed({"num_bits": 8, "type": "float"}, ignore=["re:("]), "ignore"),
    (_compressed({"num_bits": 8, "type": "float"}, ignore="lm_head"), "ignore"),
    ({**_compressed({"num_bits": 4, "type": "int"}), "quantization_config": {
        "quant_method": "compressed-tensors",
        "config_groups": {"group_0": {"targets": [["Linear"]],
                                      "weights": {"num_bits": 4, "type": "int"}}}}},
     "targets"),
    (_compressed({"num_bits": 4, "type": "int", "strategy": "group", "group_size": 128,
                  "scale_dtype": "e9m9"}), "scale_dtype"),
    (_compressed({"num_bits": 3, "type": "int"}), "weights"),
    (_compressed({"num_bits": 4, "type": "float", "group_size": 8}), "group_size"),
])
def test_a_broken_compressed_tensors_config_is_refused_naming_the_field(config, field):
    with pytest.raises(SymbolicError, match=field):
        symbolic.derive(config)


def test_a_strategy_left_null_is_the_one_its_group_size_implies():
    # compressed-tensors' QuantizationArgs: group_size > 0 makes a null strategy "group"
    arch = symbolic.load(_compressed({"num_bits": 4, "type": "int", "strategy": None, "group_size": 128,
                                      "scale_dtype": "torch.float16"})).arch
    assert arch.stored_weights.dtype == "int4-g128-float16"


def test_ignore_entries_name_the_hybrid_layers_modules():
    """Qwen3-Next's DeltaNet projections (linear_attn.*) and Nemotron-H's Mamba and attention
    projections (mixer.*) kept by name, as a checkpoint's ignore list names them."""
    next_config = {**get_preset("qwen3-next-80b-a3b").config,
                   "quantization_config": {"quant_method": "fp8", "modules_to_not_convert": ["linear_attn"]}}
    kept = set(symbolic.load(next_config).arch.stored_weights.kept)
    assert {"in_proj_qkvz", "in_proj_ba", "out_proj"} <= kept
    nemotron = {**get_preset("nemotron-h-56b-base").config, "quantization_config": {
        "quant_method": "modelopt", "quant_algo": "FP8",
        "exclude_modules": ["*mixer.in_proj*", "*mixer.q_proj*"]}}
    arch = symbolic.load(nemotron).arch
    assert {"in_proj", "q_proj"} <= set(arch.stored_weights.kept)
    assert not any("of the" in note for note in arch.notes)    # every layer that has them is named
