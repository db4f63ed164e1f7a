"""Weights in mixed precision by tensor class: ``--weight-dtype LAYERS+BASE`` keeps the embedding,
LM head, router and norms in BASE beside the layers' matrices in LAYERS (issue 15)."""

import json

import pytest

from .command import symbolic_cli


def _json(*args) -> dict:
    result = symbolic_cli("derive", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_one_precision_written_twice_is_that_precision():
    """The trivial case: bf16+bf16 changes no number."""
    one = _json("llama-3.1-8b", "--hardware", "h100-sxm", "--batch", "1,32")
    two = _json("llama-3.1-8b", "--hardware", "h100-sxm", "--batch", "1,32", "--weight-dtype", "bf16+bf16")
    for document in (one, two):
        for key in ("precision", "closed_forms", "textbook_forms", "display", "setting"):
            document.pop(key, None)
    assert one == two


def test_an_fp8_checkpoint_with_a_bf16_head_has_the_published_size():
    """'neuralmagic/Meta-Llama-3.1-70B-Instruct-FP8 (70B, 67.7 GiB, best quality)', a public GB10
    vLLM guide on GitHub (found by exact-string search of the GitHub index; its repository is not
    named there): FP8 layers, bf16 embedding and LM head (compressed-tensors keeps lm_head
    unquantized). Its per-channel scales (one fp32 per output row, 0.03% here) are left out."""
    weights = _json("llama-3.1-70b", "--weight-dtype", "fp8+bf16")["memory"]["weights_bytes"]
    assert round(weights / 2**30, 1) == 67.7
    all_fp8 = _json("llama-3.1-70b", "--weight-dtype", "fp8")["memory"]["weights_bytes"]
    assert round(all_fp8 / 2**30, 1) != 67.7


def test_the_layers_take_the_first_format_and_the_rest_the_second():
    mixed = _json("qwen3-30b-a3b", "--weight-dtype", "nvfp4+bf16")
    params = mixed["params"]
    outside = params["embedding"] + params["lm_head"] + params["final_norm"]
    weights = mixed["memory"]["weights_bytes"]
    layers = params["layers"]
    # layer matrices at 9/16 byte, the router and norms of the layers at 2, the rest at 2
    assert outside * 2 + layers * 9 / 16 < weights < outside * 2 + layers * 2
    assert mixed["precision"]["quantized"]["dtype"] == "nvfp4"


@pytest.mark.parametrize("dtype,message", [("fp8+", "LAYERS+BASE"), ("+bf16", "LAYERS+BASE"),
                                           ("fp8+bf16+fp4", "LAYERS+BASE"), ("fp9+bf16", "unknown dtype")])
def test_a_bad_mixed_format_is_refused_in_one_line(dtype, message):
    result = symbolic_cli("derive", "llama-3.1-8b", "--weight-dtype", dtype)
    assert result.returncode == 2 and message in result.stderr and result.stderr.count("\n") == 1
