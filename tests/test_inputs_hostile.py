"""Hostile inputs (issue 11): a bad config or hardware file gets one line, ``symbolic: error: ...``
naming the field at fault, exit status 2, no traceback, bounded time and memory and no partial
output file; or, where the input is merely unusual, a correct answer."""

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from symbolic.config.families import MAX_LAYERS, MAX_SIZE
from symbolic.config.hardware import Accelerator, accelerators, get_accelerator, hardware_listing

from . import hostile

LLAMA = {"model_type": "llama", "vocab_size": 1000, "hidden_size": 64, "intermediate_size": 128,
         "num_hidden_layers": 2, "num_attention_heads": 8, "num_key_value_heads": 2}
PHI3 = {**LLAMA, "model_type": "phi3", "num_key_value_heads": 8}
GPU = {"name": "My-GPU", "peak_flops": {"bf16": "500e12"}, "memory": {"value": "64", "unit": "GiB"},
       "memory_bandwidth": "2e12", "interconnect": {"name": "MyLink", "per_direction": "100e9"}}
SECONDS = 20  # every hostile input is answered well within this


def run(capsys, *args):
    """``symbolic ARGS`` in this process: (status, stdout, stderr), timed."""
    return hostile.run(*args)


def refused(capsys, args, *expected):
    """See :func:`tests.hostile.refused`."""
    return hostile.refused(*args, expected=expected)


def config_file(tmp_path, content, name="config.json") -> Path:
    return hostile.write_input(tmp_path, name, content)


def refused_config(capsys, tmp_path, content, *expected):
    """``symbolic derive CONFIG -o OUT`` is refused and writes no OUT."""
    out = tmp_path / "out.json"
    line = refused(capsys, ["derive", config_file(tmp_path, content), "-o", out], *expected)
    assert not out.exists()
    return line


def derived(capsys, *args) -> dict:
    status, out, err = run(capsys, "derive", *args, "--format", "json")
    assert status == 0, err
    return json.loads(out)


# --- configs: the file itself ---------------------------------------------------------------

@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"a":' * 100_000 + "1" + "}" * 100_000],
                         ids=["lists", "objects"])
def test_config_nested_100k_deep_is_refused(capsys, tmp_path, text):
    refused_config(capsys, tmp_path, text, "not valid JSON", "nested more than 64 deep")


def test_config_integer_of_over_4300_digits_is_refused(capsys, tmp_path):
    text = '{"model_type": "llama", "vocab_size": ' + "9" * 5000 + "}"
    refused_config(capsys, tmp_path, text, "an integer of 5000 digits")


@pytest.mark.parametrize("content, expected", [
    ([LLAMA], "must be a JSON object, got list"),
    ('"llama"', "must be a JSON object, got str"),
], ids=["list", "string"])
def test_config_that_is_not_an_object_is_refused(capsys, tmp_path, content, expected):
    refused_config(capsys, tmp_path, content, expected)


def test_config_of_invalid_utf8_is_refused(capsys, tmp_path):
    refused_config(capsys, tmp_path, b'{"model_type": "\xff\xfe"}', "not UTF-8")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_dev_zero_as_config_is_refused_without_reading_it_all(capsys):
    refused(capsys, ["derive", "/dev/zero"], "/dev/zero", "larger than 16 MiB")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_dev_zero_as_config_stays_within_a_memory_limit():
    """Under a 2 GiB address-space limit: an unbounded read would pass it in a second."""
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (2**31, 2**31))

    result = subprocess.run([sys.executable, "-m", "symbolic", "derive", "/dev/zero"], capture_output=True,
                            text=True, timeout=120, preexec_fn=limit)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("symbolic: error: /dev/zero: ")
    assert len(result.stderr.splitlines()) == 1


def test_file_name_over_255_bytes_is_refused(capsys, tmp_path):
    refused(capsys, ["derive", tmp_path / ("a" * 300 + ".json")], "File name too long")


def test_folder_without_config_json_is_refused(capsys, tmp_path):
    refused(capsys, ["derive", tmp_path], str(tmp_path), "without a config.json")


def test_folder_with_config_json_loads(capsys, tmp_path):
    config_file(tmp_path, LLAMA)
    assert derived(capsys, tmp_path)["model"]["name"] == tmp_path.name


