"""Serving at a concurrency in a closed loop with continuous batching (issue 15)."""

import json

import pytest

from symbolic.measurements.mapping import predict
from symbolic.measurements.points import Measurement

from .command import symbolic_cli

BASE = ["llama-3.1-8b", "--hardware", "h100-sxm", "--prompt", "1000", "--output", "200"]


def _perf(*args) -> dict:
    result = symbolic_cli("derive", *BASE, *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["performance"]


def test_one_user_is_the_static_batch_of_one():
    perf = _perf("--concurrency", "1")
    assert perf["serving"]["tpot_s"] == perf["tpot_mean_s"][0]
    assert perf["serving"]["request_s"] == pytest.approx(perf["request_s"][0], rel=1e-12)


def test_each_request_waits_for_the_prefills_of_the_others():
    perf = _perf("--concurrency", "8", "--batch", "1,8")
    serving = perf["serving"]
    assert serving["tpot_s"] == pytest.approx(perf["tpot_mean_s"][1] + 7 * perf["ttft_s"][0] / 200, rel=1e-12)
    assert serving["output_tokens_per_s"] == pytest.approx(8 * 200 / serving["request_s"])


def test_validate_predicts_a_serving_benchmark_as_derive_serves_it():
    """A tpot_concurrency measurement is predicted from the same expression derive reports."""
    point = Measurement(id="c8", preset="llama-3.1-8b", hardware="h100-sxm", value=1, unit="s",
                        mapping="tpot_concurrency", isl=1000, osl=200, concurrency=8, batch=8)
    assert float(predict(point).value) == pytest.approx(_perf("--concurrency", "8")["serving"]["tpot_s"],
                                                        rel=1e-12)


def test_concurrency_needs_a_deployment():
    result = symbolic_cli("derive", "llama-3.1-8b", "--concurrency", "4")
    assert result.returncode == 2 and "--hardware" in result.stderr


def test_deepseek_v3_on_eight_gpus_attention_data_parallel_or_tensor_parallel():
    """Both of DeepSeek-V3's serving layouts on one 8-GPU node, eight devices each: attention
    data-parallel beside expert-parallel MoE (``--ep 8``: SGLang's --enable-dp-attention with EP),
    and attention tensor-parallel (``--tp 8``). MLA caches one latent per token, which tensor
    parallelism cannot split (its single KV head is replicated on every rank), so under TP every
    device holds every sequence's cache, and data-parallel attention serves about N times the
    sequences (the reason SGLang's v0.4 release gives for DP attention)."""
    options = ["deepseek-v3", "--hardware", "h200", "--batch", "64", "--prompt", "2048", "--output", "256"]
    dp = json.loads(symbolic_cli("derive", *options, "--ep", "8").stdout)["performance"]
    tp = json.loads(symbolic_cli("derive", *options, "--tp", "8").stdout)["performance"]
    assert dp["parallel"]["devices"] == tp["parallel"]["devices"] == 8
    assert dp["kv_bytes_per_sequence_per_device"] == tp["kv_bytes_per_sequence_per_device"]
    free = [p["usable_bytes_per_device"] - p["weights_bytes_per_device"] for p in (dp, tp)]
    assert dp["max_batch"] == 8 * (free[0] // dp["kv_bytes_per_sequence_per_device"])
    assert tp["max_batch"] == free[1] // tp["kv_bytes_per_sequence_per_device"]
    assert dp["max_batch"] > 5 * tp["max_batch"]


@pytest.mark.parametrize("tp", ["1", "2"])
def test_chunked_prefill_for_one_user_is_the_static_batch_of_one(tp):
    plain = _perf("--concurrency", "1", "--tp", tp)["serving"]
    chunked = _perf("--concurrency", "1", "--chunk-tokens", "4096", "--tp", tp)["serving"]
    assert (chunked["ttft_s"], chunked["tpot_s"]) == (plain["ttft_s"], plain["tpot_s"])


@pytest.mark.parametrize("preset", ["llama-3.1-8b", "qwen3-30b-a3b", "gemma-3-4b"])
def test_a_mixed_step_costs_between_its_longer_part_and_both_parts_apart(preset):
    """Running a prompt chunk beside decoding sequences reads the weights once: the step takes no
    longer than the two run one after the other, and no less than the longer of them."""
    from symbolic.architecture.workload import DECODE_STEP, PREFILL
    from symbolic.performance.serving import mixed_step
    from symbolic.setting import Setting
    from symbolic.symbols import B, S

    perf = Setting.from_mapping(preset, {"hardware": "h100-sxm", "prompt": 512, "context": 3000}).performance
    mixed = perf.evaluate(mixed_step(perf, 15, 512, 0), context=3000)
    t_o = perf.deployment.overhead_s
    decode = perf.evaluate(perf.step_time(DECODE_STEP), batch=15, context=3000)
    chunk = perf.evaluate(perf.step_time(PREFILL).xreplace({B: 1, S: 512}), context=0)
    assert max(decode, chunk) <= mixed <= decode + chunk - t_o


def test_chunks_that_cannot_keep_up_are_refused_in_one_line():
    result = symbolic_cli("derive", *BASE, "--concurrency", "64", "--chunk-tokens", "128")
    assert result.returncode == 2 and "prompts would queue" in result.stderr
    assert result.stderr.count("\n") == 1
    alone = symbolic_cli("derive", *BASE, "--chunk-tokens", "2048")
    assert alone.returncode == 2 and "--concurrency" in alone.stderr
