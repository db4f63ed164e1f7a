"""Sweeps: compiled NumPy values equal the exact symbolic ones; ranges; streaming; the CLI."""

import csv
import io
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symbolic.architecture.workload import DECODE_STEP, PREFILL
from symbolic.config.hardware import get_accelerator
from symbolic.errors import SymbolicError
from symbolic.exact import substitute
from symbolic.performance.roofline import sum_linear_pieces
from symbolic.performance.sweep import SweepPlan, compile_setting, parse_range, write_sweep
from symbolic.setting import Setting
from symbolic.symbols import B, c

from .command import symbolic_cli

MODELS = ["llama-3.1-8b", "gemma-2-9b", "mistral-7b-v0.1", "qwen3-30b-a3b", "deepseek-v2-lite", "gpt2"]
COMPILED = {}


def compiled(model, hardware, tp):
    key = (model, hardware, tp)
    if key not in COMPILED:
        setting = Setting(model, prompt=1, context=1, hardware=get_accelerator(hardware), tp=tp, output=64)
        COMPILED[key] = compile_setting(setting, longest=20000 + 64)
    return COMPILED[key]


def plan(models, hardware, tps, batches, contexts, prompts=None, **options):
    base = Setting(models[0], hardware=hardware[0], **options)
    return SweepPlan(base=base, models=models, accelerators=[get_accelerator(h) for h in hardware], tps=tps,
                     batches=batches, contexts=contexts, prompts=prompts)


@settings(max_examples=30, deadline=None)     # each draw is an exact evaluation of four step times
@given(model=st.sampled_from(MODELS), hardware=st.sampled_from(["h100-sxm", "a100-sxm-80gb", "mi300x"]),
       tp=st.sampled_from([1, 2]), batch=st.integers(1, 4096), context=st.integers(0, 20000),
       prompt=st.integers(1, 20000))
def test_sweep_values_equal_the_exact_substitution(model, hardware, tp, batch, context, prompt):
    k = compiled(model, hardware, tp)
    values = k.evaluate(np.array([batch]), np.array([prompt]), np.array([context]))
    perf = k.perf
    decode = sum_linear_pieces(substitute(perf._bound_step(DECODE_STEP), {B: batch}), c, prompt, 64)
    exact = {
        "tpot_at_context_s": perf.evaluate(perf.step_time(DECODE_STEP), batch=batch, context=context),
        "ttft_s": perf.evaluate(perf.step_time(PREFILL), batch=batch, prompt=prompt),
        "tpot_mean_s": decode / 64,
        "kv_bytes_per_device": batch * perf.evaluate(perf.kv_bytes_per_sequence(context)),
    }
    for name, value in exact.items():
        assert values[name][0] == pytest.approx(float(value), rel=1e-10, abs=0), name
    assert values["decode_tokens_per_s_at_context"][0] == pytest.approx(
        float(batch / exact["tpot_at_context_s"]), rel=1e-10)
    assert values["request_tokens_per_s"][0] == pytest.approx(
        float(batch * 64 / (exact["ttft_s"] + decode)), rel=1e-10)
    # Fits: the request's KV cache at its end (prompt + g, g = 64) beside the weights.
    peak = batch * perf.evaluate(perf.kv_bytes_per_sequence(max(prompt + 64, context)))
    free = perf.free_bytes_per_device
    if abs(peak - free) > free / 10**9:
        assert bool(values["fits"][0]) == (peak <= free)


@pytest.mark.parametrize("model, prompt", [("gemma-2-9b", 4060), ("llama-3.1-8b", 100), ("gpt2", 1000)])
def test_a_requests_decode_steps_sum_as_the_step_by_step_loop(model, prompt):
    """Gemma-2's sliding layers keep at most W - 1 = 4,095 tokens: a request from 4,060 crosses
    that kink within its 64 steps."""
    k = compiled(model, "h100-sxm", 1)
    perf = k.perf
    for batch in (1, 37):
        step = perf.step_time(DECODE_STEP)
        loop = sum(perf.evaluate(step, batch=batch, context=prompt + i) for i in range(64))
        values = k.evaluate(np.array([batch]), np.array([prompt]), np.array([prompt]))
        assert values["tpot_mean_s"][0] == pytest.approx(float(loop / 64), rel=1e-10)


