"""The content of a derivation document, independent of format and language.

:func:`build` turns a :class:`~symbolic.quantities.derive.Derivation` into plain data the templates lay out:
tables of ops with their formulas, and for each quantity a :class:`Line` that reads
``name = general form = textbook form = with numbers = exact value``. Formulas are LaTeX (shared by
Markdown and LaTeX output); prose lives in the templates, one set per language.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy

from .. import __version__
from ..architecture.workload import DECODE_STEP, PREFILL, Phase
from ..check.published import ClaimCheck, check_claims
from ..errors import WorkloadError
from ..exact import plain, substitute
from ..ops.model import Section
from ..performance.roofline import (
    IDEAL_KERNELS,
    BatchPoint,
    CriticalBatch,
    Deployment,
    Performance,
    devices_for_users,
    kv_swap,
)
from ..printing import Form, latex, latex_form, latex_number
from ..quantities.closed_forms import closed_form
from ..quantities.derive import Derivation, Quantity
from ..quantities.sums import at, layer_cache
from ..symbols import VOCABULARY, N_ep, N_pp, N_tp, S, c, g
from ..units import seconds_latex, with_unit

LHS = {
    "params.total": "P",
    "params.active": r"P_{\mathrm{active}}",
    "mla.kv_elements_per_token_compressed": r"e_{KV}^{\mathrm{latent}}",
    "mla.kv_elements_per_token_expanded": r"e_{KV}^{\mathrm{expanded}}",
    "mla.prefill_flops_expanded": r"F_{\mathrm{prefill}}^{\mathrm{expanded}}",
    "mla.decode_step_flops_expanded": r"F_{\mathrm{decode}}^{\mathrm{expanded}}",
    "mla.prefill_flops_absorbed": r"F_{\mathrm{prefill}}^{\mathrm{absorbed}}",
    "mla.decode_step_flops_absorbed": r"F_{\mathrm{decode}}^{\mathrm{absorbed}}",
    "params.embedding": r"P_{\mathrm{emb}}",
    "params.position_embedding": r"P_{\mathrm{pos}}",
    "params.final_norm": r"P_{\mathrm{norm}}",
    "params.lm_head": r"P_{\mathrm{head}}",
    "params.layers": r"P_{\mathrm{layers}}",
    "memory.weights_bytes": r"M_{w}",
    "kv_cache.elements_per_token": r"e_{KV}",
    "kv_cache.bytes_per_token": r"m_{KV}",
    "kv_cache.bytes_per_sequence": r"M_{KV,\mathrm{seq}}",
    "kv_cache.bytes_per_batch": r"M_{KV}",
    "kv_cache.state_bytes_per_sequence": r"M_{state,\mathrm{seq}}",
}
PHASE_LHS = {"prefill": r"\mathrm{prefill}", "decode_step": r"\mathrm{decode}"}
CATEGORY_LHS = {"total": "", "matmul": r"\mathrm{matmul}", "attention": r"\mathrm{attn}",
                "elementwise": r"\mathrm{elem}", "weights": r"\mathrm{w}", "kv_read": r"\mathrm{KV\,read}",
                "kv_written": r"\mathrm{KV\,write}", "activations": r"\mathrm{act}"}


def lhs(key: str) -> str:
    """The LaTeX name of a quantity key."""
    if key in LHS:
        return LHS[key]
    parts = key.split(".")
    if parts[0] == "params" and parts[1] == "per_layer":
        return rf"P_{{\mathrm{{{parts[2].replace('_attention', '').replace('_', ' ')}}}}}"
    name = "F" if parts[0] == "flops" else "T"
    sup = CATEGORY_LHS[parts[2]]
    return f"{name}_{{{PHASE_LHS[parts[1]]}}}" + (f"^{{{sup}}}" if sup else "")


def human_latex(value: sympy.Rational, unit: str) -> str:
    """A rounded reading of an exact value, as LaTeX: 70.55 \\times 10^{9}, 141.11 GB (131.42 GiB)
    (bytes and FLOPs as :func:`~symbolic.units.with_unit` reads them)."""
    if unit in ("B", "FLOP"):
        return rf"\text{{{with_unit(value, unit)}}}"
    if unit == "s":
        return seconds_latex(value)
    value = sympy.Rational(value)
    if abs(value) < 10**4:
        return latex_number(value)
    exponent = len(str(abs(int(value)))) - 1
    exponent -= exponent % 3
    return rf"{float(value / sympy.Integer(10) ** exponent):.2f} \times 10^{{{exponent}}}"


@dataclass(frozen=True)
class Line:
    """One quantity, derived: its name, general and textbook forms, numbers, and exact value."""

    key: str
    lhs: str
    general: str
    textbook: str | None
    numbers: str
    value: sympy.Rational
    unit: str
    general_rows: tuple[str, ...] = ()     # the forms split into rows where a row would be too long
    textbook_rows: tuple[str, ...] = ()
    numbers_rows: tuple[str, ...] = ()

    @classmethod
    def of(cls, key: str, lhs: str, general: Form, textbook: Form | str | None, numbers: Form,
           value: sympy.Rational, unit: str) -> Line:
        """A line from its printed forms (a textbook form given as text stays one row)."""
        book = textbook if isinstance(textbook, Form) else Form(textbook, ()) if textbook else None
        return cls(key, lhs, general.whole, book.whole if book else None, numbers.whole, value, unit,
                   general_rows=general.rows, textbook_rows=book.rows if book else (),
                   numbers_rows=numbers.rows)

    def rows(self, form: str) -> tuple[str, ...]:
        """A form (``general``, ``textbook``, ``numbers``) as the rows a document shows."""
        return getattr(self, f"{form}_rows") or (getattr(self, form),)

    @property
    def value_latex(self) -> str:
        return latex_number(self.value)

    @property
    def human(self) -> str:
        return human_latex(self.value, self.unit)

    @property
    def plain_value(self):
        return plain(self.value)


@dataclass(frozen=True)
class OpRow:
    name: str
    component: str
    kind: str
    formula: str
    value: sympy.Rational

    @property
    def value_latex(self) -> str:
        return latex_number(self.value)


@dataclass(frozen=True)
class KindTable:
    """One kind of layer: how many, and a table of its ops."""

    kind: str
    count: int
    rows: tuple[OpRow, ...]
    total: Line | None = None


@dataclass(frozen=True)
class PhaseDoc:
    name: str
    embedding_rows: tuple[OpRow, ...]
    kinds: tuple[KindTable, ...]
    head_rows: tuple[OpRow, ...]
    lines: dict[str, Line]
    traffic: dict[str, Line]
    intensity: sympy.Rational
    tokens: int
    rule_of_thumb: sympy.Rational     # 2 x params x tokens
    attention_share: sympy.Rational

    @property
    def intensity_text(self) -> str:
        return f"{float(self.intensity):.1f}"


@dataclass(frozen=True)
class Document:
    derivation: Derivation
    version: str
    architecture: tuple[dict, ...]
    layer_kinds: tuple[tuple[str, int], ...]
    param_kinds: tuple[KindTable, ...]
    param_parts: tuple[Line, ...]
    params_total: Line
    weights: Line
    kv_per_layer: tuple[tuple[str, int, str, sympy.Rational], ...]
    kv_lines: dict[str, Line]
    kv_crossover: int | None
    prefill: PhaseDoc
    decode: PhaseDoc
    claims: tuple[ClaimCheck, ...]
    shares: dict[str, sympy.Rational] = field(default_factory=dict)
    performance: PerfDoc | None = None
    active: Line | None = None                 # MoE: the parameters a token passes through
    mla: dict[str, Line] = field(default_factory=dict)
    state_per_layer: tuple[tuple[str, int, str, sympy.Rational], ...] = ()   # fixed-size states, per layer
    state_line: Line | None = None          # their bytes per sequence

    @property
    def model(self):
        return self.derivation.model

    @property
    def arch(self):
        return self.derivation.model.arch

    @property
    def workload(self):
        return self.derivation.workload

    @property
    def precision(self):
        return self.derivation.precision

    @property
    def conventions(self):
        return self.derivation.model.conventions.as_dict()

    @property
    def mixed_kinds(self) -> bool:
        return len(self.layer_kinds) > 1

    @property
    def specs(self) -> dict:
        """Kind name -> its :class:`~symbolic.architecture.spec.LayerSpec`: prose asks the parts."""
        return {g.spec.kind: g.spec for g in self.arch.layer_groups}


def line(d: Derivation, key: str) -> Line:
    q: Quantity = d[key]
    textbook = latex(q.textbook, decimals=True) if q.textbook is not None else None
    return Line.of(key, lhs(key), latex_form(q.closed_form), textbook,
                   latex_form(q.closed_form, d.bindings), q.value, q.unit)


def _rows(d: Derivation, ops, field_name: str, phase: Phase | None) -> tuple[OpRow, ...]:
    rows = []
    for op in ops:
        expr = at(getattr(op, field_name), phase)
        if expr == 0:
            continue
        rows.append(OpRow(op.name, op.component, op.kind.value, latex(expr), d.evaluate(expr)))
    return tuple(rows)


def _kind_tables(d: Derivation, sections: tuple[Section, ...], field_name: str,
                 phase: Phase | None, with_totals: bool) -> tuple[KindTable, ...]:
    return tuple(
        KindTable(s.name, s.group.count, _rows(d, s.ops, field_name, phase),
                  line(d, f"params.per_layer.{s.name}.total") if with_totals else None)
        for s in sections)


def _phase(d: Derivation, phase: Phase) -> PhaseDoc:
    model = d.model
    sections = model.sections
    lines = {k: line(d, f"flops.{phase.name}.{k}") for k in ("total", "matmul", "attention", "elementwise")}
    traffic = {k: line(d, f"memory.{phase.name}.{k}")
               for k in ("weights", "kv_read", "kv_written", "activations", "total")}
    tokens = d.workload.batch * (d.workload.prompt if phase is PREFILL else 1)
    total = lines["total"].value
    return PhaseDoc(
        name=phase.name,
        embedding_rows=_rows(d, sections[0].ops, "flops", phase),
        kinds=_kind_tables(d, model.layer_sections, "flops", phase, with_totals=False),
        head_rows=_rows(d, sections[-1].ops, "flops", phase),
        lines=lines, traffic=traffic,
        intensity=total / traffic["total"].value,
        tokens=tokens,
        rule_of_thumb=2 * d.value("params.total") * tokens,
        attention_share=lines["attention"].value / total,
    )


def kv_crossover_context(d: Derivation) -> int | None:
    """The smallest context c at which the batch's KV cache holds at least as many bytes as the
    weights; None if sliding windows cap the cache below them (searched up to 2^40 tokens)."""
    held = substitute(d["kv_cache.bytes_per_batch"].expr,
                      {s: v for s, v in d.bindings.items() if s != c})   # bound once; c stays
    weights = d.value("memory.weights_bytes")
    def kv_at(context: int) -> sympy.Rational:
        return d.evaluate(held.xreplace({c: context}))

    high = 1
    while kv_at(high) < weights:
        high *= 2
        if high > 2**40:
            return None
    low = high // 2
    while low + 1 < high:
        mid = (low + high) // 2
        if kv_at(mid) >= weights:
            high = mid
        else:
            low = mid
    return high if kv_at(low) < weights else low


@dataclass(frozen=True)
class RooflineRow:
    """One op of a decode step on one device: its work, its bytes, and which bound sets its time."""

    name: str
    kind: str
    flops: sympy.Rational
    bytes: sympy.Rational
    time: sympy.Rational
    compute_bound: bool

    @property
    def intensity(self) -> str:
        return f"{float(self.flops / self.bytes):.2f}" if self.bytes else "-"


@dataclass(frozen=True)
class PerfDoc:
    perf: Performance
    batch: int
    roofline: tuple[tuple[str, int, tuple[RooflineRow, ...]], ...]
    lines: dict[str, Line]
    point: BatchPoint               # the first batch, detailed
    critical: CriticalBatch | None
    critical_without_kv: CriticalBatch | None
    points: tuple[BatchPoint, ...]
    max_batch: int | None
    users: tuple[int, int, int] | None
    swap: dict                      # swapping one sequence's KV cache to host memory (kv_swap)

    @property
    def deployment(self) -> Deployment:
        return self.perf.deployment

    @property
    def accelerator(self):
        return self.perf.deployment.accelerator


def perf_line(perf: Performance, key: str, symbol: str, expr: sympy.Expr, unit: str) -> Line:
    """A performance quantity in three steps: its closed form for any parallel layout, the same
    at this deployment's degrees (terms of the collectives a degree of 1 does not have drop out,
    ceil(L / 1) becomes L) and with the kernel-level parameters left at their ideal values
    dropped, and that form with the numbers."""
    closed = closed_form(expr)
    degrees = {symbol: perf.bindings[symbol] for symbol in (N_tp, N_pp, N_ep)}
    ideal = {symbol: value for symbol, value in IDEAL_KERNELS.items() if perf.bindings[symbol] == value}
    laid_out = substitute(closed_form(substitute(expr, ideal)) if ideal else closed, degrees)
    return Line.of(key, symbol, latex_form(closed), latex_form(laid_out),
                   latex_form(laid_out, perf.bindings), perf.evaluate(expr), unit)


def _roofline(perf: Performance, batch: int) -> tuple:
    """The decode step's kernels of each layer kind on one device, with their roofline times."""
    rows: dict[str, list] = {s.name: [] for s in perf.model.layer_sections}
    counts = {s.name: s.group.count for s in perf.model.layer_sections}
    for work in perf.kernel_work(DECODE_STEP, batch):
        if work.section.is_layer:
            kernel, compute, memory = work.kernel, work.compute_s, work.memory_s
            kind = kernel.ops[0].kind.value if len(kernel.ops) == 1 else "fused"
            rows[work.section.name].append(RooflineRow(kernel.label, kind, work.flops, work.bytes,
                                                       max(compute, memory), compute >= memory))
    return tuple((name, counts[name], tuple(found)) for name, found in rows.items())


