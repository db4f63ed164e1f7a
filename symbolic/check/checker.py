"""Verdicts on what people write: formulas, stated numbers and arithmetic.

* A formula (``2*2*nlayers*nheads*dhead``) is held against the exact expression of a quantity
  (``kv_cache.bytes_per_token``) of a model: ``equivalent``, ``equivalent under assumptions``
  (the smallest set from the catalogue), ``approximate`` (within a tolerance on every model
  checked, with the relative errors), or ``not equivalent`` (with the named mistake, the ratio or
  difference, and a model where it fails with both numbers).
* A stated number (``671 MB``) is held against the exact value in its setting (see
  :mod:`symbolic.check.claims`), a unit mix-up or telling factor named.
* Arithmetic (``16/900 = 22.22``) is evaluated exactly and held against the stated result.

Without a model, a formula is checked against every preset and the outcomes grouped.
"""

from __future__ import annotations

import copy
import difflib
import math
import re
from dataclasses import dataclass, replace
from fractions import Fraction

import mpmath
import sympy

from ..config.hardware import Accelerator
from ..config.presets import preset_names
from ..errors import SymbolicError
from ..exact import plain, to_rational
from ..printing import text
from ..quantities.derive import Derivation
from ..symbols import H, L, N_ep, N_pp, N_tp, V, layer_counts, term_of
from ..units import count
from . import equivalence as eq
from . import mutations as mut
from .claims import Stated, Verdict, judge, read_stated
from .notation import notation_names, reading_warnings
from .parser import FormulaError, no_real_value, parse_formula, read_number
from .posable import EXAMPLES, posed

QUANTITY_ALIASES = {
    "params": "params.total",
    "parameters": "params.total",
    "kv_cache.bytes": "kv_cache.bytes_per_batch",
    "kv_cache": "kv_cache.bytes_per_batch",
    "state": "kv_cache.state_bytes_per_sequence",
    "kv_cache.state": "kv_cache.state_bytes_per_sequence",
    "flops.prefill": "flops.prefill.total",
    "flops.decode": "flops.decode_step.total",
    "flops.decode_step": "flops.decode_step.total",
    "memory.weights": "memory.weights_bytes",
    "weights": "memory.weights_bytes",
}
DEFAULT_APPROXIMATION = sympy.Rational(5, 100)
MAX_EXPANDED_TERMS = 400
MAX_SHOWN_BITS = 13_000
"""Numbers of more bits (about 3,900 digits) are not shown in full (Python prints at most 4,300)."""


def quantity_key(name: str, derivation: Derivation) -> str:
    key = QUANTITY_ALIASES.get(name, name)
    if key not in derivation.quantities:
        close = difflib.get_close_matches(key, derivation.quantities, n=1, cutoff=0.8)
        hint = f"did you mean {close[0]}? " if close else ""
        known = ", ".join([*derivation.quantities, *QUANTITY_ALIASES, *EXAMPLES])
        raise SymbolicError(f"unknown quantity {name!r} for {derivation.model.arch.name}; {hint}"
                            f"known: {known}")
    return key


def quantity_kind(key: str) -> str:
    """kv, flops, params, time or bytes: what a quantity counts (a per-device share, an op's field
    and training FLOPs as their kind)."""
    key = key.removeprefix("per_device.")
    if key.startswith("time."):
        return "time"
    if key.startswith(("ops.", "kernels.")):
        field = key.split(".")[3]
        return {"params": "params", "flops": "flops"}.get(field, "bytes")
    if key.startswith("kv_cache"):
        return "kv"
    if key.startswith("flops"):
        return "flops"
    if key.startswith("params"):
        return "params"
    return "bytes"


@dataclass(frozen=True)
class ModelVerdict:
    """A formula against one model's exact expression. ``assumptions`` are those under which the
    formula is exact; ``violated`` those of them this model does not satisfy (then it is wrong for
    this model)."""

    model: str
    status: str                                  # equivalent | assumptions | approximate | not_equivalent
    exact: sympy.Expr
    assumptions: tuple[eq.Assumption, ...] = ()
    violated: tuple[eq.Assumption, ...] = ()
    mistakes: tuple[mut.Finding, ...] = ()
    neglected: tuple[mut.Finding, ...] = ()
    alternatives: tuple[tuple[mut.Finding, ...], ...] = ()   # other explanations as small as ``mistakes``
    ratio: sympy.Rational | None = None
    formula_value: sympy.Rational | None = None
    exact_value: sympy.Rational | None = None
    difference: sympy.Expr | None = None

    @property
    def holds(self) -> bool:
        return self.status in ("equivalent", "assumptions", "approximate")

    @property
    def explanations(self) -> tuple[tuple[mut.Finding, ...], ...]:
        """Every explanation found, the first (``mistakes``) and the others as small."""
        return (self.mistakes, *self.alternatives) if self.mistakes else ()

    @property
    def relative_error(self) -> sympy.Rational | None:
        if self.formula_value is None or not self.exact_value:
            return None
        return self.formula_value / self.exact_value - 1

    def signature(self) -> tuple:
        return (self.status, tuple(a.key for a in self.assumptions), tuple(a.key for a in self.violated),
                tuple(m.key for m in self.mistakes), tuple(m.key for m in self.neglected), text(self.exact))


