"""`symbolic check`: formulas, stated numbers, arithmetic, claims files and the pytest helper."""

import json

import pytest
import sympy

from symbolic.architecture.workload import Workload
from symbolic.check.checker import check_arithmetic, check_formula, check_number
from symbolic.config.load import load
from symbolic.quantities.derive import Derivation
from symbolic.testing import assert_formula, assert_number

from .command import symbolic_cli
from .renderers import ROOT


def derivation(model, **workload):
    return Derivation(load(model), Workload(**workload))


def check_cli(*args, cwd=None):
    return symbolic_cli("check", *args, cwd=cwd)


def test_exact_formula_is_equivalent():
    check = check_formula("2 * n_layers * n_kv_heads * head_dim * b_kv", "kv_cache.bytes_per_token",
                          [derivation("llama-3.1-8b")])
    assert check.status == "equivalent" and check.holds


def test_mha_formula_is_equivalent_under_the_assumptions_it_needs():
    check = check_formula("2*2*nlayers*nheads*dhead", "kv_cache.bytes_per_token", [derivation("llama-2-7b")])
    assert check.status == "assumptions"
    assert [a.key for a in check.verdicts[0].assumptions] == ["mha", "two_bytes"]


def test_mha_formula_on_a_gqa_model_is_wrong_and_says_why():
    check = check_formula("2*2*nlayers*nheads*dhead", "kv_cache.bytes_per_token",
                          [derivation("llama-3.1-8b")])
    verdict = check.verdicts[0]
    assert not check.holds
    assert [a.key for a in verdict.violated] == ["mha"]
    assert [m.key for m in verdict.mistakes] == ["query_heads_for_kv"]
    assert verdict.formula_value == 4 * verdict.exact_value


def test_two_flops_per_parameter_is_close_but_named_for_what_it_leaves_out():
    # 2P counts the input embedding, a lookup that costs no FLOPs, and leaves out attention: 1.25%
    # high for Llama-3.1-70B at a short context. Close on one model is not the same expression.
    check = check_formula("2 * P", "flops.decode_step.total", [derivation("llama-3.1-70b", prompt=128)])
    verdict = check.verdicts[0]
    assert check.status == "not_equivalent"
    assert 0 < verdict.relative_error < 0.02
    assert [m.key for m in verdict.mistakes] == ["two_flops_per_parameter", "attention_missing"]
    assert [m.key for m in verdict.neglected] == ["elementwise_left_out"]
    # declared negligible, attention is neglected too; counting the embedding table as a matmul is
    # still a mistake
    declared = check_formula("2 * P", "flops.decode_step.total", [derivation("llama-3.1-70b", prompt=128)],
                             neglect=("elementwise", "attention"))
    assert [m.key for m in declared.verdicts[0].mistakes] == ["two_flops_per_parameter"]


def test_without_a_model_every_preset_is_checked_and_grouped():
    check = check_formula("2*2*nlayers*nheads*dhead", "kv_cache.bytes_per_token",
                          [derivation(m) for m in ("gpt2", "llama-2-7b", "llama-3.1-8b", "qwen2.5-7b")])
    groups = {tuple(v.model for v in group): group[0].status for group in check.groups()}
    assert groups == {("gpt2", "llama-2-7b"): "assumptions", ("llama-3.1-8b", "qwen2.5-7b"): "not_equivalent"}


def test_numbers_gb_and_gib_and_factors():
    d = derivation("llama-3.1-70b", prompt=2048)
    assert check_number("671 MB", "kv_cache.bytes_per_sequence", d).verdict.status == "agrees"
    gib = check_number("640 MB", "kv_cache.bytes_per_sequence", d).verdict
    assert gib.status == "unit_mixup" and gib.reading == "MiB"
    doubled = check_number("1342 MB", "kv_cache.bytes_per_sequence", d).verdict
    assert doubled.status == "differs" and "factor of 2" in doubled.factor
    thousand = check_number("671 GB", "kv_cache.bytes_per_sequence", d).verdict
    assert "1000" in thousand.factor
    assert check_number("700 MB", "kv_cache.bytes_per_sequence", d, tolerance=0.05).holds


def test_arithmetic_claims():
    assert check_arithmetic("312/1.5 = 208").verdict.status == "exact"
    wrong = check_arithmetic("16/900 = 22.22")
    assert not wrong.holds and float(wrong.exact) == pytest.approx(0.017778, rel=1e-4)


