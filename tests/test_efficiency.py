"""The kernel-level efficiency model (issue 15): launch latency, padding rows, attention-kernel and
link efficiency. Each parameter does what its name says, and no setting of them is faster than the
ideal roofline."""

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

import symbolic
from symbolic.architecture.workload import DECODE_STEP, PHASES
from symbolic.config.hardware import get_accelerator
from symbolic.config.presets import get_preset
from symbolic.ops.op import OpKind
from symbolic.performance.roofline import (
    ATTENTION_KINDS,
    Deployment,
    Performance,
    kernel_time,
    op_compute_time,
)
from symbolic.quantities import sums as q
from symbolic.strategies import Bounds, scenarios

from .command import symbolic_cli

MEDIUM = Bounds(max_kv_heads=8, max_group=4, max_head_dim=128, max_width_factor=32,
                max_intermediate=4096, max_layers=4, max_vocab=32000, max_window=2048)
FRACTIONS = st.fractions(min_value=sympy.Rational(1, 100), max_value=1).map(sympy.Rational)


def _perf(arch, workload, **deployment) -> Performance:
    d = symbolic.derive(arch, batch=workload.batch, prompt=workload.prompt, context=workload.context)
    return Performance(d, Deployment(get_accelerator("h100-sxm"), **deployment), 8)


@st.composite
def efficiency_parameters(draw) -> dict:
    """Any valid kernel-level parameters, with the step-level ones too."""
    return {"mfu": draw(FRACTIONS), "mbu": draw(FRACTIONS), "attention_efficiency": draw(FRACTIONS),
            "link_efficiency": draw(FRACTIONS),
            "kernel_latency_s": sympy.Rational(draw(st.integers(0, 50)), 10**6),
            "padding_rows": sympy.Integer(draw(st.integers(0, 256))),
            "overhead_s": sympy.Rational(draw(st.integers(0, 100)), 10**6)}


@settings(max_examples=25, deadline=None)
@given(scenario=scenarios(bounds=MEDIUM, max_batch=64, max_prompt=2048, max_context=4096),
       parameters=efficiency_parameters(), tp=st.sampled_from([1, 2]))
def test_no_efficiency_setting_is_faster_than_the_ideal_roofline(scenario, parameters, tp):
    arch, workload = scenario
    tp = tp if arch.num_heads % tp == 0 else 1
    ideal, real = _perf(arch, workload, tp=tp), _perf(arch, workload, tp=tp, **parameters)
    for phase in PHASES:
        for by_op in (True, False):
            assert real.evaluate(real.step_time(phase, by_op=by_op)) >= \
                ideal.evaluate(ideal.step_time(phase, by_op=by_op))


def _matmul_compute(perf: Performance, batch: int) -> sympy.Rational:
    expr = q.device_sum(perf.model, lambda op: op_compute_time(op) if op.kind is OpKind.MATMUL else 0,
                        DECODE_STEP)
    return perf.evaluate(expr, batch=batch)


@settings(max_examples=25, deadline=None)
@given(scenario=scenarios(bounds=MEDIUM, max_batch=64), rows=st.integers(1, 256))
def test_padding_rows_cost_what_as_many_more_sequences_cost_a_dense_decode(scenario, rows):
    """A decode step's matmuls multiply B rows; m_pad rows of padding cost exactly what B + m_pad
    sequences would, for every weight matrix the step reads (a dense model: no expert is skipped)."""
    arch, workload = scenario
    if arch.has_moe:
        return
    padded = _perf(arch, workload, padding_rows=sympy.Integer(rows))
    plain = _perf(arch, workload)
    batch = workload.batch
    assert _matmul_compute(padded, batch) == _matmul_compute(plain, batch + rows)


@pytest.mark.parametrize("preset", ["llama-3.1-8b", "deepseek-v2-lite", "qwen3-next-80b-a3b"])
def test_attention_efficiency_slows_only_the_attention_kernels(preset):
    """At eta_a = 1/2 a decode step takes exactly the attention and cache kernels' ideal time more."""
    d = symbolic.derive(preset, batch=16, context=4096)
    h100 = get_accelerator("h100-sxm")
    half = Performance(d, Deployment(h100, attention_efficiency=sympy.Rational(1, 2)), 8)
    ideal = Performance(d, Deployment(h100), 8)

    def attention_time(kernel):
        return kernel_time(kernel) if any(op.kind in ATTENTION_KINDS for op in kernel.ops) else 0

    attention = q.device_sum(d.model, None, DECODE_STEP, by_kernel=attention_time)
    step = ideal.evaluate(ideal.step_time(DECODE_STEP))
    assert ideal.evaluate(attention) > 0
    assert half.evaluate(half.step_time(DECODE_STEP)) == step + ideal.evaluate(attention)


def test_kernel_latency_is_paid_per_layer_and_shown():
    """t_kern adds a cost per layer, not per step: doubling the layers doubles the launches in the
    layers, and the document shows the launch term with the symbol."""
    config = get_preset("llama-3.1-8b").config
    deeper = {**config, "num_hidden_layers": 2 * config["num_hidden_layers"]}
    latency = sympy.Rational(5, 10**6)

    def added(arch):
        d = symbolic.derive(arch, batch=1)
        with_launches = Performance(d, Deployment(get_accelerator("h100-sxm"), kernel_latency_s=latency), 8)
        without = Performance(d, Deployment(get_accelerator("h100-sxm")), 8)
        return (with_launches.evaluate(with_launches.step_time(DECODE_STEP))
                - without.evaluate(without.step_time(DECODE_STEP)))

    once, twice = added(config), added(deeper)
    layers = config["num_hidden_layers"]
    per_layer = (twice - once) / latency / layers
    # a Llama layer launches two norms, four projections (q, k, v, o), attention, three MLP
    # matmuls and its activation: at least 9 kernels, and the prefix and head a few more
    assert per_layer.is_integer and 9 <= per_layer <= 20
    assert 0 < once / latency - per_layer * layers <= 6
    text = symbolic_cli("derive", "llama-3.1-8b", "--hardware", "h100-sxm", "--kernel-latency", "5e-6",
                        "--format", "md").stdout
    assert r"t_{\mathrm{launch}}" in text and "t_{kern}" in text


@pytest.mark.parametrize("flag,value", [("--kernel-latency", "-1"), ("--padding-rows", "x"),
                                        ("--attention-efficiency", "0"), ("--link-efficiency", "1.5")])
def test_bad_efficiency_parameters_are_refused_in_one_line(flag, value):
    result = symbolic_cli("derive", "llama-3.1-8b", "--hardware", "h100-sxm", f"{flag}={value}")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and flag in result.stderr


def test_efficiency_parameters_need_a_deployment():
    result = symbolic_cli("derive", "llama-3.1-8b", "--kernel-latency", "5e-6")
    assert result.returncode == 2 and "--hardware" in result.stderr


def test_json_names_every_efficiency_parameter_with_its_meaning():
    import json

    out = symbolic_cli("derive", "llama-3.1-8b", "--hardware", "h100-sxm", "--padding-rows", "64").stdout
    symbols = json.loads(out)["performance"]["efficiency"]["symbols"]
    assert set(symbols) == {"eta_f", "eta_m", "eta_a", "m_pad", "t_kern", "t_o", "t_link", "eta_l", "c_dq"}
    assert symbols["m_pad"]["value"] == 64 and "padding" in symbols["m_pad"]["meaning"]
