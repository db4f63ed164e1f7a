"""The command line: the JSON document, determinism, and one-line errors for bad input."""

import json
import os
import stat

import pytest

from .command import symbolic_cli

REQUIRED_PRESETS = (
    "llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b",
    "mistral-7b-v0.1", "qwen2.5-0.5b", "qwen2.5-7b", "qwen2.5-72b", "qwen3-8b", "gemma-2-9b",
    "phi-3-mini-4k-instruct", "gpt2", "gpt2-xl",
)
REQUIRED_INTEGERS = (
    "params.total", "params.embedding", "params.lm_head", "kv_cache.bytes_per_token",
    "flops.prefill.total", "flops.prefill.matmul", "flops.prefill.attention",
    "flops.prefill.elementwise", "flops.decode_step.total", "flops.decode_step.matmul",
    "flops.decode_step.attention", "flops.decode_step.elementwise", "memory.weights_bytes",
)

LLAMA = {"model_type": "llama", "vocab_size": 1000, "hidden_size": 64, "intermediate_size": 128,
         "num_hidden_layers": 2, "num_attention_heads": 8, "num_key_value_heads": 2}


def lookup(document, dotted):
    for part in dotted.split("."):
        document = document[part]
    return document


def test_presets_lists_the_required_models():
    result = symbolic_cli("presets")
    assert result.returncode == 0
    names = {line.split()[0] for line in result.stdout.splitlines()}
    assert set(REQUIRED_PRESETS) <= names


def test_derive_json_holds_exact_integers_closed_forms_and_conventions():
    result = symbolic_cli("derive", "llama-3.1-8b", "--format", "json", "--batch", 4, "--prompt", 1024,
                          "--context", 4096)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    for key in REQUIRED_INTEGERS:
        assert isinstance(lookup(document, key), int), key
        assert key in document["closed_forms"], key
    assert document["params"]["per_layer"]["full_attention"]["count"] == 32
    assert document["workload"] == {"batch": 4, "prompt": 1024, "context": 4096}
    assert document["conventions"]["attention_count"] == "causal"
    assert document["conventions"]["flops_per_mac"] == 2
    assert document["closed_forms"]["kv_cache.bytes_per_token"] == "2*L*b_kv*d_h*n_kv"


def test_options_change_what_they_should():
    base = json.loads(symbolic_cli("derive", "llama-3.1-8b").stdout)
    full = json.loads(symbolic_cli("derive", "llama-3.1-8b", "--attention-count", "full").stdout)
    fp8 = json.loads(symbolic_cli("derive", "llama-3.1-8b", "--weight-dtype", "fp8",
                                  "--kv-dtype", "fp8").stdout)
    assert full["flops"]["prefill"]["attention"] > base["flops"]["prefill"]["attention"]
    assert full["flops"]["decode_step"] == base["flops"]["decode_step"]
    assert 2 * fp8["memory"]["weights_bytes"] == base["memory"]["weights_bytes"]
    assert 2 * fp8["kv_cache"]["bytes_per_token"] == base["kv_cache"]["bytes_per_token"]


def test_output_is_deterministic_and_o_writes_the_same_bytes(tmp_path):
    first = symbolic_cli("derive", "gemma-2-9b").stdout
    second = symbolic_cli("derive", "gemma-2-9b").stdout
    assert first == second
    target = tmp_path / "out.json"
    assert symbolic_cli("derive", "gemma-2-9b", "-o", target).returncode == 0
    assert target.read_text() == first
    # as open() would make it (0o666 less the umask), not the 0o600 of a temporary file
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


def test_default_workload_fits_the_model_and_long_contexts_are_flagged():
    gpt2 = json.loads(symbolic_cli("derive", "gpt2").stdout)
    assert gpt2["workload"] == {"batch": 1, "prompt": 512, "context": 512}
    assert gpt2["warnings"] == []
    long = json.loads(symbolic_cli("derive", "llama-2-7b", "--context", 8192).stdout)
    assert "beyond max_position_embeddings (4096)" in long["warnings"][0]


