"""Claims files: many claims checked in one run, with a report and an exit status for CI.

A claims file is a Markdown table (or, with PyYAML installed, a YAML list of mappings) with these
columns; only ``claim`` is required:

* ``claim``: a formula (``2*2*nlayers*nheads*dhead``), a number with a unit (``671 MB``) or
  arithmetic (``16/900 = 22.22``);
* ``against``: the quantity, a key of ``symbolic derive``'s JSON (``kv_cache.bytes_per_token``);
  not for arithmetic;
* ``model``: a preset or config path; left empty, a formula is checked against every preset;
* ``setting``: ``key=value`` pairs separated by spaces: batch, prompt, context, weight_dtype,
  kv_dtype, activation_dtype, any counting convention, ``tolerance=2%``, ``let:NAME=FORMULA``;
* ``expect``: ``holds`` or ``fails``, what the claim is known to do (an audit of a wrong source
  expects ``fails``);
* ``source``: free text, where the claim comes from.

A claim passes when its outcome matches ``expect`` (or holds, when ``expect`` is empty); the run
exits with status 1 when any claim does not pass.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import sympy

from ..derive import Derivation
from ..dtypes import Precision
from ..errors import SymbolicError
from ..exact import to_rational
from ..load import load
from ..workload import Workload
from .checker import check_arithmetic, check_formula, check_number, derivations_for, looks_like_number
from .parser import parse_formula
from .report import explain, verdict_words

COLUMNS = ("claim", "against", "model", "setting", "expect", "source")
WORKLOAD_KEYS = {"batch", "prompt", "context"}
DTYPE_KEYS = {"weight_dtype", "kv_dtype", "activation_dtype"}


@dataclass(frozen=True)
class ClaimSpec:
    claim: str
    against: str = ""
    model: str = ""
    setting: dict = field(default_factory=dict, hash=False)
    expect: str = ""
    source: str = ""
    line: int = 0


def _cells(line: str) -> list[str]:
    body = line.strip()
    body = body[1:] if body.startswith("|") else body
    body = body[:-1] if body.endswith("|") else body
    return [cell.strip().replace("\\|", "|") for cell in body.split("|")]


def read_markdown(text: str, where: str) -> list[ClaimSpec]:
    """The first Markdown table in ``text`` whose header has a ``claim`` column."""
    lines = text.splitlines()
    for start, line in enumerate(lines):
        if line.strip().startswith("|") and "claim" in [c.lower() for c in _cells(line)]:
            header = [c.lower() for c in _cells(line)]
            unknown = [c for c in header if c not in COLUMNS]
            if unknown:
                raise SymbolicError(f"{where}: unknown column {unknown[0]!r}; columns: {', '.join(COLUMNS)}")
            specs = []
            for number, row in enumerate(lines[start + 2:], start=start + 3):
                if not row.strip().startswith("|"):
                    break
                cells = _cells(row)
                if len(cells) != len(header):
                    raise SymbolicError(f"{where}:{number}: {len(cells)} cells for {len(header)} columns")
                specs.append(_spec(dict(zip(header, cells, strict=True)), number, where))
            return specs
    raise SymbolicError(f"{where}: no Markdown table with a 'claim' column")


def read_yaml(text: str, where: str) -> list[ClaimSpec]:
    try:
        import yaml
    except ImportError:
        raise SymbolicError(f"{where}: YAML claims files need PyYAML (pip install pyyaml); "
                            f"or write a Markdown table") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SymbolicError(f"{where}: not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, list):
        raise SymbolicError(f"{where}: a YAML claims file is a list of claims")
    return [_spec(entry, number, where) for number, entry in enumerate(data, start=1)]


def _spec(row: dict, number: int, where: str) -> ClaimSpec:
    if not isinstance(row, dict) or not str(row.get("claim", "")).strip():
        raise SymbolicError(f"{where}:{number}: a claim needs a 'claim'")
    setting = row.get("setting") or {}
    if isinstance(setting, str):
        setting = parse_setting(setting, f"{where}:{number}")
    expect = str(row.get("expect") or "").strip().lower()
    if expect not in ("", "holds", "fails"):
        raise SymbolicError(f"{where}:{number}: expect must be 'holds' or 'fails', got {expect!r}")
    return ClaimSpec(str(row["claim"]).strip(), str(row.get("against") or "").strip(),
                     str(row.get("model") or "").strip(), setting, expect, str(row.get("source") or ""),
                     number)


def parse_setting(text: str, where: str) -> dict:
    setting: dict = {}
    for item in text.split():
        name, sep, value = item.partition("=")
        if not sep:
            raise SymbolicError(f"{where}: setting {item!r} must read key=value")
        if name.startswith("let:"):
            setting.setdefault("let", {})[name[4:]] = value
        else:
            setting[name] = value
    return setting


def read_claims(path: Path) -> list[ClaimSpec]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SymbolicError(f"{path}: cannot read: {exc.strerror}") from None
    if path.suffix in (".yaml", ".yml"):
        return read_yaml(text, str(path))
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SymbolicError(f"{path}: not valid JSON: {exc.msg}") from None
        return [_spec(entry, n, str(path)) for n, entry in enumerate(data, start=1)]
    return read_markdown(text, str(path))


def derivation_factory(setting: dict):
    """A function model -> Derivation in the claim's setting."""
    conventions = {k: v for k, v in setting.items()
                   if k not in WORKLOAD_KEYS | DTYPE_KEYS | {"tolerance", "let"}}
    numbers = {}
    for key in WORKLOAD_KEYS & set(setting):
        value = to_rational(setting[key])
        if value is None or not value.is_Integer:
            raise SymbolicError(f"setting {key} must be a whole number, got {setting[key]!r}")
        numbers[key] = int(value)
    precision = Precision.of(setting.get("weight_dtype", "bf16"), setting.get("kv_dtype"),
                             setting.get("activation_dtype", "bf16"))

    def derive(model) -> Derivation:
        loaded = load(model, **conventions) if conventions else load(model)
        return Derivation(loaded, Workload(numbers.get("batch", 1), numbers.get("prompt"),
                                           numbers.get("context")), precision)
    return derive