@dataclass(frozen=True)
class FormulaCheck:
    formula_text: str
    formula: sympy.Expr
    quantity: str
    verdicts: tuple[ModelVerdict, ...]
    tolerance: sympy.Rational = DEFAULT_APPROXIMATION
    warnings: tuple[str, ...] = ()       # how one-letter names of another case or notation were read

    @property
    def holds(self) -> bool:
        return all(v.holds for v in self.verdicts)

    @property
    def status(self) -> str:
        statuses = {v.status for v in self.verdicts}
        for status in ("not_equivalent", "approximate", "assumptions", "equivalent"):
            if status in statuses:
                return status
        return "equivalent"  # pragma: no cover

    def groups(self) -> list[list[ModelVerdict]]:
        """Models with the same outcome and the same exact expression, together."""
        groups: dict[tuple, list[ModelVerdict]] = {}
        for verdict in self.verdicts:
            groups.setdefault(verdict.signature(), []).append(verdict)
        return list(groups.values())

    def to_dict(self) -> dict:
        return {
            "kind": "formula", "claim": self.formula_text, "formula": text(self.formula),
            "against": self.quantity, "verdict": self.status, "holds": self.holds,
            "warnings": list(self.warnings),
            "groups": [{
                "models": [v.model for v in group],
                "verdict": group[0].status,
                "exact": text(group[0].exact),
                "assumptions": [a.description for a in group[0].assumptions],
                "violated_assumptions": [a.description for a in group[0].violated],
                "reasons": [m.reason for m in group[0].mistakes],
                "mistakes": [m.key for m in group[0].mistakes],
                "alternatives": [[m.key for m in alt] for alt in group[0].alternatives],
                "neglected": [m.reason for m in group[0].neglected],
                "ratio": json_number(group[0].ratio),
                "difference": text(group[0].difference) if group[0].difference is not None else None,
                "examples": [{"model": v.model, "formula": json_number(v.formula_value),
                              "exact": json_number(v.exact_value),
                              "relative_error": json_real(v.relative_error)}
                             for v in group if v.formula_value is not None],
            } for group in self.groups()],
        }


def scientific(value: sympy.Rational, digits: int = 6) -> str:
    """A rational to ``digits`` significant digits (``1.5e+5000``), worked out in binary, so that
    it serves numbers of any size (Python prints at most 4,300 digits of an int, and a float
    overflows above 1.8e308)."""
    return mpmath.nstr(mpmath.mpf(value.p) / value.q, digits)


def shows_in_full(value: sympy.Rational) -> bool:
    """A whole number short enough to print in full."""
    return value.is_Integer and abs(value.p).bit_length() <= MAX_SHOWN_BITS


def as_float(value: sympy.Rational) -> float | None:
    """``value`` as a float, or None where a float cannot hold it (it overflows, or underflows to 0)."""
    number = float(value)
    return number if math.isfinite(number) and (number or not value) else None


def json_number(value: sympy.Rational | None) -> int | str | float | None:
    """A number for JSON: exact where it can be (see exact.plain), else in scientific notation, as
    text (never a float that overflows, never an int too long to print)."""
    if value is None:
        return None
    if shows_in_full(value) or (not value.is_Integer and as_float(value) is not None):
        return plain(value)
    return scientific(value, 15)


def json_real(value: sympy.Rational | None) -> float | str | None:
    """A float for JSON, or the number in scientific notation, as text, where a float cannot hold it."""
    if value is None:
        return None
    number = as_float(value)
    return number if number is not None else scientific(value, 15)


def check_formula_on(formula: sympy.Expr, derivation: Derivation, key: str,
                     tolerance: sympy.Rational = DEFAULT_APPROXIMATION,
                     neglect: tuple[str, ...] = mut.NEGLIGIBLE_BY_DEFAULT, declared: bool = False
                     ) -> ModelVerdict:
    """One model: is ``formula`` its exact ``key``, and if not, how does it differ?

    Structure before numbers: the same expression is equivalent; the same under catalogue
    assumptions this model satisfies is equivalent under them; the exact expression less terms
    one may neglect (``neglect``: norms and biases, elementwise FLOPs, by default) is approximate,
    naming them. Anything else is not equivalent, however close its value on this model, with the
    mistakes of the catalogue (:mod:`symbolic.check.mutations`) that turn the exact expression into
    the formula, or its difference in its simplest form when none does. A formula of numbers alone
    is a number: within ``tolerance`` it is approximate. A ``declared`` tolerance (the user's own)
    makes any formula within it on this model approximate, its differences still named."""
    if not derivation.model.arch.single_kind:   # an identity, not an assumption: L = L_full + L_sliding
        formula = formula.xreplace({L: sum(g.count_symbol for g in derivation.model.arch.layer_groups)})
    formula, divided = _exact_divisions(formula, derivation, derivation[key].expr)
    deployed = _deployment(derivation, derivation[key].expr)
    if deployed is not None:        # N_tp, N_pp, N_ep as given, on both sides
        formula = deployed.apply(formula)
        derivation = copy.copy(derivation)
        derivation.quantities = {**derivation.quantities,
                                 key: replace(derivation[key], expr=deployed.apply(derivation[key].expr))}
    given = (deployed,) if deployed is not None else ()
    verdict = _verdict_on(formula, derivation, key, tolerance, neglect, declared, given)
    named = tuple(a for a in (divided, deployed) if a is not None)
    if not named:
        return verdict
    status = "assumptions" if verdict.status == "equivalent" else verdict.status
    return replace(verdict, status=status, assumptions=(*verdict.assumptions, *named))


