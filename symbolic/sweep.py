"""Sweeps: the performance model over a grid of batch sizes, contexts, hardware and parallelism.

Each (model, accelerator, tensor-parallel degree) is bound once and its expressions compiled once
with ``sympy.lambdify`` to NumPy; the whole grid of batch sizes and contexts is then evaluated as
arrays. Large grids are evaluated in chunks and streamed to the output, so memory stays bounded.
Values are float64: they agree with the exact symbolic values to about 1e-12 (a test checks).

Ranges: ``1,8,64`` (a list), ``1..1024`` (every integer), ``128..131072*2`` (doubling), and
``0..4096+256`` (steps of 256).
"""

from __future__ import annotations

import itertools
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import sympy

from .derive import Derivation
from .dtypes import Precision
from .errors import SymbolicError, WorkloadError
from .exact import substitute
from .hardware import Accelerator
from .load import load
from .performance import Deployment, Performance, cost_per_million_tokens
from .symbols import B, S, c
from .workload import DECODE_STEP, PREFILL, Workload

MAX_POINTS_PER_AXIS = 10**7
CHUNK_POINTS = 1 << 20
WRITE_CHUNK_POINTS = 1 << 17   # rows formatted at once: their text is ~10x the bytes of the floats
PICTURED = ("tokens_per_s", "tpot_s", "fits")
MAX_SWEEP_POINTS = 10**9     # a CSV of 10^9 rows is ~120 GB and an hour of writing
MAX_GRID_POINTS = 1 << 24   # a panel of a sweep picture: 16M points, ~1 GiB of columns
COLUMNS = ("model", "hardware", "tp", "weight_dtype", "kv_dtype", "batch", "prompt", "context", "ttft_s",
           "tpot_s", "tokens_per_s", "tokens_per_s_per_sequence", "usd_per_million_output_tokens",
           "weights_bytes_per_device", "kv_bytes_per_device", "fits")

_RANGE = re.compile(r"^(?P<start>\d+)\.\.(?P<stop>\d+)(?:(?P<op>[*+])(?P<step>\d+))?$")


def parse_range(text: str, flag: str) -> list[int]:
    """``'1,8,64'``, ``'1..1024'``, ``'128..131072*2'`` or ``'0..4096+256'`` as a list of integers."""
    values: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if part.isdigit():
            values.append(int(part))
            continue
        match = _RANGE.match(part)
        if match is None:
            raise SymbolicError(f"{flag}: cannot read {part!r}; write 1,8,64 or 1..1024 or "
                                f"128..131072*2 or 0..4096+256")
        start, stop = int(match["start"]), int(match["stop"])
        op, step = match["op"], int(match["step"] or 1)
        if stop < start or step < 1 or (op == "*" and (step < 2 or start < 1)):
            raise SymbolicError(f"{flag}: {part!r} is an empty or endless range")
        if op == "*":
            value = start
            while value <= stop:
                values.append(value)
                value *= step
        else:
            if (stop - start) // step + 1 > MAX_POINTS_PER_AXIS:
                raise SymbolicError(f"{flag}: {part!r} has more than {MAX_POINTS_PER_AXIS} values")
            values.extend(range(start, stop + 1, step))
    if not values:
        raise SymbolicError(f"{flag}: no values")
    return sorted(set(values))