def test_unknown_symbol_names_the_closest_and_exits_2():
    result = check_cli("2 * nlayer * dmodel", "--against", "params.total", "--model", "gpt2")
    assert result.returncode == 2
    assert result.stderr.strip() == ("symbolic: error: unknown symbol 'nlayer' at position 5; "
                                     "did you mean nlayers, n_layer, n_layers?")


def test_users_map_their_own_names():
    result = check_cli("2 * L * kvdim * 2", "--let", "kvdim=n_kv*d_h", "--against",
                          "kv_cache.bytes_per_token", "--model", "llama-3.1-8b")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "equivalent under assumptions" in result.stdout


def test_json_verdicts():
    result = check_cli("671 MB", "--against", "kv_cache.bytes", "--model", "llama-3.1-70b", "--context",
                          2048, "--json")
    document = json.loads(result.stdout)
    assert result.returncode == 0 and document["results"][0]["verdict"] == "agrees"


def test_the_seed_audit_claims_file_runs_in_ci():
    result = check_cli("--claims", ROOT / "docs" / "seed-audit.claims.md", "--format", "json")
    assert result.returncode == 0, result.stdout[-2000:]
    summary = json.loads(result.stdout)["summary"]
    assert summary == {"claims": 36, "failed": 0}


def test_a_claims_file_with_a_failing_claim_exits_1(tmp_path):
    claims = tmp_path / "claims.md"
    claims.write_text("| claim | against | model | setting |\n|---|---|---|---|\n"
                      "| 2*L*n_kv*d_h*b_kv | kv_cache.bytes_per_token | llama-3.1-8b | |\n"
                      "| 2*L*H*2 | kv_cache.bytes_per_token | llama-3.1-8b | kv_dtype=fp16 |\n")
    result = check_cli("--claims", claims, "--format", "md")
    assert result.returncode == 1
    assert "2 claims; 1 pass, 1 do not" in result.stdout


def test_yaml_claims_files(tmp_path):
    claims = tmp_path / "claims.yaml"
    claims.write_text("- claim: 16/0.002 = 8000\n"
                      "- claim: 131072 B\n  against: kv_cache.bytes_per_token\n  model: llama-3.1-8b\n")
    assert check_cli("--claims", claims).returncode == 0


@pytest.mark.parametrize("text, message", [
    ("| claim | against | nonsense |\n|---|---|---|\n| 1 = 1 | | |\n", "unknown column 'nonsense'"),
    ("no table here\n", "no Markdown table with a 'claim' column"),
    ("| claim | expect |\n|---|---|\n| 1 = 1 | maybe |\n", "expect must be 'holds' or 'fails'"),
])
def test_bad_claims_files_get_one_line(tmp_path, text, message):
    claims = tmp_path / "claims.md"
    claims.write_text(text)
    result = check_cli("--claims", claims)
    assert result.returncode == 2 and message in result.stderr and len(result.stderr.splitlines()) == 1


def test_pytest_helpers():
    assert_formula("2 * n_layers * n_kv_heads * head_dim * 2", "kv_cache.bytes_per_token",
                   model="llama-3.1-8b")
    assert_number("16.06 GB", "memory.weights_bytes", model="llama-3.1-8b")
    with pytest.raises(AssertionError, match="GQA has only n_kv KV heads"):
        assert_formula("2 * n_layers * hidden_size * 2", "kv_cache.bytes_per_token", model="llama-3.1-8b")


@pytest.mark.parametrize("claim,status", [
    ("7.61B", "truncated"),      # the Qwen2.5-7B model card: 'Number of Parameters: 7.61B' (issue 16)
    ("7.62B", "agrees"),         # rounded
    ("7.60B", "differs"),        # neither: 15.6 million below, more than one unit of the last digit
    ("7.61 billion", "truncated"),
    ("7,615,616,512", "exact"),  # transformers' count (test_oracle_presets)
])
def test_a_parameter_count_written_as_model_cards_write_it(claim, status):
    """'B' after a parameter count is billions; a figure cut to its digits holds, as one rounded does."""
    d = Derivation(load("qwen2.5-7b"), Workload())
    check = check_number(claim, "params.total", d)
    assert check.verdict.status == status and check.holds == (status != "differs")