def _neglected(edits, derivation: Derivation, exact_value) -> tuple[mut.Finding, ...]:
    """The terms a formula leaves out, each with its share of the exact value on this model (what
    'negligible' costs here: attention at 128K tokens is not)."""
    point = {s: Fraction(int(v.p), int(v.q)) for s, v in derivation.bindings.items() if v.is_Rational}
    found = []
    for edit in edits:
        part = eq.value_at(edit.delta, point) if edit.delta != 0 else None
        share = f" ({float(abs(part) / abs(exact_value)) * 100:.3g}% of the exact value here)" \
            if part is not None and exact_value else ""
        found.append(mut.Finding(edit.key, edit.reason + share))
    return tuple(found)


def _deployment(derivation: Derivation, exact: sympy.Expr) -> eq.Assumption | None:
    """The parallel degrees a per-device or time quantity was posed with, as an assumption (those
    its expression depends on)."""
    degrees = {s: derivation.bindings[s] for s in (N_tp, N_pp, N_ep)
               if s in derivation.bindings and s in exact.free_symbols}
    if not degrees:
        return None
    shown = ", ".join(f"{s.name} = {v}" for s, v in degrees.items())
    return eq.Assumption("deployment", f"the deployment given ({shown})", degrees)


def _exact_divisions(formula: sympy.Expr, derivation: Derivation, exact: sympy.Expr
                     ) -> tuple[sympy.Expr, eq.Assumption | None]:
    """A formula that rounds down a division (``H // n_q``, as transformers computes head_dim)
    that is exact on this model, and that the exact expression does not round: the division
    itself, and the assumption that says so."""
    exact_here = {}
    for rounded in formula.atoms(sympy.floor, sympy.ceiling) - exact.atoms(sympy.floor, sympy.ceiling):
        inner = rounded.args[0]
        if inner.free_symbols and inner.free_symbols <= set(derivation.bindings):
            value = eq.evaluate(inner, derivation.bindings)
            if value.is_Integer:
                exact_here[rounded] = inner
    if not exact_here:
        return formula, None
    shown = ", ".join(text(inner) for inner in exact_here.values())
    return formula.xreplace(exact_here), eq.Assumption(
        "exact_division", f"divisions rounded down that are exact on this model ({shown})", {})


def _verdict_on(formula: sympy.Expr, derivation: Derivation, key: str, tolerance: sympy.Rational,
                neglect: tuple[str, ...], declared: bool, given: tuple = ()) -> ModelVerdict:
    """See :func:`check_formula_on`; ``given`` are assumptions already applied to both sides (the
    deployment), under which the catalogue's edits are evaluated too."""
    quantity = derivation[key]
    exact = quantity.expr
    name = derivation.model.arch.name
    point = _at(formula, derivation)
    formula_value = point if point is not None and point.is_Rational else None
    values = {"formula_value": formula_value, "exact_value": quantity.value}
    ratio = _ratio(formula, exact)
    close = formula_value is not None and bool(quantity.value) and \
        abs(formula_value / quantity.value - 1) <= tolerance
    if not formula.free_symbols:
        status = "equivalent" if formula == quantity.value else "approximate" if close else "not_equivalent"
        findings = () if close or formula_value is None else \
            _figure_findings(Stated(text(formula), formula_value, "", "", sympy.Integer(0)), derivation, key)
        return ModelVerdict(name, status, exact, ratio=ratio, mistakes=findings[0] if findings else (),
                            alternatives=tuple(findings[1:]), **values)
    if eq.same(formula, exact):
        return ModelVerdict(name, "equivalent", exact, **values)
    assumptions, neglected = eq.smallest_assumptions(formula, exact), ()
    if assumptions is None:     # the same under assumptions once negligible terms are left out?
        lighter, terms = mut.negligible_total(mut.Context(derivation, key, quantity_kind(key), exact,
                                                          neglect=neglect))
        assumptions = (() if eq.same(formula, lighter) else eq.smallest_assumptions(formula, lighter)) \
            if terms else None
        neglected = _neglected(terms, derivation, quantity.value) if assumptions is not None else ()
    assumptions = assumptions or ()
    violated = tuple(a for a in assumptions if not _satisfied(a, derivation))
    if (assumptions or neglected) and not violated:
        return ModelVerdict(name, "approximate" if neglected else "assumptions", exact,
                            assumptions=assumptions, neglected=neglected, **values)
    holding = [a for a in eq.CATALOGUE if _satisfied(a, derivation)
               and (not assumptions or a in assumptions)]
    proportions = _proportions(formula, exact, derivation)
    scaled = [*holding, proportions]
    if proportions is not None and not violated \
            and eq.same(transform(formula, scaled), transform(exact, scaled)):
        return ModelVerdict(name, "assumptions", exact, assumptions=(*assumptions, proportions), **values)
    found, ctx = [], None
    for held in (holding, [*holding, proportions] if proportions is not None else None):
        if held is None or found:
            continue
        ctx = mut.Context(derivation, key, quantity_kind(key), exact, (*given, *held), neglect)
        found = _diagnose(formula, ctx)
    if found and not found[0].mistakes and not violated:
        return ModelVerdict(name, "approximate", exact, assumptions=assumptions,
                            neglected=_neglected(found[0].neglected, derivation, quantity.value), **values)
    mistakes = found[0].findings if found else ()
    alternatives = tuple(d.findings for d in found[1:])
    neglected = _neglected(found[0].neglected, derivation, quantity.value) if found else neglected
    if not found:
        undefined = point is not None and no_real_value(point)
        mistakes = _value_hints(ctx, formula_value, quantity.value, undefined, tolerance)
    status = "approximate" if declared and close else "not_equivalent"
    return ModelVerdict(name, status, exact, assumptions=assumptions, violated=violated,
                        mistakes=mistakes, alternatives=alternatives, neglected=neglected, ratio=ratio,
                        difference=None if found else _small_difference(formula, exact), **values)


