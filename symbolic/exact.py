"""Exact numbers: turning user values into SymPy rationals without ever evaluating text."""

from __future__ import annotations

import fractions
import numbers

import sympy


def to_rational(value: object) -> sympy.Rational | None:
    """An exact SymPy rational for an int, a Fraction, a decimal string such as '1.5' or '3/8', or a
    float (read through its shortest decimal form, so 0.1 becomes 1/10). None if it is not a number.

    Strings go through :class:`fractions.Fraction`, never through ``sympify`` (which evaluates).
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
        try:
            frac = fractions.Fraction(value.strip())
        except (ValueError, ZeroDivisionError):
            return None
        return sympy.Rational(frac.numerator, frac.denominator)
    return None


MAX_FRACTION_TEXT = 40
MAX_EXACT_BITS = 256


def unwieldy(value: sympy.Rational) -> bool:
    """A fraction too long to show in full (numerator or denominator over 256 bits)."""
    return max(abs(value.p).bit_length(), value.q.bit_length()) > MAX_EXACT_BITS


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
