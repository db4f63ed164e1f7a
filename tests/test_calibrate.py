"""symbolic calibrate and the profiles it writes: it recovers parameters it was given, refuses
what the data cannot determine, and a profile (fitted or shipped) is never faster than the ideal
roofline and is applied by every command that takes a deployment."""

import json
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symbolic.measurements.calibrate import Compiled, calibrate, parse_fit
from symbolic.measurements.mapping import predict
from symbolic.measurements.points import SHIPPED, Measurement, read_measurements, select
from symbolic.measurements.shipped import ENGINE_FITS, fitted_profile
from symbolic.performance.profiles import engine_names, engine_profile
from symbolic.setting import Setting

from .command import symbolic_cli

TRUE = {"mfu": "0.55", "mbu": "0.8", "kernel_latency": "0.000006", "attention_efficiency": "0.6"}
"""The parameters the synthetic measurements are generated with."""


def _design() -> list[Measurement]:
    """Settings that exercise every parameter: batch-1 decode (bandwidth and launches), prefill
    (compute), large batches at long contexts (attention), two models, two accelerators."""
    points = []
    for preset in ("llama-3.1-8b", "qwen2.5-7b"):
        for hardware in ("h100-sxm", "a100-sxm-80gb"):
            for mapping, unit, batch, isl, osl in (
                    ("decode_rate_b1", "tok/s", 1, 1, 128), ("ttft_b1", "ms", 1, 2048, 1),
                    ("ttft_b1", "ms", 1, 128, 1), ("static_e2e_throughput", "tok/s", 64, 4096, 256),
                    ("static_e2e_throughput", "tok/s", 8, 512, 128)):
                points.append(Measurement(id=f"{preset}-{hardware}-{mapping}-{batch}-{isl}", preset=preset,
                                          hardware=hardware, value=1, unit=unit, mapping=mapping,
                                          batch=batch, isl=isl, osl=osl))
    return points


def _measured(points: list[Measurement], noise: float, seed: int = 7) -> list[Measurement]:
    """The points as the model with ``TRUE`` predicts them, times a log-normal noise."""
    rng = random.Random(seed)
    out = []
    for p in points:
        value = float(predict(p, TRUE).value) * math.exp(rng.gauss(0, noise))
        out.append(Measurement(**{**p.__dict__, "value": f"{value:.12g}"}))
    return out


def test_calibrate_recovers_the_parameters_the_measurements_were_made_with():
    points = _measured(_design(), noise=0.02)
    fit = calibrate(points, parse_fit("mfu,mbu,kernel_latency,attention_efficiency"))
    for key, value in TRUE.items():
        assert fit.parameters[key] == pytest.approx(float(value), rel=0.12), key
    assert max(abs(r - 1) for r in fit.in_sample) < 0.08
    assert len(fit.leave_one_out) == len(points)


def test_without_noise_the_fit_is_exact():
    fit = calibrate(_measured(_design(), noise=0.0), parse_fit("mfu,mbu,kernel_latency"),
                    {"attention_efficiency": TRUE["attention_efficiency"]}, leave_one_out=False)
    for key in ("mfu", "mbu", "kernel_latency"):
        assert fit.parameters[key] == pytest.approx(float(TRUE[key]), rel=1e-4)


def test_the_compiled_recipe_agrees_with_the_exact_prediction():
    """Calibration's NumPy path (contexts sampled) against validation's exact sums."""
    fitted = parse_fit("mfu,mbu,kernel_latency,attention_efficiency")
    for point in _design():
        compiled = Compiled(point, {}, fitted)
        exact = float(predict(point, TRUE).value)
        assert compiled([float(TRUE[p.key]) for p in fitted]) == pytest.approx(exact, rel=1e-6)