@dataclass
class Kernel:
    """One model on one deployment, compiled: NumPy functions of batch, context and prompt."""

    model: str
    hardware: str
    tp: int
    precision: Precision
    tpot: object            # f(B, c) -> seconds
    ttft: object            # f(B, S) -> seconds
    kv_per_sequence: object  # f(c) -> bytes on one device
    weights: float
    free: float
    perf: Performance = field(repr=False)
    price_per_hour: float | None = None    # USD per device-hour; None: the cost column is empty

    def evaluate(self, batch: np.ndarray, prompt: np.ndarray, context: np.ndarray) -> dict[str, np.ndarray]:
        """Every column, flattened, for arrays of batch, prompt and context that broadcast together.

        Pass a grid as orthogonal axes (``batch[:, None]``, ``context[None, :]``): each term of
        the compiled expressions is then computed on the axes it depends on (the weights' time on
        the batch axis alone) and only the terms in B and c together fill the grid."""
        batch, prompt, context = (np.asarray(a, dtype=np.float64) for a in (batch, prompt, context))
        shape = np.broadcast_shapes(batch.shape, prompt.shape, context.shape)
        tpot = self.tpot(batch, context)
        ttft = self.ttft(batch, prompt)
        ep = self.perf.deployment.ep
        kv = self.kv_per_sequence(context) * batch / ep
        # A request holds its most KV at its end, prompt + g tokens (as Performance.max_batch).
        peak = self.kv_per_sequence(np.maximum(prompt + self.perf.generated, context)) * batch / ep
        # The devices' price for the time one decode step takes, over the B tokens it makes.
        cost = np.nan if self.price_per_hour is None \
            else cost_per_million_tokens(self.price_per_hour, self.perf.deployment.devices, tpot, batch)
        columns = {"batch": batch, "prompt": prompt, "context": context, "ttft_s": ttft, "tpot_s": tpot,
                   "tokens_per_s": batch / tpot, "tokens_per_s_per_sequence": 1 / tpot,
                   "usd_per_million_output_tokens": cost,
                   "weights_bytes_per_device": self.weights, "kv_bytes_per_device": kv,
                   "fits": peak <= self.free}
        return {name: np.broadcast_to(value, shape).ravel() for name, value in columns.items()}