def tolerance_of(setting: dict) -> sympy.Rational | None:
    raw = setting.get("tolerance")
    if raw is None:
        return None
    raw = str(raw).strip()
    percent = raw.endswith("%")
    value = to_rational(raw[:-1] if percent else raw)
    if value is None or value < 0:
        raise SymbolicError(f"tolerance must be a number or a percentage, got {raw!r}")
    return value / 100 if percent else value


def run_claim(spec: ClaimSpec):
    """The check a claim asks for."""
    lets = {name: parse_formula(value) for name, value in spec.setting.get("let", {}).items()}
    tolerance = tolerance_of(spec.setting)
    if "=" in spec.claim and not spec.against:
        return check_arithmetic(spec.claim, lets)
    if not spec.against:
        raise SymbolicError(f"claim {spec.claim!r} needs an 'against' quantity")
    derive = derivation_factory(spec.setting)
    if looks_like_number(spec.claim):
        if not spec.model:
            raise SymbolicError(f"claim {spec.claim!r} is a number: it needs a model")
        return check_number(spec.claim, spec.against, derive(spec.model), tolerance)
    derivations = derivations_for([spec.model] if spec.model else None, derive)
    options = {"tolerance": tolerance} if tolerance is not None else {}
    return check_formula(spec.claim, spec.against, derivations, lets=lets, **options)


def passes(spec: ClaimSpec, check) -> bool:
    if spec.expect == "fails":
        return not check.holds
    return check.holds


def markdown_report(specs: list[ClaimSpec], checks: list, title: str = "Claims checked") -> str:
    failed = sum(1 for s, c in zip(specs, checks, strict=True) if not passes(s, c))
    out = [f"# {title}", "",
           f"{len(specs)} claims; {len(specs) - failed} pass, {failed} do not. Generated by "
           f"`symbolic check --claims`.", "",
           "| # | claim | against | model | verdict | expected | passes |",
           "|---:|---|---|---|---|---|---|"]
    for i, (spec, check) in enumerate(zip(specs, checks, strict=True), start=1):
        verdict = verdict_words(check)
        claim = spec.claim.replace("|", "\\|")
        model = spec.model or ("all presets" if spec.against else "-")
        out.append(f"| {i} | `{claim}` | {spec.against or '-'} | {model} | {verdict} "
                   f"| {spec.expect or 'holds'} | {'yes' if passes(spec, check) else '**no**'} |")
    out.append("")
    for i, (spec, check) in enumerate(zip(specs, checks, strict=True), start=1):
        out.append(f"## {i}. `{spec.claim}`")
        out.append("")
        if spec.source:
            out.append(f"Source: {spec.source}")
            out.append("")
        out.append("```")
        out.extend(explain(check))
        out.append("```")
        out.append("")
    return "\n".join(out)
