"""Deterministic text for expressions: SymPy's string form, or a 'decimal' form that writes exact
rationals with a terminating decimal expansion as decimals (51/4 -> 12.75), as textbooks do."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy
from sympy.printing.latex import LatexPrinter
from sympy.printing.str import StrPrinter

from .exact import unwieldy
from .symbols import VOCABULARY


def _terminates(q: sympy.Rational) -> bool:
    d = int(q.q)
    for p in (2, 5):
        while d % p == 0:
            d //= p
    return d == 1


def decimal_text(q: sympy.Rational) -> str:
    """An exact decimal for a rational whose expansion terminates (12.75), else 'p/q'."""
    if q.is_Integer or not _terminates(q):
        return str(q)
    digits = 0
    scaled = q
    while not scaled.is_Integer:
        scaled *= 10
        digits += 1
    sign = "-" if scaled < 0 else ""
    text = str(abs(int(scaled))).rjust(digits + 1, "0")
    return f"{sign}{text[:-digits]}.{text[-digits:]}"


def _decimal_product(printer, expr, parentheses: str, joiner: str) -> str | None:
    """A product whose coefficient is a terminating rational, written with the coefficient as a
    decimal ('12.75*H**2', '12.75 H^{2}'); None for any other product."""
    coeff, rest = expr.as_coeff_Mul()
    if not (coeff.is_Rational and not coeff.is_Integer and _terminates(coeff) and rest != 1):
        return None
    body = printer._print(rest)
    if rest.is_Add:
        body = parentheses.format(body)
    return f"{decimal_text(coeff)}{joiner}{body}"


class _DecimalPrinter(StrPrinter):
    def _print_Rational(self, expr):
        return decimal_text(expr)

    def _print_Mul(self, expr):
        return _decimal_product(self, expr, "({})", "*") or super()._print_Mul(expr)


@lru_cache(maxsize=4096)
def text(expr: sympy.Expr) -> str:
    """SymPy's own string form (stable for a given expression); remembered."""
    return sympy.sstr(expr, order="lex")


@lru_cache(maxsize=4096)
def decimal(expr: sympy.Expr) -> str:
    """Text with terminating rationals written as decimals: '12.75*H**2 + 2*H'; remembered."""
    return _DecimalPrinter({"order": "lex"}).doprint(expr)


class _LatexPrinter(LatexPrinter):
    """SymPy's LaTeX printer with two options: ``decimals`` writes terminating rationals as
    decimals (12.75 H^{2}); ``values`` prints the given symbols as their numbers (the "with
    numbers" step of a derivation), keeping the expression's structure and order."""

    def _print_Symbol(self, expr, style="plain"):
        values = self._settings.get("values") or {}
        if expr in values:
            return latex_number(values[expr])
        term = VOCABULARY.get(expr.name)
        if term is not None:   # the vocabulary's own typesetting (a kind's layer count made at run time)
            return term.latex
        return super()._print_Symbol(expr, style)

    def _print_Rational(self, expr):
        if self._settings.get("decimals") and not expr.is_Integer and _terminates(expr):
            return decimal_text(expr)
        return super()._print_Rational(expr)

    def _print_Mul(self, expr):
        values = self._settings.get("values")
        if values:   # a factor whose value is 1 (B = 1, an efficiency of 1) is left out, not "· 1"
            kept = [a for a in expr.args if not _is_one(a, values)]
            if not kept:
                return "1"
            if len(kept) < len(expr.args):
                if len(kept) == 1 and kept[0].is_Add:   # a sum left alone keeps its brackets: a - (b + c)
                    return r"\left(" + self._print(kept[0]) + r"\right)"
                expr = kept[0] if len(kept) == 1 else sympy.Mul(*kept, evaluate=False)
                return self._print(expr)
        if self._settings.get("decimals"):
            decimal = _decimal_product(self, expr, r"\left({}\right)", " ")
            if decimal:
                return decimal
        return super()._print_Mul(expr)


def _is_one(factor: sympy.Expr, values: dict) -> bool:
    """A factor that prints as 1 with these values: a symbol bound to 1, or a power of one."""
    base = factor.base if factor.is_Pow else factor
    return base.is_Symbol and values.get(base) == 1