def test_a_causal_discount_in_decode_is_named():
    # DESIGN.md's peer trap: "a causal factor ... silently applied to decode as well as prefill"
    halved = check_formula("2 * B * L * n_q * d_h * (c + 1)", "flops.decode_step.attention",
                           [derivation("llama-3.1-8b")])
    assert "causal_discount_in_decode" in [m.key for e in halved.verdicts[0].explanations for m in e]


# --- issue 16: verdicts that say why, figures as people write them, names people use ----------

WRONG_CLAIMS = [
    ["2*L*H", "--against", "kv_cache.elements_per_token", "--model", "llama-3.1-8b"],   # a formula
    ["2 GB", "--against", "memory.weights_bytes", "--model", "llama-3.1-8b"],          # a number
    ["16/900 = 0.5"],                                                                  # arithmetic
    ["1979 TFLOPS", "--against", "hardware.peak_flops", "--hardware", "h100-sxm"],     # a datasheet
    ["16 GB", "--against", "per_device.weights_bytes", "--model", "llama-3.1-8b", "--tp", "2"],
]


@pytest.mark.parametrize("args", WRONG_CLAIMS,
                         ids=["formula", "number", "arithmetic", "hardware", "per-device"])
@pytest.mark.parametrize("form", ["text", "json"])
def test_a_claim_that_does_not_hold_exits_1_whatever_its_kind(args, form):
    result = check_cli(*args, "--format", form)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_a_wrong_figure_is_named_for_the_mistake_that_makes_it():
    # "340 GB" for Llama-3.1-70B at 128K: 2 x 80 layers x 8192 hidden x 131072 x 2 bytes = 343.6 GB
    # (the dev.to post quoted in tests/corpus/checker.json); the exact cache is 42.9 GB
    d = derivation("llama-3.1-70b", context=131072)
    check = check_number("340 GB", "kv_cache.bytes_per_sequence", d)
    assert not check.holds
    assert [f.key for f in check.findings] == ["query_heads_for_kv"]


def test_a_figure_right_for_a_sibling_quantity_says_which():
    # DeepSeek-V3's card: "37B activated"; 36.6B is the count without the embedding table
    check = check_number("36.6B", "params.active", derivation("deepseek-v3"))
    keys = [f.key for e in check.explanations for f in e]
    assert "sibling_key" in keys
    assert any("params.active_without_embedding" in f.reason for e in check.explanations for f in e)


@pytest.mark.parametrize("claim", ["671B", "671 billion", "0.671T", "671G", "671bn"])
def test_counts_are_read_as_model_cards_write_them(claim):
    # DeepSeek-V3's model card: "671B total parameters", in each way people write it
    check = check_number(claim, "params.total", derivation("deepseek-v3"))
    assert check.holds, claim


def test_elements_are_a_unit_and_floor_division_reads_as_transformers_computes_head_dim():
    d = derivation("llama-3.1-8b")
    assert check_number("65536 elements", "kv_cache.elements_per_token", d).holds
    check = check_formula("2*L*(H//n_q)*n_kv", "kv_cache.elements_per_token", [d])
    assert check.holds
    assert "exact_division" in [a.key for a in check.verdicts[0].assumptions]


def test_a_one_letter_name_read_another_way_gets_a_note_and_notation_reads_it_as_meant():
    d = derivation("llama-3.1-8b")
    default = check_formula("2*L*K*H", "kv_cache.elements_per_token", [d])
    assert not default.holds
    assert any("read K as k" in w and "--notation scaling-book" in w for w in default.warnings)
    scaling_book = check_formula("2*L*K*H", "kv_cache.elements_per_token", [d], notation="scaling-book")
    assert scaling_book.status == "equivalent" and not scaling_book.warnings
    unknown = check_cli("2*L*D", "--against", "kv_cache.elements_per_token", "--model", "llama-3.1-8b")
    assert unknown.returncode == 2 and "--notation scaling-book" in unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1


def test_the_unknown_quantity_error_lists_every_key():
    result = check_cli("2*L", "--against", "kv_cach.bytes", "--model", "deepseek-v3")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    for key in ("params.per_layer.full_attention_moe.mlp", "moe.tokens_per_expert_decode",
                "mla.kv_elements_per_token_compressed", "flops.training.per_token",
                "per_device.weights_bytes"):
        assert key in result.stderr, key


