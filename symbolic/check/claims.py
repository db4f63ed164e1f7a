"""Verdicts on numeric claims: a number someone wrote, held against the exact value.

A claim states a value in a unit (``671 MB``) to some precision. Its verdict compares the exact
value with what the text says, within half a unit of the last digit written (``141 GB`` means
140.5 to 141.5 GB). When a decimal byte unit is off but its binary twin fits (``2 GB`` written for
2 GiB), the verdict names the mix-up. If the claim comes with the source's own formula, that formula
is parsed safely and evaluated too, so a document can say whether the source's formula or its
arithmetic is where it went wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy

from ..errors import SymbolicError
from ..exact import to_rational
from ..units import BINARY_READING, DECIMAL_READING, unit_factor

_STATED = re.compile(
    r"^\s*(?P<number>[0-9][0-9,]*(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)\s*(?P<unit>[A-Za-zµμ/%]*)\s*$")


@dataclass(frozen=True)
class Stated:
    """A number as written: its exact value in base units, the unit, and its resolution."""

    text: str
    value: sympy.Rational      # in base units (bytes, FLOP, count)
    unit: str
    dimension: str
    tolerance: sympy.Rational  # half a unit of the last digit written, in base units


def read_stated(text: str) -> Stated:
    """``'141 GB'`` -> 141e9 bytes within 0.5e9; ``'70,553,706,496'`` -> that count, exactly."""
    match = _STATED.match(text)
    if match is None:
        raise SymbolicError(f"cannot read the claimed value {text!r}: write a number and a unit")
    number, unit = match.group("number").replace(",", ""), match.group("unit")
    found = unit_factor(unit)
    if found is None:
        raise SymbolicError(f"unknown unit {unit!r} in {text!r}")
    dimension, factor = found
    mantissa = number.lower().split("e")[0]
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    exponent = int(number.lower().split("e")[1]) if "e" in number.lower() else 0
    value = to_rational(number) * factor
    tolerance = sympy.Rational(1, 2) * sympy.Rational(10) ** (exponent - decimals) * factor
    return Stated(text, value, unit, dimension, tolerance)


@dataclass(frozen=True)
class Verdict:
    status: str                 # exact | agrees | truncated | unit_mixup | differs
    exact: sympy.Rational
    stated: Stated
    relative_error: sympy.Rational   # stated / exact - 1
    reading: str = ""           # for a unit mix-up: the unit the number fits, e.g. 'GiB'
    factor: str = ""            # for a difference: a telling factor, e.g. 'a factor of 2'
    factor_key: str = ""        # its key (see TELLING_FACTORS)

    @property
    def holds(self) -> bool:
        return self.status in ("exact", "agrees", "truncated")


def judge(stated: Stated, exact: sympy.Rational) -> Verdict:
    """How ``stated`` compares with ``exact`` (both in base units). In order: the same number; the
    right number under the twin unit (2 GB written for 2 GiB: a unit mix-up, named); agreement to
    the precision written (rounded); the exact value cut to the digits written (truncated, as model
    cards write 7,615,616,512 as '7.61B'); agreement only under the twin unit; a difference."""
    error = stated.value / exact - 1 if exact else sympy.Integer(0)
    if stated.value == exact:
        return Verdict("exact", exact, stated, error)
    twin = BINARY_READING.get(stated.unit) or DECIMAL_READING.get(stated.unit)
    scale = None
    if twin:
        scale = sympy.Rational(unit_factor(twin)[1], unit_factor(stated.unit)[1])
        if stated.value * scale == exact:
            return Verdict("unit_mixup", exact, stated, error, reading=twin)
    if abs(stated.value - exact) <= stated.tolerance:
        return Verdict("agrees", exact, stated, error)
    if 0 < abs(exact) - abs(stated.value) < 2 * stated.tolerance and (exact > 0) == (stated.value > 0):
        return Verdict("truncated", exact, stated, error)     # model cards cut digits: "7.61B" for 7.6156e9
    if scale is not None and abs(stated.value * scale - exact) <= stated.tolerance * scale:
        return Verdict("unit_mixup", exact, stated, error, reading=twin)
    key, words = telling_factor(stated, exact)
    return Verdict("differs", exact, stated, error, factor=words, factor_key=key)


TELLING_FACTORS = (
    (sympy.Integer(2), "double_counted", "twice the exact value (a factor of 2)"),
    (sympy.Rational(1, 2), "half", "half the exact value (a factor of 2)"),
    (sympy.Integer(10), "decimal_slip", "ten times the exact value (a decimal point slipped one place)"),
    (sympy.Rational(1, 10), "decimal_slip", "a tenth of the exact value (a decimal point slipped one place)"),
    (sympy.Integer(1000), "unit_prefix", "1000 times the exact value (a unit prefix: ms for s, MB for GB?)"),
    (sympy.Rational(1, 1000), "unit_prefix",
     "a thousandth of the exact value (a unit prefix: s for ms, GB for MB?)"),
    (sympy.Integer(1024), "unit_prefix", "1024 times the exact value (a binary prefix off by one step)"),
    (sympy.Rational(1, 1024), "unit_prefix", "1/1024 of the exact value (a binary prefix off by one step)"),
)
"""Factors that tell how a figure went wrong: (factor, the key a verdict names, its words)."""


def telling_factor(stated: Stated, exact: sympy.Rational) -> tuple[str, str]:
    """A factor that explains the difference, as (key, words): the stated value is ``f x exact``
    within its precision, or within 5% ("about"); ("", "") when none does."""
    if exact == 0:
        return "", ""
    for factor, key, words in TELLING_FACTORS:
        if abs(stated.value - factor * exact) <= stated.tolerance:
            return key, words
    for factor, key, words in TELLING_FACTORS:
        if abs(stated.value / (factor * exact) - 1) <= sympy.Rational(5, 100):
            return key, "about " + words.split(" (")[0] + " (within 5%)"
    return "", ""