@pytest.mark.parametrize("text, expected", [
    ("1,8,64", [1, 8, 64]), ("1..5", [1, 2, 3, 4, 5]), ("128..1024*2", [128, 256, 512, 1024]),
    ("0..1000+250", [0, 250, 500, 750, 1000]), ("4,1..3", [1, 2, 3, 4]),
])
def test_ranges(text, expected):
    assert parse_range(text, "--batch") == expected


@pytest.mark.parametrize("text", ["1..", "5..1", "1..8*1", "x", "0..8*2", "1..100000000"])
def test_bad_ranges_are_refused(text):
    with pytest.raises(SymbolicError):
        parse_range(text, "--batch")


def test_large_grids_stream_in_bounded_chunks():
    grid = plan(["llama-3.1-8b"], ["h100-sxm"], [1], list(range(1, 3001)), list(range(0, 3000)))
    k = next(grid.compiled())
    sizes = [chunk["batch"].size for chunk in grid.chunks(k, chunk_points=100_000)]
    assert sum(sizes) == 9_000_000 and max(sizes) <= 100_000


def test_chunks_split_the_inner_axes_too_and_keep_batch_major_order():
    """The contexts alone, and prompts x contexts, outnumber a chunk: chunks stay bounded."""
    grid = plan(["gpt2"], ["h100-sxm"], [1], [1, 2], list(range(1000)), prompts=[1, 2, 3])
    k = next(grid.compiled())
    chunks = list(grid.chunks(k, chunk_points=700))
    assert max(chunk["batch"].size for chunk in chunks) <= 700
    rows = np.concatenate([np.stack([c["batch"], c["prompt"], c["context"]], axis=1) for c in chunks])
    expected = np.array([(b, p, x) for b in (1, 2) for p in (1, 2, 3) for x in range(1000)])
    assert (rows == expected).all()


def test_csv_and_json_agree():
    grid = plan(["qwen2.5-7b"], ["h200"], [1, 2], [1, 16], [512, 4096])
    text_csv, text_json = io.StringIO(), io.StringIO()
    assert write_sweep(grid, text_csv, "csv", progress=False) == 8
    write_sweep(grid, text_json, "json", progress=False)
    rows = list(csv.DictReader(io.StringIO(text_csv.getvalue())))
    document = json.loads(text_json.getvalue())
    assert len(rows) == len(document["rows"]) == 8
    tpot = document["columns"].index("tpot_mean_s")
    for row, values in zip(rows, document["rows"], strict=True):
        assert float(row["tpot_mean_s"]) == pytest.approx(values[tpot], rel=1e-8)
        assert [row[name] for name in ("model", "weight_dtype", "kv_dtype")] == values[:1] + values[3:5]


