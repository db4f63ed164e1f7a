"""Sweeps: the performance model over a grid of batch sizes, contexts, hardware and parallelism.

Each (model, accelerator, tensor-parallel degree, dtypes) is bound once, from one
:class:`~symbolic.setting.Setting` that carries every other option (efficiencies, overhead,
pipeline and expert parallelism, conventions, compute dtype), and its expressions are compiled
once with ``sympy.lambdify`` to NumPy; the whole grid of batch sizes and contexts is then evaluated
as arrays. Large grids are evaluated in chunks and streamed to the output, so memory stays bounded.
Values are float64: they agree with the exact symbolic values to about 1e-10 (a test checks).

A request's decode steps (contexts S .. S + g - 1) are summed exactly as the documents sum them:
the step time is piecewise linear in the context, its kinks found once
(:func:`~symbolic.performance.roofline.linear_pieces`), and each linear piece summed as (count) x (first +
last) / 2, for every point at once.

Ranges: ``1,8,64`` (a list), ``1..1024`` (every integer), ``128..131072*2`` (doubling), and
``0..4096+256`` (steps of 256).
"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import sympy

from ..architecture.dtypes import Precision
from ..architecture.workload import DECODE_STEP, PREFILL
from ..config.hardware import Accelerator
from ..errors import SymbolicError
from ..exact import substitute, to_rational
from ..setting import Setting
from ..setting import parse_range as _parse_range
from ..symbols import B, S, c
from .roofline import Performance, cost_per_million_tokens, linear_pieces

CHUNK_POINTS = 1 << 20
WRITE_CHUNK_POINTS = 1 << 17   # rows formatted at once: their text is ~10x the bytes of the floats
PICTURED = ("decode_tokens_per_s_at_context", "tpot_at_context_s", "fits")
MAX_SWEEP_POINTS = 10**9     # a CSV of 10^9 rows is ~120 GB and an hour of writing
MAX_GRID_POINTS = 1 << 24   # a panel of a sweep picture: 16M points, ~1 GiB of columns
COLUMNS = ("model", "hardware", "tp", "weight_dtype", "kv_dtype", "batch", "prompt", "context", "ttft_s",
           "tpot_at_context_s", "tpot_mean_s", "request_s", "decode_tokens_per_s_at_context",
           "decode_tokens_per_s", "request_tokens_per_s", "decode_tokens_per_s_per_sequence",
           "usd_per_million_output_tokens", "weights_bytes_per_device", "kv_bytes_per_device", "fits")
"""One row per point. At context c: one decode step and the decode rate it sets. Over a request
(prefill of S tokens, then g decode steps at contexts S .. S + g - 1): the mean step, the request's
time, tokens per second while decoding and over the whole request (prefill included), and the cost
of output tokens at the decode rate, as ``symbolic derive`` reports them."""

def parse_range(text: str, flag: str) -> list[int]:
    """``'1,8,64'``, ``'1..1024'``, ``'128..131072*2'`` or ``'0..4096+256'`` as a list of integers
    (see :func:`symbolic.setting.parse_range`)."""
    return _parse_range(text, flag)


def parse_prices(text: str | None, accelerators) -> dict[str, float]:
    """``--price``: one USD-per-device-hour figure for every accelerator, or name=figure pairs."""
    if not text:
        return {}
    names = [a.name for a in accelerators]
    prices: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, _, figure = part.rpartition("=")
        value = to_rational(figure.strip())
        if value is None or value < 0 or value > 10**9:
            raise SymbolicError(f"--price: cannot read {figure.strip()[:40]!r} as USD per device-hour")
        if not name:
            if len(text.split(",")) > 1:
                raise SymbolicError(f"--price: {part!r} needs a name (h100-sxm=2.5) beside other prices")
            return dict.fromkeys(names, float(value))
        key = name.strip().lower()
        if key not in names:
            raise SymbolicError(f"--price: {name.strip()!r} is not among --hardware ({', '.join(names)})")
        prices[key] = float(value)
    return prices


@dataclass
class CompiledSetting:
    """One model on one deployment, compiled: NumPy functions of batch, context and prompt."""

    model: str
    hardware: str
    tp: int
    precision: Precision
    tpot: object            # f(B, c) -> seconds of one decode step
    ttft: object            # f(B, S) -> seconds of the prefill
    decode: object          # f(B, S) -> seconds of a request's g decode steps, contexts S .. S + g - 1
    kv_per_sequence: object  # f(c) -> bytes on one device
    weights: float
    free: float
    perf: Performance = field(repr=False)
    price_per_hour: float | None = None    # USD per device-hour; None: the cost column is empty

    def _within_reserve(self, tokens):
        """Whether a request of ``tokens`` fits in its reservation (always, without one)."""
        reserve = self.perf.deployment.kv_reserve
        return tokens <= reserve if reserve else True

    def evaluate(self, batch: np.ndarray, prompt: np.ndarray, context: np.ndarray) -> dict[str, np.ndarray]:
        """Every column, flattened, for arrays of batch, prompt and context that broadcast together.

        Pass a grid as orthogonal axes (``batch[:, None]``, ``context[None, :]``): each term of
        the compiled expressions is then computed on the axes it depends on (the weights' time on
        the batch axis alone) and only the terms in B and c together fill the grid."""
        batch, prompt, context = (np.asarray(a, dtype=np.float64) for a in (batch, prompt, context))
        shape = np.broadcast_shapes(batch.shape, prompt.shape, context.shape)
        generated = self.perf.generated
        tpot = self.tpot(batch, context)
        ttft = self.ttft(batch, prompt)
        decode = self.decode(batch, prompt)
        ep = self.perf.deployment.ep
        kv = self.kv_per_sequence(context) * batch / ep
        # A request holds its most KV at its end, prompt + g tokens, in whole blocks or its
        # reservation (as Performance.max_batch).
        held_tokens = np.maximum(prompt + generated, context)
        held = self.perf.allocated_tokens(held_tokens)
        peak = self.kv_per_sequence(held) * np.ceil(batch / ep)
        # The devices' price for a request's decode time, over the B g tokens it makes.
        cost = np.nan if self.price_per_hour is None else cost_per_million_tokens(
            self.price_per_hour, self.perf.deployment.devices, decode, batch * generated)
        columns = {"batch": batch, "prompt": prompt, "context": context, "ttft_s": ttft,
                   "tpot_at_context_s": tpot, "tpot_mean_s": decode / generated, "request_s": ttft + decode,
                   "decode_tokens_per_s_at_context": batch / tpot,
                   "decode_tokens_per_s": batch * generated / decode,
                   "request_tokens_per_s": batch * generated / (ttft + decode),
                   "decode_tokens_per_s_per_sequence": generated / decode,
                   "usd_per_million_output_tokens": cost,
                   "weights_bytes_per_device": self.weights, "kv_bytes_per_device": kv,
                   "fits": (peak <= self.free) & self._within_reserve(held_tokens)}
        return {name: np.broadcast_to(value, shape).ravel() for name, value in columns.items()}


def compile_setting(setting: Setting, *, longest: int = 1,
                    price_per_hour: float | None = None) -> CompiledSetting:
    """Bind a setting (one model, accelerator, TP degree and precision) and lambdify its step times
    and memory to NumPy. ``longest`` is the longest context a request reaches in the sweep (its
    prompt plus g), how far the decode steps' kinks are looked for. A deployment whose weights do
    not fit is compiled all the same: its ``fits`` column is false everywhere."""
    perf = setting.performance
    fixed = {k: v for k, v in perf.bindings.items() if k not in (B, S, c)}

    def bound(expr):
        return substitute(expr, fixed, fast_extrema=True)

    step = bound(perf.step_time(DECODE_STEP))
    return CompiledSetting(
        perf.model.arch.name, perf.deployment.accelerator.name, perf.deployment.tp, setting.precision,
        tpot=_grouped(step, (B, c)), ttft=_grouped(bound(perf.step_time(PREFILL)), (B, S)),
        decode=_request_decode(step, perf.generated, longest),
        kv_per_sequence=_grouped(bound(perf.kv_bytes_per_sequence(c)), (c,)),
        weights=float(perf.evaluate(perf.weight_bytes_per_device)), free=float(perf.free_bytes_per_device),
        perf=perf, price_per_hour=price_per_hour)


def _request_decode(step: sympy.Expr, generated: int, longest: int):
    """f(B, S): the sum of ``step`` (a decode step's time in B and c) over c = S .. S + g - 1.

    Terms without c sum to g times themselves. The rest is, per sequence, B h(c): its kinks in c
    do not move with B, so they are found once, on h, up to ``longest``; between kinks h is linear
    and each piece sums exactly to (count) x (first + last) / 2. A step whose c-terms are not B
    times a function of c alone is summed step by step instead (exact, slower)."""
    steady, growing = [], []
    for term in sympy.Add.make_args(step):
        (growing if term.has(c) else steady).append(term)
    fixed = _grouped(sympy.Add(*steady), (B,)) if steady else (lambda b: 0.0)
    per_sequence = sympy.Add(*growing).xreplace({B: 1})
    if not growing:
        return lambda b, s: generated * fixed(b) + 0 * s
    if not _proportional_to_batch(sympy.Add(*growing), per_sequence):
        each = _grouped(step, (B, c))
        return lambda b, s: sum(each(b, s + i) for i in range(generated))
    h = _grouped(per_sequence, (c,))
    cuts = np.asarray(linear_pieces(per_sequence, c, 0, longest), dtype=np.float64)

    def decode(b, s):
        last = s + generated - 1
        total = 0.0
        for low, high in zip(cuts[:-1], cuts[1:], strict=True):
            first, end = np.maximum(s, low), np.minimum(last, high - 1)
            count = np.maximum(end - first + 1, 0)
            total = total + np.where(count > 0, count * (h(first) + h(np.maximum(end, first))) / 2, 0.0)
        return generated * fixed(b) + b * total

    return decode


def _proportional_to_batch(growing: sympy.Expr, per_sequence: sympy.Expr) -> bool:
    """Whether ``growing`` equals B times ``per_sequence`` (checked exactly at a few points)."""
    for batch in (2, 7, 1000):
        for context in (0, 1, 4095, 4096, 100_000):
            point = {B: sympy.Integer(batch), c: sympy.Integer(context)}
            if substitute(growing, point) != batch * substitute(per_sequence, {c: sympy.Integer(context)}):
                return False
    return True


def _grouped(expr: sympy.Expr, args: tuple[sympy.Symbol, ...]):
    """``expr`` compiled to NumPy with the terms of its top-level sum grouped by the symbols they
    hold: on a grid of orthogonal axes the terms in B alone (the weights' time) are summed on the
    batch axis, and only the few in B and c together fill the grid."""
    groups: dict[frozenset, list[sympy.Expr]] = {}
    for term in sympy.Add.make_args(expr):
        groups.setdefault(frozenset(term.free_symbols), []).append(term)
    parts = [sympy.lambdify(args, sympy.Add(*terms), modules="numpy", cse=True)
             for _, terms in sorted(groups.items(), key=lambda item: sorted(map(str, item[0])))]

    def evaluate(*values):
        total = parts[0](*values)
        for part in parts[1:]:
            total = total + part(*values)
        return total

    return evaluate


@dataclass
class SweepPlan:
    """The axes of a sweep over one base :class:`~symbolic.setting.Setting`, which carries every
    option that is not an axis."""

    base: Setting
    models: list[str]
    accelerators: list[Accelerator]
    tps: list[int]
    batches: list[int]
    contexts: list[int]
    prompts: list[int] | None = None     # None: the prompt equals the context
    dtypes: list[tuple[str | None, str | None]] = field(default_factory=lambda: [(None, None)])
    """(weight dtype, KV dtype) pairs; None takes the setting's default (the weights as the
    checkpoint stores them, the KV cache in the weights' or activations' format)."""
    prices: dict[str, float] = field(default_factory=dict)   # accelerator name -> USD per device-hour
    skipped: list[str] = field(default_factory=list)

    @property
    def generated(self) -> int:
        return self.base.output

    @property
    def points_per_setting(self) -> int:
        return len(self.batches) * len(self.contexts) * (len(self.prompts) if self.prompts else 1)

    @property
    def total_points(self) -> int:
        return self.points_per_setting * len(self.models) * len(self.accelerators) * len(self.tps) \
            * len(self.dtypes)

    def check(self) -> None:
        """An impossible or runaway sweep fails before any work, naming the flag to change."""
        if self.batches[0] < 1:
            raise SymbolicError("--batch: batch sizes start at 1")
        if self.tps[0] < 1:
            raise SymbolicError("--tp: tensor-parallel degrees start at 1")
        if self.prompts and self.prompts[0] < 1:
            raise SymbolicError("--prompt: a prompt holds at least 1 token")
        if not self.prompts and self.contexts[0] < 1:
            raise SymbolicError("--context: without --prompt the prompt is the context, and a prompt "
                                "holds at least 1 token")
        if self.total_points > MAX_SWEEP_POINTS:
            raise SymbolicError(f"the sweep has {self.total_points:,} points, more than "
                                f"{MAX_SWEEP_POINTS:,}; narrow --batch, --context or --prompt")

    def settings(self) -> Iterator[tuple[Setting, Accelerator]]:
        """Each setting to compile, at the sweep's longest prompt and context (so that a model
        with learned positions refuses contexts beyond them, as ``derive`` does)."""
        prompt = max(self.prompts or self.contexts)
        for name in self.models:
            for accelerator in self.accelerators:
                for tp, (weight, kv) in itertools.product(self.tps, self.dtypes):
                    yield self.base.replace(
                        model=name, hardware=accelerator, tp=tp, weight_dtype=weight, kv_dtype=kv,
                        batches=(1,), prompt=prompt, context=max(self.contexts)), accelerator

    def compiled(self) -> Iterator[CompiledSetting]:
        longest = max(self.prompts or self.contexts) + self.generated
        for setting, accelerator in self.settings():
            try:
                yield compile_setting(setting, longest=longest,
                                     price_per_hour=self.prices.get(accelerator.name))
            except SymbolicError as exc:
                self.skipped.append(f"{setting.model} on {setting.tp} x {accelerator.name} in "
                                    f"{setting.weight_dtype or 'its stored formats'}: {exc}")

    def chunks(self, compiled: CompiledSetting,
               chunk_points: int = CHUNK_POINTS) -> Iterator[dict[str, np.ndarray]]:
        """The compiled setting's grid in batch-major order (batch, then prompt, then context), in blocks of
        at most ``chunk_points`` points."""
        batches = np.asarray(self.batches, dtype=np.int64)
        contexts = np.asarray(self.contexts, dtype=np.int64)
        prompts = np.asarray(self.prompts, dtype=np.int64) if self.prompts else None
        inner = len(contexts) * (len(prompts) if prompts is not None else 1)
        batch_rows = max(1, chunk_points // inner)
        prompt_rows = max(1, chunk_points // len(contexts))
        context_rows = chunk_points
        for b in _blocks(batches, batch_rows):
            if prompts is None:
                for ctx in _blocks(contexts, context_rows):
                    yield compiled.evaluate(b[:, None], ctx[None, :], ctx[None, :])
                continue
            for p in _blocks(prompts, prompt_rows):
                for ctx in _blocks(contexts, context_rows):
                    yield compiled.evaluate(b[:, None, None], p[None, :, None], ctx[None, None, :])


    def grids(self, max_points: int = MAX_GRID_POINTS
              ) -> Iterator[tuple[CompiledSetting, dict[str, np.ndarray]]]:
        """Each compiled setting's whole batch x context grid as 2-D arrays (rows: batch) of the columns a
        picture needs; the prompt is the context."""
        if self.prompts:
            raise SymbolicError("--plot draws batch against context; leave out --prompt")
        if self.points_per_setting > max_points:
            raise SymbolicError(f"--plot: {self.points_per_setting:,} points per panel; at most "
                                f"{max_points:,} are drawn (use a coarser --batch or --context)")
        batches = np.asarray(self.batches, dtype=np.int64)
        contexts = np.asarray(self.contexts, dtype=np.int64)
        shape = (len(batches), len(contexts))
        for compiled in self.compiled():
            values = compiled.evaluate(batches[:, None], contexts[None, :], contexts[None, :])
            yield compiled, {name: values[name].reshape(shape) for name in PICTURED}


def _blocks(values: np.ndarray, size: int) -> Iterator[np.ndarray]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def write_sweep(plan: SweepPlan, out, fmt: str = "csv", progress: bool | None = None) -> int:
    """Stream the sweep to the text stream ``out``; returns the number of points written. Nothing
    is written when every setting is skipped (the caller then reports why)."""
    show = sys.stderr.isatty() if progress is None else progress
    total = plan.total_points
    written = 0
    first = True
    started = False
    for compiled in plan.compiled():
        if not started:
            out.write(",".join(COLUMNS) + "\n" if fmt == "csv"
                      else '{"columns": ' + json.dumps(COLUMNS) + ', "rows": [\n')
            started = True
        for chunk in plan.chunks(compiled, WRITE_CHUNK_POINTS):
            count = chunk["batch"].size
            if fmt == "csv":
                _write_csv(out, compiled, chunk)
            else:
                first = _write_json(out, compiled, chunk, first)
            written += count
            if show:
                sys.stderr.write(f"\rsymbolic sweep: {written:,} of {total:,} points")
    if started and fmt != "csv":
        out.write("\n], " + json.dumps({"skipped": plan.skipped})[1:] + "\n")
    if show and started:
        sys.stderr.write("\n")
    return written


_INTEGER_COLUMNS = ("batch", "prompt", "context")
_FLOAT_COLUMNS = COLUMNS[8:-1]


def _rows(chunk: dict[str, np.ndarray], true: str, false: str, missing: str,
          unbounded: str = "inf") -> Iterator[str]:
    """The chunk's numeric cells, comma-joined row by row: integers as integers, times, rates and
    costs to nine significant digits, bytes in full, a cost without a price as ``missing``, a value
    that overflowed as ``unbounded``, and the fits flag as ``true`` / ``false``. Formatted column by
    column (one C-level map per column), several times faster than row by row."""
    texts = [_formatted(chunk[name].astype(np.int64), str) for name in _INTEGER_COLUMNS]
    for name in _FLOAT_COLUMNS:
        column = chunk[name]
        fmt = ("%.17g" if name.endswith("bytes_per_device") else "%.9g").__mod__
        if np.isnan(column[:1]).all():
            texts.append(itertools.repeat(missing, column.size))
        elif not np.isfinite(column).all():
            texts.append(map(lambda v, f=fmt: f(v) if np.isfinite(v) else unbounded, column.tolist()))
        else:
            texts.append(_formatted(column, fmt))
    texts.append(_formatted(chunk["fits"], {True: true, False: false}.__getitem__))
    return map(",".join, zip(*texts, strict=True))


def _formatted(column: np.ndarray, fmt) -> Iterator[str]:
    """The column's cells as text. A constant column (the weights' bytes) is formatted once, and
    an integer one (batch, prompt, context: a grid repeats few values) once per distinct value."""
    if column.size and column[0] == column[-1] and (column == column[0]).all():
        return itertools.repeat(fmt(column[0].item()), column.size)
    if column.dtype.kind in "iu":
        values, where = np.unique(column, return_inverse=True)
        return iter(np.array([fmt(v) for v in values.tolist()], dtype=object)[where].tolist())
    return map(fmt, column.tolist())


def _write_csv(out, compiled: CompiledSetting, chunk: dict[str, np.ndarray]) -> None:
    labels = (_csv_cell(compiled.model), _csv_cell(compiled.hardware), str(compiled.tp),
              compiled.precision.weight_label, compiled.precision.kv.name)
    prefix = ",".join(labels) + ","
    text = ("\n" + prefix).join(_rows(chunk, "1", "0", ""))
    if text:
        out.write(prefix + text + "\n")


def _csv_cell(text: str) -> str:
    """A text cell, quoted (RFC 4180) when it holds a comma, a quote or a line break."""
    return '"' + text.replace('"', '""') + '"' if any(ch in text for ch in ',"\r\n') else text


def _write_json(out, compiled: CompiledSetting, chunk: dict[str, np.ndarray], first: bool) -> bool:
    p = compiled.precision
    labels = (compiled.model, compiled.hardware, compiled.tp, p.weight_label, p.kv.name)
    prefix = "[" + ", ".join(json.dumps(label) for label in labels) + ", "
    text = ",\n".join(prefix + row + "]" for row in _rows(chunk, "true", "false", "null", '"unbounded"'))
    if text:
        out.write(("" if first else ",\n") + text)
        first = False
    return first
