"""Hostile input to ``symbolic check`` (issue 11): a formula, number, piece of arithmetic or claims
file that cannot be answered gets one line, ``symbolic: error: ...`` naming the token or field at
fault, exit status 2, no traceback, in bounded time; one that can be answered gets a correct
verdict (exit 0 or 1), and its JSON report is strict JSON."""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symbolic.check.checker import check_formula
from symbolic.check.parser import parse_formula
from symbolic.config.load import load
from symbolic.quantities.derive import Derivation
from symbolic.symbols import H, L, b_kv, d_h, n_kv

from .hostile import answered, refused, run, strict_json, write_input

SECONDS = 10  # every hostile input is answered well within this
GPT2 = ["--against", "params.total", "--model", "gpt2"]
WEIGHTS = ["--against", "memory.weights_bytes", "--model", "gpt2"]


# --- 1. powers with symbolic or huge exponents -----------------------------------------------

@pytest.mark.parametrize("formula", ["2^(L*H*V)", "2^L", "H^(H)", "H^(H*V)", "2^(-L*H)", "(1/2)^(L*H*V)",
                                     "2^2^L", "(-3)^(L*H)", "ceil(sqrt(H*V*L)^255)", "floor(1e40*log(H))",
                                     "floor((log(H) + 1000)^256)"])
def test_a_symbolic_exponent_gets_a_verdict_in_bounded_time(formula):
    out = answered("check", formula, *GPT2, status=1)
    assert "verdict: not equivalent" in out
    document = strict_json(answered("check", formula, *GPT2, "--format", "json", status=1))
    assert document["results"][0]["verdict"] == "not_equivalent"


def test_a_power_too_large_to_evaluate_is_not_equivalent_with_a_reason():
    out = answered("check", "2^(L*H*V)", *GPT2, status=1)
    assert "the formula has no finite real value, or one too large to evaluate" in out


@pytest.mark.parametrize("formula, at", [
    ("2^2^2^2^2", "exponent 65536 at position 2"),
    ("(H^200)^200", "exponent 40000 at position 9"),
    ("10^-400 * L", "exponent -400 at position 3"),
    ("H^1000", "exponent 1000 at position 2"),
    ("(sqrt(2)*10^100)^4", "power at position 18"),
    ("ceil(sqrt(2)*1e399)", "ceil() at position 1"),
    ("floor(1e399*log(3))", "floor() at position 1"),
])
def test_an_exponent_or_power_too_large_is_refused_naming_it(formula, at):
    refused("check", formula, *GPT2, expected=(at,))


