"""A safe parser for formulas as people write them in notes, blogs and papers.

    2*2*nlayers*nheads*dhead      24 * n_layers * d_model^2      4·L·H      2 × b × s × h
    12.75 H² + 2H                 min(c, W - 1) * 2 n_kv d_h

The text is normalised (Unicode multiplication signs, ``^``, superscripts, LaTeX ``\\cdot`` and
``d_{head}``), split into tokens by a regular expression, and read by a small recursive-descent
parser that builds SymPy expressions directly. Python's ``eval``/``exec`` and SymPy's
``parse_expr``/``sympify`` never see the text. Length, token count, nesting depth, exponents and the
size of numbers are bounded, so no input can run code, recurse without bound or exhaust memory.

Numbers are ASCII decimals of at most ``MAX_DIGITS`` digits. A numeric exponent is at most
``MAX_EXPONENT`` in size; a symbolic one (``(1 - k/E)^B``) is read, and the evaluation at a point
bounds it (see :func:`symbolic.check.equivalence.evaluate`). A formula without a finite real value
(``log(0)``, ``sqrt(-1)``, ``log(-H)``) is refused, naming the call or power at fault.

Names resolve through the vocabulary's aliases (``nlayers`` -> ``L``), after the caller's own
definitions (``lets``). Implicit multiplication is read where it is unambiguous: ``2H``, ``2 H``,
``(a)(b)``, ``b s h``; two numbers in a row are an error.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

import sympy

from ..errors import SymbolicError
from ..exact import to_rational, unreadable
from ..symbols import closest_names, lookup
from .equivalence import number_bits, unroundable
from .notation import unknown_name_hint

MAX_LENGTH = 10_000
MAX_TOKENS = 2_000
MAX_DEPTH = 64
MAX_EXPONENT = 256
MAX_DIGITS = 400


class FormulaError(SymbolicError):
    """A formula that cannot be read: names the token and where it is."""


def _log2(x):
    return sympy.log(x, 2)


FUNCTIONS = {  # name -> (function, fewest arguments, most arguments)
    "min": (sympy.Min, 1, 16), "max": (sympy.Max, 1, 16), "sqrt": (sympy.sqrt, 1, 1),
    "ceil": (sympy.ceiling, 1, 1), "floor": (sympy.floor, 1, 1), "log2": (_log2, 1, 1),
    "log": (sympy.log, 1, 2), "abs": (sympy.Abs, 1, 1),
}

_REPLACEMENTS = (
    ("\\times", "*"), ("\\cdot", "*"), ("\\left", ""), ("\\right", ""), ("\\,", " "), ("\\ ", " "),
    ("×", "*"), ("·", "*"), ("⋅", "*"), ("∙", "*"), ("•", "*"), ("∗", "*"), ("✕", "*"),
    ("÷", "/"), ("∕", "/"), ("−", "-"), ("–", "-"), ("—", "-"), ("（", "("), ("）", ")"),
    ("，", ","), ("^", "**"),
)
_SUPERSCRIPTS = {"⁰": "0", "¹": "1", "²": "2", "³": "3", "⁴": "4", "⁵": "5", "⁶": "6", "⁷": "7",
                 "⁸": "8", "⁹": "9"}
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\*\*|//|[-+*/(),])
""", re.VERBOSE)


@dataclass(frozen=True)
class Token:
    kind: str      # number, name, op
    text: str
    position: int


def normalise(text: str) -> str:
    """Unicode and LaTeX spellings of operators rewritten as ASCII operators."""
    for old, new in _REPLACEMENTS:
        text = text.replace(old, new)
    text = re.sub(r"[⁰¹²³⁴⁵⁶⁷⁸⁹]+", lambda m: "**" + "".join(_SUPERSCRIPTS[ch] for ch in m.group()), text)
    text = re.sub(r"_\{([A-Za-z0-9_]+)\}", r"_\1", text)          # d_{head} -> d_head
    text = text.replace("{", "(").replace("}", ")")
    return text


def tokenize(text: str) -> list[Token]:
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"formula too long ({len(text)} characters; the limit is {MAX_LENGTH})")
    text = normalise(text)
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise FormulaError(f"unexpected character {text[position]!r} at position {position + 1}")
        if match.lastgroup != "space":
            tokens.append(Token(match.lastgroup, match.group(), position + 1))
            if len(tokens) > MAX_TOKENS:
                raise FormulaError(f"formula too long (more than {MAX_TOKENS} tokens)")
        position = match.end()
    return _with_implicit_products(tokens)