def test_calibrate_refuses_what_the_data_cannot_determine():
    points = _measured(_design(), noise=0.01)
    with pytest.raises(Exception, match="cannot determine"):
        calibrate(points[:3], parse_fit("mfu,mbu,kernel_latency"))
    with pytest.raises(Exception, match="no point depends on link_efficiency"):
        calibrate(points, parse_fit("mfu,link_efficiency"))      # every point runs on one device
    decode_only = _measured([Measurement(id=f"tg{n}", preset="llama-3.1-8b", hardware="h100-sxm", value=1,
                                         unit="tok/s", mapping="decode_rate_b1", isl=1, osl=n)
                             for n in (64, 128, 256, 512)], noise=0.01)
    with pytest.raises(Exception, match="cannot tell kernel_latency from overhead|cannot tell overhead"):
        calibrate(decode_only, parse_fit("kernel_latency,overhead"))   # per step or per kernel: alike


@pytest.mark.parametrize("args,message", [
    (["--fit", ""], "--fit names no parameter"),
    (["--fit", "mfu", "--per-hardware", "speed"], "--per-hardware: unknown parameter 'speed'"),
    (["--fit", "mfu", "--per-hardware", "mbu"], "--per-hardware mbu: only fitted parameters"),
    (["--select", "engine=vLLM", "--engine", "auto"], "--engine auto is for validate"),
])
def test_bad_calibrate_options_are_refused_in_one_line(tmp_path, args, message):
    out = tmp_path / "p.json"
    result = symbolic_cli("calibrate", *args, "-o", out)
    assert result.returncode == 2 and message in result.stderr and result.stderr.count("\n") == 1
    assert not out.exists()


def test_a_profile_written_by_calibrate_is_applied_by_every_command(tmp_path):
    source, profile = tmp_path / "points.json", tmp_path / "mine.json"
    rows = [{k: v for k, v in p.__dict__.items() if v is not None} for p in _measured(_design(), 0.02)]
    source.write_text(json.dumps({"points": rows}, default=str))
    result = symbolic_cli("calibrate", source, "-o", profile, "--fit", "mfu,mbu,kernel_latency",
                          "--no-leave-one-out")
    assert result.returncode == 0, result.stderr
    assert "| mfu |" in result.stdout
    fitted = json.loads(profile.read_text())["parameters"]
    derived = json.loads(symbolic_cli("derive", "llama-3.1-8b", "--hardware", "h100-sxm", "--profile",
                                      profile).stdout)["performance"]["efficiency"]
    assert derived["mfu"] == pytest.approx(fitted["mfu"]) and derived["model"].startswith("mine")
    overridden = json.loads(symbolic_cli("derive", "llama-3.1-8b", "--hardware", "h100-sxm", "--profile",
                                         profile, "--mfu", "0.3").stdout)["performance"]["efficiency"]
    assert overridden["mfu"] == 0.3 and overridden["mbu"] == pytest.approx(fitted["mbu"])
    sweep = symbolic_cli("sweep", "llama-3.1-8b", "--hardware", "h100-sxm", "--batch", "1",
                         "--context", "1024", "--profile", profile, "--format", "json")
    ideal = symbolic_cli("sweep", "llama-3.1-8b", "--hardware", "h100-sxm", "--batch", "1",
                         "--context", "1024", "--format", "json")
    column = json.loads(ideal.stdout)["columns"].index("tpot_at_context_s")
    assert json.loads(sweep.stdout)["rows"][0][column] > json.loads(ideal.stdout)["rows"][0][column]
    plot = symbolic_cli("plot", "latency", "llama-3.1-8b", "--hardware", "h100-sxm", "--profile", profile,
                        "-o", tmp_path / "latency.png")
    assert plot.returncode == 0 or "matplotlib" in plot.stderr
    validated = symbolic_cli("validate", source, "--profile", profile)
    assert validated.returncode == 0 and "mine profile" in validated.stdout


