"""symbolic validate: reading a measurements file, what each mapping predicts, the report, and
bad input. The numbers validated against are published measurements (symbolic/data/measurements.json,
each with its quote and source); what the model predicts for them is checked against the other
commands, which answer the same question from the same description."""

import json
import re
from pathlib import Path

import pytest

from symbolic.measurements.mapping import NotExpressible, predict
from symbolic.measurements.points import SHIPPED, Measurement, read_measurements, select
from symbolic.measurements.validate import AUTO, profile_for, summaries, validate

from .command import symbolic_cli

README = Path(__file__).resolve().parent.parent / "README.md"


def _point(**fields) -> Measurement:
    base = {"id": "p", "preset": "llama-3.1-8b", "hardware": "h100-sxm", "value": 100, "unit": "tok/s",
            "mapping": "decode_rate_b1", "isl": 1, "osl": 128}
    return Measurement(**{**base, **fields})


def _derive(*args) -> dict:
    result = symbolic_cli("derive", "llama-3.1-8b", "--hardware", "h100-sxm", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["performance"]


def test_the_shipped_measurements_are_all_expressible_and_carry_quotes():
    points = read_measurements(SHIPPED)
    data = json.loads(SHIPPED.read_text())
    assert len(points) >= 43
    assert all(p.quote and p.source in data["sources"] for p in points)
    assert not validate(points).left_out


def test_a_batch_1_decode_rate_is_what_derive_says_for_one_sequence():
    """decode_rate_b1 (llama-bench's tg): OSL tokens over OSL decode steps from context 1."""
    predicted = predict(_point(osl=128)).value
    perf = _derive("--batch", "1", "--prompt", "1", "--output", "128")
    assert float(predicted) == pytest.approx(perf["decode_tokens_per_s_per_sequence"][0], rel=1e-12)


def test_a_time_to_first_token_is_derive_s_prefill_in_the_point_s_unit():
    predicted = predict(_point(mapping="ttft_b1", unit="ms", isl=2048, osl=1)).value
    perf = _derive("--batch", "1", "--prompt", "2048")
    assert float(predicted) == pytest.approx(1000 * perf["ttft_s"][0], rel=1e-12)


def test_a_static_batch_makes_its_first_token_in_the_prefill():
    """static_e2e_throughput: B OSL tokens in TTFT + OSL - 1 decode steps; per GPU it divides by
    the devices. derive's request time is TTFT + g steps, so g = OSL - 1 here."""
    point = _point(mapping="static_e2e_throughput", unit="tok/s/GPU", batch=16, isl=512, osl=65, tp=2)
    predicted = predict(point).value
    perf = _derive("--batch", "16", "--prompt", "512", "--output", "64", "--tp", "2")
    assert float(predicted) == pytest.approx(16 * 65 / perf["request_s"][0] / 2, rel=1e-12)


def test_serving_at_a_concurrency_adds_the_prefills_of_the_requests_that_start_meanwhile():
    naive = predict(_point(mapping="tpot_concurrency", unit="s", concurrency=1, isl=1000, osl=200)).value
    perf = _derive("--batch", "1,8", "--prompt", "1000", "--output", "200")
    assert float(naive) == pytest.approx(perf["tpot_mean_s"][0], rel=1e-12)   # concurrency 1: no prefills
    busy = predict(_point(mapping="tpot_concurrency", unit="s", concurrency=8, isl=1000, osl=200)).value
    assert float(busy) == pytest.approx(perf["tpot_mean_s"][1] + 7 * perf["ttft_s"][0] / 200, rel=1e-12)


@pytest.mark.parametrize("fields,reason", [
    ({"mapping": "p99_itl"}, "unknown mapping"),
    ({"unit": "furlongs"}, "unit"),
    ({"unit": "ms"}, "is a time"),
    ({"preset": "no-such-model"}, "no-such-model"),
    ({"hardware": "a100-sxm-80gb", "weight_dtype": "fp8", "compute_dtype": "fp8"}, "fp8"),
    ({"preset": "llama-3.1-405b"}, "shard them"),
    ({"tp": 2, "devices": 4}, "devices 4 is not tp x pp x ep = 2"),
])
def test_a_point_the_model_cannot_express_is_listed_with_its_reason(fields, reason):
    with pytest.raises(NotExpressible, match=reason):
        predict(_point(**fields))
    result = validate([_point(id="good"), _point(id="bad", **fields)])
    assert [p.id for p, _ in result.left_out] == ["bad"] and len(result.checked) == 1


def test_validate_json_has_the_summary_and_every_point(tmp_path):
    out = tmp_path / "report.json"
    result = symbolic_cli("validate", "--format", "json", "-o", out, "--select", "engine=vLLM")
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    summary = report["summary"]
    vllm = [p for p in read_measurements(SHIPPED) if p.engine == "vLLM"]
    assert summary["n"] == len(report["points"]) == len(vllm) > 0
    assert set(summary) >= {"median_abs_error", "worst_factor", "n", "by_regime"}
    assert all(p["ratio"] == pytest.approx(p["predicted"] / p["measured"]) for p in report["points"])
    assert report["efficiency_model"] == "ideal roofline"


def test_the_readme_states_the_statistics_validate_computes():
    """The README's validation table against a fresh run (docs/generate.py writes it)."""
    text = README.read_text()
    block = text[text.index("<!-- validation table"):text.index("<!-- end of validation table")]
    engine_part, ideal_part = block.split("With the ideal roofline")
    points = read_measurements(SHIPPED)
    for part, options in ((engine_part, {"engine": AUTO}), (ideal_part, {})):
        row = re.search(r"\| all \| (\d+) \| ([0-9.]+)% \| ([0-9.]+)x \|", part)
        stats = summaries(validate(points, options))
        assert int(row[1]) == stats["n"]
        assert float(row[2]) == round(100 * stats["median_abs_error"], 1)
        assert float(row[3]) == round(stats["worst_factor"], 2)


def test_the_engine_profiles_meet_the_targets_on_the_shipped_measurements():
    """Issue 15's targets: median |error| at most 15% and the worst point within 2x."""
    stats = summaries(validate(read_measurements(SHIPPED), {"engine": AUTO}))
    assert stats["median_abs_error"] <= 0.15 and stats["worst_factor"] <= 2


def test_a_selection_can_name_alternatives_and_exclusions():
    points = read_measurements(SHIPPED)
    either = select(points, ["hardware=h200|b200"])
    assert {p.hardware for p in either} == {"h200", "b200"}
    others = select(points, ["hardware!=h200|b200"])
    assert len(either) + len(others) == len(points) and not {"h200", "b200"} & {p.hardware for p in others}


@pytest.mark.parametrize("engine,version,profile", [
    ("vLLM", "main, Jan 2024 (~v0.2.7/v0.3.0)", "vllm-2024"),
    ("vLLM", "0.3.3", "vllm-2024"),
    ("vLLM", "v0.4.0", "vllm-2024"),
    ("vLLM", "v0.6.3 (Oct 2024)", "vllm"),
    ("vLLM", "v0.11.0", "vllm"),
    ("vLLM", "", "vllm"),
    ("TensorRT-LLM", "0.6.1", "tensorrt-llm-2023"),
    ("TensorRT-LLM", "1.0 (PyTorch backend)", "tensorrt-llm"),
    ("llama.cpp (llama-bench)", "build 4426e298 (2824)", "llama.cpp"),
    ("SGLang", "0.5.6", "sglang"),
    ("MLC-LLM", "0.1", None),
])
def test_engine_auto_picks_the_profile_of_the_engine_and_its_release_line(engine, version, profile):
    """Each point is predicted with the profile fitted on points like it (its engine, and the
    release line by ``engine_version``); a point of a release no profile covers gets the current one."""
    assert profile_for(_point(engine=engine, engine_version=version)) == profile


def test_every_shipped_point_is_fitted_into_exactly_one_profile():
    from symbolic.measurements.points import matches
    from symbolic.measurements.shipped import ENGINE_FITS

    for point in read_measurements(SHIPPED):
        assert sum(matches(point, fit.selection) for fit in ENGINE_FITS) == 1, point.id


@pytest.mark.parametrize("content,message", [
    ("not json", "JSON"),
    ('{"points": []}', "no points"),
    ('{"points": [{"id": "a"}]}', "point 'a': missing field 'preset'"),
    ('{"points": [{"id": "a", "preset": "llama-3.1-8b", "hardware": "h100-sxm", "value": "x", "unit": "s", '
     '"mapping": "ttft_b1", "isl": 1, "osl": 1}]}', "point 'a': field 'value'"),
    ('{"points": [{"id": "a", "preset": "llama-3.1-8b", "hardware": "h100-sxm", "value": 1, "unit": "s", '
     '"mapping": "ttft_b1", "isl": 0, "osl": 1}]}', "field 'isl'"),
])
def test_a_malformed_file_is_refused_in_one_line_and_writes_nothing(tmp_path, content, message):
    source, out = tmp_path / "points.json", tmp_path / "report.md"
    source.write_text(content)
    result = symbolic_cli("validate", source, "-o", out)
    assert result.returncode == 2 and message in result.stderr and result.stderr.count("\n") == 1
    assert not out.exists()


@pytest.mark.parametrize("args,message", [
    (["--select", "nonsense"], "KEY=PATTERN"),
    (["--select", "engine=nothing-like-this"], "no point matches"),
    (["--select", "engine=vLLM|"], "an empty alternative"),
    (["--engine", "nope"], "unknown engine"),
    (["--mbu", "2"], "--mbu"),
    (["--engine", "vllm", "--profile", "x.json"], "give one"),
])
def test_bad_validate_options_are_refused_in_one_line(args, message):
    result = symbolic_cli("validate", *args)
    assert result.returncode == 2 and message in result.stderr and result.stderr.count("\n") == 1
