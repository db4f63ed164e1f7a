"""Explaining verdicts: one paragraph of text per check, a Markdown report, JSON."""

from __future__ import annotations

import json
import math

from ..printing import text
from ..units import count
from .checker import ArithmeticCheck, FormulaCheck, NumberCheck, as_float, scientific, shows_in_full

STATUS_WORDS = {
    "equivalent": "equivalent",
    "assumptions": "equivalent under assumptions",
    "approximate": "approximately equal",
    "not_equivalent": "not equivalent",
    "exact": "exact",
    "agrees": "agrees to the precision written",
    "truncated": "agrees: the exact value cut to the digits written",
    "unit_mixup": "unit mix-up",
    "differs": "wrong",
}


def _number(value) -> str:
    """A whole number in full, else to six digits; numbers of any size."""
    if value is None:
        return "-"
    if shows_in_full(value):
        return count(value)
    number = as_float(value)
    return f"{number:.6g}" if number is not None else scientific(value)


def _pct(value) -> str:
    """A relative error in percent."""
    if value is None:
        return "relative error undefined"
    percent = as_float(value * 100)
    if percent is not None:
        return f"{percent:+.3g}%"
    return ("+" if value > 0 else "") + scientific(value * 100, 3) + "%"


def verdict_words(check) -> str:
    """The verdict in a few words."""
    if isinstance(check, FormulaCheck):
        return STATUS_WORDS[check.status]
    if isinstance(check, NumberCheck) and check.holds and check.verdict.status == "differs":
        return "within tolerance"
    return STATUS_WORDS[check.verdict.status]


def explain(check) -> list[str]:
    """Lines that state and explain one verdict."""
    if isinstance(check, FormulaCheck):
        return _explain_formula(check)
    if isinstance(check, NumberCheck):
        return _explain_number(check)
    return _explain_arithmetic(check)


def _explain_formula(check: FormulaCheck) -> list[str]:
    lines = [f"formula: {check.formula_text}  (read as {text(check.formula)})",
             f"against: {check.quantity}",
             *(f"note: {warning}" for warning in check.warnings),
             f"verdict: {STATUS_WORDS[check.status]}"]
    for group in check.groups():
        first = group[0]
        models = ", ".join(v.model for v in group)
        lines.append(f"  {STATUS_WORDS[first.status]} for {models}")
        lines.append(f"    exact: {text(first.exact)}")
        for assumption in first.assumptions:
            broken = assumption in first.violated
            lines.append(f"    {'holds only if' if broken else 'assuming'} {assumption.description}"
                         + (f", which {models} does not satisfy" if broken else ""))
        for mistake in first.mistakes:
            lines.append(f"    reason: {mistake.reason}")
        for alternative in first.alternatives:
            lines.append(f"    or, as simply: {'; '.join(m.reason for m in alternative)}")
        for term in first.neglected:
            lines.append(f"    neglects: {term.reason.removeprefix('leaves out ')}")
        if first.status == "not_equivalent" and not first.mistakes and first.difference is not None:
            lines.append("    no mistake of the catalogue explains it; the difference is below")
        if first.status in ("not_equivalent", "approximate") and first.ratio is not None:
            lines.append(f"    ratio formula / exact: {_number(first.ratio)}")
        elif first.difference is not None:
            lines.append(f"    formula - exact: {text(first.difference)}")
        for v in group[:3]:
            if v.status in ("not_equivalent", "approximate") and v.formula_value is not None:
                lines.append(f"    {v.model}: formula {_number(v.formula_value)}, "
                             f"exact {_number(v.exact_value)} "
                             f"({_pct(v.relative_error)})")
    return lines


def _explain_number(check: NumberCheck) -> list[str]:
    v = check.verdict
    status = "within tolerance" if check.holds and v.status == "differs" else STATUS_WORDS[v.status]
    lines = [f"claim: {check.claim}  against {check.quantity} of {check.model}",
             f"verdict: {status}",
             f"  exact: {_number(v.exact)}; stated: {_number(v.stated.value)} ({_pct(v.relative_error)})"]
    if v.reading and not check.findings:
        lines.append(f"  the number is right in {v.reading}, not in {v.stated.unit}")
    for finding in check.findings:
        lines.append(f"  reason: {finding.reason}")
    for alternative in check.alternatives:
        lines.append(f"  or, as simply: {'; '.join(f.reason for f in alternative)}")
    return lines


def _explain_arithmetic(check: ArithmeticCheck) -> list[str]:
    v = check.verdict
    lines = [f"claim: {check.claim}", f"verdict: {STATUS_WORDS[v.status]}",
             f"  exact: {_number(check.exact)}; stated: {_number(v.stated.value)} ({_pct(v.relative_error)})"]
    if v.factor:
        lines.append(f"  reason: {v.factor}")
    return lines


def text_report(checks) -> str:
    return "\n\n".join("\n".join(explain(c)) for c in checks) + "\n"


def json_report(checks, extra: list[dict] | None = None) -> str:
    items = []
    for i, c in enumerate(checks):
        item = c.to_dict()
        if extra:
            item.update(extra[i])
        items.append(item)
    summary = {"claims": len(items), "failed": sum(1 for i in items if not i.get("passes", i["holds"]))}
    return json.dumps(_strict({"summary": summary, "results": items}), indent=2, ensure_ascii=False,
                      allow_nan=False) + "\n"


def _strict(item):
    """``item`` as strict JSON holds it: a float that is not finite said in words."""
    if isinstance(item, dict):
        return {key: _strict(value) for key, value in item.items()}
    if isinstance(item, list | tuple):
        return [_strict(value) for value in item]
    if isinstance(item, float) and not math.isfinite(item):
        return "undefined" if math.isnan(item) else ("unbounded" if item > 0 else "-unbounded")
    return item