def build_performance(perf: Performance, batches: list[int], users: int | None = None) -> PerfDoc:
    batch = batches[0]
    try:
        max_batch = perf.max_batch()
    except WorkloadError:
        max_batch = None
    lines = {
        "compute": perf_line(perf, "compute", r"t_{\mathrm{compute}}", perf.compute_time(DECODE_STEP), "s"),
        "memory": perf_line(perf, "memory", r"t_{\mathrm{memory}}", perf.memory_time(DECODE_STEP), "s"),
        "prefill_compute": perf_line(perf, "prefill_compute", r"t_{\mathrm{compute}}",
                                     perf.compute_time(PREFILL), "s"),
        "prefill_memory": perf_line(perf, "prefill_memory", r"t_{\mathrm{memory}}",
                                    perf.memory_time(PREFILL), "s"),
        "weights": perf_line(perf, "weights", r"M_{w,\mathrm{dev}}", perf.weight_bytes_per_device, "B"),
        "kv": perf_line(perf, "kv", r"M_{KV,\mathrm{dev}}", perf.kv_bytes_per_sequence(S + g), "B"),
    }
    if perf.deployment.devices > 1:
        lines["communication"] = perf_line(perf, "communication", r"t_{\mathrm{comm}}",
                                           perf.communication_time(DECODE_STEP), "s")
    if perf.deployment.kernel_latency_s:
        lines["launches"] = perf_line(perf, "launches", r"t_{\mathrm{launch}}",
                                      perf.launch_time(DECODE_STEP), "s")
    points = tuple(perf.at_batch(b) for b in batches)
    users_row = None
    if users and max_batch:
        replicas, devices = devices_for_users(users, max_batch, perf.deployment.devices)
        users_row = (users, replicas, devices)
    return PerfDoc(perf=perf, batch=batch, roofline=_roofline(perf, batch), lines=lines,
                   point=points[0],
                   critical=perf.critical_batch(), critical_without_kv=perf.critical_batch(context=0),
                   points=points, max_batch=max_batch, users=users_row, swap=kv_swap(perf, batch))


