"""Pictures of the derivation: roofline, KV cache against context, throughput against batch, and
where a decode step's time goes. matplotlib is an optional extra (the ``plots`` extra of this distribution).

Every figure is computed from the same exact values as the documents, converted to floats only to
be drawn, and saved without a timestamp, so the same input gives the same image.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from ..architecture.workload import DECODE_STEP, PREFILL
from ..errors import SymbolicError
from ..performance.roofline import Performance
from ..quantities.derive import Derivation
from ..symbols import BW_mem, F_peak, c, eta_f, eta_m

KINDS = ("roofline", "kv", "throughput", "latency")
INSTALL_PLOTS = "python -m pip install matplotlib (in a checkout: python -m pip install '.[plots]')"
"""The install hint. It names matplotlib itself: ``pip install 'symbolic[plots]'`` would fetch PyPI's
``symbolic``, an unrelated package (this distribution is ``symbolic-llm-cost``)."""


def require_matplotlib() -> None:
    """Fail with the one-line install hint before any work is done for a figure."""
    _pyplot()


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise SymbolicError(f"plots need matplotlib: {INSTALL_PLOTS}") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.dpi": 110, "font.size": 9, "axes.grid": True, "grid.alpha": 0.3})
    return plt


def image_target(path, flag: str = "-o") -> Path:
    """``path`` if a PNG can be written there; else one line naming ``flag``. Figures are PNG
    only: its metadata can be pinned (no timestamp, no software version), so the same input gives
    the same bytes."""
    from .files import check_target

    target = check_target(path, flag)
    if target.suffix.lower() != ".png":
        raise SymbolicError(f"{flag} {target.name[:80]!r}: figures are written as PNG; name a .png file")
    return target


def _save(fig, path: Path) -> Path:
    """Save ``fig`` to ``path`` through a temporary file beside it: no partial image is left."""
    import matplotlib.pyplot as plt

    path = Path(path)
    tmp = path.with_name(f".{path.name[:200]}.partial{path.suffix}")
    try:
        fig.savefig(tmp, metadata={"Software": None}, bbox_inches="tight")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise SymbolicError(f"{path}: cannot write the figure: {exc.strerror or exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        plt.close(fig)
    return path


MAX_LINE_POINTS = 4096
"""Points of one line of a figure, each an exact evaluation; more would not show."""

LABELLED_SHARE = 0.03
LABELLED_MOST = 6
"""The roofline chart names the kernels taking at least this share of a step's time, at most
this many of them per step, the longest first."""


def roofline_points(perf: Performance, phase, batch: int) -> dict[str, tuple[float, float]]:
    """Kernel name -> (FLOPs, bytes) of a step on one device, summed over the layers the kernel
    repeats in. Fused attention (KV-cache read, scores, softmax, values) is one point; a kernel
    that does no arithmetic (an unfused cache read) has no place on the chart and is left out."""
    points: dict[str, list] = {}
    for work in perf.kernel_work(phase, batch):
        section, kernel, flops, moved = work.section, work.kernel, work.flops, work.bytes
        if flops == 0 or moved == 0:
            continue
        repeats = perf.evaluate(section.repeats)      # the layers of this kind
        total = points.setdefault(kernel.name, [0, 0])
        total[0] += repeats * flops
        total[1] += repeats * moved
    return {name: (float(f), float(b)) for name, (f, b) in points.items()}


def roofline(perf: Performance, batch: int, path: Path) -> Path:
    """Each kernel of a prefill and of a decode step placed by its FLOP per byte on the roofline
    of the device; a marker's area is the kernel's share of its step's time, and kernels taking
    at least ``LABELLED_SHARE`` of it are named."""
    plt = _pyplot()
    peak = float(perf.evaluate(F_peak * eta_f))
    bandwidth = float(perf.evaluate(BW_mem * eta_m))
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    lo, hi = 1e-2, 1e5
    ax.plot([lo, peak / bandwidth, hi], [lo * bandwidth, peak, peak], color="black", linewidth=1.2,
            label=f"roof: {peak / 1e12:.0f} TFLOP/s, {bandwidth / 1e12:.2f} TB/s")
    workload = perf.derivation.workload
    for phase, marker, colour in ((PREFILL, "o", "tab:blue"), (DECODE_STEP, "s", "tab:orange")):
        points = roofline_points(perf, phase, batch)
        xs = [f / b for f, b in points.values()]
        ys = [min(peak, x * bandwidth) for x in xs]
        times = [max(f / peak, b / bandwidth) for f, b in points.values()]
        shares = [t / sum(times) for t in times]
        ax.scatter(xs, ys, marker=marker, color=colour, s=[8 + 400 * share for share in shares], alpha=0.75,
                   edgecolors="white", linewidths=0.5, zorder=3,
                   label=f"{phase.name.replace('_', ' ')} kernels (B = {batch}, "
                         + (f"S = {workload.prompt})" if phase is PREFILL else f"c = {workload.context})"))
        below = phase is DECODE_STEP
        named = sorted((i for i, share in enumerate(shares) if share >= LABELLED_SHARE),
                       key=lambda i: -shares[i])[:LABELLED_MOST]
        kernel_names = list(points)
        for index, (names, x, y) in enumerate(_clusters(
                [f"{kernel_names[i]} {shares[i]:.0%}" for i in named], [xs[i] for i in named],
                [ys[i] for i in named])):
            label = ", ".join(names[:2]) + (f" and {len(names) - 2} more here" if len(names) > 2 else "")
            lift = 9 * (index % 3)                   # neighbouring labels on different lines
            ax.annotate(label, (x, y), textcoords="offset points", fontsize=6.5, color=colour,
                        xytext=(8, -14 - lift) if below else (-8, 8 + lift), ha="left" if below else "right")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(top=peak * 8)
    ax.set_xlabel("arithmetic intensity (FLOP per byte)")
    ax.set_ylabel("attainable FLOP/s")
    where = f"{perf.deployment.devices} x {perf.deployment.accelerator.label}"
    ax.set_title(f"{perf.model.arch.name} on {where}, per device")
    ax.legend(loc="lower right", fontsize=7, title=f"area: share of the step's time; named: "
                                                   f"{LABELLED_SHARE:.0%} or more", title_fontsize=7)
    return _save(fig, path)


def _clusters(names: list[str], xs: list[float], ys: list[float]):
    """Points whose intensities lie within 20% of each other, labelled together (names in the
    order given, placed at the first one)."""
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    groups: list[list[int]] = []
    for i in order:
        if groups and xs[i] <= xs[groups[-1][0]] * 1.2:
            groups[-1].append(i)
        else:
            groups.append([i])
    for group in groups:
        group.sort()                                 # the order the names came in
        yield [names[i] for i in group], xs[group[0]], ys[group[0]]


def kv_cache(derivations: list[Derivation], contexts: list[int], path: Path) -> Path:
    """KV cache of one sequence against its context, for several models, beside their weights; a
    model whose layers keep fixed-size states (a convolution window, a linear-attention state) also
    shows those states alone, flat, dashed (the solid line, everything held, includes them)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for d in derivations:
        expr = d["kv_cache.bytes_per_sequence"].expr
        values = [float(d.evaluate(expr.xreplace({c: ctx}))) / 2**30 for ctx in contexts]
        line, = ax.plot(contexts, values, marker=".", label=d.model.arch.name)
        weights = float(d.value("memory.weights_bytes")) / 2**30
        ax.axhline(weights, color=line.get_color(), linestyle=":", linewidth=0.8)
        if "kv_cache.state_bytes_per_sequence" in d.quantities:
            state = float(d.value("kv_cache.state_bytes_per_sequence")) / 2**30
            ax.plot(contexts, [state] * len(contexts), color=line.get_color(), linestyle="--", linewidth=0.8,
                    label=f"{d.model.arch.name}: fixed-size states")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    _plain_ticks(ax.xaxis, ax.yaxis)
    ax.set_xlabel("context (tokens)")
    ax.set_ylabel(f"KV cache per sequence (GiB, {derivations[0].precision.kv.name})")
    ax.set_title("KV cache against context")
    ax.plot([], [], color="0.4", linestyle=":", linewidth=0.8, label="weights (dotted, each model's colour)")
    ax.legend(fontsize=7, loc="upper left")
    return _save(fig, path)


