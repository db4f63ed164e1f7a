"""Assertions that symbolic agrees with the real implementation (see oracle.py) on one config."""

from __future__ import annotations

import sympy

import symbolic
from symbolic import quantities
from symbolic.symbols import B, c

from . import oracle

WINDOW = 4  # sliding window of the scaled-down copies; prompts on either side of it are measured


def assert_parameters_agree(config: dict, *, meta: bool = True) -> None:
    """Total, embedding, position table, LM head, final norm and every layer, exactly."""
    derivation = symbolic.derive(config)
    real = oracle.parameter_counts(oracle.build(config, meta=meta))
    params = derivation.to_dict()["params"]
    assert params["total"] == real.total
    assert params["embedding"] == real.embedding
    assert params.get("position_embedding", 0) == real.position_embedding
    assert params["lm_head"] == real.lm_head
    assert params["final_norm"] == real.final_norm
    ours = sorted(layer["total"] for layer in params["per_layer"].values()
                  for _ in range(layer["count"]))
    assert ours == sorted(real.per_layer)


def _held_per_layer(model: symbolic.Model, tokens: int) -> list[int]:
    """KV elements each layer holds for one sequence once ``tokens`` tokens were processed."""
    held = []
    for section in model.layer_sections:
        per_layer = quantities.section_sum(section, "kv_held").xreplace({B: 1, c: tokens})
        held += [int(per_layer.xreplace(model.bindings()))] * section.group.count
    return sorted(held)


def assert_forward_agrees(config: dict, *, batch: int = 2) -> None:
    """KV cache and matmul FLOPs of a prefill and a decode step, on a scaled-down copy, for a prompt
    shorter than the window and one longer than it."""
    arch = symbolic.load_architecture(config)
    small = oracle.scaled_down(config, arch, window=WINDOW)
    model = symbolic.load(small, attention_count="full", lm_head_positions="last")
    for prompt in (WINDOW - 1, WINDOW + 2):
        real = oracle.measure_forward(small, batch=batch, prompt=prompt)
        dtype = {4: "fp32", 2: "bf16"}[real.kv_dtype_bytes]
        d = symbolic.derive(model, batch=batch, prompt=prompt, context=prompt, kv_dtype=dtype)
        for phase, step in (("prefill", real.prefill), ("decode_step", real.decode_step)):
            assert d.value(f"flops.{phase}.matmul") == step.matmul, phase
            assert d.value(f"flops.{phase}.attention") == step.attention, phase
        assert _held_per_layer(model, prompt) == sorted(real.prefill.kv_elements_per_layer)
        assert _held_per_layer(model, prompt + 1) == sorted(real.decode_step.kv_elements_per_layer)
        if prompt < WINDOW:
            measured_per_token = sympy.Rational(sum(real.prefill.kv_elements_per_layer), prompt)
            assert d.value("kv_cache.bytes_per_token") == measured_per_token * real.kv_dtype_bytes
