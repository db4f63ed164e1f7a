"""Exact substitution: equal to SymPy's own where the numbers are small, and a huge rational power
(the experts a long prefill touches) rounded within its stated bound instead of taking minutes."""

import fractions
import math
import time

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

import symbolic
from symbolic.architecture.workload import PREFILL
from symbolic.config.hardware import get_accelerator
from symbolic.exact import MAX_POWER_BITS, POWER_MANTISSA_BITS, substitute
from symbolic.performance.roofline import Deployment, Performance

x, y = sympy.symbols("x y", positive=True)


@settings(max_examples=100, deadline=None)
@given(p=st.integers(1, 300), q=st.integers(2, 300), a=st.integers(1, 60), b=st.integers(1, 60))
def test_small_powers_stay_exact(p, q, a, b):
    base = sympy.Rational(min(p, q - 1), q)
    expr = 7 * (1 - base ** (x * y)) + x / 3
    assert substitute(expr, {x: a, y: b}) == expr.xreplace({x: a, y: b})


z = sympy.Symbol("z")   # no sign known


@settings(max_examples=150, deadline=None)
@given(picks=st.lists(st.sampled_from(sympy.sympify([0, 3 * x, x / 5, 2 * x * y, y, x - y, z, 7])),
                      min_size=1, max_size=4),
       use_max=st.booleans(), a=st.integers(0, 40), b=st.integers(1, 40), c=st.integers(-9, 9))
def test_fast_extrema_agree_with_sympy(picks, use_max, a, b, c):
    """The shortcut for Max/Min gives the value SymPy's own evaluation gives, with or without a
    zero among the arguments, and whether or not the terms share a positive factor."""
    func = sympy.Max if use_max else sympy.Min
    expr = 11 * func(*picks, evaluate=False) + y
    values = {x: a, y: b, z: c}
    expected = sympy.sympify(expr.xreplace(values)).doit()
    assert substitute(expr, values, fast_extrema=True) == expected
    assert sympy.sympify(substitute(expr, {}, fast_extrema=True)).xreplace(values) == expected


def test_fast_extrema_drop_a_zero_beside_positive_terms():
    assert substitute(sympy.Max(0, 2 * x * y, evaluate=False), {}, fast_extrema=True) == 2 * x * y
    assert substitute(sympy.Min(0, x, evaluate=False), {}, fast_extrema=True) == 0
    assert substitute(sympy.Max(0, z, evaluate=False), {}, fast_extrema=True).has(sympy.Max)


@pytest.mark.parametrize("numerator, denominator, exponent", [(255, 256, 40_000), (120, 128, 3_000_000),
                                                             (63, 64, 20_000)])
def test_huge_powers_are_rounded_within_the_bound(numerator, denominator, exponent):
    base = sympy.Rational(numerator, denominator)
    assert exponent * base.q.bit_length() > MAX_POWER_BITS
    value = substitute(base ** x, {x: exponent})
    # The reference: Python's own exact fractions.
    log2_exact = exponent * (math.log2(numerator) - math.log2(denominator))
    if log2_exact < -1024:
        assert value == 0
    else:
        exact = fractions.Fraction(numerator, denominator) ** exponent
        assert abs(fractions.Fraction(int(value.p), int(value.q)) / exact - 1) < fractions.Fraction(
            1, 2 ** (POWER_MANTISSA_BITS - 1))


def test_a_power_sympy_writes_with_a_negative_exponent_is_rounded_too():
    """(1 - 4/5)^(116 B) reaches the substitution as 5^(-116 B)."""
    expr = 5 ** (-116 * x)
    assert expr.is_Pow and expr.base == 5
    small = substitute(expr, {x: 3})
    assert small == sympy.Rational(1, 5 ** 348)
    assert substitute(expr, {x: 757_451}) == 0      # 2^-(2 x 10^8): below the 2^-1024 floor
    value = substitute(5 ** (-x), {x: 400})         # exact: 400 x 3 bits stay under the bound
    assert value == sympy.Rational(1, 5 ** 400)


def test_a_long_moe_prefill_evaluates_in_a_moment():
    """B n = 8 x 10^7 tokens: the exact (1 - 6/64)^(B n) would have ~10^9 bits."""
    d = symbolic.derive("deepseek-v2-lite")
    perf = Performance(d, Deployment(get_accelerator("h100-sxm")), 16)
    start = time.perf_counter()
    value = perf.evaluate(perf.step_time(PREFILL), batch=4000, prompt=20000)
    assert time.perf_counter() - start < 30      # a hang guard, not a speed target
    assert value.is_Rational and value > 0