def transform(expr: sympy.Expr, assumptions) -> sympy.Expr:
    """``expr`` under each of ``assumptions`` in turn."""
    for assumption in assumptions:
        expr = assumption.apply(expr)
    return expr


def _proportions(formula: sympy.Expr, exact: sympy.Expr, derivation: Derivation) -> eq.Assumption | None:
    """This model's proportions, for a formula that writes them as numbers (``12.75 H^2`` for
    Llama-3-70B's layer): every architecture symbol but the sizes H, V and the layer counts, a
    width as its multiple of H (d_ff = 3.5 H) where the formula names H, a count as its value
    (n_kv = 8), on both sides. The formula then holds for this model only, and says so."""
    model_values = derivation.model.bindings()
    kept = {H, V, *layer_counts()}
    if not formula.free_symbols & set(layer_counts()):      # '2 * 12 * n_kv * d_h': the layers as a number
        kept -= set(layer_counts())
    named = formula.free_symbols | exact.free_symbols
    bound = sorted((named & set(model_values)) - kept, key=lambda s: s.name)
    if not bound or not (exact.free_symbols - formula.free_symbols) & set(bound):
        return None
    scale = H in formula.free_symbols
    mapping = {}
    for symbol in bound:
        value = model_values[symbol]
        if scale and term_of(symbol).unit == "elements":
            mapping[symbol] = value / model_values[H] * H
        else:
            mapping[symbol] = value
    shown = ", ".join(f"{s.name} = {text(v)}" for s, v in mapping.items())
    return eq.Assumption("proportions", f"this model's proportions written as numbers ({shown})", mapping)


def _diagnose(formula: sympy.Expr, ctx: mut.Context) -> list[mut.Diagnosis]:
    """The catalogue's smallest explanation of ``formula`` (see mutations.search), the assumptions
    that hold on the model applied to both."""
    edits = mut.edits_for(ctx)
    extra = [e.delta for e in edits] + [v for e in edits for _, v in e.sigma]
    point = mut.random_point([formula, ctx.exact, *extra], ctx.assumptions)
    moved = mut.assumed({s: Fraction(int(v.p), int(v.q)) for s, v in point.items()}, ctx.assumptions)
    if any(v is None for v in moved.values()):
        return []
    target = eq.evaluate(formula, {s: sympy.Rational(v.numerator, v.denominator) for s, v in moved.items()})
    if not target.is_Rational:
        return []
    goal = Fraction(int(target.p), int(target.q))
    return mut.search(ctx, goal, point, lambda value: value == goal,
                      confirm=lambda candidate: mut.same_as_formula(formula, candidate, ctx.assumptions))


NO_VALUE = mut.Finding("no_value", "on this model the formula has no finite real value, or one too large to "
                                   "evaluate exactly (a division by zero, the logarithm or square root of a "
                                   "negative number, a huge power)")


def _value_hints(ctx: mut.Context, formula_value, exact_value, undefined: bool,
                 tolerance: sympy.Rational) -> tuple[mut.Finding, ...]:
    """When no mistake of the catalogue explains a formula: what its value on this model suggests."""
    if undefined:
        return (NO_VALUE,)
    if formula_value is None or not exact_value:
        return ()
    ratio = formula_value / exact_value
    if abs(ratio - 1) <= tolerance:
        closeness = "equal" if ratio == 1 else f"within {float(abs(ratio - 1)) * 100:.2g}%"
        return (mut.Finding("close_but_different",
                            f"{closeness} on this model, but a different expression, and no mistake of the "
                            f"catalogue explains the difference (below): on other models or settings it "
                            f"may be further off"),)
    hints = {"flops": ((sympy.Rational(1, 2), "about_half_flops", "about half the exact count: "
                        "multiply-accumulates (MACs) counted as FLOPs?"),
                       (3, "about_training_flops", "about three times the exact count: 6N (training, "
                        "forward and backward) used for inference, which is about 2N?"))}
    for factor, key, words in hints.get(ctx.kind, ()):
        if abs(ratio / factor - 1) <= sympy.Rational(5, 100):
            return (mut.Finding(key, words),)
    return ()


