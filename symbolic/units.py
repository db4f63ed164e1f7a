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


# --- Reading quantities people write ------------------------------------------------------------

DECIMAL_BYTES = {"B": 1, "KB": 10**3, "kB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "PB": 10**15}
BINARY_BYTES = {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40, "PiB": 2**50}
FLOP_UNITS = {"FLOP": 1, "kFLOP": 10**3, "KFLOP": 10**3, "MFLOP": 10**6, "GFLOP": 10**9,
              "TFLOP": 10**12, "PFLOP": 10**15}
COUNT_UNITS = {"": 1, "K": 10**3, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "bn": 10**9,
               "thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12, "elements": 1,
               "%": sympy.Rational(1, 100)}
"""Counts as model cards and papers write them: 7.61B is read as billions where a count is meant
(see symbolic.check.checker.check_number), 1.03T, 405 billion, 65536 elements."""

# A decimal byte unit and the binary unit people often mean by it.
BINARY_READING = {"KB": "KiB", "kB": "KiB", "MB": "MiB", "GB": "GiB", "TB": "TiB", "PB": "PiB"}
DECIMAL_READING = {v: k for k, v in BINARY_READING.items() if k != "kB"}


TIME_UNITS = {"s": sympy.Integer(1), "ms": sympy.Rational(1, 10**3), "us": sympy.Rational(1, 10**6),
              "µs": sympy.Rational(1, 10**6), "μs": sympy.Rational(1, 10**6), "ns": sympy.Rational(1, 10**9)}


def with_unit(value: sympy.Rational, unit: str) -> str:
    """An exact value read the way its unit is read, as text: bytes in GB and GiB, FLOPs with an SI
    prefix, counts grouped by thousands (the one "value with its unit" of every output)."""
    if unit == "B":
        return bytes_both(value)
    if unit == "FLOP":
        return si(value, "FLOP")
    return count(value)


def unit_factor(unit: str) -> tuple[str, sympy.Rational] | None:
    """(dimension, factor) of a unit as people write it: ('bytes', 10**9) for GB, ('flop', 10**12)
    for TFLOPs (a count), ('flop_rate', 10**12) for TFLOPS or TFLOP/s (a rate), ('time', 1/1000)
    for ms, ('byte_rate', 10**12) for TB/s."""
    for table, dimension in ((DECIMAL_BYTES, "bytes"), (BINARY_BYTES, "bytes"), (COUNT_UNITS, "count"),
                             (TIME_UNITS, "time")):
        if unit in table:
            return dimension, sympy.Rational(table[unit])
    if unit.endswith("/s"):
        stem = unit[:-2]
        if stem in FLOP_UNITS:
            return "flop_rate", sympy.Integer(FLOP_UNITS[stem])
        if stem in DECIMAL_BYTES or stem in BINARY_BYTES:
            return "byte_rate", sympy.Integer({**DECIMAL_BYTES, **BINARY_BYTES}[stem])
        return None
    if unit.endswith("S") and unit[:-1] in FLOP_UNITS:
        return "flop_rate", sympy.Integer(FLOP_UNITS[unit[:-1]])
    stem = unit[:-1] if unit.endswith("s") and unit[:-1] in FLOP_UNITS else unit
    if stem in FLOP_UNITS:
        return "flop", sympy.Integer(FLOP_UNITS[stem])
    return None


def seconds_latex(value: sympy.Rational, digits: int = 3) -> str:
    """A duration for LaTeX math with a readable unit: 294.7\\ \\text{ms}, 8.74\\ \\mu\\text{s}."""
    v = float(value)
    if v == 0:
        return r"0\ \text{s}"
    scales = ((1, r"\text{s}"), (1e-3, r"\text{ms}"), (1e-6, r"\mu\text{s}"), (1e-9, r"\text{ns}"))
    for factor, unit in scales:
        if abs(v) >= factor or factor == 1e-9:
            return f"{v / factor:.{digits}g}\\ {unit}"
    return "0"  # pragma: no cover
