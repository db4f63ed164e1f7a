"""Is a hand-written formula the exact one, the exact one under assumptions, or wrong, and how?

Equality is tested by evaluating both sides exactly (rationals) at random points of their free
symbols: two different rational functions agree at a few random points with vanishing probability
(the Schwartz-Zippel lemma), and evaluation (:func:`evaluate`) never expands a product and bounds
the size of every number it makes, so no input can make the test slow. When the sides differ, a
catalogue of common assumptions (MHA, head_dim = H / n_q, 2-byte elements, ...) is searched for
the smallest set under which they agree. The mistakes people make are searched for in
:mod:`symbolic.check.mutations`.
"""

from __future__ import annotations

import functools
import itertools
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction

import sympy

from ..exact import MAX_POWER_BITS, substitute, to_rational
from ..symbols import B, H, S, b_a, b_kv, b_w, c, d_ff, d_h, n_kv, n_q

POINTS = 6
_SEED = 20261121
MAX_VALUE_BITS = 2 * MAX_POWER_BITS
"""A sum or product of numbers that would need more bits than this evaluates to ``zoo``."""
_NO_VALUE = (sympy.zoo, sympy.nan, sympy.oo, -sympy.oo)


def evaluate(expr: sympy.Expr, values: dict) -> sympy.Expr:
    """``expr`` with ``values`` (symbol -> number) put in, exact and in bounded time and memory.

    A power whose exact value would need more than ``MAX_POWER_BITS`` bits is, for a rational base
    between -1 and 1 (``(1 - k/E)^B``), rounded as :func:`symbolic.exact.substitute` rounds it (so
    a formula and the exact expression round alike), and otherwise infinite (``zoo``); so is a sum
    or product of numbers that would need more than ``MAX_VALUE_BITS`` bits. ``zoo`` equals no
    finite number: a formula too large to evaluate is not equivalent."""
    values = {key: v if isinstance(v, sympy.Basic) else to_rational(v) for key, v in values.items()}
    cache: dict = {}

    def walk(node):
        if node in values:
            return values[node]
        if not node.args:
            return node
        if node not in cache:
            args = [walk(arg) for arg in node.args]
            cache[node] = _apply(node, args)
        return cache[node]

    return walk(expr)


def _apply(node: sympy.Expr, args: list[sympy.Expr]) -> sympy.Expr:
    """``node`` rebuilt from evaluated ``args``; ``zoo`` where an argument has no value, where the
    value would be too large, or where SymPy cannot settle it in bounded time (see
    :func:`unroundable`) or at all (the min of a complex number)."""
    if all(a is b for a, b in zip(args, node.args, strict=True)):
        return node
    if any(arg in _NO_VALUE for arg in args) or unroundable(node.func, args):
        return sympy.zoo
    try:
        if isinstance(node, sympy.Pow):
            return _power(*args)
        if isinstance(node, (sympy.Min, sympy.Max)) and all(arg.is_Rational for arg in args):
            return (min if isinstance(node, sympy.Min) else max)(args)   # without SymPy's search
        if isinstance(node, (sympy.Add, sympy.Mul)) and _too_large(node, args):
            return sympy.zoo
        return node.func(*args)
    except (ArithmeticError, TypeError, ValueError):  # precision exhausted, not comparable
        return sympy.zoo


MAX_ROUNDED_BITS = 160


def unroundable(function, args) -> bool:
    """floor or ceil of an irrational number of more than MAX_ROUNDED_BITS bits: SymPy's search
    for its integer part can take minutes (``floor(10^200 log(3))``)."""
    return (function in (sympy.floor, sympy.ceiling) and not args[0].free_symbols
            and not args[0].is_Rational and number_bits(args[0]) > MAX_ROUNDED_BITS)


def number_bits(number: sympy.Expr) -> int:
    """An upper bound on the bits a number takes: of a rational's longer part (numerator or
    denominator), of a power's value, of a product, sum or function value of such numbers."""
    if number.is_Rational:
        return max(abs(number.p).bit_length(), number.q.bit_length())
    if number.is_Pow and number.exp.is_Rational:
        return math.ceil(abs(number.exp)) * number_bits(number.base) + 1
    return sum(number_bits(arg) for arg in number.args) + 1


def _too_large(node: sympy.Expr, args: list[sympy.Expr]) -> bool:
    if any(arg.free_symbols for arg in args):
        return False
    if isinstance(node, sympy.Mul):
        return sum(number_bits(arg) for arg in args) > MAX_VALUE_BITS
    denominators = sum(arg.q.bit_length() for arg in args if arg.is_Rational)
    return max(number_bits(arg) for arg in args) + denominators > MAX_VALUE_BITS


