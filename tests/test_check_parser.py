"""The formula parser: the notations people write, and safety against everything else."""

import time

import pytest
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symbolic.check.parser import FormulaError, parse_formula
from symbolic.cli import main
from symbolic.errors import SymbolicError
from symbolic.symbols import B, H, L, S, V, W, c, d_h, n_kv, n_q

NOTATIONS = {
    "2*2*nlayers*nheads*dhead": 4 * L * n_q * d_h,
    "24 * n_layers * d_model^2": 24 * L * H**2,
    "4·L·H": 4 * L * H,
    "2 × b × s × h": 2 * B * S * H,
    "12.75 H² + 2H": sympy.Rational(51, 4) * H**2 + 2 * H,
    "2 b s h": 2 * B * S * H,
    "(H)(V)": H * V,
    "2H(V + 1)": 2 * H * (V + 1),
    "d_{head} \\cdot n_{kv}": d_h * n_kv,
    "min(c, W - 1) * 2 n_kv d_h": sympy.Min(c, W - 1) * 2 * n_kv * d_h,
    "hidden_size ** 2 / 8": H**2 / 8,
    "1.5e12": sympy.Integer(1_500_000_000_000),
    "-H + 0": -H,
    "2 ^ 10": sympy.Integer(1024),
}


@pytest.mark.parametrize("text", sorted(NOTATIONS))
def test_notations_people_write(text):
    assert sympy.simplify(parse_formula(text) - NOTATIONS[text]) == 0


def test_users_name_their_own_symbols():
    assert parse_formula("2 * dm * layers", {"dm": H}) == 2 * H * L


@pytest.mark.parametrize("text, message", [
    ("nlayer * 2", "unknown symbol 'nlayer' at position 1; did you mean nlayers"),
    ("2 3", "two numbers in a row"),
    ("H +", "formula ends too early"),
    ("(H", "expected ')'"),
    ("H)", "unexpected ')'"),
    ("1/0", "division by zero"),
    ("", "empty formula"),
    ("min()", "unexpected ')'"),
    ("sqrt(1, 2)", "wrong number of arguments"),
])
def test_bad_formulas_get_a_message_naming_the_token(text, message):
    with pytest.raises(FormulaError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_formula(text)


INJECTIONS = [
    "__import__('os').system('touch {marker}')",
    "__import__",
    "open('{marker}', 'w')",
    "().__class__.__bases__[0].__subclasses__()",
    "H.__class__",
    "lambda: 1",
    "[x for x in (1, 2)]",
    "{{1: 2}}",
    "exec('import os')",
    "eval('1')",
    "import os",
    "H; import os",
    "H\nimport os",
    "f'{{1}}'",
    "__builtins__",
    "x[0]",
    "H if L else V",
    "9**9**9**9",
    "10**401",
    "2**-100000",
    "(H + V)**100000",
    "(" * 100_000 + "1" + ")" * 100_000,
    "1" * 1_000_000,
    "H*" * 200_000 + "H",
    "-" * 5000 + "H",
]


@pytest.mark.parametrize("template", INJECTIONS, ids=[t[:30] for t in INJECTIONS])
def test_injection_attempts_run_no_code_and_answer_fast(template, tmp_path):
    marker = tmp_path / "pwned"
    text = template.format(marker=marker)
    start = time.perf_counter()
    with pytest.raises(SymbolicError):
        parse_formula(text)
    assert time.perf_counter() - start < 1
    assert not marker.exists()


def test_the_command_line_refuses_them_in_one_line(tmp_path, capsys):
    """Through the command's entry point (what ``python -m symbolic`` runs), in this process."""
    marker = tmp_path / "pwned"
    for template in INJECTIONS[:8]:
        status = main(["check", template.format(marker=marker), "--against", "params.total",
                       "--model", "gpt2"])
        out, err = capsys.readouterr()
        assert status == 2, template
        assert out == "" and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not marker.exists()


ALPHABET = "HLVScBnqkvd_hf0123456789.+-*/^()×·²³ ,minaxsqrt{}\\[]'\"_:;=<>!@#$%&|~`"


@settings(max_examples=3000, deadline=1000, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=ALPHABET, max_size=80) | st.text(max_size=40))
def test_any_text_gives_an_expression_or_a_formula_error(text):
    start = time.perf_counter()
    try:
        result = parse_formula(text)
    except SymbolicError:
        pass
    else:
        assert isinstance(result, sympy.Basic)
    assert time.perf_counter() - start < 1


@st.composite
def formulas(draw, depth=0):
    """Well-formed formulas over vocabulary names, for timing whole verdicts."""
    if depth > 3 or draw(st.booleans()):
        return draw(st.sampled_from(["H", "L", "V", "n_q", "n_kv", "d_h", "d_ff", "B", "S", "c", "2", "3.5",
                                     "nlayers", "dmodel", "b_kv"]))
    op = draw(st.sampled_from(["+", "-", "*", "/", "^"]))
    left = draw(formulas(depth + 1))
    right = draw(st.sampled_from(["2", "3"])) if op == "^" else draw(formulas(depth + 1))
    return f"({left} {op} {right})"


@settings(max_examples=150, deadline=None)
@given(formulas())
def test_every_verdict_comes_within_a_second(text):
    from symbolic.check.checker import check_formula
    from symbolic.config.load import load
    from symbolic.quantities.derive import Derivation

    derivation = Derivation(load("llama-3.1-8b"))
    start = time.perf_counter()
    try:
        check = check_formula(text, "kv_cache.bytes_per_token", [derivation])
    except SymbolicError:  # a formula that divides by zero is refused, with its position
        pass
    else:
        assert check.status in ("equivalent", "assumptions", "approximate", "not_equivalent")
    assert time.perf_counter() - start < 1
