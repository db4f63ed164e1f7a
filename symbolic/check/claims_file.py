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
* ``reason``: with ``expect: fails``, the mistake the verdict must name (a key of
  :mod:`symbolic.check.mutations`' catalogue, such as ``query_heads_for_kv``; ``violates:mha`` for
  a broken assumption; ``none`` where no known mistake explains it);
* ``source``, ``quote``, ``id``, ``note``: free text, where the claim comes from and what it says.

A claim passes when its outcome matches ``expect`` (or holds, when ``expect`` is empty), naming
``reason`` when one is given; the run exits with status 1 when any claim does not pass.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

import sympy

from ..config.userfiles import parse_json, read_text
from ..errors import SymbolicError
from ..exact import to_rational
from ..setting import Setting
from .checker import check_claim, known_reasons, parse_neglect
from .mutations import NEGLIGIBLE_BY_DEFAULT
from .notation import notation_names
from .parser import parse_formula
from .report import explain, verdict_words

COLUMNS = ("claim", "against", "model", "setting", "expect", "reason", "source", "quote", "id", "note")


@dataclass(frozen=True)
class ClaimSpec:
    claim: str
    against: str = ""
    model: str = ""
    setting: dict = field(default_factory=dict, hash=False)
    expect: str = ""
    source: str = ""
    line: int = 0
    reason: str = ""       # with expect fails: the mistake the verdict must name ('none': no reason)


def _cells(line: str) -> list[str]:
    body = line.strip()
    body = body[1:] if body.startswith("|") else body
    body = body[:-1] if body.endswith("|") else body
    return [cell.strip().replace("\\|", "|") for cell in body.split("|")]


def read_markdown(text: str, where: str) -> list[ClaimSpec]:
    """The first Markdown table in ``text`` whose header has a ``claim`` column; a row is named by
    its line (``claims.md:12``)."""
    lines = text.splitlines()
    for start, line in enumerate(lines):
        if line.strip().startswith("|") and "claim" in [c.lower() for c in _cells(line)]:
            header = [c.lower() for c in _cells(line)]
            unknown = [c for c in header if c not in COLUMNS]
            if unknown:
                raise SymbolicError(f"{where}: unknown column {unknown[0][:40]!r}; "
                                    f"columns: {', '.join(COLUMNS)}")
            specs = []
            for number, row in enumerate(lines[start + 2:], start=start + 3):
                if not row.strip().startswith("|"):
                    break
                cells = _cells(row)
                if len(cells) != len(header):
                    raise SymbolicError(f"{where}:{number}: {len(cells)} cells for {len(header)} columns")
                specs.append(_spec(dict(zip(header, cells, strict=True)), f"{where}:{number}", number))
            return specs
    raise SymbolicError(f"{where}: no Markdown table with a 'claim' column")


def read_yaml(text: str, where: str) -> list[ClaimSpec]:
    """A YAML list of claims (mappings of column to value); a row is named by the line it starts on.
    PyYAML's pure-Python loader reads it (libyaml's overflows the C stack on deep nesting, where
    this one raises RecursionError), with only the safe tags."""
    try:
        import yaml
    except ImportError:
        raise SymbolicError(f"{where}: YAML claims files need PyYAML (pip install pyyaml); "
                            f"or write a Markdown table") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise SymbolicError(f"{where}: not valid YAML: {problem[:200]}{at}") from None
    except RecursionError:
        raise SymbolicError(f"{where}: not valid YAML: nested too deeply") from None
    except ValueError:  # an integer of more than 4,300 digits
        raise SymbolicError(f"{where}: not valid YAML: a number too long to read") from None
    finally:
        loader.dispose()
    if not isinstance(data, list):
        raise SymbolicError(f"{where}: a YAML claims file is a list of claims, "
                            f"got {'nothing' if data is None else type(data).__name__}")
    lines = [item.start_mark.line + 1 for item in node.value]
    return [_spec(entry, f"{where}:{line}", line) for entry, line in zip(data, lines, strict=True)]


def _spec(row: object, where: str, line: int) -> ClaimSpec:
    """One claim from a row (column -> value) named ``where``: every column holds text, but
    ``setting``, which may be a mapping (see :func:`parse_setting`)."""
    if not isinstance(row, dict):
        raise SymbolicError(f"{where}: a claim is a mapping of column to value, got {type(row).__name__}")
    unknown = [key for key in row if key not in COLUMNS]
    if unknown:
        key = unknown[0]
        shown = repr(key[:40]) if isinstance(key, str) else f"of type {type(key).__name__}"
        raise SymbolicError(f"{where}: unknown column {shown}; columns: {', '.join(COLUMNS)}")
    fields = {}
    for name in COLUMNS:
        value = row.get(name)
        if name == "setting" or value is None:
            continue
        if not isinstance(value, str):
            hint = " (quote it)" if isinstance(value, int | float) else ""
            raise SymbolicError(f"{where}: {name} must be text, got {type(value).__name__}{hint}")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise SymbolicError(f"{where}: {name} is not valid Unicode text") from None
        fields[name] = value.strip()
    if not fields.get("claim"):
        raise SymbolicError(f"{where}: a claim needs a 'claim'")
    expect = fields.get("expect", "").lower()
    if expect not in ("", "holds", "fails"):
        raise SymbolicError(f"{where}: expect must be 'holds' or 'fails', got {expect[:40]!r}")
    setting = row.get("setting")
    reason = fields.get("reason", "")
    if reason and expect != "fails":
        raise SymbolicError(f"{where}: a reason is for a claim that fails (expect: fails)")
    if reason and reason not in known_reasons():
        close = difflib.get_close_matches(reason, known_reasons(), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}? " if close else ""
        raise SymbolicError(f"{where}: unknown reason {reason[:60]!r}; {hint}"
                            f"known: {', '.join(known_reasons())}")
    return ClaimSpec(fields["claim"], fields.get("against", ""), fields.get("model", ""),
                     parse_setting("" if setting is None else setting, where), expect,
                     fields.get("source", ""), line, reason)