def _power(base: sympy.Expr, exponent: sympy.Expr) -> sympy.Expr:
    """base^exponent for :func:`evaluate`."""
    if (base.free_symbols or not exponent.is_Rational or base.is_zero or base in (1, -1)
            or abs(exponent) * number_bits(base) <= MAX_POWER_BITS):
        return base**exponent
    if base.is_Rational and exponent.is_Integer:
        b, e = (base, exponent) if exponent > 0 else (1 / base, -exponent)
        if abs(b) < 1:
            sign = -1 if b < 0 and e % 2 else 1
            return sign * substitute(sympy.Pow(abs(b), e, evaluate=False), {})
    return sympy.zoo


EXPONENT_VALUES = (2, 40)
"""A symbol in an exponent is sampled among these whole numbers, so that a power such as
(1 - k/E)^B or 2^(L H V) stays exact (at most 64,000 bits) instead of rounding or overflowing
alike on both sides."""


def _point(symbols: tuple[sympy.Symbol, ...], in_exponents: frozenset, rng: random.Random
           ) -> dict[sympy.Symbol, sympy.Rational]:
    values = {}
    for s in symbols:
        if s in in_exponents:
            values[s] = sympy.Integer(rng.randint(*EXPONENT_VALUES))
        elif s.is_integer:
            values[s] = sympy.Integer(rng.randint(2, 10**6))
        else:
            values[s] = sympy.Rational(rng.randint(1, 10**4), rng.randint(1, 97))
    return values


POINTS_WITH_BRANCHES = 20
"""Points for expressions with a min, max or rounding: a window W - 1 and a context c may fall the
same way at a few random points (at each, either way about as often), never at twenty."""
_BRANCHES = (sympy.Min, sympy.Max, sympy.floor, sympy.ceiling, sympy.Piecewise)


def points_for(*exprs: sympy.Expr) -> int:
    """How many points tell the expressions apart (see POINTS_WITH_BRANCHES)."""
    return POINTS_WITH_BRANCHES if any(e.has(*_BRANCHES) for e in exprs) else POINTS


def sample(a: sympy.Expr, b: sympy.Expr, points: int | None = None
           ) -> Iterator[tuple[sympy.Expr, sympy.Expr]]:
    """Both expressions evaluated exactly at the same random points (fixed seed: deterministic),
    one point at a time, so that a caller may stop at the first disagreement."""
    points = points_for(a, b) if points is None else points
    symbols = tuple(sorted(a.free_symbols | b.free_symbols, key=lambda s: s.name))
    key = (symbols, _in_exponents(a) | _in_exponents(b), points)
    for index in range(points):
        yield _evaluated(a, key, index), _evaluated(b, key, index)


@functools.lru_cache(maxsize=1024)
def _in_exponents(expr: sympy.Expr) -> frozenset:
    """The symbols that occur in an exponent of ``expr``."""
    return frozenset(s for power in expr.atoms(sympy.Pow) for s in power.exp.free_symbols)


@functools.lru_cache(maxsize=64)
def _points(symbols: tuple, in_exponents: frozenset, points: int) -> tuple[dict, ...]:
    rng = random.Random(_SEED)
    return tuple(_point(symbols, in_exponents, rng) for _ in range(points))


@functools.lru_cache(maxsize=2048)
def _evaluated(expr: sympy.Expr, key: tuple, index: int) -> sympy.Expr:
    """``expr`` at the ``index``-th point of ``key`` (see :func:`_points`): remembered, as every
    model checked (and every set of assumptions tried) evaluates the same formula at the same
    points."""
    return evaluate(expr, _points(*key)[index])


def _finite(value: sympy.Expr) -> bool:
    return not value.has(*_NO_VALUE)


def same(a: sympy.Expr, b: sympy.Expr) -> bool:
    """True if ``a`` and ``b`` agree at every sampled point (so, with overwhelming probability,
    everywhere). Two values too large to evaluate (``zoo``) do not agree."""
    return a == b or all(x == y and _finite(x) for x, y in sample(a, b))






@dataclass(frozen=True)
class Assumption:
    key: str
    description: str
    substitutions: dict

    def apply(self, expr: sympy.Expr) -> sympy.Expr:
        return expr.xreplace(self.substitutions)


CATALOGUE: tuple[Assumption, ...] = (
    Assumption("mha", "MHA: as many KV heads as query heads (n_kv = n_q)", {n_kv: n_q}),
    Assumption("mqa", "MQA: one KV head (n_kv = 1)", {n_kv: sympy.Integer(1)}),
    Assumption("head_dim", "head_dim = H / n_q", {d_h: H / n_q}),
    Assumption("d_ff_4h", "an MLP four times as wide as the model (d_ff = 4H)", {d_ff: 4 * H}),
    Assumption("two_bytes", "2-byte elements (fp16 or bf16) for weights, KV cache and activations",
               {b_w: sympy.Integer(2), b_kv: sympy.Integer(2), b_a: sympy.Integer(2)}),
    Assumption("one_sequence", "one sequence (B = 1)", {B: sympy.Integer(1)}),
    Assumption("context_is_prompt", "the cached context is the prompt (c = S)", {c: S}),
)