def test_dtypes_are_a_sweep_axis(tmp_path):
    out = tmp_path / "dtypes.csv"
    result = symbolic_cli("sweep", "llama-3.1-8b", "--hardware",
                          "h100-sxm", "--weight-dtype", "bf16,fp8", "--kv-dtype", "bf16,fp8", "--batch",
                          "8", "--context", "4096", "--progress", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "symbolic sweep: 4 of 4 points" in result.stderr
    rows = {(r["weight_dtype"], r["kv_dtype"]): r for r in csv.DictReader(out.open())}
    assert set(rows) == {("bf16", "bf16"), ("bf16", "fp8"), ("fp8", "bf16"), ("fp8", "fp8")}
    # Llama-3.1-8B: 8,030,261,248 parameters; 32 layers x 8 KV heads x 128 x 2 (K and V) elements
    # per token (meta-llama/Llama-3.1-8B config.json); one byte each in fp8, two in bf16.
    assert float(rows["fp8", "bf16"]["weights_bytes_per_device"]) == 8_030_261_248
    assert float(rows["bf16", "bf16"]["weights_bytes_per_device"]) == 2 * 8_030_261_248
    assert float(rows["bf16", "fp8"]["kv_bytes_per_device"]) == 8 * 4096 * 32 * 8 * 128 * 2
    assert float(rows["bf16", "bf16"]["tpot_at_context_s"]) > float(rows["fp8", "fp8"]["tpot_at_context_s"])


def test_cli_sweep_and_its_errors(tmp_path):
    out = tmp_path / "grid.csv"
    result = symbolic_cli("sweep", "llama-3.1-70b,gpt2", "--hardware",
                          "h100-sxm,h200", "--tp", "1,4,5", "--batch", "1..8*2", "--context", "256,512",
                          "--no-progress", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "points" not in result.stderr
    rows = list(csv.DictReader(out.open()))
    # tp 5 divides neither 64 nor 12 heads: skipped, and said so
    assert {row["tp"] for row in rows} == {"1", "4"}
    assert len(rows) == 2 * 2 * 2 * 4 * 2
    assert "skipped llama-3.1-70b on 5 x h100-sxm" in result.stderr
    # beyond GPT-2's 1,024 learned positions a sweep refuses, as derive does
    beyond = symbolic_cli("sweep", "gpt2", "--hardware", "h100-sxm",
                          "--context", "2048", "-o", str(tmp_path / "gpt2.csv"))
    assert beyond.returncode == 2 and "1024 learned positions" in beyond.stderr
    assert not (tmp_path / "gpt2.csv").exists()
    bad = symbolic_cli("sweep", "lama", "--hardware", "h100-sxm",
                       "-o", str(tmp_path / "none.csv"))
    assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1
    assert not (tmp_path / "none.csv").exists()


def test_a_price_gives_the_cost_of_a_million_output_tokens(tmp_path):
    out = tmp_path / "cost.csv"
    result = symbolic_cli("sweep", "llama-3.1-8b", "--hardware",
                          "h100-sxm,h200", "--tp", "1,2", "--batch", "1,64", "--context", "2048",
                          "--price", "h100-sxm=2.5", "-o", str(out))
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(out.open()))
    for row in rows:
        if row["hardware"] == "h200":                   # no price given: no cost
            assert row["usd_per_million_output_tokens"] == ""
            continue
        # 2.5 USD per device-hour, tp devices, for the seconds a million tokens take while decoding
        expected = 2.5 * int(row["tp"]) / 3600 / float(row["decode_tokens_per_s"]) * 1e6
        assert float(row["usd_per_million_output_tokens"]) == pytest.approx(expected, rel=1e-8)
    # The document's cost for the same requests (2,048 tokens in, 256 out) is the same figure.
    derived = symbolic_cli("derive", "llama-3.1-8b", "--hardware",
                           "h100-sxm", "--tp", "2", "--batch", "64", "--prompt", "2048",
                           "--price", "2.5", "--format", "json")
    cost = json.loads(derived.stdout)["performance"]["cost_per_million_output_tokens"][0]
    row = next(r for r in rows if (r["hardware"], r["tp"], r["batch"]) == ("h100-sxm", "2", "64"))
    assert float(row["usd_per_million_output_tokens"]) == pytest.approx(cost, rel=1e-8)


@pytest.mark.parametrize("args, named", [
    (["--batch", "0..4"], "--batch"),
    (["--tp", "0,1"], "--tp"),
    (["--context", "0,128"], "--context"),
    (["--context", "128", "--prompt", "0"], "--prompt"),
    (["--batch", "1..10000000", "--context", "1..10000000"], "100,000,000,000,000 points"),
    (["--price", "h200=3"], "'h200'"),
    (["--price", "cheap"], "--price"),
])
def test_impossible_or_runaway_sweeps_fail_at_once(args, named, tmp_path):
    out = tmp_path / "none.csv"
    bad = symbolic_cli("sweep", "llama-3.1-8b", "--hardware", "h100-sxm",
                       *args, "-o", str(out))
    assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1 and named in bad.stderr
    assert not out.exists()