def compile_kernel(model_name: str, accelerator: Accelerator, tp: int, *, generated: int = 256,
                   precision: Precision | None = None, conventions: dict | None = None,
                   price_per_hour: float | None = None) -> Kernel:
    """Bind a model and a deployment, and lambdify its step times and memory to NumPy."""
    model = load(model_name, **(conventions or {}))
    precision = precision or Precision.of()
    derivation = Derivation(model, Workload(1, 1, 1), precision)
    perf = Performance(derivation, Deployment(accelerator, tp=tp,
                                              compute_dtype=precision.activation.name), generated)
    fixed = {k: v for k, v in perf.bindings.items() if k not in (B, S, c)}
    def compiled(expr, *args):
        return _grouped(substitute(expr, fixed, fast_extrema=True), args)

    tpot = compiled(perf.step_time(DECODE_STEP), B, c)
    ttft = compiled(perf.step_time(PREFILL), B, S)
    kv = compiled(perf.kv_bytes_per_sequence(c), c)
    return Kernel(model.arch.name, accelerator.name, tp, precision, tpot, ttft, kv,
                  float(perf.value(perf.weight_bytes_per_device)), float(perf.free_bytes_per_device), perf,
                  price_per_hour)


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
    models: list[str]
    accelerators: list[Accelerator]
    tps: list[int]
    batches: list[int]
    contexts: list[int]
    prompts: list[int] | None = None     # None: the prompt equals the context
    generated: int = 256
    precisions: list[Precision] = field(default_factory=lambda: [Precision.of()])
    prices: dict[str, float] = field(default_factory=dict)   # accelerator name -> USD per device-hour
    conventions: dict = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    @property
    def points_per_kernel(self) -> int:
        return len(self.batches) * len(self.contexts) * (len(self.prompts) if self.prompts else 1)

    @property
    def total_points(self) -> int:
        return self.points_per_kernel * len(self.models) * len(self.accelerators) * len(self.tps) \
            * len(self.precisions)

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

    def kernels(self) -> Iterator[Kernel]:
        for name in self.models:
            for accelerator in self.accelerators:
                for tp, precision in itertools.product(self.tps, self.precisions):
                    try:
                        yield compile_kernel(name, accelerator, tp, generated=self.generated,
                                             precision=precision, conventions=self.conventions,
                                             price_per_hour=self.prices.get(accelerator.name))
                    except (WorkloadError, SymbolicError) as exc:
                        self.skipped.append(f"{name} on {tp} x {accelerator.name} in "
                                            f"{precision.weight.name}: {exc}")

    def chunks(self, kernel: Kernel, chunk_points: int = CHUNK_POINTS) -> Iterator[dict[str, np.ndarray]]:
        """The kernel's grid in batch-major order (batch, then prompt, then context), in blocks of
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
                    yield kernel.evaluate(b[:, None], ctx[None, :], ctx[None, :])
                continue
            for p in _blocks(prompts, prompt_rows):
                for ctx in _blocks(contexts, context_rows):
                    yield kernel.evaluate(b[:, None, None], p[None, :, None], ctx[None, None, :])


    def grids(self, max_points: int = MAX_GRID_POINTS) -> Iterator[tuple[Kernel, dict[str, np.ndarray]]]:
        """Each kernel's whole batch x context grid as 2-D arrays (rows: batch) of the columns a
        picture needs; the prompt is the context."""
        if self.prompts:
            raise SymbolicError("--plot draws batch against context; leave out --prompt")
        if self.points_per_kernel > max_points:
            raise SymbolicError(f"--plot: {self.points_per_kernel:,} points per panel; at most "
                                f"{max_points:,} are drawn (use a coarser --batch or --context)")
        batches = np.asarray(self.batches, dtype=np.int64)
        contexts = np.asarray(self.contexts, dtype=np.int64)
        shape = (len(batches), len(contexts))
        for kernel in self.kernels():
            values = kernel.evaluate(batches[:, None], contexts[None, :], contexts[None, :])
            yield kernel, {name: values[name].reshape(shape) for name in PICTURED}


def _blocks(values: np.ndarray, size: int) -> Iterator[np.ndarray]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def write_sweep(plan: SweepPlan, out, fmt: str = "csv", progress: bool | None = None) -> int:
    """Stream the sweep to the text stream ``out``; returns the number of points written."""
    show = sys.stderr.isatty() if progress is None else progress
    total = plan.total_points
    written = 0
    first = True
    if fmt == "csv":
        out.write(",".join(COLUMNS) + "\n")
    else:
        out.write('{"columns": ' + json.dumps(COLUMNS) + ', "rows": [\n')
    for kernel in plan.kernels():
        for chunk in plan.chunks(kernel, WRITE_CHUNK_POINTS):
            count = chunk["batch"].size
            if fmt == "csv":
                _write_csv(out, kernel, chunk)
            else:
                first = _write_json(out, kernel, chunk, first)
            written += count
            if show:
                sys.stderr.write(f"\rsymbolic sweep: {written:,} of {total:,} points")
    if fmt != "csv":
        out.write("\n], " + json.dumps({"skipped": plan.skipped}) [1:] + "\n")
    if show:
        sys.stderr.write("\n")
    return written


_INTEGER_COLUMNS = ("batch", "prompt", "context")
_FLOAT_COLUMNS = COLUMNS[8:-1]


def _rows(chunk: dict[str, np.ndarray], true: str, false: str, missing: str) -> Iterator[str]:
    """The chunk's numeric cells, comma-joined row by row: integers as integers, times, rates and
    costs to nine significant digits, bytes in full, a cost without a price as ``missing``, and
    the fits flag as ``true`` / ``false``. Formatted column by column (one C-level map per
    column), several times faster than row by row."""
    texts = [_formatted(chunk[name].astype(np.int64), str) for name in _INTEGER_COLUMNS]
    texts += [itertools.repeat(missing, chunk[name].size) if np.isnan(chunk[name][:1]).all()
              else _formatted(chunk[name], ("%.17g" if name.endswith("bytes_per_device") else "%.9g").__mod__)
              for name in _FLOAT_COLUMNS]
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


def _write_csv(out, kernel: Kernel, chunk: dict[str, np.ndarray]) -> None:
    labels = (_csv_cell(kernel.model), _csv_cell(kernel.hardware), str(kernel.tp),
              kernel.precision.weight.name, kernel.precision.kv.name)
    prefix = ",".join(labels) + ","
    text = ("\n" + prefix).join(_rows(chunk, "1", "0", ""))
    if text:
        out.write(prefix + text + "\n")


def _csv_cell(text: str) -> str:
    """A text cell, quoted (RFC 4180) when it holds a comma, a quote or a line break."""
    return '"' + text.replace('"', '""') + '"' if any(ch in text for ch in ',"\r\n') else text


def _write_json(out, kernel: Kernel, chunk: dict[str, np.ndarray], first: bool) -> bool:
    p = kernel.precision
    labels = (kernel.model, kernel.hardware, kernel.tp, p.weight.name, p.kv.name)
    prefix = "[" + ", ".join(json.dumps(label) for label in labels) + ", "
    text = ",\n".join(prefix + row + "]" for row in _rows(chunk, "true", "false", "null"))
    if text:
        out.write(("" if first else ",\n") + text)
        first = False
    return first
