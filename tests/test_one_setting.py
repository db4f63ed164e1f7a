"""One setting, read once, gives the same numbers in every command: derive, sweep, plot and check
read their options through ``Setting.from_mapping``; options that cannot mean anything for a
command are refused in one line."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symbolic.cli import build_parser, main, setting_from_args
from symbolic.outputs.plots import latency_parts

MODELS = ("llama-3.1-8b", "gemma-2-9b", "mixtral-8x7b", "deepseek-v2-lite", "qwen2.5-7b")


@st.composite
def command_lines(draw):
    """A model and the options of a deployment, as text on a command line."""
    model = draw(st.sampled_from(MODELS))
    options = ["--hardware", draw(st.sampled_from(["h100-sxm", "h200", "mi300x"])),
               "--tp", draw(st.sampled_from(["1", "2", "4"])),
               "--prompt", str(draw(st.integers(16, 4096))),
               "--output", str(draw(st.integers(1, 64))),
               "--weight-dtype", draw(st.sampled_from(["bf16", "fp8"])),
               "--mfu", draw(st.sampled_from(["1", "0.6"])),
               "--mbu", draw(st.sampled_from(["1", "0.8"])),
               "--overhead", draw(st.sampled_from(["0", "0.002"])),
               "--link-latency", draw(st.sampled_from(["5e-6", "1e-5"])),
               "--memory-fraction", draw(st.sampled_from(["1", "0.9"])),
               "--attention-count", draw(st.sampled_from(["causal", "full"])),
               "--convention", f"softmax_flops={draw(st.sampled_from([1, 5]))}"]
    if model in ("mixtral-8x7b", "deepseek-v2-lite") and draw(st.booleans()):
        options += ["--ep", "2"]
    return model, options, draw(st.integers(1, 256))


@settings(max_examples=10, deadline=None)
@given(line=command_lines())
def test_derive_sweep_plot_and_check_agree_on_a_drawn_setting(line, tmp_path_factory):
    model, options, batch = line
    folder = tmp_path_factory.mktemp("setting")
    derived_file, swept_file = folder / "derive.json", folder / "sweep.json"
    prompt = options[options.index("--prompt") + 1]
    derive_status = main(["derive", model, *options, "--batch", str(batch), "--price", "3",
                          "-o", str(derived_file)])
    sweep_status = main(["sweep", model, *options, "--batch", str(batch), "--context", prompt, "--price", "3",
                         "--format", "json", "--no-progress", "-o", str(swept_file)])
    assert sweep_status == 0
    swept = json.loads(swept_file.read_text())
    row = dict(zip(swept["columns"], swept["rows"][0], strict=True))
    if derive_status == 2:
        # weights too large for the drawn devices (mixtral-8x7b in bf16 on one 80 GiB device): derive
        # refuses in one line, leaving no file; a sweep marks the row, its other rows may fit
        assert not derived_file.exists() and not row["fits"]
        return
    assert derive_status == 0
    derived = json.loads(derived_file.read_text())
    performance = derived["performance"]
    for column, key in (("ttft_s", "ttft_s"), ("tpot_at_context_s", "tpot_at_context_s"),
                        ("tpot_mean_s", "tpot_mean_s"), ("request_s", "request_s"),
                        ("decode_tokens_per_s", "decode_tokens_per_s"),
                        ("request_tokens_per_s", "request_tokens_per_s"),
                        ("usd_per_million_output_tokens", "cost_per_million_output_tokens")):
        assert row[column] == pytest.approx(performance[key][0], rel=1e-8), column
    assert row["weights_bytes_per_device"] == performance["weights_bytes_per_device"]
    assert bool(row["fits"]) == performance["fits"][0]

    # The plot command reads the same setting, and its latency bars add up to the same step.
    parser = build_parser()
    derive_setting = setting_from_args(parser.parse_args(["derive", model, *options, "--batch", str(batch)]),
                                       model)
    plot_setting = setting_from_args(parser.parse_args(["plot", "latency", model, "-o", "x.png", *options,
                                                        "--batch", str(batch)]), model)
    assert plot_setting == derive_setting
    parts = latency_parts(plot_setting.performance, [batch])
    assert sum(values[0] for values in parts.values()) == pytest.approx(performance["tpot_at_context_s"][0],
                                                                        rel=1e-9)

    # The checker, in the same setting, agrees with derive's numbers.
    weights = derived["memory"]["weights_bytes"]
    dtype = options[options.index("--weight-dtype") + 1]
    assert main(["check", f"{weights} B", "--against", "memory.weights_bytes", "--model", model,
                 "--weight-dtype", dtype, "--prompt", prompt]) == 0


@pytest.mark.parametrize("argv, named", [
    (["derive", "gpt2", "--tp", "2"], "--tp needs --hardware"),
    (["derive", "gpt2", "--price", "2"], "--price needs --hardware"),
    (["derive", "gpt2", "--users", "100"], "--users needs --hardware"),
    (["derive", "gpt2", "--mfu", "0.5"], "--mfu needs --hardware"),
    (["derive", "gpt2", "-o", ""], "-o needs a file name"),
    (["plot", "kv", "gpt2", "--hardware", "h100-sxm", "-o", "kv.png"], "the kv figure does not use"),
    (["plot", "roofline", "gpt2", "--hardware", "h100-sxm", "--users", "3", "-o", "r.png"],
     "unrecognized arguments: --users"),
    (["check", "2*L", "--against", "params.total", "--output", "8"], "--output is for time.request"),
    (["check", "2*L", "--against", "params.total", "--hardware", "h100-sxm"],
     "for hardware.* and time.* quantities"),
    (["sweep", "gpt2", "--hardware", "h100-sxm", "--users", "3"], "unrecognized arguments: --users"),
])
def test_an_option_that_means_nothing_for_a_command_is_refused(argv, named, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and named in err, err
    assert "symbolic: error: symbolic" not in err          # the program's name once


def test_every_setting_option_reaches_the_sweep(capsys, tmp_path):
    """--compute-dtype, efficiencies, overhead, pp and conventions change the sweep's numbers as they
    change derive's."""
    base = ["sweep", "llama-3.1-8b", "--hardware", "h100-sxm", "--batch", "512", "--context", "1024",
            "--format", "json", "--no-progress"]

    def tpot(*extra):
        target = tmp_path / "s.json"
        assert main([*base, *extra, "-o", str(target)]) == 0, capsys.readouterr().err
        document = json.loads(target.read_text())
        return document["rows"][0][document["columns"].index("tpot_at_context_s")]

    plain = tpot()
    for extra in (["--overhead", "0.001"], ["--mbu", "0.5"], ["--pp", "2"], ["--compute-dtype", "fp8"],
                  ["--convention", "flops_per_mac=1"], ["--weight-dtype", "fp8"]):
        assert tpot(*extra) != plain, extra


def test_equal_settings_of_a_preset_are_built_once_and_a_config_file_is_read_again(tmp_path):
    """A process remembers what a preset's setting built (derivation, performance, documents); a
    config file is read again every time, since it may have changed in between."""
    import symbolic

    setting = {"batch": 4, "kv_dtype": "fp8"}
    assert symbolic.derive("gpt2", **setting) is symbolic.derive("gpt2", **setting)
    assert symbolic.derive("gpt2", batch=4) is not symbolic.derive("gpt2", batch=8)
    config = {"model_type": "llama", "vocab_size": 1000, "hidden_size": 64, "intermediate_size": 128,
              "num_hidden_layers": 2, "num_attention_heads": 8, "num_key_value_heads": 2}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    before = symbolic.derive(str(path)).value("params.total")
    path.write_text(json.dumps({**config, "num_hidden_layers": 3}))
    assert symbolic.derive(str(path)).value("params.total") > before