def throughput(perf: Performance, batches: list[int], path: Path) -> Path:
    """Generated tokens per second against the batch size: all sequences while decoding, all
    sequences over whole requests (prefill included), and one sequence while decoding; the
    largest batch whose KV cache fits is marked."""
    plt = _pyplot()
    points = [perf.at_batch(b) for b in batches]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(batches, [float(p.decode_tokens_per_s) for p in points], marker="o",
            label="all sequences, decoding (left axis)")
    ax.plot(batches, [float(p.request_tokens_per_s) for p in points], marker="o", linestyle="--",
            color="tab:blue", alpha=0.6, label="all sequences, whole requests (left axis)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    _plain_ticks(ax.xaxis, ax.yaxis)
    ax.set_xlabel("batch size")
    ax.set_ylabel("generated tokens/s")
    right = ax.twinx()
    right.plot(batches, [float(p.decode_tokens_per_s_per_sequence) for p in points], marker="s",
               color="tab:orange", label="one sequence, decoding (right axis)")
    right.set_ylabel("tokens/s per sequence")
    right.grid(False)
    if perf.free_bytes_per_device > 0:
        limit = perf.max_batch()
        ax.axvline(limit, color="red", linestyle="--", linewidth=1,
                   label=f"memory limit: {limit:,} sequences")
    lines = ax.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="center left", fontsize=7)
    ax.set_title(f"{perf.model.arch.name} on {perf.deployment.devices} x {perf.deployment.accelerator.name}, "
                 f"g = {perf.generated}")
    return _save(fig, path)


