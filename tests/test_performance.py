"""The performance model: roofline, latency sums, throughput, capacity, parallelism, bad input."""

import json
import math

import pytest
import sympy
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import symbolic
from symbolic.architecture.workload import DECODE_STEP, PHASES, PREFILL
from symbolic.config.hardware import accelerators, get_accelerator
from symbolic.ops.op import OpKind
from symbolic.ops.sharding import shard
from symbolic.performance.roofline import Deployment, Performance, performance_dict, sum_linear_pieces
from symbolic.quantities import sums as q
from symbolic.strategies import Bounds, scenarios
from symbolic.symbols import N_ep, N_tp, c

from .command import symbolic_cli

MEDIUM = Bounds(max_kv_heads=8, max_group=4, max_head_dim=128, max_width_factor=64,
                max_intermediate=8192, max_layers=8, max_vocab=32000, max_window=4096)
GPUS = sorted(name for name, a in accelerators().items() if "bf16" in a.peak_flops and a.link_bandwidth)


@st.composite
def setups(draw, max_generated=40):
    arch, workload = draw(scenarios(bounds=MEDIUM, max_batch=16, max_prompt=4096, max_context=4096))
    heads = arch.num_heads
    tp = draw(st.sampled_from([t for t in (1, 2, 4, 8) if heads % t == 0]))
    pp = draw(st.integers(1, min(4, arch.num_layers)))
    ep = draw(st.sampled_from([e for e in (1, 2, 4, 8) if arch.has_moe and arch.num_experts % e == 0] or [1]))
    deployment = Deployment(get_accelerator(draw(st.sampled_from(GPUS))), tp=tp, pp=pp, ep=ep,
                            mfu=draw(st.sampled_from([sympy.Rational(1, 2), 1])),
                            mbu=draw(st.sampled_from([sympy.Rational(4, 5), 1])),
                            price_per_hour=sympy.Rational(5, 2))
    d = symbolic.derive(arch, batch=workload.batch, prompt=workload.prompt, context=workload.context)
    return Performance(d, deployment, draw(st.integers(1, max_generated)))


@settings(max_examples=30, deadline=None)
@given(perf=setups())
def test_roofline_time_is_at_least_compute_only_and_memory_only(perf):
    for phase in PHASES:
        by_op = perf.evaluate(perf.step_time(phase))
        whole = perf.evaluate(perf.step_time(phase, by_op=False))
        compute = perf.evaluate(perf.compute_time(phase))
        memory = perf.evaluate(perf.memory_time(phase))
        assert by_op >= whole >= max(compute, memory)


@settings(max_examples=20, deadline=None)
@given(perf=setups(max_generated=12))
def test_closed_form_decode_sum_equals_the_loop(perf):
    batch = perf.derivation.workload.batch
    assert perf.decode_total(batch) == perf.decode_loop(batch)


def test_decode_sum_finds_kinks_inside_the_range():
    f = sympy.Max(3 * c, 100 - c) + sympy.Min(c, 7)
    assert sum_linear_pieces(f, c, 0, 60) == sum(f.xreplace({c: i}) for i in range(60))