def test_neglected_terms_are_declared_and_a_bad_one_refused():
    result = check_cli("2*P", "--against", "flops.decode_step.total", "--model", "llama-3.1-8b",
                       "--neglect", "attentoin")
    assert result.returncode == 2 and "attentoin" in result.stderr
    strict = check_formula("12*L*H^2", "params.layers", [derivation("gpt2")], neglect=())
    assert strict.status == "not_equivalent"
    assert "norms_left_out" in [m.key for m in strict.verdicts[0].mistakes]


def test_a_per_device_share_and_the_whole_model_are_told_apart():
    # Llama-3.1-8B's card: 8.03B parameters, so 16.06 GB in bf16; two devices hold half each
    ok = check_cli("8.03 GB", "--against", "per_device.weights_bytes", "--model", "llama-3.1-8b",
                   "--tp", "2")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    whole = check_cli("16.06 GB", "--against", "per_device.weights_bytes", "--model", "llama-3.1-8b",
                      "--tp", "2", "--format", "json")
    assert whole.returncode == 1 and "total_for_per_device" in whole.stdout
    share = check_cli("8.03 GB", "--against", "memory.weights_bytes", "--model", "llama-3.1-8b",
                      "--tp", "2", "--format", "json")
    assert share.returncode == 1 and "share_for_total" in share.stdout
    bad = check_cli("8.03 GB", "--against", "per_device.weights_bytes", "--model", "llama-3.1-8b",
                    "--tp", "0")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


def test_percentages_and_approximate_signs_in_arithmetic():
    assert check_arithmetic("16/900 = 1.78%").holds
    assert check_arithmetic("16/900 ≈ 0.0178").holds
    result = check_cli("2*3 = 6 GB")
    assert result.returncode == 2 and "plain number" in result.stderr


@pytest.mark.parametrize("key, field", [("time.prefill", "ttft_s"), ("time.decode_step", "tpot_at_context_s"),
                                        ("time.request.total", "request_s")])
def test_request_times_are_the_ones_derive_reports(key, field):
    # one description, two views: the checker's time.* quantities are derive's performance figures
    setting = ["--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--context", "2048"]
    checked = check_cli("1 s", "--against", key, *setting, "--format", "json")
    exact = json.loads(checked.stdout)["results"][0]["exact"]
    derived = symbolic_cli("derive", "llama-3.1-8b", "--hardware", "h100-sxm", "--context", "2048",
                           "--format", "json")
    reported = json.loads(derived.stdout)["performance"][field][0]
    assert float(sympy.Rational(str(exact))) == pytest.approx(reported, rel=1e-12)
    refused = check_cli("1 s", "--against", key, "--model", "llama-3.1-8b")
    assert refused.returncode == 2 and "--hardware" in refused.stderr


@pytest.mark.parametrize("args", [
    ["6*P*B*S", "--against", "flops.training.total", "--model", "llama-3.1-8b"],
    ["1e15 FLOP", "--against", "flops.training.total", "--model", "llama-3.1-8b"],
    ["2*B*H*n_q*d_h", "--against", "ops.full_attention.q_proj.flops.decode_step"],
    ["6.4B", "--against", "params.total", "--model", "llama-2-7b", "--tolerance", "10%", "--json"],
    ["16 billion", "--against", "flops.decode_step.total", "--model", "llama-3.1-8b"],
])
def test_more_claims_get_a_verdict_not_a_traceback(args):
    # found by a second reading of the change: each crashed or was refused before
    result = check_cli(*args)
    assert result.returncode in (0, 1), result.stderr
    assert "Traceback" not in result.stderr


def test_a_notation_reads_its_letters_as_written():
    # scaling-book's K is the KV heads; the vocabulary's lowercase k stays top-k
    d = derivation("mixtral-8x7b")
    check = check_formula("2*B*k*3*D*F", "flops.decode_step.matmul", [d], notation="scaling-book")
    assert "k" in {s.name for s in check.formula.free_symbols}


def test_a_claims_file_reason_must_be_a_known_one(tmp_path):
    claims = tmp_path / "c.json"
    claims.write_text(json.dumps([{"claim": "2*L*H", "against": "kv_cache.elements_per_token",
                                   "model": "llama-3.1-8b", "expect": "fails",
                                   "reason": "query_head_for_kv"}]))
    result = check_cli("--claims", str(claims))
    assert result.returncode == 2 and "did you mean query_heads_for_kv" in result.stderr
