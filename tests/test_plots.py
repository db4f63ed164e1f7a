"""Figures: every one drawn for every preset, their data consistent with the documents, the same
bytes twice, embedded in documents that still parse and compile, and the CLI's one-line errors."""

import re
import subprocess
import sys

import pytest

import symbolic
from symbolic.architecture.workload import DECODE_STEP, PREFILL
from symbolic.config.hardware import get_accelerator
from symbolic.errors import SymbolicError
from symbolic.exact import to_rational
from symbolic.outputs.render import render
from symbolic.performance.roofline import Deployment, Performance, op_bytes
from symbolic.quantities import sums as q

from .renderers import compile_latex, katex_errors, math_spans

pytest.importorskip("matplotlib")   # installed by the test extra: this only guards a bare install
from symbolic.outputs import plots  # noqa: E402

from .command import symbolic_cli

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def deployed(name, hardware="h200", batch=1):
    """The preset on the fewest devices (1, 2, 4 or 8) whose memory holds its weights."""
    d = symbolic.derive(name, batch=batch)
    for tp in (1, 2, 4, 8):
        perf = Performance(d, Deployment(get_accelerator(hardware), tp=tp), 128)
        if perf.free_bytes_per_device > 0:
            break
    return d, perf


HARDWARE_FIGURES = {"roofline": lambda perf, path: plots.roofline(perf, 1, path),
                    "throughput": lambda perf, path: plots.throughput(perf, [1, 8, 64], path),
                    "latency": lambda perf, path: plots.latency(perf, [1, 8, 64], path)}


@pytest.mark.parametrize("index, name", enumerate(symbolic.preset_names()))
def test_every_figure_is_drawn_for_every_preset(index, name, tmp_path):
    """Every preset's KV figure (the one whose lines differ in kind between models: hybrids' flat
    states, sliding windows' plateaus), and one of the hardware figures in turn, each drawn for a
    third of the presets (all four together: test_cli_draws_each_figure, render_all)."""
    d, perf = deployed(name)
    kind = list(HARDWARE_FIGURES)[index % len(HARDWARE_FIGURES)]
    plots.kv_cache([d], [2**i for i in range(7, 18)], tmp_path / "kv.png")
    HARDWARE_FIGURES[kind](perf, tmp_path / f"{kind}.png")
    for path in (tmp_path / "kv.png", tmp_path / f"{kind}.png"):
        data = path.read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000, path


def test_a_figure_is_the_same_bytes_twice(tmp_path):
    d, perf = deployed("qwen3-30b-a3b")
    first = plots.render_all(perf, d, [1, 16], tmp_path / "a", "m")
    second = plots.render_all(perf, d, [1, 16], tmp_path / "b", "m")
    for kind, path in first.items():
        assert path.read_bytes() == second[kind].read_bytes(), kind


@pytest.mark.parametrize("name, tp", [("llama-3.1-70b", 4), ("mixtral-8x7b", 2), ("deepseek-v2-lite", 1)])
def test_latency_bars_add_up_to_the_time_per_output_token(name, tp):
    d = symbolic.derive(name, batch=1, prompt=1000)
    perf = Performance(d, Deployment(get_accelerator("h100-sxm"), tp=tp, overhead_s=to_rational("0.0005")),
                       64)
    batches = [1, 32, 512]
    parts = plots.latency_parts(perf, batches)
    for i, b in enumerate(batches):
        tpot = float(perf.evaluate(perf.step_time(DECODE_STEP), batch=b))
        assert sum(values[i] for values in parts.values()) == pytest.approx(tpot, rel=1e-12)
        assert all(values[i] >= 0 for values in parts.values())
        assert (parts["communication"][i] > 0) == (tp > 1)
    assert parts["KV cache"][2] == pytest.approx(512 * parts["KV cache"][0], rel=1e-9)


def test_latency_parts_tell_dense_from_mixture_of_experts():
    """A dense model reads the same weights at any batch (but for B embedding rows), and at batch 1
    reading them is nearly the whole step; Mixtral at batch 1 reads 2 of its 8 experts per layer,
    at batch 512 nearly all of them (the expected number touched, 8 (1 - (6/8)^512))."""
    dense, moe = (Performance(symbolic.derive(name, batch=1, prompt=1000),
                              Deployment(get_accelerator("h100-sxm"), tp=4), 64)
                  for name in ("llama-3.1-70b", "mixtral-8x7b"))
    parts = plots.latency_parts(dense, [1, 512])
    assert parts["weights"][0] > 0.8 * sum(values[0] for values in parts.values())
    assert parts["weights"][1] == pytest.approx(parts["weights"][0], rel=1e-3)
    parts = plots.latency_parts(moe, [1, 512])
    assert 2.5 < parts["weights"][1] / parts["weights"][0] < 4


