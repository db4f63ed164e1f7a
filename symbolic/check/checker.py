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

import math
import re
from dataclasses import dataclass, replace

import mpmath
import sympy

from ..config.hardware import Accelerator
from ..config.presets import preset_names
from ..errors import SymbolicError
from ..exact import plain, to_rational
from ..ops.model import Model
from ..ops.op import OpKind
from ..printing import text
from ..quantities import sums as q
from ..quantities.derive import Derivation
from ..symbols import B, E, L, W, b_kv, b_w, c, k
from . import equivalence as eq
from .claims import Stated, Verdict, judge, read_stated
from .parser import FormulaError, no_real_value, parse_formula, read_number

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
        known = ", ".join(sorted(k for k in derivation.quantities if k.count(".") <= 2))
        raise SymbolicError(f"unknown quantity {name!r}; known: {known}")
    return key


def quantity_kind(key: str) -> str:
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
    mistakes: tuple[eq.Mistake, ...] = ()
    ratio: sympy.Rational | None = None
    formula_value: sympy.Rational | None = None
    exact_value: sympy.Rational | None = None
    difference: sympy.Expr | None = None

    @property
    def holds(self) -> bool:
        return self.status in ("equivalent", "assumptions", "approximate")

    @property
    def relative_error(self) -> sympy.Rational | None:
        if self.formula_value is None or not self.exact_value:
            return None
        return self.formula_value / self.exact_value - 1

    def signature(self) -> tuple:
        return (self.status, tuple(a.key for a in self.assumptions), tuple(a.key for a in self.violated),
                tuple(m.key for m in self.mistakes), text(self.exact))


