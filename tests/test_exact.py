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
from symbolic.exact import MAX_POWER_BITS, POWER_MANTISSA_BITS, substitute
from symbolic.hardware import get_accelerator
from symbolic.performance import Deployment, Performance
from symbolic.workload import PREFILL

x, y = sympy.symbols("x y", positive=True)


@settings(max_examples=100, deadline=None)
@given(p=st.integers(1, 300), q=st.integers(2, 300), a=st.integers(1, 60), b=st.integers(1, 60))
def test_small_powers_stay_exact(p, q, a, b):
    base = sympy.Rational(min(p, q - 1), q)
    expr = 7 * (1 - base ** (x * y)) + x / 3
    assert substitute(expr, {x: a, y: b}) == expr.xreplace({x: a, y: b})


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


def test_a_long_moe_prefill_evaluates_in_a_moment():
    """B n = 8 x 10^7 tokens: the exact (1 - 6/64)^(B n) would have ~10^9 bits."""
    d = symbolic.derive("deepseek-v2-lite")
    perf = Performance(d, Deployment(get_accelerator("h100-sxm")), 16)
    start = time.perf_counter()
    value = perf.value(perf.step_time(PREFILL), batch=4000, prompt=20000)
    assert time.perf_counter() - start < 30      # a hang guard, not a speed target
    assert value.is_Rational and value > 0