def test_roofline_points_hold_every_flop_and_the_bytes_of_every_op_that_computes():
    """Fused attention is one point with its cache reads; only the embedding lookup (no FLOPs)
    has no place on the chart."""
    d, perf = deployed("llama-3.1-8b")
    alone = {op.name for s in perf.model.sections for op in s.ops if op.flops == 0 and not op.fused}
    assert alone == {"embed_tokens"}
    for phase in (PREFILL, DECODE_STEP):
        points = plots.roofline_points(perf, phase, 1)
        placed_flops, placed_bytes = (sum(p[i] for p in points.values()) for i in (0, 1))
        assert placed_flops == pytest.approx(float(perf.evaluate(perf.flops(phase), batch=1)), rel=1e-12)
        unplaced = q.device_sum(perf.model, lambda op: op_bytes(op) if op.name in alone else 0, phase)
        expected = perf.evaluate(perf.bytes(phase) - unplaced, batch=1)
        assert placed_bytes == pytest.approx(float(expected), rel=1e-12)


@pytest.mark.parametrize("preset, group", [("llama-3.1-8b", 32 // 8), ("llama-3.1-70b", 64 // 8),
                                           ("gpt2", 1)])
def test_decode_attention_sits_at_the_group_size(preset, group):
    """Published (FlashInfer, Ye et al. 2025, arXiv:2501.01005, sec. 2; scaling-book, 'All About
    Transformer Inference'): a decode step's fused attention reads every cached key and value
    once and does 4 FLOPs per key element for each query head sharing it, so in 16-bit it does
    about (n_q / n_kv) FLOPs per byte: memory-bound, far below an H100's ~295. The KV heads
    come from each model's config.json (Llama-3.1: 32/8 and 64/8 heads; GPT-2: 12/12)."""
    _, perf = deployed(preset, hardware="h100-sxm")
    flops, moved = plots.roofline_points(perf, DECODE_STEP, 1)["attention"]
    assert flops / moved == pytest.approx(group, rel=0.02)


def test_a_bf16_weight_matmul_at_batch_one_does_about_one_flop_per_byte():
    """Published: a matrix-vector product does 2 FLOPs per weight and reads 2 bytes per bf16
    weight, so its intensity is ~1 FLOP/byte, far below an H100's ~295 (989.5 TFLOP/s over
    3.35 TB/s, NVIDIA H100 datasheet)."""
    _, perf = deployed("llama-3.1-8b", hardware="h100-sxm")
    decode = plots.roofline_points(perf, DECODE_STEP, 1)
    flops, moved = decode["q_proj"]
    assert flops / moved == pytest.approx(1, rel=0.01)
    prefill = plots.roofline_points(perf, PREFILL, 1)
    flops, moved = prefill["q_proj"]
    assert flops / moved > 295


def test_figures_embedded_in_documents_parse_and_compile(tmp_path):
    d, perf = deployed("llama-3.1-8b")
    made = plots.render_all(perf, d, [1, 8], tmp_path, "llama-3.1-8b")
    figures = {kind: path.name for kind, path in made.items()}
    spans = []
    for lang in ("en", "zh"):
        markdown = render(d, "md", lang, performance=perf, batches=[1, 8], figures=figures)
        linked = re.findall(r"!\[[^\]]+\]\(([^)]+)\)", markdown)
        assert sorted(linked) == sorted(figures.values())
        spans += math_spans(markdown, lang)
        tex = render(d, "tex", lang, performance=perf, batches=[1, 8], figures=figures)
        assert tex.count("\\includegraphics") == len(figures)
        ok, errors = compile_latex(tex, tmp_path, f"doc-{lang}")
        assert ok, errors
    _, errors = katex_errors(spans)
    assert errors == []


def test_without_matplotlib_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(SymbolicError, match=r"pip install matplotlib"):
        plots._pyplot()


@pytest.mark.parametrize("args", [
    ["plot", "roofline", "llama-3.1-8b", "--hardware", "h100-sxm", "-o", "{tmp}/r.png"],
    ["plot", "kv", "llama-3.1-8b", "-o", "{tmp}/r.png"],
    ["sweep", "llama-3.1-8b", "--hardware", "h100-sxm", "--batch", "1,2", "--plot", "{tmp}/r.png"],
    ["derive", "llama-3.1-8b", "--format", "md", "--plots", "{tmp}", "-o", "{tmp}/r.md"],
])
def test_every_drawing_command_without_matplotlib_says_how_to_install_it(args, tmp_path):
    blocked = ("import sys; sys.modules['matplotlib'] = None; from symbolic.cli import main; "
               "sys.exit(main(sys.argv[1:]))")
    result = subprocess.run([sys.executable, "-c", blocked, *(a.format(tmp=tmp_path) for a in args)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and "pip install matplotlib" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind, model, extra", [
    ("kv", "llama-3.1-8b,mistral-7b-v0.1,deepseek-v2-lite", ["--contexts", "1024..131072*2"]),
    ("roofline", "qwen2.5-7b", ["--hardware", "a100-sxm-80gb", "--batch", "4"]),
    ("throughput", "llama-3.1-70b", ["--hardware", "h100-sxm", "--tp", "4"]),
    ("latency", "gemma-2-9b", ["--hardware", "l40s", "--batch", "1,8,64"]),
])
def test_cli_draws_each_figure(kind, model, extra, tmp_path):
    target = tmp_path / f"{kind}.png"
    result = symbolic_cli("plot", kind, model, "-o", target, *extra)
    assert result.returncode == 0, result.stderr
    assert target.read_bytes().startswith(PNG_SIGNATURE)


def test_derive_plots_links_figures_beside_the_document(tmp_path):
    (tmp_path / "doc").mkdir()
    result = symbolic_cli("derive", "llama-3.1-8b", "--format", "md", "--hardware", "h100-sxm",
                          "--batch", "1,16", "--plots", tmp_path / "figures", "-o", tmp_path / "doc" / "d.md")
    assert result.returncode == 0, result.stderr
    markdown = (tmp_path / "doc" / "d.md").read_text()
    links = re.findall(r"!\[[^\]]+\]\(([^)]+)\)", markdown)
    assert len(links) == 4
    for link in links:
        assert link.startswith("../figures/") and (tmp_path / "doc" / link).is_file()


@pytest.mark.parametrize("args, names", [
    (["plot", "roofline", "llama-3.1-8b", "-o", "{tmp}/r.png"], "--hardware"),
    (["plot", "kv", "llama-3.1-8b", "-o", "{tmp}/missing/r.png"], "-o"),
    (["plot", "kv", "llama-3.1-8b,nope-7b", "-o", "{tmp}/r.png"], "nope-7b"),
    (["plot", "kv", "llama-3.1-8b", "--contexts", "9..1", "-o", "{tmp}/r.png"], "--contexts"),
    (["plot", "kv", "llama-3.1-8b", "--contexts", "0..4", "-o", "{tmp}/r.png"], "--contexts"),
    (["plot", "kv", "llama-3.1-8b", "--contexts", "1..10000000", "-o", "{tmp}/r.png"], "--contexts"),
    (["plot", "pie", "llama-3.1-8b", "-o", "{tmp}/r.png"], "pie"),
    (["derive", "llama-3.1-8b", "--format", "json", "--plots", "{tmp}"], "--plots"),
])
def test_bad_plot_requests_get_one_line_errors(args, names, tmp_path):
    result = symbolic_cli(*[a.format(tmp=tmp_path) for a in args])
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and names in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "r.png").exists()


