"""Sweeps: the performance model over a grid of batch sizes, contexts, hardware and parallelism.

Each (model, accelerator, tensor-parallel degree) is bound once and its expressions compiled once
with ``sympy.lambdify`` to NumPy; the whole grid of batch sizes and contexts is then evaluated as
arrays. Large grids are evaluated in chunks and streamed to the output, so memory stays bounded.
Values are float64: they agree with the exact symbolic values to about 1e-12 (a test checks).

Ranges: ``1,8,64`` (a list), ``1..1024`` (every integer), ``128..131072*2`` (doubling), and
``0..4096+256`` (steps of 256).
"""

from __future__ import annotations

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
from .hardware import Accelerator
from .load import load
from .performance import Deployment, Performance
from .symbols import B, S, c
from .workload import DECODE_STEP, PREFILL, Workload

MAX_POINTS_PER_AXIS = 10**7
CHUNK_POINTS = 1 << 20
COLUMNS = ("model", "hardware", "tp", "batch", "prompt", "context", "ttft_s", "tpot_s", "tokens_per_s",
           "tokens_per_s_per_sequence", "weights_bytes_per_device", "kv_bytes_per_device", "fits")

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
    tpot: object            # f(B, c) -> seconds
    ttft: object            # f(B, S) -> seconds
    kv_per_sequence: object  # f(c) -> bytes on one device
    weights: float
    free: float
    perf: Performance = field(repr=False)

    def evaluate(self, batch: np.ndarray, prompt: np.ndarray, context: np.ndarray) -> dict[str, np.ndarray]:
        """Every column for aligned arrays of batch, prompt and context (broadcast together)."""
        batch, prompt, context = np.broadcast_arrays(batch.astype(np.float64), prompt.astype(np.float64),
                                                     context.astype(np.float64))
        tpot = np.broadcast_to(self.tpot(batch, context), batch.shape)
        ttft = np.broadcast_to(self.ttft(batch, prompt), batch.shape)
        kv = np.broadcast_to(self.kv_per_sequence(context), batch.shape) * batch \
            / self.perf.deployment.ep
        return {
            "batch": batch, "prompt": prompt, "context": context, "ttft_s": ttft, "tpot_s": tpot,
            "tokens_per_s": batch / tpot, "tokens_per_s_per_sequence": 1 / tpot,
            "weights_bytes_per_device": np.full(batch.shape, self.weights), "kv_bytes_per_device": kv,
            "fits": kv <= self.free,
        }


def compile_kernel(model_name: str, accelerator: Accelerator, tp: int, *, generated: int = 256,
                   precision: Precision | None = None, conventions: dict | None = None) -> Kernel:
    """Bind a model and a deployment, and lambdify its step times and memory to NumPy."""
    model = load(model_name, **(conventions or {}))
    precision = precision or Precision.of()
    derivation = Derivation(model, Workload(1, 1, 1), precision)
    perf = Performance(derivation, Deployment(accelerator, tp=tp,
                                              compute_dtype=precision.activation.name), generated)
    fixed = {k: v for k, v in perf.bindings.items() if k not in (B, S, c)}
    tpot = sympy.lambdify((B, c), perf.step_time(DECODE_STEP).xreplace(fixed), modules="numpy")
    ttft = sympy.lambdify((B, S), perf.step_time(PREFILL).xreplace(fixed), modules="numpy")
    kv = sympy.lambdify((c,), perf.kv_bytes_per_sequence(c).xreplace(fixed), modules="numpy")
    return Kernel(model.arch.name, accelerator.name, tp, tpot, ttft, kv,
                  float(perf.value(perf.weight_bytes_per_device)), float(perf.free_bytes_per_device), perf)


@dataclass
class SweepPlan:
    models: list[str]
    accelerators: list[Accelerator]
    tps: list[int]
    batches: list[int]
    contexts: list[int]
    prompts: list[int] | None = None     # None: the prompt equals the context
    generated: int = 256
    precision: Precision | None = None
    conventions: dict = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    @property
    def points_per_kernel(self) -> int:
        return len(self.batches) * len(self.contexts) * (len(self.prompts) if self.prompts else 1)

    def kernels(self) -> Iterator[Kernel]:
        for name in self.models:
            for accelerator in self.accelerators:
                for tp in self.tps:
                    try:
                        yield compile_kernel(name, accelerator, tp, generated=self.generated,
                                             precision=self.precision, conventions=self.conventions)
                    except (WorkloadError, SymbolicError) as exc:
                        self.skipped.append(f"{name} on {tp} x {accelerator.name}: {exc}")

    def chunks(self, kernel: Kernel, chunk_points: int = CHUNK_POINTS) -> Iterator[dict[str, np.ndarray]]:
        """The kernel's grid, batch-major, in chunks of at most ``chunk_points`` points."""
        contexts = np.asarray(self.contexts, dtype=np.int64)
        prompts = np.asarray(self.prompts, dtype=np.int64) if self.prompts else None
        per_batch = len(contexts) * (len(prompts) if prompts is not None else 1)
        rows = max(1, chunk_points // per_batch)
        for start in range(0, len(self.batches), rows):
            batch = np.asarray(self.batches[start:start + rows], dtype=np.int64)
            if prompts is None:
                b, ctx = np.meshgrid(batch, contexts, indexing="ij")
                prompt = ctx
            else:
                b, prompt, ctx = np.meshgrid(batch, prompts, contexts, indexing="ij")
            yield kernel.evaluate(b.ravel(), prompt.ravel(), ctx.ravel())


def write_sweep(plan: SweepPlan, out, fmt: str = "csv", progress: bool | None = None) -> int:
    """Stream the sweep to the text stream ``out``; returns the number of points written."""
    show = sys.stderr.isatty() if progress is None else progress
    total = plan.points_per_kernel * len(plan.models) * len(plan.accelerators) * len(plan.tps)
    written = 0
    first = True
    if fmt == "csv":
        out.write(",".join(COLUMNS) + "\n")
    else:
        out.write('{"columns": ' + json.dumps(COLUMNS) + ', "rows": [\n')
    for kernel in plan.kernels():
        for chunk in plan.chunks(kernel):
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


_NUMERIC = COLUMNS[3:-1]


def _write_csv(out, kernel: Kernel, chunk: dict[str, np.ndarray]) -> None:
    table = np.column_stack([chunk[name] for name in _NUMERIC] + [chunk["fits"].astype(np.int8)])
    prefix = f"{kernel.model},{kernel.hardware},{kernel.tp},"
    fmt = prefix + "%d,%d,%d," + ",".join(["%.9g"] * (len(_NUMERIC) - 3)) + ",%d"
    np.savetxt(out, table, fmt=fmt, delimiter="")


def _write_json(out, kernel: Kernel, chunk: dict[str, np.ndarray], first: bool) -> bool:
    columns = [chunk[name].tolist() for name in _NUMERIC] + [chunk["fits"].tolist()]
    for values in zip(*columns, strict=True):
        row = [kernel.model, kernel.hardware, kernel.tp, int(values[0]), int(values[1]), int(values[2]),
               *values[3:-1], bool(values[-1])]
        out.write(("" if first else ",\n") + json.dumps(row))
        first = False
    return first
