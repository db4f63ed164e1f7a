"""Display of exact quantities with units. GB (10^9 B) and GiB (2^30 B) are different, and both are
shown; FLOP counts a number of operations, FLOP/s a rate. Values stay exact until this point."""

from __future__ import annotations

import sympy

_SI = ((10**15, "P"), (10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "k"))
_BINARY = ((2**50, "PiB"), (2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB"))


def _scaled(value: sympy.Rational, table, unit: str, digits: int) -> str:
    v = sympy.Rational(value)
    for factor, prefix in table:
        if abs(v) >= factor:
            return f"{float(v / factor):.{digits}f} {prefix}{unit}"
    return f"{int(v)} {unit}" if v.is_Integer else f"{float(v):.{digits}f} {unit}"


def si(value: sympy.Rational, unit: str, digits: int = 2) -> str:
    """``value`` with a decimal prefix: 1.23 TFLOP, 16.06 GB."""
    return _scaled(value, _SI, unit, digits)


def binary_bytes(value: sympy.Rational, digits: int = 2) -> str:
    """Bytes with a binary prefix: 14.96 GiB."""
    v = sympy.Rational(value)
    for factor, name in _BINARY:
        if abs(v) >= factor:
            return f"{float(v / factor):.{digits}f} {name}"
    return f"{v} B"


def bytes_both(value: sympy.Rational) -> str:
    """'16.06 GB (14.96 GiB)'."""
    return f"{si(value, 'B')} ({binary_bytes(value)})"


def count(value: sympy.Rational) -> str:
    """A whole number with thousands separators: 70,553,706,496."""
    v = sympy.Rational(value)
    return f"{int(v):,}" if v.is_Integer else str(v)
