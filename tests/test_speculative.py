"""Speculative decoding and multi-token prediction (issue 15): a verify step of gamma + 1 tokens
after gamma draft steps, E = (1 - alpha^(gamma + 1)) / (1 - alpha) tokens per step."""

import json

import pytest

from .command import symbolic_cli

BASE = ["llama-3.1-8b", "--hardware", "h100-sxm", "--batch", "1,64", "--prompt", "1024", "--output", "128"]


def _perf(*args) -> dict:
    result = symbolic_cli("derive", *BASE, *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["performance"]


def test_no_drafted_token_is_plain_decoding():
    plain = _perf()
    none = _perf("--draft", "llama-3.2-1b", "--speculative-tokens", "0", "--acceptance", "0.8")
    assert plain == none


def test_with_nothing_accepted_each_step_makes_one_token_and_costs_more():
    plain = _perf()
    rejected = _perf("--draft", "llama-3.2-1b", "--speculative-tokens", "3", "--acceptance", "0")
    assert rejected["speculative"]["expected_tokens_per_step"] == 1
    assert all(r > p for r, p in zip(rejected["tpot_mean_s"], plain["tpot_mean_s"], strict=True))


@pytest.mark.parametrize("gamma,alpha", [(2, "0.6"), (4, "0.8"), (6, "0.9")])
def test_the_speedup_at_batch_1_is_leviathan_s(gamma, alpha):
    """Leviathan, Kalman and Matias (ICML 2023), Theorem 3.8: the expected walltime improvement is
    (1 - alpha^(gamma+1)) / ((1 - alpha)(gamma c + 1)), c the draft's step over the model's, when
    verifying gamma + 1 tokens costs one step of the model (batch 1 reads its weights once)."""
    a = float(alpha)
    draft = json.loads(symbolic_cli("derive", "llama-3.2-1b", "--hardware", "h100-sxm", "--batch", "1",
                                     "--prompt", "1024", "--output", "128").stdout)["performance"]
    plain = _perf()
    cost = draft["tpot_mean_s"][0] / plain["tpot_mean_s"][0]
    spec = _perf("--draft", "llama-3.2-1b", "--speculative-tokens", str(gamma), "--acceptance", alpha)
    speedup = plain["tpot_mean_s"][0] / spec["tpot_mean_s"][0]
    paper = (1 - a ** (gamma + 1)) / ((1 - a) * (gamma * cost + 1))
    assert speedup == pytest.approx(paper, rel=0.02)
    assert speedup < paper          # verifying gamma + 1 tokens costs a little more than one


def test_the_draft_holds_memory_and_prefills_the_prompt():
    plain = _perf()
    spec = _perf("--draft", "llama-3.2-1b", "--speculative-tokens", "4", "--acceptance", "0.8")
    assert spec["max_batch"] < plain["max_batch"]
    assert spec["ttft_s"][0] > plain["ttft_s"][0]
    draft = json.loads(symbolic_cli("derive", "llama-3.2-1b").stdout)["memory"]["weights_bytes"]
    assert spec["speculative"]["draft_weights_bytes_per_device"] == draft


def test_multi_token_prediction_adds_one_layer_and_shares_the_head(tmp_path):
    """An MTP module (DeepSeek-V3's num_nextn_predict_layers = 1, here on the smaller DeepSeek-V2-Lite
    shapes): one more decoder layer of the last kind; it shares the embedding and the output head with
    the model, so it holds what one more layer of the model would."""
    import symbolic
    from symbolic.config.presets import get_preset

    config = {**get_preset("deepseek-v2-lite").config, "num_nextn_predict_layers": 1}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    result = symbolic_cli("derive", path, "--hardware", "h100-sxm", "--draft", "mtp",
                          "--speculative-tokens", "1", "--acceptance", "0.85")
    assert result.returncode == 0, result.stderr
    spec = json.loads(result.stdout)["performance"]["speculative"]
    deeper = {**config, "num_hidden_layers": config["num_hidden_layers"] + 1}
    one_layer = symbolic.derive(deeper).value("memory.weights_bytes") - symbolic.derive(config).value(
        "memory.weights_bytes")
    assert spec["draft_shares_embedding_and_head"] is True
    assert spec["draft_weights_bytes_per_device"] == one_layer
    assert spec["expected_tokens_per_step"] == pytest.approx(1.85)


def test_qwen3_next_has_its_mtp_layer_beside_a_pipeline():
    """Qwen3-Next's config names no MTP field, but every checkpoint ships one layer (vLLM serves it as
    qwen3_next_mtp from the model type); the layer runs whole on the last stage under --pp."""
    result = symbolic_cli("derive", "qwen3-next-80b-a3b", "--hardware", "h200", "--tp", "4", "--pp", "2",
                          "--draft", "mtp", "--speculative-tokens", "2", "--acceptance", "0.8")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["performance"]["speculative"]["draft_shares_embedding_and_head"]


def test_a_model_without_an_mtp_layer_has_no_mtp_draft():
    result = symbolic_cli("derive", "deepseek-v2-lite", "--hardware", "h100-sxm", "--draft", "mtp",
                          "--speculative-tokens", "1", "--acceptance", "0.85")
    assert result.returncode == 2 and "num_nextn_predict_layers" in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("args,message", [
    (["--draft", "mtp"], "--speculative-tokens is missing"),
    (["--draft", "mtp", "--speculative-tokens", "2", "--acceptance", "1.5"], "--acceptance"),
    (["--draft", "nope", "--speculative-tokens", "2", "--acceptance", "0.5"], "nope"),
])
def test_bad_speculation_is_refused_in_one_line(args, message):
    result = symbolic_cli("derive", *BASE, *args)
    assert result.returncode == 2 and message in result.stderr and result.stderr.count("\n") == 1


def test_the_figures_and_sweeps_do_not_take_a_draft():
    result = symbolic_cli("sweep", "llama-3.1-8b", "--hardware", "h100-sxm", "--draft", "mtp")
    assert result.returncode == 2 and "--draft" in result.stderr


def test_a_dense_draft_runs_beside_an_expert_parallel_model():
    """--ep spreads the model's experts; a dense draft has none, so it runs whole on each device."""
    result = symbolic_cli("derive", "qwen3-30b-a3b", "--hardware", "h100-sxm", "--ep", "2", "--draft",
                          "llama-3.2-1b", "--speculative-tokens", "2", "--acceptance", "0.7")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["performance"]["speculative"]["expected_tokens_per_step"] == \
        pytest.approx(1 + 0.7 + 0.49)