def test_preset_file_as_a_path_gives_the_presets_numbers(capsys):
    """A preset file nests the config under ``config``; as a path it loads like the preset's name."""
    path = Path(__file__).parent.parent / "symbolic" / "config" / "presets" / "llama-3.1-8b.json"
    by_file, by_name = derived(capsys, path), derived(capsys, "llama-3.1-8b")
    assert by_file["model"].pop("source") == str(path)
    by_name["model"].pop("source")
    assert by_file == by_name
    assert by_file["params"]["total"] == 8_030_261_248


# --- configs: the fields --------------------------------------------------------------------

ABSURD_SIZES = {
    "layers 10^30": ("num_hidden_layers", 10**30, "'num_hidden_layers'"),
    "layers one past the bound": ("num_hidden_layers", MAX_LAYERS + 1, "'num_hidden_layers'"),
    "hidden 10^30": ("hidden_size", 10**30, "'hidden_size'"),
    "hidden one past the bound": ("hidden_size", MAX_SIZE + 1, "'hidden_size'"),
    "head_dim 10^30": ("head_dim", 10**30, "'head_dim'"),
    "positions 10^30": ("max_position_embeddings", 10**30, "'max_position_embeddings'"),
    "vocab 0": ("vocab_size", 0, "'vocab_size' must be a positive integer"),
    "negative heads": ("num_attention_heads", -8, "'num_attention_heads' must be a positive integer"),
    "heads not dividing": ("num_attention_heads", 7, "'num_key_value_heads' (2) must divide"),
    "float for int": ("hidden_size", 64.0, "'hidden_size' must be an integer, got 64.0"),
    "bool for int": ("hidden_size", True, "'hidden_size' must be an integer, got True"),
    "string for int": ("hidden_size", "64", "'hidden_size' must be an integer, got '64'"),
    "model_type list": ("model_type", ["llama"], "'model_type' must be a string"),
    "model_type object": ("model_type", {"llama": 1}, "'model_type' must be a string"),
    "model_type number": ("model_type", 3, "'model_type' must be a string, got 3"),
    "layer indices of bools": ("mlp_only_layers", [True], "'mlp_only_layers'"),
}


@pytest.mark.parametrize("case", sorted(ABSURD_SIZES))
def test_absurd_field_is_refused_naming_it(capsys, tmp_path, case):
    field, value, expected = ABSURD_SIZES[case]
    config = {**LLAMA, field: value}
    if field == "mlp_only_layers":
        config["model_type"] = "qwen2_moe"
    refused_config(capsys, tmp_path, config, expected)


def test_gpt2_width_not_divisible_by_heads_is_refused(capsys, tmp_path):
    config = {"model_type": "gpt2", "vocab_size": 100, "n_embd": 64, "n_layer": 2, "n_head": 6,
              "n_positions": 128}
    refused_config(capsys, tmp_path, config, "'n_embd' (64) must be divisible by n_head (6)")


def test_long_bad_value_is_cut_short_in_the_message(capsys, tmp_path):
    line = refused_config(capsys, tmp_path, {**LLAMA, "model_type": "x" * 1_000_000}, "unknown model_type")
    assert len(line) < 600


def test_sizes_at_the_bounds_are_answered_quickly(capsys, tmp_path):
    """The bounds themselves are accepted: a million layers of 2^40-wide matrices, in seconds."""
    config = {**LLAMA, "num_hidden_layers": MAX_LAYERS, "vocab_size": MAX_SIZE, "hidden_size": MAX_SIZE,
              "intermediate_size": MAX_SIZE, "num_attention_heads": MAX_SIZE, "num_key_value_heads": MAX_SIZE,
              "head_dim": MAX_SIZE, "max_position_embeddings": MAX_SIZE}
    document = derived(capsys, config_file(tmp_path, config))
    assert document["params"]["per_layer"]["full_attention"]["count"] == MAX_LAYERS
    assert document["params"]["embedding"] == MAX_SIZE**2