def latency_parts(perf: Performance, batches: list[int]) -> dict[str, list[float]]:
    """Where one decode step's time goes, in seconds, by batch: reading weights, reading and
    writing the KV cache, moving activations (each at its achieved bandwidth), compute beyond what
    memory hides (kernel by kernel, max(0, compute - memory)), communication, kernel launches and
    overhead. Each part is its own sum over the op list; together they make the op-by-op
    roofline's step, since max(compute, memory) = memory + max(0, compute - memory) for every
    kernel."""
    expressions = {**dict(zip(("weights", "KV cache", "activations"),
                              perf.traffic_time(DECODE_STEP).values(), strict=True)),
                   "compute beyond memory": perf.compute_beyond_memory(DECODE_STEP),
                   "communication": perf.communication_time(DECODE_STEP),
                   "kernel launches": perf.launch_time(DECODE_STEP)}
    parts: dict[str, list[float]] = {name: [] for name in (*expressions, "overhead")}
    for b in batches:
        for name, expr in expressions.items():
            parts[name].append(float(perf.evaluate(expr, batch=b)))
        parts["overhead"].append(float(perf.deployment.overhead_s))
    return parts


def latency(perf: Performance, batches: list[int], path: Path) -> Path:
    """A stacked bar per batch size of ``latency_parts``."""
    plt = _pyplot()
    parts = latency_parts(perf, batches)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    labels = [str(b) if perf.fits(b) else f"{b}\n(does not fit)" for b in batches]
    bottom = [0.0] * len(batches)
    for name, values in parts.items():
        ms = [v * 1e3 for v in values]
        ax.bar(labels, ms, bottom=bottom, label=name)
        bottom = [a + b for a, b in zip(bottom, ms, strict=True)]
    ax.set_xlabel("batch size")
    ax.set_ylabel("decode step time (ms)")
    ax.set_ylim(0, max(bottom) * 1.25)      # room above the tallest bar for the legend
    ax.margins(x=0.08)
    ax.set_title(f"One decode step at c = {perf.derivation.workload.context}, "
                 f"{perf.deployment.devices} x {perf.deployment.accelerator.name}")
    ax.legend(fontsize=7)
    return _save(fig, path)


def sweep_map(panels: list[tuple[str, list[int], list[int], dict[str, np.ndarray]]], path: Path,
              tpot_levels_ms: tuple[float, ...] = (10, 20, 50, 100, 200, 500)) -> Path:
    """A sweep at a glance: for each (model, hardware, TP) panel, generated tokens/s over batch
    and context on one shared colour scale; grey where the KV cache does not fit, with lines of
    equal time per output token. ``panels`` holds (title, batches, contexts, grid), the grid's
    arrays indexed [batch, context]."""
    plt = _pyplot()
    from matplotlib.colors import LogNorm

    columns = min(3, len(panels))
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.6 * columns + 1, 3.9 * rows), squeeze=False,
                             layout="constrained")
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    rates = [np.where(grid["fits"], grid["decode_tokens_per_s_at_context"], np.nan) for *_, grid in panels]
    fitting = [r[np.isfinite(r)] for r in rates if np.isfinite(r).any()]
    norm = LogNorm(min(r.min() for r in fitting), max(r.max() for r in fitting)) if fitting else None
    mesh = None
    for ax, (title, batch_list, context_list, grid), rate in zip(axes.flat, panels, rates, strict=False):
        x_axis, y_axis = _Axis(batch_list), _Axis(context_list)
        ax.set_facecolor("0.85")                       # what does not fit shows through, grey
        if norm is not None:
            mesh = ax.pcolorfast(x_axis.edges(), y_axis.edges(), rate.T, norm=norm, cmap="viridis")
        tpot_ms = grid["tpot_at_context_s"].T * 1e3
        levels = [t for t in tpot_levels_ms if tpot_ms.min() < t < tpot_ms.max()]
        if levels and len(batch_list) > 1 and len(context_list) > 1:
            lines = ax.contour(x_axis.at, y_axis.at, tpot_ms, levels=levels, colors="white", linewidths=0.8)
            labels = ax.clabel(lines, fmt=lambda v: f"{v:g} ms", fontsize=6, colors="black", inline=True,
                               inline_spacing=2)
            for label in labels:         # readable on any colour, grey included, and never clipped
                label.set_bbox({"boxstyle": "round,pad=0.15", "facecolor": "white", "alpha": 0.8,
                                "linewidth": 0})
                label.set_clip_on(True)
        x_axis.label(ax.xaxis)
        y_axis.label(ax.yaxis)
        ax.set_xlabel("batch size")
        ax.set_ylabel("context (tokens)")
        ax.set_title(title, fontsize=8)
        ax.grid(False)
    if mesh is not None:
        bar = fig.colorbar(mesh, ax=axes, label="generated tokens/s, all sequences", shrink=0.9)
        bar.ax.yaxis.set_major_formatter(_plain_numbers())
    fig.suptitle("Throughput over batch and context (grey: the KV cache does not fit; "
                 "white lines: time per output token)", fontsize=9)
    return _save(fig, path)