def _small_difference(formula: sympy.Expr, exact: sympy.Expr) -> sympy.Expr | None:
    """formula - exact, expanded, when both are small enough to expand quickly and to print."""
    if sympy.count_ops(formula) + sympy.count_ops(exact) > 150:
        return None
    if any(p.is_Pow and p.exp.is_Integer and abs(p.exp) > 8 for p in formula.atoms(sympy.Pow)):
        return None
    if _expanded_terms(formula) + _expanded_terms(exact) > MAX_EXPANDED_TERMS:
        return None
    difference = sympy.expand(formula - exact)
    if any(max(abs(r.p), r.q).bit_length() > MAX_SHOWN_BITS for r in difference.atoms(sympy.Rational)):
        return None
    return difference


def _expanded_terms(expr: sympy.Expr) -> int:
    """At most how many terms ``expr`` has once expanded (capped just above MAX_EXPANDED_TERMS)."""
    if expr.is_Add:
        count = sum(_expanded_terms(arg) for arg in expr.args)
    elif expr.is_Mul:
        count = math.prod(_expanded_terms(arg) for arg in expr.args)
    elif expr.is_Pow and expr.exp.is_Integer:
        power = abs(int(expr.exp))
        count = math.comb(_expanded_terms(expr.base) + power - 1, power)
    else:
        count = 1
    return min(count, MAX_EXPANDED_TERMS + 1)


def _satisfied(assumption: eq.Assumption, derivation: Derivation) -> bool:
    """Does this model, in this setting, satisfy the assumption (n_kv really equals n_q, ...)?"""
    bindings = derivation.bindings
    return all(symbol in bindings and bindings[symbol] == value.xreplace(bindings)
               for symbol, value in assumption.substitutions.items())


def _at(formula: sympy.Expr, derivation: Derivation) -> sympy.Expr | None:
    """The formula at this model's values (bounded, see equivalence.evaluate), or None if it holds
    a symbol the model does not bind."""
    if not formula.free_symbols <= set(derivation.bindings):
        return None
    return eq.evaluate(formula, derivation.bindings)


def _ratio(a, b) -> sympy.Rational | None:
    """a / b when it is a rational number."""
    ratio = a / b if b else None
    return ratio if ratio is not None and ratio.is_Rational else None


def derivations_for(models: list | None, derive) -> list[Derivation]:
    """Derivations (by ``derive``) of the given models (names, paths, dicts), or of every preset."""
    return [derive(model) for model in (models or preset_names())]


DERIVED_NAMES = {"P": "params.total", "params": "params.total", "num_params": "params.total"}
"""Names a formula may use for a model's own quantities (P in '2 P / BW')."""


def check_formula(formula_text: str, against: str, derivations: list[Derivation], *,
                  lets: dict[str, sympy.Expr] | None = None,
                  tolerance: sympy.Rational | None = None,
                  neglect: tuple[str, ...] = mut.NEGLIGIBLE_BY_DEFAULT,
                  notation: str = "default") -> FormulaCheck:
    """The formula against ``against`` on every derivation. It is read once, with placeholders for
    the models' own quantities (DERIVED_NAMES), which each model then fills in."""
    key = quantity_key(against, derivations[0])
    declared = tolerance is not None
    tolerance = DEFAULT_APPROXIMATION if tolerance is None else tolerance
    own = {name: sympy.Dummy(name, positive=True) for name in DERIVED_NAMES}
    readings: list = []
    formula = parse_formula(formula_text, {**own, **(lets or {})}, readings, names=notation_names(notation))

    def on(derivation: Derivation) -> sympy.Expr:
        return formula.xreplace({own[name]: derivation[k].expr for name, k in DERIVED_NAMES.items()})

    verdicts = tuple(check_formula_on(on(d), d, key, tolerance, neglect, declared) for d in derivations)
    return FormulaCheck(formula_text, on(derivations[0]), key, verdicts, tolerance,
                        tuple(reading_warnings(readings, notation)))


@dataclass(frozen=True)
class NumberCheck:
    claim: str
    quantity: str
    model: str
    verdict: Verdict
    tolerance: sympy.Rational | None = None
    findings: tuple[mut.Finding, ...] = ()    # what explains a wrong figure (see mutations.search)
    alternatives: tuple[tuple[mut.Finding, ...], ...] = ()

    @property
    def explanations(self) -> tuple[tuple[mut.Finding, ...], ...]:
        return (self.findings, *self.alternatives) if self.findings else ()

    @property
    def holds(self) -> bool:
        if self.tolerance is not None and self.verdict.exact:
            return bool(abs(self.verdict.stated.value / self.verdict.exact - 1) <= self.tolerance)
        return self.verdict.holds

    def to_dict(self) -> dict:
        v = self.verdict
        return {"kind": "number", "claim": self.claim, "against": self.quantity, "model": self.model,
                "verdict": v.status if not (self.holds and v.status == "differs") else "within_tolerance",
                "holds": self.holds, "exact": json_number(v.exact),
                "stated": json_number(v.stated.value), "relative_error": json_real(v.relative_error),
                "reading": v.reading or None, "factor": v.factor or None,
                "mistakes": [f.key for f in self.findings], "reasons": [f.reason for f in self.findings],
                "alternatives": [[f.key for f in alt] for alt in self.alternatives]}