def test_sweep_plot_draws_a_panel_per_setting_and_writes_no_table(tmp_path):
    target = tmp_path / "map.png"
    result = symbolic_cli("sweep", "llama-3.1-8b,qwen3-30b-a3b", "--hardware", "h100-sxm", "--tp", "1,2",
                 "--batch", "1..256*2", "--context", "128..32768*2", "--plot", target)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert target.read_bytes().startswith(PNG_SIGNATURE)


def test_sweep_grids_hold_the_values_of_the_streamed_sweep():
    from symbolic.performance.sweep import SweepPlan
    from symbolic.setting import Setting

    plan = SweepPlan(base=Setting("mixtral-8x7b", hardware="h200"), models=["mixtral-8x7b"],
                     accelerators=[get_accelerator("h200")], tps=[2], batches=[1, 3, 100],
                     contexts=[1, 5, 4096])
    (compiled, grid), = plan.grids()
    (chunk,) = plan.chunks(compiled)
    for name, values in grid.items():
        assert values.shape == (3, 3)
        assert (values.ravel() == chunk[name]).all(), name


@pytest.mark.parametrize("args, names", [
    (["--prompt", "512"], "--prompt"),
    (["--plot", "{tmp}/missing/map.png"], "--plot"),
])
def test_bad_sweep_plots_get_one_line_errors(args, names, tmp_path):
    extra = [a.format(tmp=tmp_path) for a in args]
    if "--plot" not in extra:
        extra += ["--plot", str(tmp_path / "map.png")]
    result = symbolic_cli("sweep", "llama-3.1-8b", "--hardware", "h100-sxm", *extra)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and names in result.stderr, result.stderr
    assert not list(tmp_path.rglob("*.png"))