def parse_setting(setting: str | dict, where: str) -> dict:
    """A claim's setting: text (``prompt=2048 kv_dtype=fp16 tolerance=2% let:P=7e9``, as in a
    Markdown cell) or a mapping of key to text or number (YAML, JSON). Read now, so that an unknown
    key or a bad value is one line naming the row and the key: the keys of
    :meth:`symbolic.setting.Setting.from_mapping`, ``tolerance`` and ``let:NAME`` (a formula)."""
    if isinstance(setting, str):
        pairs = []
        for item in setting.split():
            name, sep, value = item.partition("=")
            if not sep:
                raise SymbolicError(f"{where}: setting {item[:40]!r} must read key=value")
            pairs.append((name, value))
    elif isinstance(setting, dict):
        pairs = list(setting.items())
    else:
        raise SymbolicError(f"{where}: setting must be text (key=value ...) or a mapping, "
                            f"got {type(setting).__name__}")
    checked: dict = {}
    for name, value in pairs:
        if not isinstance(name, str):
            raise SymbolicError(f"{where}: a setting's key must be text, got {type(name).__name__}")
        if isinstance(value, bool) or not isinstance(value, str | int | float) \
                or (isinstance(value, int) and value.bit_length() > 1000):
            raise SymbolicError(f"{where}: setting {name[:40]!r} must be text or a number of at most "
                                f"300 digits, got {type(value).__name__}")
        if name.startswith("let:"):
            checked.setdefault("let", {})[name[4:]] = value
        else:
            checked[name] = value
    try:
        for name, formula in checked.get("let", {}).items():
            if not (name.isascii() and name.isidentifier()):
                raise SymbolicError(f"let:{name[:40]} must name a symbol")
            parse_formula(str(formula))
        tolerance_of(checked)
        if "neglect" in checked:
            parse_neglect(checked["neglect"], "neglect")
        notation_names(str(checked.get("notation", "default")))
        Setting.from_mapping(None, {k: v for k, v in checked.items()
                                    if k not in (*OWN_KEYS, "tp", "pp", "ep")})
    except SymbolicError as exc:
        raise SymbolicError(f"{where}: setting: {exc}") from None
    return checked


def read_claims(path: Path) -> list[ClaimSpec]:
    """The claims of a Markdown table, a YAML list (``.yaml``, ``.yml``) or a JSON list (``.json``),
    read as :func:`symbolic.config.userfiles.read_text` reads a file: at most 16 MiB of UTF-8."""
    text = read_text(path, "claims file")
    where = str(path)
    if path.suffix in (".yaml", ".yml"):
        return read_yaml(text, where)
    if path.suffix == ".json":
        data = parse_json(text, where)
        if not isinstance(data, list):
            raise SymbolicError(f"{where}: a JSON claims file is a list of claims, "
                                f"got {'nothing' if data is None else type(data).__name__}")
        return [_spec(entry, f"{where}: claim {n}", n) for n, entry in enumerate(data, start=1)]
    return read_markdown(text, where)


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
    """The check a claim asks for (see checker.check_claim), in the claim's setting."""
    lets = {name: parse_formula(value) for name, value in spec.setting.get("let", {}).items()}
    values = {k: v for k, v in spec.setting.items() if k not in OWN_KEYS}
    devices = {name: values.pop(name) for name in ("tp", "pp", "ep") if name in values}
    where = f"claim {spec.line}"
    setting = Setting.from_mapping(None, values, flag=lambda key: f"{where}: setting {key}")
    neglect = parse_neglect(spec.setting["neglect"], f"{where}: setting neglect") \
        if "neglect" in spec.setting else NEGLIGIBLE_BY_DEFAULT
    return check_claim(spec.claim, spec.against, setting, [spec.model] if spec.model else None,
                       lets=lets, tolerance=tolerance_of(spec.setting), neglect=neglect, devices=devices,
                       notation=spec.setting.get("notation", "default"))


OWN_KEYS = ("tolerance", "let", "neglect", "notation")
"""Setting keys of a claim that are not a :class:`Setting`'s."""


def passes(spec: ClaimSpec, check) -> bool:
    """The claim does what it is expected to: holds, or fails, naming the expected reason."""
    if spec.expect == "fails":
        return not check.holds and (not spec.reason or spec.reason in reasons_named(check)
                                    or (spec.reason == "none" and not reasons_named(check)))
    return check.holds


def reasons_named(check) -> list[str]:
    """The mistakes a verdict names (every explanation of every model), and the assumptions a
    formula breaks (``violates:mha``)."""
    verdicts = getattr(check, "verdicts", (check,))
    named = []
    for verdict in verdicts:
        named += [finding.key for explanation in getattr(verdict, "explanations", ())
                  for finding in explanation]
        named += [f"violates:{assumption.key}" for assumption in getattr(verdict, "violated", ())]
    return named


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
        expected = f"{spec.expect or 'holds'}{f' ({spec.reason})' if spec.reason else ''}"
        out.append(f"| {i} | `{claim}` | {spec.against or '-'} | {model} | {verdict} "
                   f"| {expected} | {'yes' if passes(spec, check) else '**no**'} |")
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