HARDWARE_KEYS = {"hardware.peak_flops": "flop_rate", "hardware.memory_bytes": "bytes",
                 "hardware.memory_bandwidth": "byte_rate"}


def known_reasons() -> tuple[str, ...]:
    """Every key a verdict may name as a reason (what a claims file's ``reason`` may expect)."""
    from .claims import TELLING_FACTORS
    keys = [m.key for m in (*mut.CATALOGUE, mut.UNIT_MUTATION)]
    keys += [key for _, key, _ in TELLING_FACTORS]
    keys += ["sibling_key", "sparse_peak", "other_dtype_peak", "decimal_for_binary", NO_VALUE.key,
             "close_but_different", "about_half_flops", "about_training_flops", "none"]
    keys += [f"violates:{a.key}" for a in eq.CATALOGUE]
    return tuple(dict.fromkeys(keys))


def parse_neglect(text: str, where: str = "--neglect") -> tuple[str, ...]:
    """``--neglect attention,lm_head``: terms declared negligible, beside the default ones (norms and
    biases, elementwise FLOPs); ``none`` first leaves the defaults out."""
    names = [name.strip() for name in str(text).split(",")]
    chosen = list(mut.NEGLIGIBLE_BY_DEFAULT)
    if names and names[0] == "none":
        chosen, names = [], names[1:]
    for name in names:
        if name not in mut.NEGLECTABLE:
            raise SymbolicError(f"{where}: unknown term {name[:40]!r}; known: none, "
                                f"{', '.join(mut.NEGLECTABLE)}")
        chosen.append(name)
    return tuple(dict.fromkeys(chosen))


def check_claim(claim: str, against: str, setting, models: list | None = None, *,
                lets: dict | None = None, tolerance: sympy.Rational | None = None,
                neglect: tuple[str, ...] = mut.NEGLIGIBLE_BY_DEFAULT, devices: dict | None = None,
                notation: str = "default"):
    """Any claim, as the command line and claims files pose it: arithmetic (``a = b``), a figure of
    an accelerator (``hardware.*``, the setting's hardware), a stated number (one model) or a
    formula (the models given, or every preset), in ``setting`` (a :class:`symbolic.setting.Setting`).
    ``devices`` (tp, pp, ep: degrees) set the deployment of ``per_device.*`` and ``time.*``
    quantities; beside a whole-model quantity they let a verdict tell one device's share from it."""
    devices = {name: read_degree(value, name) for name, value in (devices or {}).items() if value is not None}
    degrees = {name.strip("-"): degree for name, degree in devices.items()}
    if any(sign in claim for sign in ARITHMETIC_SIGNS) and not against:
        return check_arithmetic(claim, lets)
    if not against:
        raise SymbolicError("a formula or a number needs a quantity to check against (--against)")
    if against.startswith("hardware."):
        if setting.accelerator is None:
            raise SymbolicError(f"{against} needs a hardware (--hardware)")
        return check_hardware_number(claim, against, setting.accelerator, setting.compute_dtype or "bf16",
                                     tolerance)

    if against.startswith("time.") and setting.accelerator is None:
        raise SymbolicError(f"{against} needs a hardware (--hardware)")
    timed = setting.replace(**degrees) if against.startswith("time.") else setting

    def derive(model) -> Derivation:
        chosen = timed.with_model(model)
        return posed(chosen.derivation, QUANTITY_ALIASES.get(against, against), **degrees,
                     performance=chosen.performance if against.startswith("time.") else None)

    if looks_like_number(claim):
        if len(models or ()) != 1:
            raise SymbolicError("a stated number is checked against one model (--model)")
        return check_number(claim, against, derive(models[0]), tolerance)
    derivations = derivations_for(models or None, derive)
    key = QUANTITY_ALIASES.get(against, against)
    if models:
        for derivation in derivations:       # each model named must have the quantity
            quantity_key(against, derivation)
    else:                                    # every preset that has it (ops of a layer kind, states)
        derivations = [d for d in derivations if key in d.quantities] or derivations[:1]
    return check_formula(claim, against, derivations, lets=lets, tolerance=tolerance, neglect=neglect,
                         notation=notation)


MAX_DEGREE = 4096


def read_degree(value, name: str) -> int:
    """A parallel degree: a whole number from 1 to MAX_DEGREE."""
    text = str(value).strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_DEGREE:
        raise SymbolicError(f"{name} must be a whole number from 1 to {MAX_DEGREE}, got {text[:20]!r}")
    return int(text)


