"""Weights as a compressed-tensors checkpoint stores them, against the library that writes them.

compressed-tensors (github.com/vllm-project/compressed-tensors, the format of llm-compressor and
vLLM) is applied to a small transformers model with the config's own quantization_config: the
library picks the modules (targets, ignore) and compresses each one (``compress_module``), and the
bytes of every tensor the model then holds are what a checkpoint would store. symbolic's
``memory.weights_bytes`` must equal them, less exactly the tensors its notes say it leaves out:
``weight_shape`` (two int64 per packed matrix), a per-channel scale (one per output row), nvfp4's
global scale (one fp32 per matrix).
"""

import pytest

NOT_INSTALLED = "the oracle extra is not installed (pip install '.[oracle]')"
torch = pytest.importorskip("torch", reason=NOT_INSTALLED)
pytest.importorskip("compressed_tensors", reason=NOT_INSTALLED)

from compressed_tensors.compressors import compress_module  # noqa: E402
from compressed_tensors.quantization import QuantizationConfig, apply_quantization_config  # noqa: E402

import symbolic  # noqa: E402

from .oracle import build  # noqa: E402

pytestmark = pytest.mark.oracle

# compressed-tensors 0.20.0, transformers 5.24
LLAMA = {"model_type": "llama", "vocab_size": 128, "hidden_size": 256, "intermediate_size": 512,
         "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 128,
         "tie_word_embeddings": False, "torch_dtype": "bfloat16"}


def _scheme(weights: dict, fmt: str, ignore: list[str], activations: dict | None = None) -> dict:
    return {"quant_method": "compressed-tensors", "format": fmt, "ignore": ignore,
            "config_groups": {"group_0": {"targets": ["Linear"], "weights": weights,
                                          "input_activations": activations}}}


SCHEMES = {  # name -> (quantization_config, tensors symbolic leaves out, by name)
    "w4a16-g128": (_scheme({"num_bits": 4, "type": "int", "strategy": "group", "group_size": 128,
                            "symmetric": True}, "pack-quantized", ["lm_head"]), ("weight_shape",)),
    "fp8-block": (_scheme({"num_bits": 8, "type": "float", "strategy": "block", "block_structure": [128, 128],
                           "symmetric": True}, "float-quantized", ["lm_head", "re:.*self_attn.*"]), ()),
    "fp8-channel": (_scheme({"num_bits": 8, "type": "float", "strategy": "channel", "symmetric": True},
                            "float-quantized", ["lm_head"]), ("weight_scale",)),
    "w8a8-int8-tensor": (_scheme({"num_bits": 8, "type": "int", "strategy": "tensor", "symmetric": True},
                                 "int-quantized", ["lm_head", "re:.*mlp.down_proj$"],
                                 {"num_bits": 8, "type": "int", "strategy": "token", "dynamic": True,
                                  "symmetric": True}), ("weight_scale",)),
    "nvfp4": (_scheme({"num_bits": 4, "type": "float", "strategy": "tensor_group", "group_size": 16,
                       "symmetric": True}, "nvfp4-pack-quantized", ["lm_head"]), ("weight_global_scale",)),
}


def _stored(config: dict, quantization_config: dict) -> dict[str, int]:
    """Bytes of each tensor of the model compressed as the quantization_config says."""
    model = build(config, meta=False).to(torch.bfloat16)
    apply_quantization_config(model, QuantizationConfig.model_validate(quantization_config))
    for module in model.modules():
        if getattr(module, "quantization_scheme", None) is not None:
            compress_module(module)
    return {name: t.numel() * t.element_size() for name, t in model.state_dict().items()}


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_stored_bytes_equal_what_compressed_tensors_writes(scheme):
    quantization_config, left_out = SCHEMES[scheme]
    config = {**LLAMA, "quantization_config": quantization_config}
    tensors = _stored(config, quantization_config)
    derivation = symbolic.derive(config)
    ours = derivation.value("memory.weights_bytes")
    omitted = sum(size for name, size in tensors.items()
                  if name.rsplit(".", 1)[-1] in left_out and not name.endswith("input_global_scale"))
    assert ours == sum(tensors.values()) - omitted
    assert any("left out" in note for note in derivation.model.arch.notes) == bool(left_out)


def test_the_ignore_list_keeps_what_the_library_keeps():
    """Attention kept by a regex, the first layer's MLP by name: the library leaves exactly those
    modules unquantized, and symbolic keeps the same ops in the base dtype."""
    quantization_config = _scheme({"num_bits": 8, "type": "float", "strategy": "block",
                                   "block_structure": [128, 128], "symmetric": True}, "float-quantized",
                                  ["lm_head", "re:.*self_attn\\.(q|k|v|o)_proj$", "model.layers.0.mlp"])
    config = {**LLAMA, "quantization_config": quantization_config}
    model = build(config, meta=False)
    apply_quantization_config(model, QuantizationConfig.model_validate(quantization_config))
    quantized = {name.split(".")[-1] for name, m in model.named_modules()
                 if getattr(m, "quantization_scheme", None) is not None}
    assert quantized == {"gate_proj", "up_proj", "down_proj"}
    arch = symbolic.load(config).arch
    assert {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj"} <= set(arch.stored_weights.kept)
    assert any("1 of the 2 layers" in note for note in arch.notes)