def test_a_config_path_or_its_folder_works(tmp_path):
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(LLAMA))
    by_file = json.loads(symbolic_cli("derive", folder / "config.json").stdout)
    by_folder = json.loads(symbolic_cli("derive", folder).stdout)
    assert by_file == by_folder
    assert by_file["model"]["name"] == "my-model"


def _config(**changes):
    config = dict(LLAMA)
    for key, value in changes.items():
        if value is None:
            config.pop(key)
        else:
            config[key] = value
    return json.dumps(config)


BAD_CONFIGS = {
    "missing field": (_config(hidden_size=None), "'hidden_size' is missing"),
    "zero size": (_config(num_hidden_layers=0), "'num_hidden_layers' must be a positive integer"),
    "negative size": (_config(intermediate_size=-5), "'intermediate_size'"),
    "heads not divisible": (_config(num_key_value_heads=3), "'num_key_value_heads' (3) must divide"),
    "unknown model_type": (_config(model_type="transformer-xl"), "unknown model_type 'transformer-xl'"),
    "no model_type": (_config(model_type=None), "'model_type' is missing"),
    "string size": (_config(hidden_size="4096"), "'hidden_size' must be an integer"),
    "boolean size": (_config(vocab_size=True), "'vocab_size' must be an integer"),
    "broken json": ('{"model_type": "llama", "hidden_size": 64,,}', "not valid JSON"),
    "not an object": ("[1, 2, 3]", "must be a JSON object"),
    "bad layer_types": (_config(model_type="gemma2", layer_types=["full_attention"]), "'layer_types'"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_configs_get_one_line_naming_the_field(tmp_path, case):
    text, expected = BAD_CONFIGS[case]
    path = tmp_path / "config.json"
    path.write_text(text)
    out = tmp_path / "out.json"
    result = symbolic_cli("derive", path, "-o", out)
    _assert_one_line_error(result, expected)
    assert not out.exists()


BAD_ARGUMENTS = {
    "unknown model": (["derive", "lama-3.1-8b"], "did you mean llama-3.1-8b"),
    "unknown dtype": (["derive", "gpt2", "--weight-dtype", "fp7"], "unknown dtype 'fp7'"),
    "zero batch": (["derive", "gpt2", "--batch", "0"], "--batch must be >= 1"),
    "text batch": (["derive", "gpt2", "--batch", "many"], "--batch: cannot read 'many'"),
    "bad count": (["derive", "gpt2", "--attention-count", "half"], "--attention-count"),
    "bad convention": (["derive", "gpt2", "--convention", "softmax_flops=x"], "softmax_flops needs a number"),
    "unknown convention": (["derive", "gpt2", "--convention", "foo=1"], "unknown convention 'foo'"),
    "missing folder": (["derive", "gpt2", "-o", "/nonexistent/folder/out.json"], "does not exist"),
    "no command": ([], "required"),
    "beyond learned positions": (["derive", "gpt2", "--prompt", "2000"], "1024 learned positions"),
    "negative context": (["derive", "gpt2", "--context", "-1"], "--context must be >= 0"),
}


@pytest.mark.parametrize("case", sorted(BAD_ARGUMENTS))
def test_bad_arguments_get_one_line(case):
    args, expected = BAD_ARGUMENTS[case]
    _assert_one_line_error(symbolic_cli(*args), expected)


def _assert_one_line_error(result, expected):
    assert result.returncode == 2, result
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("symbolic: error: ")
    assert expected in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.oracle
def test_derive_llama_3_1_8b_matches_transformers():
    """The issue's acceptance check: the CLI's numbers are transformers' numbers."""
    from symbolic.config.presets import get_preset

    from . import oracle

    document = json.loads(symbolic_cli("derive", "llama-3.1-8b", "--format", "json").stdout)
    real = oracle.parameter_counts(oracle.build(get_preset("llama-3.1-8b").config, meta=True))
    assert document["params"]["total"] == real.total == 8_030_261_248
    assert document["params"]["embedding"] == real.embedding
    assert document["params"]["lm_head"] == real.lm_head
    assert document["params"]["per_layer"]["full_attention"]["total"] == real.per_layer[0]