_LatexPrinter._global_settings = dict(LatexPrinter._global_settings)
_LatexPrinter._default_settings = {**LatexPrinter._default_settings, "values": None, "decimals": False}


def latex_number(value: sympy.Rational) -> str:
    """An exact number for LaTeX: integers grouped by thousands (70{,}553{,}706{,}496)."""
    value = sympy.Rational(value)
    if value.is_Integer:
        return f"{int(value):,}".replace(",", "{,}")
    if unwieldy(value):
        return rf"\approx {float(value):,.6g}".replace(",", "{,}")
    if _terminates(value):
        return decimal_text(value)
    return rf"\frac{{{value.p}}}{{{value.q}}}"


@lru_cache(maxsize=4096)
def latex(expr: sympy.Expr, *, decimals: bool = False) -> str:
    """LaTeX for an expression (terminating rationals as decimals if asked); remembered."""
    return _LatexPrinter({"decimals": decimals}).doprint(expr)


ROW_LENGTH = 240
"""Longest LaTeX row of a displayed formula before it is split into rows (at its terms)."""


@dataclass(frozen=True)
class Form:
    """A formula as LaTeX: whole, and as the rows a reader can follow (one row when it is short)."""

    whole: str
    rows: tuple[str, ...]


def latex_form(expr: sympy.Expr, values=None) -> Form:
    """``expr`` as a :class:`Form`. When its LaTeX is longer than ``ROW_LENGTH``, its sum is split
    at its terms, a row of terms at a time, each row after the first opening with its sign; a term
    that is a factor times a long sum becomes the factor, then the sum's rows in \\bigl( \\bigr).
    ``values``: each bound symbol written as its number, products marked by cdots (a factor whose
    value is 1 left out). Forms without values are remembered (every model and language shares
    them)."""
    if not values:
        return _symbolic_form(expr)
    used = {symbol: value for symbol, value in values.items() if symbol in expr.free_symbols}
    return _form(expr, _LatexPrinter({"values": used, "mul_symbol": "dot"}))


@lru_cache(maxsize=4096)
def _symbolic_form(expr: sympy.Expr) -> Form:
    return _form(expr, _LatexPrinter({}))


def _form(expr: sympy.Expr, printer: _LatexPrinter) -> Form:
    whole = printer.doprint(expr)
    return Form(whole, (whole,) if len(whole) <= ROW_LENGTH else tuple(_rows(expr, printer)))


def _rows(expr: sympy.Expr, printer: _LatexPrinter) -> list[str]:
    pieces = _pieces(expr, printer) if expr.is_Add else _factored(expr, printer)
    rows: list[str] = []
    for piece in pieces:
        if rows and len(rows[-1]) + len(piece) + 1 <= ROW_LENGTH:
            rows[-1] += " " + piece
        else:
            rows.append(piece)
    return rows


def _pieces(expr: sympy.Expr, printer: _LatexPrinter) -> list[str]:
    """A sum's terms in the printer's order, each with its sign ('+ t', '- t'; the first bare)."""
    pieces = []
    for i, term in enumerate(printer._as_ordered_terms(expr)):
        sign = "-" if term.could_extract_minus_sign() else "+"
        body = -term if sign == "-" else term
        rows = _factored(body, printer)
        if i == 0 and sign == "+":
            pieces.extend(rows)
        else:
            pieces.extend([f"{sign} {rows[0]}", *rows[1:]])
    return pieces


def _factored(term: sympy.Expr, printer: _LatexPrinter) -> list[str]:
    """A term as rows: itself, or when it is a factor times a sum too long for a row, the factor
    and the sum's terms inside \\bigl( \\bigr)."""
    text = printer.doprint(term)
    if len(text) <= ROW_LENGTH or not term.is_Mul:
        return [text]
    sums = [f for f in term.args if f.is_Add]
    if len(sums) != 1:
        return [text]
    factor = sympy.Mul(*[f for f in term.args if f is not sums[0]], evaluate=False)
    inner = _rows(sums[0], printer)
    printed = printer.doprint(factor)
    head = {"1": r"\bigl(", "-1": r"-\bigl("}.get(printed, printed + r" \cdot \bigl(")
    if len(inner) == 1:
        return [f"{head} {inner[0]} \\bigr)"]
    return [f"{head} {inner[0]}", *inner[1:-1], f"{inner[-1]} \\bigr)"]