def smallest_assumptions(formula: sympy.Expr, exact: sympy.Expr, max_size: int = 3
                         ) -> tuple[Assumption, ...] | None:
    """The smallest set of catalogue assumptions under which the two agree (None if none does).
    Only assumptions touching a symbol of either side are tried."""
    symbols = formula.free_symbols | exact.free_symbols
    relevant = [a for a in CATALOGUE if set(a.substitutions) & symbols]
    for size in range(1, max_size + 1):
        for combo in itertools.combinations(relevant, size):
            if {"mha", "mqa"} <= {a.key for a in combo}:
                continue
            if same_under(formula, exact, combo):
                return combo
    return None


_OPERATIONS = {sympy.Add: sum, sympy.Mul: math.prod, sympy.Min: min, sympy.Max: max,
               sympy.floor: lambda args: Fraction(math.floor(args[0])),
               sympy.ceiling: lambda args: Fraction(math.ceil(args[0]))}


@functools.lru_cache(maxsize=8192)
def _compiled(expr: sympy.Expr) -> Callable[[dict], Fraction] | None:
    """``expr`` as a function of a point (symbol -> Fraction) in plain Python fractions, fifty times
    faster than SymPy's arithmetic; None for what it does not cover (a symbolic exponent, a function
    other than min, max, floor and ceiling), which :func:`equivalence.evaluate` then evaluates."""
    if expr.is_Symbol:
        return lambda point: point[expr]
    if expr.is_Rational:
        constant = Fraction(int(expr.p), int(expr.q))
        return lambda point: constant
    if expr.is_Pow:
        base = _compiled(expr.base)
        if base is None or not expr.exp.is_Integer or abs(expr.exp) > 64:
            return None
        exponent = int(expr.exp)
        return lambda point: base(point) ** exponent
    operation = _OPERATIONS.get(expr.func)
    if operation is None:
        return None
    parts = [_compiled(arg) for arg in expr.args]
    if any(part is None for part in parts):
        return None
    return lambda point: operation([part(point) for part in parts])


def value_at(expr: sympy.Expr, point: dict) -> Fraction | None:
    """``expr`` at ``point`` (symbol -> Fraction) as a Fraction, or None where it has no finite value."""
    compiled = _compiled(expr)
    try:
        if compiled is not None:
            return compiled(point)
    except (ZeroDivisionError, KeyError):
        return None
    value = evaluate(expr, {s: sympy.Rational(v.numerator, v.denominator) for s, v in point.items()})
    return Fraction(int(value.p), int(value.q)) if value.is_Rational else None


def exponent_symbols(exprs, assumptions=()) -> frozenset:
    """The symbols in an exponent of ``exprs``, and those that replace them under ``assumptions``
    (sampled small, see EXPONENT_VALUES)."""
    exponents = set().union(*(_in_exponents(e) for e in exprs))
    for assumption in assumptions:
        for s, v in assumption.substitutions.items():
            if s in exponents:
                exponents |= v.free_symbols
    return frozenset(exponents)


def same_under(a: sympy.Expr, b: sympy.Expr, assumptions: tuple[Assumption, ...]) -> bool:
    """:func:`same` for a formula ``a`` and an exact expression ``b`` (ours: evaluated with plain
    fractions, see :func:`value_at`) with each of ``assumptions`` applied in turn, worked out by
    moving the sample points instead of rewriting the expressions (rewriting a min or a max makes
    SymPy search for the arguments it dominates, which can take seconds)."""
    moved = {s for assumption in assumptions for s in assumption.substitutions}
    used = {s for assumption in assumptions
            for v in assumption.substitutions.values() for s in v.free_symbols}
    symbols = tuple(sorted(a.free_symbols | b.free_symbols | moved | used, key=lambda s: s.name))
    for point in _points(symbols, exponent_symbols((a, b), assumptions), points_for(a, b)):
        for assumption in reversed(assumptions):
            point = {**point, **{s: evaluate(v, point) for s, v in assumption.substitutions.items()}}
        x = evaluate(a, point)
        y = value_at(b, {s: Fraction(int(v.p), int(v.q)) for s, v in point.items() if v.is_Rational})
        if y is None or not x.is_Rational or Fraction(int(x.p), int(x.q)) != y:
            return False
    return True