def _ends_operand(token: Token) -> bool:
    return token.kind in ("number", "name") or token.text == ")"


def _starts_operand(token: Token) -> bool:
    return token.kind in ("number", "name") or token.text == "("


def _with_implicit_products(tokens: list[Token]) -> list[Token]:
    out: list[Token] = []
    for token in tokens:
        if out and _ends_operand(out[-1]) and _starts_operand(token):
            previous = out[-1]
            if previous.kind == "number" and token.kind == "number":
                raise FormulaError(f"two numbers in a row at position {token.position}: "
                                   f"'{previous.text} {token.text}'")
            is_call = previous.kind == "name" and previous.text.lower() in FUNCTIONS and token.text == "("
            if not is_call:
                out.append(Token("op", "*", token.position))
        out.append(token)
    return out


class _Reader:
    """Recursive descent over the tokens: expr := term (+|- term)*, term := unary (*|/ unary)*,
    unary := (+|-) unary | power, power := atom (** unary)?, atom := number | name | call | (expr)."""

    def __init__(self, tokens: list[Token], lets: Mapping[str, sympy.Expr], readings: list | None = None,
                 names: Mapping[str, sympy.Expr] | None = None):
        self.tokens = tokens
        self.index = 0
        self.depth = 0
        self.lets = {k.lower(): v for k, v in lets.items()}
        self.readings = readings if readings is not None else []
        self.names = names or {}

    def peek(self) -> Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise FormulaError("formula ends too early")
        self.index += 1
        return token

    def expect(self, text: str) -> None:
        token = self.peek()
        if token is None or token.text != text:
            where = f"at position {token.position}, found '{token.text}'" if token else "at the end"
            raise FormulaError(f"expected '{text}' {where}")
        self.index += 1

    def descend(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FormulaError(f"formula nested too deeply (more than {MAX_DEPTH} levels)")

    def expression(self) -> sympy.Expr:
        self.descend()
        value = self.term()
        while (token := self.peek()) is not None and token.text in ("+", "-"):
            self.index += 1
            right = self.term()
            value = value + right if token.text == "+" else value - right
        self.depth -= 1
        return value

    def term(self) -> sympy.Expr:
        value = self.unary()
        while (token := self.peek()) is not None and token.text in ("*", "/", "//"):
            self.index += 1
            right = self.unary()
            if token.text == "*":
                value = value * right
            else:
                if right == 0:
                    raise FormulaError(f"division by zero at position {token.position}")
                value = value / right if token.text == "/" else _real(sympy.floor(value / right),
                                                                      f"// at position {token.position}")
            _check_size(value, f"at position {token.position}")
        return value

    def unary(self) -> sympy.Expr:
        token = self.peek()
        if token is not None and token.text in ("+", "-"):
            self.index += 1
            self.descend()
            value = self.unary()
            self.depth -= 1
            return -value if token.text == "-" else value
        return self.power()

    def power(self) -> sympy.Expr:
        base = self.atom()
        token = self.peek()
        if token is None or token.text != "**":
            return base
        self.index += 1
        self.descend()
        exponent = self.unary()
        self.depth -= 1
        return _power(base, exponent, token.position)

    def atom(self) -> sympy.Expr:
        token = self.take()
        if token.kind == "number":
            return read_number(token.text, f"at position {token.position}")
        if token.kind == "name":
            following = self.peek()
            if token.text.lower() in FUNCTIONS and following is not None and following.text == "(":
                return self.call(token)
            return self.resolve(token)
        if token.text == "(":
            value = self.expression()
            self.expect(")")
            return value
        raise FormulaError(f"unexpected '{token.text}' at position {token.position}")

    def call(self, name: Token) -> sympy.Expr:
        self.expect("(")
        args = [self.expression()]
        while (token := self.peek()) is not None and token.text == ",":
            self.index += 1
            args.append(self.expression())
        self.expect(")")
        function, fewest, most = FUNCTIONS[name.text.lower()]
        if not fewest <= len(args) <= most:
            raise FormulaError(f"wrong number of arguments to {name.text}() at position {name.position}")
        if unroundable(function, args):
            raise FormulaError(f"{name.text}() at position {name.position}: its argument is too large "
                               f"to round exactly")
        return _real(function(*args), f"{name.text}() at position {name.position}")

    def resolve(self, token: Token) -> sympy.Expr:
        key = token.text.lower()
        if key in self.lets:
            return self.lets[key]
        if token.text in self.names:
            return self.names[token.text]
        term = lookup(token.text)
        if term is not None:
            self.readings.append((token.text, term.name))
            return term.symbol
        close = closest_names(token.text)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        hint += unknown_name_hint(token.text)
        raise FormulaError(f"unknown symbol '{token.text}' at position {token.position}{hint}")


def read_number(text: str, where: str = "") -> sympy.Rational:
    """The exact value of an ASCII decimal as written (``12.75``, ``1.5e12``). Refused when it has
    more than ``MAX_DIGITS`` digits in numerator or denominator; the length of the text and of its
    exponent are checked first, so that no number can make the conversion slow."""
    shown = text if len(text) <= 24 else f"{text[:20]}..."
    if unreadable(text, MAX_DIGITS):
        raise FormulaError(f"number {shown} {where} is too large (more than {MAX_DIGITS} digits)")
    value = to_rational(text)
    if value is None:
        raise FormulaError(f"cannot read the number {shown!r} {where}")
    _check_size(value, where, shown)
    return value


def _check_size(value: sympy.Expr, where: str, shown: str = "") -> None:
    """Refuses a number (or a product's coefficient) of more than MAX_DIGITS digits."""
    coefficient = value.as_coeff_Mul()[0]
    if coefficient.is_Rational and max(abs(coefficient.p), coefficient.q) > 10**MAX_DIGITS:
        what = f"number {shown}" if shown else "number"
        raise FormulaError(f"{what} {where} is too large (more than {MAX_DIGITS} digits)")


def no_real_value(value: sympy.Expr) -> bool:
    """True if ``value`` is certainly not a finite real number (complex, infinite, undefined), or
    is a number SymPy cannot settle (its precision exhausted)."""
    try:
        return value.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo, sympy.I) \
            or value.is_extended_real is False
    except ArithmeticError:
        return True