@dataclass(frozen=True)
class FormulaCheck:
    formula_text: str
    formula: sympy.Expr
    quantity: str
    verdicts: tuple[ModelVerdict, ...]
    tolerance: sympy.Rational = DEFAULT_APPROXIMATION

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
            "groups": [{
                "models": [v.model for v in group],
                "verdict": group[0].status,
                "exact": text(group[0].exact),
                "assumptions": [a.description for a in group[0].assumptions],
                "violated_assumptions": [a.description for a in group[0].violated],
                "reasons": [m.reason for m in group[0].mistakes],
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


def relatives(derivation: Derivation, key: str) -> dict[str, sympy.Expr]:
    """The exact expression's relatives that common mistakes match (see equivalence.Case)."""
    model, exact = derivation.model, derivation[key].expr
    found: dict[str, sympy.Expr] = {}
    if W in exact.free_symbols:
        found["no_window"] = exact.xreplace({W: sympy.Integer(10) ** 30})
    if key.startswith("flops."):
        conv = model.conventions
        other = "full" if conv.attention_count == "causal" else "causal"
        twin = Derivation(Model(model.arch, conv.replace(attention_count=other)), derivation.workload,
                          derivation.precision)
        if not eq.same(twin[key].expr, exact):
            found["other_attention_count"] = twin[key].expr
        if key.startswith("flops.decode_step.") and key.endswith(("total", "attention")):
            found["decode_attention"] = derivation["flops.decode_step.attention"].expr
    if key.startswith("kv_cache.") and "kv_cache.state_elements_per_sequence" in derivation.quantities:
        found.update(_state_relatives(derivation, key))
    if key.startswith("params."):
        found["weights_only"] = _weights_only(derivation, key)
    if k in exact.free_symbols:
        found["all_experts"] = exact.xreplace({k: E})
    if E in exact.free_symbols:
        found["active_experts_only"] = exact.xreplace({E: k})
        if key == "params.total":
            found["active_experts_only"] = derivation["params.active"].expr
        elif key == "memory.weights_bytes":
            found["active_experts_only"] = derivation["params.active"].expr * b_w
    return found


def _state_relatives(derivation: Derivation, key: str) -> dict[str, sympy.Expr]:
    """For a model whose layers keep fixed-size states beside attention layers (Qwen3-Next,
    Nemotron-H, LFM2): its cache as if every layer cached keys and values like its attention layers
    (a Llama's cache, grown in every layer), and its cache with the states left out."""
    model = derivation.model
    attending = {q.layer_cache(s)["elements_per_token"] for s in model.layer_sections
                 if s.group.spec.attention is not None}
    found = {}
    scale = {"kv_cache.elements_per_token": 1, "kv_cache.bytes_per_token": b_kv,
             "kv_cache.bytes_per_sequence": c * b_kv, "kv_cache.bytes_per_batch": B * c * b_kv}
    layers = sympy.Add(*(s.repeats for s in model.layer_sections))   # L, as the kinds' counts
    if len(attending) == 1 and key in scale:
        found["every_layer_caches_kv"] = layers * attending.pop() * scale[key]
    state = derivation["kv_cache.state_bytes_per_sequence"].expr
    if key in ("kv_cache.bytes_per_sequence", "kv_cache.bytes_per_batch"):
        found["state_left_out"] = derivation[key].expr - state * (B if key.endswith("batch") else 1)
    # the same with each kind's layer count as a number, as a formula that names no kind writes it
    counts = {s.repeats: sympy.Integer(s.group.count) for s in model.layer_sections}
    found.update({f"{name}_counted": expr.xreplace(counts) for name, expr in list(found.items())})
    return found


def _weights_only(derivation: Derivation, key: str) -> sympy.Expr:
    """A parameter count without norm and bias parameters: matrices and tables only."""
    model = derivation.model
    kinds = [OpKind.MATMUL, OpKind.GATHER]
    if key == "params.total":
        return q.model_sum(model, "params", kinds=kinds)
    if key == "params.layers":
        return q.model_sum(model, "params", kinds=kinds, sections=model.layer_sections)
    parts = key.split(".")
    if parts[1] == "per_layer":
        section = next(s for s in model.layer_sections if s.name == parts[2])
        components = None if parts[3] == "total" else [parts[3]]
        return q.section_sum(section, "params", kinds=kinds, components=components)
    return derivation[key].expr


def check_formula_on(formula: sympy.Expr, derivation: Derivation, key: str,
                     tolerance: sympy.Rational = DEFAULT_APPROXIMATION) -> ModelVerdict:
    """One model: is ``formula`` its exact ``key``, and if not, how does it differ?

    In order: the same expression; the same under catalogue assumptions this model satisfies; the
    same once norm and bias parameters are neglected (approximate); within ``tolerance`` on this
    model (approximate); otherwise not equivalent, with the assumptions it needs that this model
    breaks, and the known mistakes that explain the difference."""
    quantity = derivation[key]
    exact = quantity.expr
    name = derivation.model.arch.name
    if not derivation.model.arch.single_kind:   # an identity, not an assumption: L = L_full + L_sliding
        formula = formula.xreplace({L: sum(g.count_symbol for g in derivation.model.arch.layer_groups)})
    point = _at(formula, derivation)
    formula_value = point if point is not None and point.is_Rational else None
    undefined = point is not None and no_real_value(point)
    values = {"formula_value": formula_value, "exact_value": quantity.value}
    if not formula.free_symbols:
        status = "equivalent" if formula == quantity.value else "not_equivalent"
        return ModelVerdict(name, status, exact, ratio=_ratio(formula, quantity.value), **values)
    if eq.same(formula, exact):
        return ModelVerdict(name, "equivalent", exact, **values)
    kin = relatives(derivation, key)
    broken: ModelVerdict | None = None
    for label, target in (("exact", exact), ("weights_only", kin.get("weights_only"))):
        if target is None:
            continue
        assumptions = () if eq.same(formula, target) else eq.smallest_assumptions(formula, target)
        if assumptions is None:
            continue
        extra = (eq.NEGLECT_SMALL,) if label == "weights_only" else ()
        violated = tuple(a for a in assumptions if not _satisfied(a, derivation))
        if not violated:
            status = "approximate" if extra else ("assumptions" if assumptions else "equivalent")
            return ModelVerdict(name, status, exact, assumptions=assumptions + extra, **values)
        if broken is None:
            f, e = formula, target
            for assumption in assumptions:
                if assumption not in violated:
                    f, e = assumption.apply(f), assumption.apply(e)
            case = eq.Case(f, e, quantity_kind(key), key, dict(kin), formula_value, quantity.value, undefined)
            broken = ModelVerdict(name, "not_equivalent", exact, assumptions=assumptions + extra,
                                  violated=violated, mistakes=tuple(eq.diagnose(case)),
                                  ratio=eq.constant_ratio(f, e), **values)
    if broken is not None:
        return broken
    holding = [a for a in eq.CATALOGUE if _satisfied(a, derivation)]
    f, e, kin_held = formula, exact, dict(kin)
    for assumption in holding:  # what is true of this model anyway (B = 1, 2-byte elements, ...)
        f, e = assumption.apply(f), assumption.apply(e)
        kin_held = {k: assumption.apply(v) for k, v in kin_held.items()}
    case = eq.Case(f, e, quantity_kind(key), key, kin_held, formula_value, quantity.value, undefined)
    mistakes = tuple(eq.diagnose(case))
    ratio = eq.constant_ratio(formula, exact)
    error = formula_value / quantity.value - 1 if formula_value is not None and quantity.value else None
    if not mistakes and error is not None and abs(error) <= tolerance:
        return ModelVerdict(name, "approximate", exact, ratio=ratio, **values)
    return ModelVerdict(name, "not_equivalent", exact, mistakes=mistakes, ratio=ratio,
                        difference=_small_difference(formula, exact), **values)


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
                  tolerance: sympy.Rational = DEFAULT_APPROXIMATION) -> FormulaCheck:
    """The formula against ``against`` on every derivation. It is read once, with placeholders for
    the models' own quantities (DERIVED_NAMES), which each model then fills in."""
    key = quantity_key(against, derivations[0])
    own = {name: sympy.Dummy(name, positive=True) for name in DERIVED_NAMES}
    formula = parse_formula(formula_text, {**own, **(lets or {})})

    def on(derivation: Derivation) -> sympy.Expr:
        return formula.xreplace({own[name]: derivation[k].expr for name, k in DERIVED_NAMES.items()})

    verdicts = tuple(check_formula_on(on(d), d, key, tolerance) for d in derivations)
    return FormulaCheck(formula_text, on(derivations[0]), key, verdicts, tolerance)


@dataclass(frozen=True)
class NumberCheck:
    claim: str
    quantity: str
    model: str
    verdict: Verdict
    tolerance: sympy.Rational | None = None

    @property
    def holds(self) -> bool:
        if self.tolerance is not None and self.verdict.exact:
            return abs(self.verdict.stated.value / self.verdict.exact - 1) <= self.tolerance
        return self.verdict.holds

    def to_dict(self) -> dict:
        v = self.verdict
        return {"kind": "number", "claim": self.claim, "against": self.quantity, "model": self.model,
                "verdict": v.status if not (self.holds and v.status == "differs") else "within_tolerance",
                "holds": self.holds, "exact": json_number(v.exact),
                "stated": json_number(v.stated.value), "relative_error": json_real(v.relative_error),
                "reading": v.reading or None, "factor": v.factor or None}


HARDWARE_KEYS = {"hardware.peak_flops": "flop_rate", "hardware.memory_bytes": "bytes",
                 "hardware.memory_bandwidth": "byte_rate"}


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
    sparse = accelerator.peak_flops_sparse.get(dtype)
    if against == "hardware.peak_flops" and sparse and verdict.status == "differs" \
            and abs(stated.value / sparse - 1) <= sympy.Rational(2, 100):
        verdict = replace(verdict, factor="the sparse peak (2:4 structured sparsity) quoted as the dense one")
    return NumberCheck(claim, against, accelerator.name, verdict, tolerance)


def check_number(claim: str, against: str, derivation: Derivation,
                 tolerance: sympy.Rational | None = None) -> NumberCheck:
    key = quantity_key(against, derivation)
    stated = read_claimed(claim)
    dimensions = {"kv": "bytes", "bytes": "bytes", "flops": "flop", "params": "count"}
    expected_dimension = dimensions[quantity_kind(key)]
    if expected_dimension == "count" and stated.unit == "B":   # '405B' parameters: billions, not bytes
        stated = read_claimed(claim.strip()[:-1] + " billion")
    if stated.dimension != expected_dimension:
        raise SymbolicError(f"{claim!r} is in {stated.dimension} but {key} is in {expected_dimension}")
    verdict = judge(stated, derivation.value(key))
    return NumberCheck(claim, key, derivation.model.arch.name, verdict, tolerance)


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


def check_arithmetic(claim: str, lets: dict[str, sympy.Expr] | None = None) -> ArithmeticCheck:
    """``'16/900 = 22.22'``: the left side evaluated exactly, the right side read as written."""
    left, sep, right = claim.rpartition("=")
    if not sep or not left.strip():
        raise FormulaError(f"an arithmetic claim reads 'EXPRESSION = NUMBER', got {claim!r}")
    value = parse_formula(left, lets)
    if value.free_symbols:
        names = ", ".join(sorted(s.name for s in value.free_symbols))
        raise FormulaError(f"arithmetic claim has symbols ({names}); check it --against a quantity")
    exact = _rational(value)
    return ArithmeticCheck(claim, exact, judge(read_claimed(right), exact))


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
