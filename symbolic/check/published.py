"""Published claims about the preset models (``data/published.json``), checked against exact values.

Each claim quotes its source, names the quantity it is about (a key of the derivation) and the
setting it holds for (workload, dtypes, conventions), and gives the number as written, the
source's own formula, or both. :func:`check_claim` evaluates the claim in its setting:

* the number as written gets a :class:`~symbolic.check.claims.Verdict` (exact, agrees to the
  precision written, a unit mix-up such as GB for GiB, or differs);
* the formula is parsed safely and either compared symbolically with the textbook form
  (``form: textbook``) or evaluated in the setting and compared with the exact value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import sympy

from ..architecture.conventions import Conventions
from ..ops.model import Model
from ..quantities.closed_forms import relative_to_hidden
from ..quantities.derive import Derivation
from ..setting import Setting
from .claims import Verdict, judge, read_stated
from .parser import parse_formula


@dataclass(frozen=True)
class Source:
    key: str
    title: str
    url: str


@dataclass(frozen=True)
class Claim:
    id: str
    models: tuple[str, ...]
    source: Source
    quote: str
    quantity: str
    setting: dict = field(default_factory=dict, hash=False)
    stated: str | None = None
    formula: str | None = None
    form: str | None = None
    explanation: dict = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class ClaimCheck:
    claim: Claim
    derivation: Derivation
    exact: sympy.Rational
    verdict: Verdict | None
    formula: sympy.Expr | None
    formula_value: sympy.Rational | None
    formula_holds: bool | None

    @property
    def holds(self) -> bool:
        checks = [c for c in (self.verdict.holds if self.verdict else None, self.formula_holds)
                  if c is not None]
        return all(checks)


@cache
def _data() -> dict:
    return json.loads(resources.files("symbolic").joinpath("data/published.json").read_text("utf-8"))


@cache
def all_claims() -> tuple[Claim, ...]:
    data = _data()
    sources = {key: Source(key, s["title"], s["url"]) for key, s in data["sources"].items()}
    return tuple(
        Claim(id=c["id"], models=tuple(c["models"]), source=sources[c["source"]], quote=c["quote"],
              quantity=c["quantity"], setting=c.get("setting", {}), stated=c.get("stated"),
              formula=c.get("formula"), form=c.get("form"), explanation=c.get("explanation", {}))
        for c in data["claims"])


def claims_for(model_name: str) -> list[Claim]:
    return [c for c in all_claims() if model_name in c.models]


def setting_of(claim: Claim, model: Model, known: dict | None = None) -> Derivation:
    """The derivation the claim is about: its model with the claim's workload, dtypes and
    conventions (conventions not named are symbolic's defaults). ``known`` maps settings already
    derived (conventions, workload, precision) to their derivations, and is added to."""
    s = claim.setting
    setting = Setting.from_mapping(model, {k: v for k, v in s.items() if k != "conventions"},
                                   conventions=Conventions().replace(**s.get("conventions", {})))
    workload, _ = setting.workload().fitted(model.arch)
    key = (setting.conventions, workload, setting.precision)
    known = {} if known is None else known
    if key not in known:
        known[key] = setting.derivation
    return known[key]


def check_claims(model: Model, reuse: Derivation | None = None) -> tuple[ClaimCheck, ...]:
    """Every published claim about ``model``'s architecture, each derivation built once per
    setting (``reuse``: a derivation already made, taken where its setting matches)."""
    known = {}
    if reuse is not None:
        known[(reuse.model.conventions, reuse.workload, reuse.precision)] = reuse
    return tuple(check_claim(c, model, known) for c in claims_for(model.arch.name))


def check_claim(claim: Claim, model: Model, known: dict | None = None) -> ClaimCheck:
    derivation = setting_of(claim, model, known)
    quantity = derivation[claim.quantity]
    verdict = judge(read_stated(claim.stated), quantity.value) if claim.stated else None
    formula = formula_value = formula_holds = None
    if claim.formula:
        formula = parse_formula(claim.formula)
        if claim.form == "textbook":
            textbook = quantity.textbook if quantity.textbook is not None \
                else relative_to_hidden(quantity.expr, model.arch)
            formula_holds = sympy.expand(formula - textbook) == 0
        formula_value = derivation.evaluate(formula)
        if claim.form != "textbook":
            formula_holds = formula_value == quantity.value
    return ClaimCheck(claim, derivation, quantity.value, verdict, formula, formula_value, formula_holds)