def check_hardware_number(claim: str, against: str, accelerator: Accelerator, dtype: str = "bf16",
                          tolerance: sympy.Rational | None = None) -> NumberCheck:
    """A stated figure of an accelerator (peak FLOP/s, memory, bandwidth) against its datasheet."""
    if against not in HARDWARE_KEYS:
        raise SymbolicError(f"unknown hardware quantity {against!r}; known: {', '.join(HARDWARE_KEYS)}")
    stated = read_claimed(claim)
    if stated.dimension != HARDWARE_KEYS[against]:
        raise SymbolicError(f"{claim!r} is in {stated.dimension} but {against} is in "
                            f"{HARDWARE_KEYS[against]}")
    exact = {"hardware.peak_flops": lambda: accelerator.peak(dtype),
             "hardware.memory_bytes": lambda: accelerator.memory_bytes,
             "hardware.memory_bandwidth": lambda: accelerator.memory_bandwidth}[against]()
    verdict = judge(stated, exact)
    found = [] if verdict.holds else [f for f in _hardware_findings(stated, against, accelerator, dtype) if f]
    return NumberCheck(claim, against, accelerator.name, verdict, tolerance,
                       found[0] if found else (), tuple(found[1:]))


def _hardware_findings(stated: Stated, against: str, accelerator: Accelerator, dtype: str
                       ) -> list[tuple[mut.Finding, ...]]:
    """A peak quoted for the wrong thing: the 2:4 sparse peak, or another dtype's peak."""
    if against != "hardware.peak_flops":
        return [_unit_findings(stated, {"hardware.memory_bytes": accelerator.memory_bytes,
                                        "hardware.memory_bandwidth": accelerator.memory_bandwidth}[against])]
    close = sympy.Rational(2, 100)
    found = []
    sparse = accelerator.peak_flops_sparse.get(dtype)
    if sparse and abs(stated.value / sparse - 1) <= close:
        found.append(mut.Finding("sparse_peak", "the sparse peak (2:4 structured sparsity) quoted as the "
                                                "dense one"))
    for other, value in sorted(accelerator.peak_flops_sparse.items()):
        if other != dtype and abs(stated.value / value - 1) <= close:
            found.append(mut.Finding("other_dtype_peak", f"the {other} sparse peak quoted as the {dtype} "
                                                         f"dense one"))
    for other in sorted(accelerator.peak_flops):
        if other != dtype and abs(stated.value / accelerator.peak(other) - 1) <= close:
            found.append(mut.Finding("other_dtype_peak", f"the {other} peak quoted as the {dtype} one"))
    return [(f,) for f in found] or [_unit_findings(stated, accelerator.peak(dtype))]


def _unit_findings(stated: Stated, exact: sympy.Rational) -> tuple[mut.Finding, ...]:
    """A figure off by a unit (GB for GiB) or by a telling factor (2, 1000, 1024)."""
    verdict = judge(stated, exact)
    if verdict.status == "unit_mixup":
        return (mut.Finding("decimal_for_binary", f"the number is right in {verdict.reading}, "
                                                  f"not in {stated.unit}"),)
    if verdict.factor:
        return (mut.Finding(verdict.factor_key, verdict.factor),)
    return ()


def check_number(claim: str, against: str, derivation: Derivation,
                 tolerance: sympy.Rational | None = None) -> NumberCheck:
    key = quantity_key(against, derivation)
    stated = read_claimed(claim)
    dimensions = {"kv": "bytes", "bytes": "bytes", "flops": "flop", "params": "count", "time": "time"}
    expected_dimension = "count" if "elements" in key else dimensions[quantity_kind(key)]
    if expected_dimension in ("count", "flop") and stated.unit == "B":   # '405B' parameters: billions
        stated = read_claimed(claim.strip()[:-1] + " billion")
    if expected_dimension == "flop" and stated.dimension == "count":   # '16 billion' FLOPs: a count
        stated = replace(stated, dimension="flop")
    if stated.dimension != expected_dimension:
        raise SymbolicError(f"{claim!r} is in {stated.dimension} but {key} is in {expected_dimension}")
    verdict = judge(stated, derivation.value(key))
    found = _figure_findings(stated, derivation, key) if not verdict.holds else []
    return NumberCheck(claim, key, derivation.model.arch.name, verdict, tolerance,
                       found[0] if found else (), tuple(found[1:]))


def _figure_findings(stated: Stated, derivation: Derivation, key: str) -> list[tuple[mut.Finding, ...]]:
    """What explains a wrong figure: a unit mixed up; else the catalogue's mistakes (see
    :func:`_diagnose_figure`); else a telling factor; and, beside them, another quantity the
    figure is right for."""
    if judge(stated, derivation.value(key)).status == "unit_mixup":
        return [_unit_findings(stated, derivation.value(key))]
    found = [d.findings for d in _diagnose_figure(stated, derivation, key)] \
        or [_unit_findings(stated, derivation.value(key))]
    sibling = _sibling(stated, derivation, key)
    return [f for f in (*found, (sibling,) if sibling else ()) if f]


