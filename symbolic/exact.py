"""Exact numbers: turning user values into SymPy rationals without ever evaluating text."""

from __future__ import annotations

import fractions
import numbers
import re

import sympy

MAX_NUMBER_TEXT = 400
MAX_EXPONENT_DIGITS = 4
_EXPONENT = re.compile(r"[eE][+-]?([0-9]+)")


def unreadable(text: str, max_text: int = MAX_NUMBER_TEXT, max_exponent_digits: int = MAX_EXPONENT_DIGITS
               ) -> bool:
    """Whether number text is too long (more than ``max_text`` characters) or has an exponent of
    more than ``max_exponent_digits`` digits to be read quickly and exactly."""
    return len(text) > max_text or any(len(e.lstrip("0")) > max_exponent_digits
                                       for e in _EXPONENT.findall(text))


def to_rational(value: object) -> sympy.Rational | None:
    """An exact SymPy rational for an int, a Fraction, a decimal string such as '1.5' or '3/8', or a
    float (read through its shortest decimal form, so 0.1 becomes 1/10). None if it is not a number.

    Strings go through :class:`fractions.Fraction`, never through ``sympify`` (which evaluates).
    A string longer than ``MAX_NUMBER_TEXT`` characters or with an exponent of more than
    ``MAX_EXPONENT_DIGITS`` digits is not read: ``1e999999999`` would take minutes to expand.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, sympy.Rational):
        return value
    if isinstance(value, numbers.Integral):
        return sympy.Integer(int(value))
    if isinstance(value, fractions.Fraction):
        return sympy.Rational(value.numerator, value.denominator)
    if isinstance(value, float):
        value = repr(value)
    if isinstance(value, str):
        text = value.strip()
        if unreadable(text):
            return None
        try:
            frac = fractions.Fraction(text)
        except (ValueError, ZeroDivisionError):
            return None
        return sympy.Rational(frac.numerator, frac.denominator)
    return None


MAX_FRACTION_TEXT = 40
MAX_EXACT_BITS = 256


def unwieldy(value: sympy.Rational) -> bool:
    """A fraction too long to show in full (numerator or denominator over 256 bits)."""
    return max(abs(value.p).bit_length(), value.q.bit_length()) > MAX_EXACT_BITS


def for_floats(expr: sympy.Expr) -> sympy.Expr:
    """``expr`` with each unwieldy fraction (see :func:`unwieldy`) as a 30-digit float, for code
    that computes in float64 anyway (``sympy.lambdify``): printing an exact fraction of thousands
    of digits as Python source is slow, and beyond 4300 digits Python refuses to."""
    huge = {r: sympy.Float(r, 30) for r in expr.atoms(sympy.Rational) if unwieldy(r)}
    return expr.xreplace(huge) if huge else expr


def plain(value: sympy.Expr) -> int | str | float:
    """A JSON-friendly value: an int when whole, else 'p/q' when short, else a float (an expected
    value such as the distinct experts a batch touches can have thousands of digits)."""
    value = sympy.sympify(value) if isinstance(value, int) else value
    if not isinstance(value, sympy.Rational):
        raise TypeError(f"expected an exact number, got {value!r}")
    if value.is_Integer:
        return int(value)
    if unwieldy(value):
        return float(value)
    text = str(value)
    return text if len(text) <= MAX_FRACTION_TEXT else float(value)


MAX_POWER_BITS = 1 << 16
"""A rational power whose exact value would need more bits than this is rounded (see substitute)."""
POWER_MANTISSA_BITS = 256
POWER_FLOOR_EXPONENT = -1024


def substitute(expr: sympy.Expr, bindings: dict, *, fast_extrema: bool = False) -> sympy.Expr:
    """``expr.xreplace(bindings)``, but a rational raised to a huge integer power is not expanded.
    With ``fast_extrema``, a max or min that still holds symbols is rebuilt as it is, without
    SymPy's search for arguments that dominate others (it compares every pair under assumptions:
    most of the time of binding a step-time expression; the value is the same, the printed
    form may keep a redundant argument).

    The expected number of experts a batch touches holds ``(1 - k/E)^(B n)``: with B n in the
    millions its exact fraction has millions of digits and takes minutes. Where the exact power
    would need more than 65,536 bits it is rounded to the nearest fraction m / 2^j with a 256-bit
    m (relative error below 2^-255), and to 0 below 2^-1024; every other power stays exact."""
    cache: dict = {}
    bindings = {key: sympy.sympify(value) for key, value in bindings.items()}

    def walk(node):
        if node in bindings:
            return bindings[node]
        if not node.args:
            return node
        if node in cache:
            return cache[node]
        args = [walk(arg) for arg in node.args]
        if isinstance(node, sympy.Pow) and _huge_power(*_below_one(*args)):
            result = _rounded_power(*_below_one(*args))
        elif isinstance(node, (sympy.Max, sympy.Min)) and all(a.is_Number for a in args):
            result = node.func(*args)        # also one built unevaluated from numbers
        elif fast_extrema and isinstance(node, (sympy.Max, sympy.Min)):
            result = _extremum(node.func, args)
        elif all(a is b for a, b in zip(args, node.args, strict=True)):
            result = node
        else:
            result = node.func(*args)
        cache[node] = result
        return result

    return walk(sympy.sympify(expr))


def _extremum(func, args: list) -> sympy.Expr:
    """Max or Min of ``args`` without SymPy's pairwise search: only when every argument is a
    number times the same positive term (``a x`` and ``b x``) is it reduced, to the larger (or
    smaller) number times that term. A zero beside non-negative terms (an op with no FLOPs or no
    bytes) is dropped from a Max and wins a Min (a zero written as 0: asking SymPy whether a large
    sum is zero costs more than the rest of the substitution). Otherwise the extremum is kept."""
    if any(arg is sympy.S.Zero for arg in args):
        rest = [arg for arg in args if arg is not sympy.S.Zero]
        if all(_nonnegative(arg) for arg in rest):
            if func is sympy.Min or not rest:
                return sympy.Integer(0)
            args = rest
            if len(args) == 1:
                return args[0]
    split = [arg.as_coeff_Mul() for arg in args]
    terms = {term for _, term in split}
    if len(terms) == 1:
        (term,) = terms
        if term.is_positive:
            pick = max if func is sympy.Max else min
            return pick(coefficient for coefficient, _ in split) * term
    return func(*args, evaluate=False)


def _nonnegative(expr: sympy.Expr) -> bool:
    """Whether ``expr`` is known to be >= 0: read from its structure where it is built of
    non-negative parts (sums, products, powers of a non-negative base, maxima with one such
    argument, minima of such, ceilings and floors of such), else asked of SymPy's assumptions,
    whose search on a large sum is slow."""
    if expr.is_Number or expr.is_Symbol:
        return bool(expr.is_nonnegative)
    if isinstance(expr, (sympy.Add, sympy.Mul, sympy.Min, sympy.ceiling, sympy.floor)):
        if all(_nonnegative(arg) for arg in expr.args):
            return True
    elif isinstance(expr, sympy.Pow):     # a base that may be 0 only to a power that is not negative
        if _nonnegative(expr.base) and (expr.exp.is_nonnegative or expr.base.is_positive):
            return True
    elif isinstance(expr, sympy.Max) and any(_nonnegative(arg) for arg in expr.args):
        return True
    return bool(expr.is_nonnegative)


def _below_one(base, exponent) -> tuple:
    """The same power with its base below one where it can be: SymPy writes (1/5)^(116 B) as
    5^(-116 B), which is (1/5)^(116 B) again."""
    if isinstance(base, sympy.Rational) and base > 1 and isinstance(exponent, sympy.Integer) and exponent < 0:
        return 1 / base, -exponent
    return base, exponent


def _huge_power(base, exponent) -> bool:
    return (isinstance(base, sympy.Rational) and isinstance(exponent, sympy.Integer) and exponent > 1
            and not base.is_Integer and 0 < base < 1
            and int(exponent) * max(base.p.bit_length(), base.q.bit_length()) > MAX_POWER_BITS)


def _rounded_power(base: sympy.Rational, exponent: sympy.Integer) -> sympy.Rational:
    """base^exponent for 0 < base < 1, as m / 2^j with a POWER_MANTISSA_BITS-bit m."""
    import mpmath

    with mpmath.workprec(POWER_MANTISSA_BITS + 64):
        value = mpmath.power(mpmath.mpf(base.p) / base.q, int(exponent))
        mantissa, exp2 = mpmath.frexp(value)          # value = mantissa 2^exp2, 1/2 <= mantissa < 1
        m = int(mpmath.nint(mpmath.ldexp(mantissa, POWER_MANTISSA_BITS)))
    if exp2 < POWER_FLOOR_EXPONENT:
        return sympy.Integer(0)
    return sympy.Rational(m, 2 ** (POWER_MANTISSA_BITS - exp2))