class _Axis:
    """A sweep axis drawn in its own coordinate: log2 of the value where the values span enough
    octaves (32x or more), else the value. Cells are then rectangles in plain data space, which
    ``pcolorfast`` draws as one image, several times faster than a mesh of a million quads (and
    right, which an image on a log-scaled axis is not); ticks are labelled with the values."""

    def __init__(self, values: list[int]):
        values = np.asarray(values, float)
        self.log = bool(values[0] > 0 and len(values) > 2 and values[-1] / values[0] >= 32)
        self.at = np.log2(values) if self.log else values

    def edges(self) -> np.ndarray:
        """Cell edges halfway between neighbouring centres."""
        v = self.at
        if len(v) == 1:
            return np.array([v[0] - 0.5, v[0] + 0.5])
        inner = (v[1:] + v[:-1]) / 2
        return np.concatenate([[2 * v[0] - inner[0]], inner, [2 * v[-1] - inner[-1]]])

    def label(self, axis) -> None:
        from matplotlib.ticker import FuncFormatter, MaxNLocator

        if self.log:
            axis.set_major_locator(MaxNLocator(nbins=8, integer=True))
            axis.set_major_formatter(FuncFormatter(lambda u, _: _plain(2.0 ** u)))
        else:
            axis.set_major_formatter(_plain_numbers())


def _plain(value: float) -> str:
    """A tick label without mathtext: 1,024 and 131,072; 0.5 below one."""
    return f"{value:,.0f}" if abs(value) >= 1 or value == 0 else f"{value:.2g}"


def _plain_numbers():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _: _plain(value))


def _plain_ticks(*axes) -> None:
    """Log axes labelled 1,024 and 0.01 rather than 2^10 and 10^-2; minor ticks unlabelled."""
    from matplotlib.ticker import NullFormatter

    for axis in axes:
        axis.set_major_formatter(_plain_numbers())
        axis.set_minor_formatter(NullFormatter())


def figure_files(stem: str, with_performance: bool) -> dict[str, str]:
    """The file names ``render_all`` gives a derivation's figures, by kind."""
    stem = re.sub(r"[^A-Za-z0-9-]", "-", stem)   # LaTeX reads a second dot as the extension
    return {kind: f"{stem}-{kind}.png" for kind in KINDS if with_performance or kind == "kv"}


def render_all(perf: Performance | None, derivation: Derivation, batches: list[int], folder: Path,
               stem: str) -> dict[str, Path]:
    """The figures of a derivation into ``folder`` (the hardware ones only with ``perf``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {kind: folder / name for kind, name in figure_files(stem, perf is not None).items()}
    contexts = [2**i for i in range(7, 18)]
    kv_cache([derivation], contexts, paths["kv"])
    if perf is not None:
        sweep = sorted({1, 2, 4, 8, 16, 32, 64, 128, 256, *batches})
        if perf.free_bytes_per_device > 0:
            sweep = [b for b in sweep if b <= max(perf.max_batch(), max(batches))]
        roofline(perf, batches[0], paths["roofline"])
        throughput(perf, sweep, paths["throughput"])
        latency(perf, sorted(set(batches)), paths["latency"])
    return paths