def _diagnose_figure(stated: Stated, derivation: Derivation, key: str) -> list[mut.Diagnosis]:
    """The catalogue's smallest explanation of a wrong figure: the mistakes whose value on this
    model, in this setting, agrees with the figure to the precision written (or cut to it)."""
    ctx = mut.Context(derivation, key, quantity_kind(key), derivation[key].expr, neglect=())
    ctx.cache["unit"] = stated.unit
    target = Fraction(int(stated.value.p), int(stated.value.q))
    half = Fraction(int(stated.tolerance.p), int(stated.tolerance.q))
    exact = Fraction(int(derivation.value(key).p), int(derivation.value(key).q))
    miss = abs(target - exact)

    def telling(value: Fraction) -> bool:    # a mistake the figure tells apart from no mistake
        return abs(value - exact) > 2 * half and abs(value - target) * 2 <= miss

    def to_precision(value: Fraction) -> bool:     # rounded or cut to the digits written
        gap = abs(value) - abs(target)
        close = abs(value - target) <= half or (0 < gap < 2 * half and (value > 0) == (target > 0))
        return close and telling(value)

    def loosely(value: Fraction) -> bool:          # "about 340 GB"
        return value != 0 and abs(target / value - 1) <= LOOSE_FIGURE and telling(value)

    precise = stated.tolerance <= stated.value * PRECISE_FIGURE
    return (mut.search(ctx, target, derivation.bindings, to_precision, figures=True, most=2 if precise else 1)
            or mut.search(ctx, target, derivation.bindings, loosely, figures=True, most=1))


PRECISE_FIGURE = sympy.Rational(35, 10000)
"""A figure written this precisely (to 0.35%: 'GB' to three digits or more) may be explained by two
mistakes together; a rounder one ('7.3B') by one only, as two mistakes of the catalogue can
between them land near almost any round figure."""
LOOSE_FIGURE = Fraction(5, 100)
"""How far a wrong figure may be from the value a mistake gives and still be explained by it (and
then it must be twice as near that value as the exact one): writers round loosely ("about
340 GB" for 343.6 GB, "56B" for eight 7.2B models)."""


SIBLINGS = {"params": "params.", "kv": "kv_cache.", "flops": "flops.", "bytes": "memory.", "time": "time."}


def _sibling(stated: Stated, derivation: Derivation, key: str) -> mut.Finding | None:
    """Another quantity of the same kind that the figure states (model cards count active
    parameters without the embedding, DeepSeek's 37B): named, as the figure is right for it."""
    family = SIBLINGS[quantity_kind(key)]
    for other in derivation.quantities:
        if other != key and other.startswith(family) and quantity_kind(other) == quantity_kind(key) \
                and judge(stated, derivation.value(other)).holds:
            return mut.Finding("sibling_key", f"the figure is {other} ({count(derivation.value(other))}), "
                                              f"not {key}")
    return None


@dataclass(frozen=True)
class ArithmeticCheck:
    claim: str
    exact: sympy.Rational
    verdict: Verdict

    @property
    def holds(self) -> bool:
        return self.verdict.holds

    def to_dict(self) -> dict:
        v = self.verdict
        return {"kind": "arithmetic", "claim": self.claim, "verdict": v.status, "holds": self.holds,
                "exact": json_number(self.exact), "exact_decimal": json_real(self.exact),
                "stated": json_number(v.stated.value), "relative_error": json_real(v.relative_error),
                "factor": v.factor or None}


ARITHMETIC_SIGNS = ("==", "≈", "~=", "=")
"""How people write that a computation comes to a number (all read as '=', to the digits written)."""


def check_arithmetic(claim: str, lets: dict[str, sympy.Expr] | None = None) -> ArithmeticCheck:
    """``'16/900 = 22.22'``: the left side evaluated exactly, the right side read as written (a
    percentage as a share: ``16/900 = 1.78%``)."""
    written = claim
    for sign in ARITHMETIC_SIGNS:
        written = written.replace(sign, "=")
    left, sep, right = written.rpartition("=")
    if not sep or not left.strip():
        raise FormulaError(f"an arithmetic claim reads 'EXPRESSION = NUMBER', got {claim!r}")
    value = parse_formula(left, lets)
    if value.free_symbols:
        names = ", ".join(sorted(s.name for s in value.free_symbols))
        raise FormulaError(f"arithmetic claim has symbols ({names}); check it --against a quantity")
    exact = _rational(value)
    stated = read_claimed(right)
    if stated.dimension != "count":
        raise FormulaError(f"the result of arithmetic is a plain number or a percentage, "
                           f"got {right.strip()!r}")
    return ArithmeticCheck(claim, exact, judge(stated, exact))


ARITHMETIC_DIGITS = 50


def _rational(value: sympy.Expr) -> sympy.Rational:
    """A real constant as a rational: itself, or (sqrt(2), log(3)) its value to 50 digits."""
    if value.is_Rational:
        return value
    try:
        approximation = value.evalf(ARITHMETIC_DIGITS)
    except ArithmeticError:  # SymPy's precision exhausted
        approximation = None
    exact = to_rational(str(approximation)) if approximation is not None and approximation.is_Float else None
    if exact is None:
        raise FormulaError(f"cannot evaluate {text(value)[:60]} to a number")
    return exact


_LEADING_NUMBER = re.compile(r"\s*([0-9][0-9,]*(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?)")


def read_claimed(claim: str) -> Stated:
    """A stated number (see claims.read_stated), its digits first checked as a formula's are
    (parser.read_number), so that no number is slow to read or too long to print."""
    match = _LEADING_NUMBER.match(claim)
    if match:
        read_number(match.group(1).replace(",", ""), "in the claim")
    return read_stated(claim)


def looks_like_number(claim: str) -> bool:
    try:
        read_claimed(claim)
    except SymbolicError:
        return False
    return True