BAD_ROPE = {
    "rope_scaling factor text": ({**LLAMA, "rope_scaling": {"rope_type": "linear", "factor": "abc"}},
                                 "'rope_scaling.factor' must be a positive number, got 'abc'"),
    "rope_parameters factor object": ({**LLAMA, "rope_parameters": {"factor": {"x": "y"}}},
                                      "'rope_parameters.factor' must be a positive number"),
    "per-layer-type factor text": ({**LLAMA, "rope_parameters": {"full_attention": {"factor": "abc"}}},
                                   "'rope_parameters.full_attention.factor'"),
    "rope_scaling a string": ({**LLAMA, "rope_scaling": "linear"}, "'rope_scaling' must be an object"),
    "nested rotary factor text": ({**PHI3, "rope_parameters": {"partial_rotary_factor": "abc"}},
                                  "'rope_parameters.partial_rotary_factor' must be a number in (0, 1]"),
    "nested rotary factor object": ({**PHI3, "rope_scaling": {"partial_rotary_factor": {"a": "b"}}},
                                    "'rope_scaling.partial_rotary_factor' must be a number in (0, 1]"),
    "rotary factor -1": ({**PHI3, "partial_rotary_factor": -1},
                         "'partial_rotary_factor' must be a number in (0, 1], got -1"),
    "rotary factor 0": ({**PHI3, "partial_rotary_factor": 0},
                        "'partial_rotary_factor' must be a number in (0, 1], got 0"),
    "nested rotary factor -1": ({**PHI3, "rope_scaling": {"partial_rotary_factor": -1}},
                                "'rope_scaling.partial_rotary_factor' must be a number in (0, 1], got -1"),
    "nested rotary factor 0": ({**PHI3, "rope_parameters": {"partial_rotary_factor": 0}},
                               "'rope_parameters.partial_rotary_factor' must be a number in (0, 1], got 0"),
    "rotary factor of a huge exponent": ({**PHI3, "partial_rotary_factor": "1e999999999"},
                                         "'partial_rotary_factor' must be a number in (0, 1]"),
}


@pytest.mark.parametrize("case", sorted(BAD_ROPE))
def test_bad_rotary_setting_is_refused_naming_it(capsys, tmp_path, case):
    config, expected = BAD_ROPE[case]
    refused_config(capsys, tmp_path, config, expected)


def test_nested_rotary_factor_counts_like_the_top_level_one(capsys, tmp_path):
    top = derived(capsys, config_file(tmp_path, {**PHI3, "partial_rotary_factor": 0.5}, "top.json"))
    nested_config = {**PHI3, "rope_parameters": {"partial_rotary_factor": 0.5}}
    nested = derived(capsys, config_file(tmp_path, nested_config, "nested.json"))
    whole = derived(capsys, config_file(tmp_path, PHI3, "whole.json"))
    assert top["flops"] == nested["flops"] != whole["flops"]


# --- hardware files -------------------------------------------------------------------------

def hardware_file(tmp_path, content) -> Path:
    path = tmp_path / "hardware.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def gpu(**changes) -> dict:
    return {"accelerators": [{**GPU, **changes}]}


BAD_HARDWARE = {
    "invalid utf-8": (b'{"accelerators": ["\xff"]}', "not UTF-8"),
    "memory a number": (gpu(memory=64), "'memory' must be an object, got 64"),
    "memory missing": ({"accelerators": [{k: v for k, v in GPU.items() if k != "memory"}]},
                       "'memory' is missing"),
    "memory unit not bytes": (gpu(memory={"value": "64", "unit": "parsecs"}), "'memory.unit'"),
    "peak_flops a list": (gpu(peak_flops=[1, 2]), "'peak_flops' must be an object"),
    "peak text": (gpu(peak_flops={"bf16": "abc"}), "'peak_flops.bf16' must be a positive number, got 'abc'"),
    "negative bandwidth": (gpu(memory_bandwidth=-1), "'memory_bandwidth' must be a positive number"),
    "zero bandwidth": (gpu(memory_bandwidth="0"), "'memory_bandwidth' must be a positive number"),
    "bandwidth of 1e999": (gpu(memory_bandwidth="1e999"), "'memory_bandwidth' must come to between 1"),
    "bandwidth of 1e-300": (gpu(memory_bandwidth=1e-300), "'memory_bandwidth' must come to between 1"),
    "bandwidth of a huge exponent": (gpu(memory_bandwidth="1e999999999"), "'memory_bandwidth'"),
    "name a number": (gpu(name=3), "'name' must be a string, got 3"),
    "interconnect a string": (gpu(interconnect="nvlink"), "'interconnect' must be an object"),
    "sources not objects": (gpu(sources={"memory": 3}), "'sources.memory' must be an object"),
    "a list": ([GPU], "expected an object with an 'accelerators' list"),
    "accelerators an object": ({"accelerators": {}}, "expected an object with an 'accelerators' list"),
    "entries strings": ({"accelerators": ["h100"]}, "accelerators[0] must be an object, got 'h100'"),
    "nested 100k deep": ("[" * 100_000 + "]" * 100_000, "nested more than 64 deep"),
}