def _real(value: sympy.Expr, what: str) -> sympy.Expr:
    if no_real_value(value):
        raise FormulaError(f"{what} has no finite real value")
    return value


def _power(base: sympy.Expr, exponent: sympy.Expr, position: int) -> sympy.Expr:
    """base^exponent: a numeric exponent at most MAX_EXPONENT in size, and a number to a numeric
    power of at most MAX_DIGITS digits; a symbolic exponent is bounded when evaluated."""
    if exponent.is_Number:
        if abs(exponent) > MAX_EXPONENT:
            raise FormulaError(f"exponent {_shown(exponent)} at position {position} is too large "
                               f"(at most {MAX_EXPONENT} in size)")
        constant = not base.free_symbols and base != 0 and abs(base) != 1
        if constant and abs(exponent) * number_bits(base) > MAX_DIGITS * math.log2(10):
            raise FormulaError(f"power at position {position} is too large (more than {MAX_DIGITS} digits)")
    elif not exponent.free_symbols:
        raise FormulaError(f"exponent at position {position} must be a number or hold a symbol")
    if base == 0 and exponent.is_Number and exponent <= 0:
        raise FormulaError(f"0 to a non-positive power at position {position}")
    value = _real(base**exponent, f"the power at position {position}")
    if value.is_Pow and value.exp.is_Number and abs(value.exp) > MAX_EXPONENT:  # (H^200)^200 = H^40000
        raise FormulaError(f"exponent {_shown(value.exp)} at position {position} is too large "
                           f"(at most {MAX_EXPONENT} in size)")
    return value


def _shown(number: sympy.Expr) -> str:
    """A number for a message: in full when short."""
    return str(number) if number.is_Rational and max(abs(number.p), number.q) < 10**20 else "(huge)"


def parse_formula(text: str, lets: Mapping[str, sympy.Expr] | None = None,
                  readings: list | None = None, names: Mapping[str, sympy.Expr] | None = None) -> sympy.Expr:
    """The SymPy expression a formula stands for; a :class:`FormulaError` if it cannot be read.
    ``readings``, if given, receives (name as written, vocabulary name) for each name read;
    ``names`` are read exactly as written (a notation's letters), after ``lets``, before the vocabulary."""
    if not isinstance(text, str):
        raise FormulaError("a formula must be text")
    tokens = tokenize(text)
    if not tokens:
        raise FormulaError("empty formula")
    reader = _Reader(tokens, lets or {}, readings, names)
    try:
        value = reader.expression()
    except ArithmeticError:  # SymPy's precision exhausted: ceil(sqrt(2) 10^399)
        raise FormulaError("the formula's numbers cannot be evaluated exactly") from None
    extra = reader.peek()
    if extra is not None:
        raise FormulaError(f"unexpected '{extra.text}' at position {extra.position}")
    for number in value.atoms(sympy.Rational):
        _check_size(number, "in the formula")
    return _real(value, "the formula")