@pytest.mark.parametrize("content,message", [("[1, 2]", "'parameters'"),
                                             ('{"parameters": {"speed": 2}}', "unknown parameter 'speed'"),
                                             ('{"parameters": {"mfu": 1.5}}', "mfu"),
                                             ('{"parameters": {"mfu": 0.5}, "by_hardware": {"h100-smx": '
                                              '{"mbu": 0.5}}}', "did you mean h100-sxm")])
def test_a_bad_profile_is_refused_in_one_line(tmp_path, content, message):
    profile = tmp_path / "bad.json"
    profile.write_text(content)
    result = symbolic_cli("derive", "llama-3.1-8b", "--hardware", "h100-sxm", "--profile", profile)
    assert result.returncode == 2 and message in result.stderr and result.stderr.count("\n") == 1


def test_profile_options_need_a_deployment():
    result = symbolic_cli("derive", "llama-3.1-8b", "--engine", "vllm")
    assert result.returncode == 2 and "--hardware" in result.stderr


@settings(max_examples=20, deadline=None)
@given(engine=st.sampled_from(sorted(engine_names())),
       preset=st.sampled_from(["llama-3.1-8b", "qwen3-30b-a3b", "gemma-3-4b", "deepseek-v2-lite"]),
       hardware=st.sampled_from(["h100-sxm", "a100-sxm-80gb", "l40s", "rtx-4090", "mi300x"]),
       batch=st.integers(1, 512), context=st.integers(1, 32768))
def test_an_engine_profile_is_never_faster_than_the_ideal_roofline(engine, preset, hardware, batch, context):
    from symbolic.architecture.workload import DECODE_STEP, PREFILL

    common = {"hardware": hardware, "batch": batch, "context": context, "prompt": min(context, 4096)}
    real = Setting.from_mapping(preset, {**common, "engine": engine}).performance
    ideal = Setting.from_mapping(preset, common).performance
    for phase in (PREFILL, DECODE_STEP):
        assert real.evaluate(real.step_time(phase)) >= ideal.evaluate(ideal.step_time(phase))


@pytest.mark.parametrize("engine", ENGINE_FITS, ids=lambda e: e.name)
def test_the_shipped_profiles_are_what_their_recipe_fits(engine):
    shipped = engine_profile(engine.name)
    refitted = fitted_profile(engine)
    assert dict(shipped.parameters) == pytest.approx(refitted["parameters"], rel=0.01)
    assert set(dict(shipped.by_hardware)) == set(refitted["by_hardware"])
    points = select(read_measurements(SHIPPED), list(engine.selection))
    assert refitted["fit"]["in_sample"]["n"] == len(points)
    assert refitted["sources"] and all(p.source in refitted["sources"] for p in points)


def test_a_calibration_on_a_profile_keeps_what_the_profile_held_fixed(tmp_path):
    """Fitting one parameter beside an engine profile writes the profile's other values too, so
    the written profile predicts what the fit did."""
    out = tmp_path / "p.json"
    result = symbolic_cli("calibrate", "--select", "engine=vLLM", "--engine", "vllm",
                          "--fit", "kernel_latency", "--no-leave-one-out", "-o", out)
    assert result.returncode == 0, result.stderr
    profile = json.loads(out.read_text())
    assert set(profile["parameters"]) >= {"mbu", "mfu", "attention_efficiency", "kernel_latency"}
    validated = json.loads(symbolic_cli("validate", "--select", "engine=vLLM", "--profile", out,
                                        "--format", "json").stdout)
    fitted = profile["fit"]["in_sample"]["median_abs_error"]
    assert validated["summary"]["median_abs_error"] == pytest.approx(fitted, rel=0.02)


def test_a_fitted_link_latency_is_never_below_the_ideal():
    from symbolic.measurements.calibrate import PARAMETERS

    link = PARAMETERS["link_latency"]
    assert link.value(-50.0) >= 5e-6 and link.value(link.coordinate(7e-6)) == pytest.approx(7e-6)