@settings(max_examples=20, deadline=None)
@given(perf=setups(max_generated=8))
def test_throughput_does_not_fall_as_batch_grows_until_memory_runs_out(perf):
    free = perf.free_bytes_per_device
    assume(free > 0)
    limit = min(perf.max_batch(), 64)
    assume(limit >= 2)
    batches = sorted({1, 2, limit // 2 or 1, limit})
    rates = [perf.at_batch(b).decode_tokens_per_s for b in batches]
    assert rates == sorted(rates)


@settings(max_examples=30, deadline=None)
@given(perf=setups())
def test_per_device_shares_add_up_to_the_totals(perf):
    devices = perf.deployment.tp * perf.deployment.ep
    for phase in PHASES:
        per_device = perf.evaluate(perf.flops(phase))
        total = perf.derivation.value(f"flops.{phase.name}.total")
        assert per_device * devices >= total      # replicated norms and adds run on every rank
        assert per_device <= total
    weights_total = perf.derivation.value("memory.weights_bytes")
    assert perf.evaluate(perf.weight_bytes_per_device) * perf.deployment.devices >= weights_total


def test_tensor_parallel_splits_weights_and_replicates_kv_heads_beyond_n_kv():
    d = symbolic.derive("llama-3.1-70b")                     # 8 KV heads
    h100 = get_accelerator("h100-sxm")
    kv = {tp: Performance(d, Deployment(h100, tp=tp), 16).evaluate(
        Performance(d, Deployment(h100, tp=tp), 16).kv_bytes_per_sequence(2048)) for tp in (1, 8, 16)}
    assert kv[8] * 8 == kv[1]
    assert kv[16] == kv[8]                                    # 16 ranks, 8 heads: each head on two
    w1 = Performance(d, Deployment(h100, tp=1), 16)
    w8 = Performance(d, Deployment(h100, tp=8), 16)
    assert w8.evaluate(w8.weight_bytes_per_device) < w1.evaluate(w1.weight_bytes_per_device) / 7


@pytest.mark.parametrize("name", ["llama-3.1-8b", "gpt2", "qwen3-30b-a3b", "deepseek-v2-lite"])
def test_pointwise_ops_on_split_tensors_move_only_their_share(name):
    """Megatron-LM: after a column-split matmul each rank holds d_out / N_tp of the features, so a
    pointwise op on them (activation, gate product) reads and writes only that share."""
    model = symbolic.derive(name).model
    for section in model.sections:
        for op in section.ops:
            if op.kind is not OpKind.ELEMENTWISE or op.flops == 0:
                continue
            def share(field, op=op):
                return sympy.simplify(getattr(shard(op), field).subs(N_ep, 1) / getattr(op, field))

            if share("flops") == 1 / N_tp:
                for field in ("activations_read", "activations_written"):
                    if getattr(op, field) != 0:
                        assert share(field) == 1 / N_tp, (op.name, field)


def test_pipeline_stages_hold_their_share_of_the_layers():
    d = symbolic.derive("llama-3.1-405b")
    h100 = get_accelerator("h100-sxm")
    one = Performance(d, Deployment(h100, tp=8, pp=1), 16)
    two = Performance(d, Deployment(h100, tp=8, pp=2), 16)
    with pytest.raises(symbolic.WorkloadError, match=r"shard them over at least 10 devices \(--tp, --pp\)"):
        one.max_batch()
    assert two.max_batch() > 0
    assert two.evaluate(two.weight_bytes_per_device) < one.evaluate(one.weight_bytes_per_device) * 0.51


def _all_reduce_elements(perf: Performance) -> sympy.Expr:
    """Elements one device sends in all the all-reduces of a prefill."""
    total = sum((s.repeats * op.link_elements for s in perf.model.device_sections for op in s.ops
                 if op.name.endswith(".all_reduce")), sympy.Integer(0))
    return perf.evaluate(q.at(total, PREFILL))


@pytest.mark.parametrize("name", ["mixtral-8x7b", "qwen3-30b-a3b", "deepseek-v2-lite"])
def test_routed_experts_are_all_reduced_once_per_token_after_the_combine(name):
    """vLLM's FusedMoE sums each token's k expert outputs on the rank and all-reduces the
    combined hidden state once (``tensor_model_parallel_all_reduce(final_hidden_states)``), as a
    dense MLP does its down projection's output: B n H elements over the ring, not k of them."""
    d = symbolic.derive(name, batch=8, prompt=256)
    h100 = get_accelerator("h100-sxm")
    perf = Performance(d, Deployment(h100, tp=2), 4)
    routed = [op for s in perf.model.device_sections for op in s.ops
              if op.name.endswith(".all_reduce") and op.name.startswith("expert_")]
    assert routed
    per_layer = {perf.evaluate(q.at(op.link_elements, PREFILL)) for op in routed}
    hidden = d.model.arch.hidden_size
    assert per_layer == {sympy.Rational(2 * (2 - 1), 2) * 8 * 256 * hidden}


@pytest.mark.parametrize("name", ["mixtral-8x7b", "qwen3-30b-a3b"])
def test_beside_expert_parallelism_each_tensor_parallel_group_all_reduces_its_own_sequences(name):
    """With EP, each TP group runs B / N_ep of the sequences, so its all-reduces carry 1 / N_ep of
    the output that one TP group running them all would."""
    d = symbolic.derive(name, batch=16, prompt=128)
    h100 = get_accelerator("h100-sxm")
    alone = Performance(d, Deployment(h100, tp=2), 4)
    beside = Performance(d, Deployment(h100, tp=2, ep=4), 4)
    assert _all_reduce_elements(beside) * 4 == _all_reduce_elements(alone) > 0


@pytest.mark.parametrize("name", ["gemma-3-4b", "qwen2.5-0.5b", "llama-3.2-1b"])
def test_a_last_stage_holds_a_copy_of_the_embedding_its_head_is_tied_to(name):
    """Megatron-LM keeps tied word embeddings on the first and the last pipeline stage: beside
    pipeline parallelism a tied head holds as many bytes as an untied head would, and on one stage
    the table is held once."""
    from symbolic.config.presets import get_preset

    config = get_preset(name).config
    assert config.get("tie_word_embeddings", True)
    tied = symbolic.derive(config)
    untied = symbolic.derive({**config, "tie_word_embeddings": False})
    h100 = get_accelerator("h100-sxm")
    for pp in (2, 4):
        bytes_of = [Performance(d, Deployment(h100, pp=pp), 4) for d in (tied, untied)]
        held = [p.evaluate(p.weight_bytes_per_device) for p in bytes_of]
        assert held[0] == held[1], pp
    one = [Performance(d, Deployment(h100), 4) for d in (tied, untied)]
    table = tied.value("params.embedding") * 2
    held = [p.evaluate(p.weight_bytes_per_device) for p in one]
    assert held[1] - held[0] == table


def test_output_tokens_are_priced_at_the_decode_rate_the_json_reports():
    """Seed note 004: "每小时生成的 token 数除以每小时硬件成本，就能得出单个 token 的单位生成成本"
    (tokens made per hour over the hardware's cost per hour is the cost of a token; this is how
    providers price their APIs). The JSON's two columns, computed apart, must meet that
    definition at the rate it reports for decoding (not the request rate, which counts the
    prefill's time too), and input tokens at the prefill's."""
    result = symbolic_cli("derive", "llama-3.1-8b", "--hardware", "h100-sxm", "--tp", 2, "--batch", "1,64",
                          "--prompt", 1024, "--output", 128, "--price", 3)
    assert result.returncode == 0, result.stderr
    perf = json.loads(result.stdout)["performance"]
    device_hour = 3 * perf["parallel"]["devices"]
    for i, batch in enumerate(perf["batch"]):
        tokens_per_hour = perf["decode_tokens_per_s"][i] * 3600
        assert perf["cost_per_million_output_tokens"][i] == pytest.approx(device_hour / tokens_per_hour * 1e6)
        prompts_per_hour = batch * 1024 / perf["ttft_s"][i] * 3600
        assert perf["cost_per_million_input_tokens"][i] == pytest.approx(device_hour / prompts_per_hour * 1e6)


def test_cli_performance_json_has_the_issue_keys():
    result = symbolic_cli("derive", "llama-3.1-70b", "--hardware", "h100-sxm", "--tp", 4, "--batch",
                          "1,8,64", "--prompt", 2048, "--output", 256, "--price", 2.5, "--users", 1000)
    assert result.returncode == 0, result.stderr
    perf = json.loads(result.stdout)["performance"]
    for key in ("ttft_s", "tpot_at_context_s", "tpot_mean_s", "decode_tokens_per_s", "request_tokens_per_s",
                "cost_per_million_output_tokens"):
        assert len(perf[key]) == 3 and all(v > 0 for v in perf[key]), key
    assert perf["max_batch"] >= 64
    assert perf["critical_batch_without_kv"] > 0
    assert perf["users"]["devices"] == 4 * perf["users"]["replicas"]
    assert perf["decode_tokens_per_s"] == sorted(perf["decode_tokens_per_s"])
    assert perf["fits"] == [True, True, True] and perf["does_not_fit"] == {}


@pytest.mark.parametrize("args, expected", [
    (["--hardware", "h1OO"], "unknown accelerator 'h1OO'"),
    (["--hardware", "h100-sxm", "--tp", 3], "--tp 3 must divide num_attention_heads (64)"),
    (["--hardware", "rtx-4090"], "shard them over at least 6 devices (--tp, --pp)"),
    (["--tp", 4], "--tp needs --hardware"),
    (["--hardware", "h100-sxm", "--tp", 4, "--users", 10**6, "--prompt", 10**7], "at least one sequence"),
    (["--hardware", "m3-ultra"], "m3-ultra lists no bf16 peak FLOP/s"),
    (["--hardware", "h100-sxm", "--mfu", 2], "--mfu must be in (0, 1]"),
])
def test_bad_performance_input_gets_one_line(args, expected):
    result = symbolic_cli("derive", "llama-3.1-70b", *args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and expected in result.stderr, result.stderr


def test_hardware_lists_the_accelerators():
    result = symbolic_cli("hardware")
    assert result.returncode == 0
    names = {line.split()[0] for line in result.stdout.splitlines()[1:]}
    for name in ("v100-sxm2-32gb", "a100-sxm-40gb", "a100-sxm-80gb", "h100-sxm", "h100-pcie", "h200",
                 "b200", "l40s", "rtx-4090", "mi300x", "tpu-v5e", "m3-ultra"):
        assert name in names


def test_users_can_add_accelerators(tmp_path):
    mine = tmp_path / "mine.json"
    mine.write_text(json.dumps({"accelerators": [{
        "name": "my-npu", "peak_flops": {"bf16": "400e12"}, "memory": {"value": "64", "unit": "GiB"},
        "memory_bandwidth": "2e12"}]}))
    result = symbolic_cli("derive", "llama-3.1-8b", "--hardware", "my-npu", "--hardware-file", mine)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["performance"]["accelerator"]["name"] == "my-npu"


def test_expert_parallelism_spreads_the_experts_and_pays_all_to_alls():
    from symbolic.architecture.workload import DECODE_STEP

    d = symbolic.derive("mixtral-8x7b", prompt=1024)
    h100 = get_accelerator("h100-sxm")
    one = Performance(d, Deployment(h100, ep=1, tp=2), 64)
    eight = Performance(d, Deployment(h100, ep=8, tp=1), 64)
    assert eight.evaluate(eight.weight_bytes_per_device) < one.evaluate(one.weight_bytes_per_device)
    # 8 devices, 32 tokens each, 2 experts per token, 7/8 of them elsewhere, 4096 x 2 bytes each
    assert eight.evaluate(eight.all_to_all_bytes(DECODE_STEP), batch=256) == 32 * 2 * 4096 * 2 * 7 // 8
    with pytest.raises(symbolic.SymbolicError, match="--ep needs a mixture-of-experts model"):
        Performance(symbolic.derive("llama-3.1-8b"), Deployment(h100, ep=2), 16)


@pytest.mark.parametrize("name, accelerator, tp, context", [
    ("mixtral-8x7b", "h200", 2, 0), ("qwen3-30b-a3b", "h200", 1, 0), ("deepseek-v2-lite", "h100-sxm", 1, 0),
    ("qwen1.5-moe-a2.7b", "a100-sxm-80gb", 1, 0), ("llama-3.1-8b", "h100-sxm", 1, 0),
])
def test_the_critical_batch_is_where_exact_step_times_turn_compute_bound(name, accelerator, tp, context):
    """MoE's expected experts, E (1 - (1 - k/E)^B), make the crossing transcendental: the numeric
    root must sit where exact step times at integer batches cross: memory-bound at the integer
    below it and at every power of two below that, compute-bound at the integer above it."""
    from symbolic.exact import substitute
    from symbolic.symbols import B

    deployment = Deployment(get_accelerator(accelerator), tp=tp)
    perf = Performance(symbolic.derive(name, context=context), deployment, 16)
    root = perf.critical_batch()
    assert root is not None and root.exact == (name == "llama-3.1-8b")
    fixed = {k: v for k, v in perf.bindings.items() if k is not B}
    compute = substitute(perf.compute_time(DECODE_STEP), fixed, fast_extrema=True)
    memory = substitute(perf.memory_time(DECODE_STEP), fixed, fast_extrema=True)

    def compute_bound(batch):
        point = {B: sympy.Integer(batch)}
        return substitute(compute, point) >= substitute(memory, point)

    first = math.ceil(root.value)
    assert compute_bound(first)
    below = [first - 1, *(2**i for i in range(20) if 2**i < first - 1)]
    assert not any(compute_bound(b) for b in below if b >= 1)


def test_a_moe_step_that_never_turns_compute_bound_says_so():
    deployment = Deployment(get_accelerator("h200"), tp=8)
    perf = Performance(symbolic.derive("qwen3-30b-a3b", context=0), deployment, 16)
    assert perf.critical_batch() is None      # 8 ranks share 4 KV heads: activations outweigh the FLOPs


@settings(max_examples=25, deadline=None)
@given(perf=setups(max_generated=24), extra=st.integers(1, 1 << 20))
def test_request_figures_bound_the_step_figures_and_fitting_does_not_depend_on_the_list(perf, extra):
    batch = perf.derivation.workload.batch
    point = perf.at_batch(batch)
    first_step = perf.evaluate(perf.step_time(DECODE_STEP), batch=batch,
                            context=perf.derivation.workload.prompt)
    assert point.tpot_mean_s >= first_step                 # the context only grows over a request
    assert point.request_tokens_per_s < point.decode_tokens_per_s     # the prefill takes time
    assert point.request_s == point.ttft_s + perf.generated * point.tpot_mean_s
    assume(perf.free_bytes_per_device > 0)
    alone = performance_dict(perf, [batch])
    listed = performance_dict(perf, [1, batch, batch + extra])
    assert alone["fits"][0] == listed["fits"][1]
    assert alone["tpot_mean_s"][0] == listed["tpot_mean_s"][1]
    assert listed["fits"][2] == (batch + extra <= listed["max_batch"])
    assert set(listed["does_not_fit"]) == {str(b) for b, f in zip(listed["batch"], listed["fits"],
                                                                  strict=True) if not f}