def build(d: Derivation, performance: Performance | None = None, batches: list[int] | None = None,
          users: int | None = None) -> Document:
    """The document of ``d`` (with ``performance`` at ``batches`` and ``users``, if given): every
    line, table and figure reference it shows, in no format and no language. Built once per
    derivation and setting and remembered as long as the derivation lives, so its Markdown and
    LaTeX, English and Chinese, are four renderings of one build."""
    key = ("document", performance, tuple(batches or ()), users)
    if key not in d.built:
        d.built[key] = _build(d, performance, batches, users)
    return d.built[key]


def _build(d: Derivation, performance: Performance | None, batches: list[int] | None,
           users: int | None) -> Document:
    arch = d.model.arch
    rows = []
    for name, info in arch.describe().items():
        rows.append({"symbol": name, "latex": VOCABULARY[name].latex, "value": info["value"],
                     "hf_field": info["hf_field"], "origin": info["origin"], "meaning": info["meaning"]})
    kv_per_layer, state_per_layer = [], []
    for s in d.model.layer_sections:
        cache = layer_cache(s)
        per_token, state = cache["elements_per_token"], cache["state_elements_per_sequence"]
        if per_token != 0:                  # layers that are an MLP alone cache nothing
            kv_per_layer.append((s.name, s.group.count, latex(per_token), d.evaluate(per_token)))
        if state != 0:
            state_per_layer.append((s.name, s.group.count, latex(state), d.evaluate(state)))
    parts = tuple(line(d, k) for k in ("params.embedding", "params.position_embedding",
                                        "params.final_norm", "params.lm_head") if k in d.quantities)
    total = d.value("params.total")
    shares = {
        "embedding_and_head": (d.value("params.embedding") + d.value("params.lm_head")) / total,
        "kv_to_weights": d.value("kv_cache.bytes_per_batch") / d.value("memory.weights_bytes"),
    }
    claims = check_claims(d.model, reuse=d)
    return Document(
        derivation=d, version=__version__, architecture=tuple(rows),
        layer_kinds=tuple((g.spec.kind, g.count) for g in arch.layer_groups),
        param_kinds=_kind_tables(d, d.model.layer_sections, "params", None, with_totals=True),
        param_parts=parts, params_total=line(d, "params.total"),
        weights=line(d, "memory.weights_bytes"),
        kv_per_layer=tuple(kv_per_layer),
        kv_lines={k: line(d, f"kv_cache.{k}") for k in ("bytes_per_token", "bytes_per_sequence",
                                                        "bytes_per_batch")},
        state_per_layer=tuple(state_per_layer),
        state_line=line(d, "kv_cache.state_bytes_per_sequence") if state_per_layer else None,
        kv_crossover=kv_crossover_context(d),
        prefill=_phase(d, PREFILL), decode=_phase(d, DECODE_STEP),
        claims=claims, shares=shares,
        performance=build_performance(performance, batches or [d.workload.batch], users)
        if performance is not None else None,
        active=line(d, "params.active") if arch.has_moe else None,
        mla={k.removeprefix("mla."): line(d, k) for k in d.quantities if k.startswith("mla.")})