def test_the_hanging_commands_of_the_fuzz_report_end_in_a_subprocess():
    moe = ["--against", "moe.experts_touched_decode", "--model", "mixtral-8x7b"]
    for args in (["2^(L*H*V)", *GPT2], ["E", *moe]):
        result = subprocess.run([sys.executable, "-m", "symbolic", "check", *args], capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 1 and result.stderr == "", result.stderr


def test_a_quantity_with_a_symbolic_exponent_is_checked_quickly():
    """E (1 - (1 - k/E)^B): evaluated at random points of B up to a million, and at a batch whose
    exact power has hundreds of thousands of bits (rounded alike on both sides)."""
    moe = ["--against", "moe.experts_touched_decode", "--model", "mixtral-8x7b"]
    assert "verdict: equivalent" in answered("check", "E*(1-(1-k/E)^B)", *moe, status=0)
    assert "verdict: equivalent" in answered("check", "E - E*(1-k/E)^B", *moe, "--batch", "100000", status=0)
    assert "verdict: not equivalent" in answered("check", "E*(1-(1-k/E)^(B+1))", *moe, status=1)


def test_min_of_a_power_too_large_to_evaluate_gets_a_verdict():
    """Found by fuzzing: min(zoo, x) made SymPy raise 'The argument zoo is not comparable'."""
    out = answered("check", "+min(c^(L*H*V), W - 1) * 2 n_kv d_h", "--against", "kv_cache.bytes_per_token",
                   "--model", "gemma-2-9b", status=1)
    assert "verdict: not equivalent" in out


# --- 2. values that are complex, undefined, tiny or huge -------------------------------------

@pytest.mark.parametrize("formula, at", [
    ("log(0)", "log() at position 1 has no finite real value"),
    ("sqrt(-1)*L", "sqrt() at position 1 has no finite real value"),
    ("log(-H)", "log() at position 1 has no finite real value"),
    ("(-8)^(1/3)", "the power at position 5 has no finite real value"),
    ("0^(-H)", "the power at position 2 has no finite real value"),
    ("1/(H-H)", "division by zero at position 2"),
    ("log(1)^-1", "0 to a non-positive power at position 7"),
])
def test_a_formula_without_a_real_value_is_refused_naming_the_call(formula, at):
    refused("check", formula, *GPT2, expected=(at,))


@pytest.mark.parametrize("formula", ["1/(L-12)", "sqrt(L-H)", "H*log(L-H)", "min(sqrt(L-H), H)",
                                     "max(log(L-H), 1)*H", "min(2^(L*H*V), L)", "floor(2^(L*H*V))"])
def test_a_formula_undefined_on_the_model_is_not_equivalent_with_a_reason(formula):
    """gpt2 has L = 12 layers and H = 768: a division by zero, a square root and a logarithm of a
    negative number there."""
    out = answered("check", formula, *GPT2, status=1)
    assert "reason: on this model the formula has no finite real value" in out
    strict_json(answered("check", formula, *GPT2, "--format", "json", status=1))


def test_tiny_and_huge_values_are_shown_and_written_as_strict_json():
    assert "gpt2: formula 1.2e-399" in answered("check", "1e-400 * L", *GPT2, status=1)
    refused("check", "1e-401 * L", *GPT2, expected=("number 1e-401 at position 1 is too large",))
    refused("check", "(10^200*H)*(10^200*H)*(10^200*H)", *GPT2, expected=("at position", "too large"))
    out = answered("check", "2^(20*H)", *GPT2, status=1)  # 4,624 digits: more than Python prints
    assert "gpt2: formula 6.6181e+4623" in out
    document = strict_json(answered("check", "2^(20*H)", *GPT2, "--format", "json", status=1))
    example = document["results"][0]["groups"][0]["examples"][0]
    assert example["formula"].startswith("6.6181") and example["relative_error"].endswith("e+4615")
    document = strict_json(answered("check", "1e-400 * L", *GPT2, "--format", "json", status=1))
    assert document["results"][0]["groups"][0]["examples"][0]["relative_error"] == -1.0


NUMBERS = [
    ("1e999 GB", "number 1e999 at position 1 is too large"),
    ("1e99999999 GB", "is too large"),
    ("nan GB", "unknown symbol 'nan' at position 1"),
    ("inf GB", "unknown symbol 'inf' at position 1"),
    ("1" * 5000 + " GB", "more than 400 digits"),
    ("١٢٣ GB", "unexpected character '١' at position 1"),
    ("１２３ GB", "unexpected character '１' at position 1"),
    ("12,345," + "9" * 500 + " GB", "at position"),
]


@pytest.mark.parametrize("claim, expected", NUMBERS, ids=[claim[:20] for claim, _ in NUMBERS])
def test_a_stated_number_out_of_range_is_refused(claim, expected):
    refused("check", claim, *WEIGHTS, expected=(expected,))


ARITHMETIC = [
    ("16/0 = 1", "division by zero at position 3"),
    ("1e400/1e-400 = 1", "number at position 6 is too large"),
    ("10^10^10 = 1", "exponent 10000000000 at position 3"),
    ("1 = 1e99999999", "is too large"),
    ("1 = " + "1" * 5000, "more than 400 digits"),
    ("2 = nan", "cannot read the claimed value"),
    ("log(0) = 1", "log() at position 1 has no finite real value"),
]


@pytest.mark.parametrize("claim, expected", ARITHMETIC, ids=[claim[:20] for claim, _ in ARITHMETIC])
def test_bad_arithmetic_is_refused(claim, expected):
    refused("check", claim, expected=(expected,))


def test_arithmetic_with_irrational_values_gets_a_verdict():
    assert "verdict: agrees" in answered("check", "sqrt(2) = 1.414", status=0)
    document = strict_json(answered("check", "log(2)*1e300 = 6.93e299", "--format", "json", status=0))
    assert document["results"][0]["verdict"] == "agrees"
    assert "verdict: wrong" in answered("check", "sqrt(2)*1e300 = 1", status=1)


# --- 3. claims files --------------------------------------------------------------------------

def claims(tmp_path: Path, name: str, content) -> Path:
    return write_input(tmp_path, name, content)


@pytest.mark.parametrize("name", ["claims.md", "claims.yaml", "claims.json"])
def test_a_claims_file_that_is_not_utf8_is_refused(tmp_path, name):
    path = claims(tmp_path, name, b"| claim |\n|---|\n| \xff\xfe |\n")
    refused("check", "--claims", path, expected=(name, "not UTF-8"))


@pytest.mark.parametrize("rows, expected", [
    ([{"claim": ["2*L"]}], "claim 1: claim must be text, got list"),
    ([{"claim": 70553706496}], "claim 1: claim must be text, got int (quote it)"),
    ([{"claim": "1 = 1"}, {"claim": "H", "setting": [1]}], "claim 2: setting must be text"),
    ([{"claim": "H", "setting": 5}], "claim 1: setting must be text (key=value ...) or a mapping, got int"),
    ([{"claim": "1 = 1", "expect": {"a": 1}}], "claim 1: expect must be text, got dict"),
    ([{"claim": "1 = 1", "sauce": "x"}], "claim 1: unknown column 'sauce'"),
    ([{"claim": "1 = 1", "source": "\ud800"}], "claim 1: source is not valid Unicode text"),
    ([{"claim": "1 = 1", "setting": {"batch": True}}], "setting 'batch' must be text or a number"),
    ({"claim": "1 = 1"}, "a JSON claims file is a list of claims, got dict"),
    (["1 = 1"], "claim 1: a claim is a mapping of column to value, got str"),
    (None, "a JSON claims file is a list of claims, got nothing"),
])
def test_json_claims_of_the_wrong_shape_are_refused(tmp_path, rows, expected):
    refused("check", "--claims", claims(tmp_path, "claims.json", rows), expected=("claims.json", expected))


YAML_CASES = [
    ("- claim: [2*L]\n", "claims.yaml:1: claim must be text, got list"),
    ("- claim: 1 = 1\n- claim: 70553706496\n", "claims.yaml:2: claim must be text, got int"),
    ("- claim: H\n  setting: [1]\n", "claims.yaml:1: setting must be text"),
    ("- claim: 1 = 1\n  expect: {a: 1}\n", "claims.yaml:1: expect must be text, got dict"),
    ("- claim: 1 = 1\n  source: 2023-01-01\n", "claims.yaml:1: source must be text, got date"),
    ("claim: 1 = 1\n", "a YAML claims file is a list of claims, got dict"),
    ("", "a YAML claims file is a list of claims, got nothing"),
    ("null\n", "a YAML claims file is a list of claims, got nothing"),
    ("- 1 = 1\n", "claims.yaml:1: a claim is a mapping of column to value, got str"),
    ("- claim: !!python/object:os.system x\n", "not valid YAML"),
    ("- claim: [unclosed\n", "not valid YAML"),
    ("- claim: 1 = 1\n  source: " + "1" * 5000 + "\n", "not valid YAML: a number too long to read"),
    ("- claim: 1 = 1\n  setting: {batch: 0x" + "f" * 5000 + "}\n", "'batch' must be text or a number"),
    ("[" * 100_000 + "]" * 100_000, "not valid YAML: nested too deeply"),
]


@pytest.mark.parametrize("text, expected", YAML_CASES, ids=[expected for _, expected in YAML_CASES])
def test_yaml_claims_of_the_wrong_shape_are_refused(tmp_path, text, expected):
    refused("check", "--claims", claims(tmp_path, "claims.yaml", text), expected=(expected,))


JSON_CASES = [
    ("", "Expecting value at line 1"),
    ("[" * 100_000 + "]" * 100_000, "nested more than 64 deep"),
    ('[{"claim": "1 = 1", "source": ' + "1" * 5000 + "}]", "an integer of 5000 digits"),
    ('[{"claim": "1 = 1", "source": NaN}]', "NaN is not a JSON number"),
]


@pytest.mark.parametrize("text, expected", JSON_CASES, ids=[expected for _, expected in JSON_CASES])
def test_broken_json_claims_files_are_refused(tmp_path, text, expected):
    refused("check", "--claims", claims(tmp_path, "claims.json", text), expected=("claims.json", expected))


TABLE = "| claim | against | model | setting |\n|---|---|---|---|\n| 2*L | params.total | gpt2 | {} |\n"


@pytest.mark.parametrize("setting, expected", [
    ("foo=1", ("unknown setting 'foo'",)),
    ("softmax_flops=abc", ("softmax_flops", "'abc'")),
    ("softmax_flops=-1", ("softmax_flops", "non-negative")),
    ("attention_count=sideways", ("attention_count", "causal, full")),
    ("batch=0", ("batch", "1")),
    ("batch=1e99999999", ("batch", "1e99999999")),
    ("kv_dtype=fp7", ("unknown dtype 'fp7'",)),
    ("tolerance=x%", ("tolerance must be a number or a percentage",)),
    ("let:P=log(0)", ("log() at position 1 has no finite real value",)),
    ("prompt", ("setting 'prompt' must read key=value",)),
])
def test_a_bad_setting_is_refused_naming_the_row_and_the_key(tmp_path, setting, expected):
    """The key named as symbolic.setting words it; the row as this file's line."""
    path = claims(tmp_path, "claims.md", TABLE.format(setting))
    refused("check", "--claims", path, expected=("claims.md:3: setting", *expected))


def test_a_bad_setting_mapping_in_yaml_names_the_line_and_the_key(tmp_path):
    text = ("- claim: 1 = 1\n- claim: 2*L\n  against: params.total\n  model: gpt2\n"
            "  setting: {softmax_flops: abc}\n")
    refused("check", "--claims", claims(tmp_path, "claims.yaml", text),
            expected=("claims.yaml:2: setting", "softmax_flops needs a number, got 'abc'"))


def test_a_yaml_setting_mapping_is_read(tmp_path):
    text = ("- claim: 2*L*n_kv*d_h*b_kv\n  against: kv_cache.bytes_per_token\n  model: llama-3.1-8b\n"
            "  setting: {batch: 4, kv_dtype: fp8, tolerance: 0.01}\n  expect: holds\n")
    path = claims(tmp_path, "claims.yaml", text)
    document = strict_json(answered("check", "--claims", path, "--format", "json", status=0))
    assert document["summary"] == {"claims": 1, "failed": 0}


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_dev_zero_as_a_claims_file_is_not_read_without_bound():
    refused("check", "--claims", "/dev/zero", expected=("/dev/zero", "larger than 16 MiB"))


def test_a_folder_or_a_name_too_long_as_a_claims_file_is_refused(tmp_path):
    folder = tmp_path / "claims.md"
    folder.mkdir()
    refused("check", "--claims", folder, expected=("claims.md", "folder"))
    refused("check", "--claims", tmp_path / ("x" * 300 + ".md"), expected=("cannot read the claims file",))


# --- 4. a formula that begins with a minus sign -----------------------------------------------

def test_a_formula_may_begin_with_a_minus_sign():
    assert parse_formula("-2*L + 4*L*H") == 4 * L * H - 2 * L
    kv = 2 * L * n_kv * d_h * b_kv
    check = check_formula("-2*L*n_kv*d_h*b_kv + 4*L*n_kv*d_h*b_kv", "kv_cache.bytes_per_token",
                          [Derivation(load("llama-3.1-8b"))])
    assert check.status == "equivalent" and sympy.expand(check.formula - kv) == 0
    out = answered("check", "-2*L*n_kv*d_h*b_kv + 4*L*n_kv*d_h*b_kv", "--against", "kv_cache.bytes_per_token",
                   "--model", "llama-3.1-8b", status=0)
    assert "verdict: equivalent" in out


def test_argv_that_is_not_utf8_gets_one_line():
    result = subprocess.run([sys.executable, "-m", "symbolic", "check", b"2*\xff*L", *GPT2],
                            capture_output=True, timeout=60, env={**os.environ, "LC_ALL": "C.UTF-8"})
    lines = result.stderr.decode("utf-8", "replace").splitlines()
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("symbolic: error: ")


# --- fuzz: mutations of known formulas --------------------------------------------------------

SEEDS = (
    "2*2*nlayers*nheads*dhead",
    "2 * n_layers * n_kv_heads * head_dim * 2",
    "2*L*n_kv*d_h*b_kv",
    "min(c, W - 1) * 2 n_kv d_h",
    "24 * n_layers * d_model^2",
    "12.75 H² + 2H",
    "2 × L × n_kv × d_h × 2",
    "L*(4*H^2 + 3*H*d_ff) + V*H",
    "E*(1-(1-k/E)^B)",
    "-2*L*H + 4*L*H",
)
PIECES = ("+", "-", "*", "/", "^", "**", "(", ")", ",", ".", "e", " ", "=", "%", "0", "1", "9", "-1",
          "9" * 500, "1e999", "1e-999", "1e99999999", "10^256", "^(L*H*V)", "^H^H", "^-400",
          "(" * 70, ")" * 70, "((((", "))))", "sqrt(", "sqrt(-", "log(", "log(0)", "log2(", "ceil(",
          "floor(", "min(", "max(", "abs(", "H", "L", "V", "nan", "inf", "P", "١", "１", "²", "⁹⁹⁹",
          "×", "·", "−", "\u200b", "é", "\x00", "\\cdot", "_{head}", "{", "}", "'", "\\")


@st.composite
def mutated(draw) -> str:
    """A known formula with a few pieces inserted, deleted or replaced."""
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        piece = draw(st.sampled_from(PIECES) | st.text(max_size=3))
        start = draw(st.integers(0, len(text)))
        end = draw(st.integers(start, min(len(text), start + 3)))
        text = text[:start] + piece + text[end:]
    return text


@settings(max_examples=200, deadline=timedelta(seconds=5), suppress_health_check=[HealthCheck.too_slow])
@given(mutated(), st.booleans())
def test_mutated_formulas_get_a_verdict_or_one_line(text, as_json):
    """Never an exception: a verdict (0 or 1; its JSON strict) or one line of error (2). A leading
    space keeps a formula that begins with '-' from reading as an option (see the test above)."""
    claim = " " + text if text.startswith("-") else text
    fmt = ["--format", "json"] if as_json else []
    status, out, err = run("check", claim, "--against", "kv_cache.bytes_per_token", "--model", "llama-3.1-8b",
                           *fmt)
    if status == 2:
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("symbolic: error: ") and out == "", err
    else:
        assert status in (0, 1) and err == "" and out, err
        if as_json:
            strict_json(out)