@pytest.mark.parametrize("command", ["derive", "hardware"])
@pytest.mark.parametrize("case", sorted(BAD_HARDWARE))
def test_bad_hardware_file_is_refused_naming_the_field(capsys, tmp_path, case, command):
    content, expected = BAD_HARDWARE[case]
    path = hardware_file(tmp_path, content)
    args = ["derive", "gpt2", "--hardware", "my-gpu"] if command == "derive" else ["hardware"]
    refused(capsys, [*args, "--hardware-file", path], expected)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
@pytest.mark.parametrize("command", ["derive", "hardware"])
def test_dev_zero_as_hardware_file_is_refused(capsys, command):
    args = ["derive", "gpt2", "--hardware", "h100-sxm"] if command == "derive" else ["hardware"]
    refused(capsys, [*args, "--hardware-file", "/dev/zero"], "larger than 16 MiB")


def test_accelerator_names_are_case_insensitive(capsys, tmp_path):
    """A user's "My-GPU" is found as my-gpu, MY-GPU or My-GPU; its label keeps the name as written."""
    path = hardware_file(tmp_path, gpu())
    for name in ("My-GPU", "my-gpu", "MY-GPU", " my-GPU "):
        found = get_accelerator(name, path)
        assert (found.name, found.label) == ("my-gpu", "My-GPU")
    assert get_accelerator("H100-SXM").name == "h100-sxm"
    status, out, err = run(capsys, "check", "500 TFLOPS", "--against", "hardware.peak_flops",
                           "--hardware", "My-GPU", "--hardware-file", path)
    assert status == 0, err
    assert "exact" in out


def test_users_accelerator_overrides_a_shipped_one_in_any_case(tmp_path):
    path = hardware_file(tmp_path, gpu(name="H100-SXM", label="my own H100"))
    known = accelerators(path)
    assert known["h100-sxm"].label == "my own H100"
    assert list(known).count("h100-sxm") == 1


# --- the hardware listing -------------------------------------------------------------------

def test_hardware_listing_text_gives_each_figure_its_source(tmp_path):
    known = accelerators(hardware_file(tmp_path, gpu()))
    text = hardware_listing(known, "text")
    lines = text.splitlines()
    assert lines[0].split() == ["name", "accelerator", "bf16/fp16", "dense", "memory", "bandwidth"]
    assert any(line.startswith("h100-sxm ") and "80.00 GiB" in line for line in lines)
    assert any(line.startswith("my-gpu ") and "My-GPU" in line for line in lines)
    h100 = known["h100-sxm"]
    for figure, source in h100.sources.items():
        assert f"  {figure}: {source['url']}" in lines
        assert f'    "{source["quote"]}"' in lines
    assert "my-gpu: no source given" in lines


def test_hardware_listing_json_has_the_figures_and_their_sources():
    known = accelerators()
    entries = json.loads(hardware_listing(known, "json"))
    assert [e["name"] for e in entries] == list(known)
    h100 = next(e for e in entries if e["name"] == "h100-sxm")
    assert set(h100) == {"name", "label", "peak_flops", "memory_bytes", "memory_bandwidth",
                         "link_bandwidth_per_direction", "host_link_bandwidth_per_direction", "sources"}
    assert h100["memory_bytes"] == 80 * 2**30
    assert h100["sources"] == known["h100-sxm"].sources
    assert all(e["sources"] for e in entries)


def test_hardware_listing_of_an_accelerator_without_sources_or_link():
    bare = Accelerator("x", "X", {}, memory_bytes=2**30, memory_bandwidth=10**9, link_bandwidth=None)
    entry = json.loads(hardware_listing({"x": bare}, "json"))[0]
    assert entry["link_bandwidth_per_direction"] is None and entry["sources"] == {}
    assert "x: no source given" in hardware_listing({"x": bare}, "text").splitlines()


ISSUE_15_ACCELERATORS = ("h20", "h800-sxm", "gb200", "b300", "mi325x", "mi355x", "l4", "a10g", "rtx-5090",
                         "tpu-v6e", "gaudi-3")


def test_every_shipped_figure_has_its_address_and_quote():
    """Each accelerator's peak, memory, bandwidth and link figure names where it was read and the
    words read there (issue 15 asked for these accelerators, each figure with its quoted source)."""
    known = accelerators()
    assert set(ISSUE_15_ACCELERATORS) <= set(known)
    for name, accelerator in known.items():
        figures = {"memory", "memory_bandwidth"} | ({"peak_flops"} if accelerator.peak_flops else set()) \
            | ({"interconnect"} if accelerator.link_bandwidth else set())
        for figure in figures:
            source = accelerator.sources.get(figure)
            assert source and source.get("url") and source.get("quote"), (name, figure)
