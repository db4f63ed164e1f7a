"""How fast symbolic is, against the targets of issue 7, and against llm-analysis.

    python benchmarks/run.py                 # everything, with llm-analysis in its own venv
    python benchmarks/run.py --skip-llm-analysis
    python benchmarks/run.py --json results.json

Measures, each as the median of several runs (wall-clock, ``time.perf_counter``):

(a) cold start to a finished Markdown document: a fresh ``python -m symbolic derive PRESET
    --format md -o FILE`` (interpreter start, imports, derivation, rendering, writing);
(b) sweep points per second: a compiled (model, hardware, TP) setting evaluated over a
    1024 x 1024 grid of batch sizes and contexts, every column materialised; beside it the
    compile time and whole ``symbolic sweep`` commands (CSV of a million rows, and the plot);
(c) checker verdicts per second: formula, number and arithmetic checks against a derivation
    already built (as in a notebook or a test), and one cold ``symbolic check`` command;
(e) cold start to a finished Markdown document of the largest preset by parameters (issue 12:
    under 2 s);
(d) llm-analysis 0.2.2 (PyPI) answering the same per-point question (TTFT, time per output
    token, KV memory of Llama-3.1-8B on an H100 SXM) in the same run, and the ratio of (b) to it.

llm-analysis pins transformers 4.31, so it is installed into a virtual environment of its own
(benchmarks/.llm-analysis-venv, made on first use; needs PyPI) rather than beside symbolic.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LLM_ANALYSIS = "llm-analysis==0.2.2"
VENV = HERE / ".llm-analysis-venv"

TARGETS = {"cold_markdown_s": 1.0, "sweep_points_per_s": 10e6, "checker_verdict_s": 0.1,
           "ratio_to_llm_analysis": 100, "cold_largest_s": 2.0}


def median_time(action, repeats: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def run_quietly(args: list[str]) -> None:
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)


def largest_preset() -> str:
    """The preset with the most parameters."""
    import symbolic

    return max(symbolic.preset_names(), key=lambda name: symbolic.derive(name).value("params.total"))


def cold_markdown(preset: str, repeats: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "doc.md"
        command = [sys.executable, "-m", "symbolic", "derive", preset, "--format", "md", "-o", str(out)]
        run_quietly(command)                                  # warm the file cache, compile .pyc
        seconds, times = median_time(lambda: run_quietly(command), repeats)
    return {"preset": preset, "median_s": seconds, "runs_s": times}


def sweep_rate(repeats: int) -> dict:
    from symbolic.config.hardware import get_accelerator
    from symbolic.performance.sweep import SweepPlan, parse_range
    from symbolic.setting import Setting

    plan = SweepPlan(base=Setting("llama-3.1-8b", hardware="h100-sxm"), models=["llama-3.1-8b"],
                     accelerators=[get_accelerator("h100-sxm")], tps=[1], batches=parse_range("1..1024", "b"),
                     contexts=parse_range("128..131072+128", "c"))
    compile_s, _ = median_time(lambda: next(plan.compiled()), 3)
    compiled = next(plan.compiled())

    def evaluate():
        for _chunk in plan.chunks(compiled):
            pass

    seconds, times = median_time(evaluate, repeats)
    points = plan.points_per_setting
    return {"grid": "llama-3.1-8b, 1 x h100-sxm, batch 1..1024 x context 128..131072+128",
            "points": points, "compile_s": compile_s, "evaluate_median_s": seconds,
            "points_per_s": points / seconds, "runs_s": times}


def sweep_commands(repeats: int) -> dict:
    grid = ["llama-3.1-8b", "--hardware", "h100-sxm", "--batch", "1..1024", "--context", "128..131072+128"]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in (("csv_1M_rows", ["-o", f"{tmp}/sweep.csv"]),
                            ("plot_1M_points", ["--plot", f"{tmp}/sweep.png"])):
            command = [sys.executable, "-m", "symbolic", "sweep", *grid, *extra]
            seconds, times = median_time(lambda c=command: run_quietly(c), repeats)
            results[name] = {"median_s": seconds, "runs_s": times}
    return results


CHECKS = (
    ("formula", "2*2*nlayers*nheads*dhead", "kv_cache.bytes_per_token"),
    ("formula", "2*2*nlayers*n_kv*dhead", "kv_cache.bytes_per_token"),
    ("formula", "12 * n_layers * d_model^2", "params.layers"),
    ("formula", "2 * P", "flops.decode_step"),
    ("number", "16 GB", "memory.weights_bytes"),
    ("number", "8.03e9", "params.total"),
    ("arithmetic", "16/900 = 22.22", None),
    ("arithmetic", "312/1.5 = 208", None),
)


def checker_rate(repeats: int) -> dict:
    import symbolic
    from symbolic.check.checker import check_arithmetic, check_formula, check_number

    derivation = symbolic.derive("llama-3.1-8b")
    run = {"formula": lambda claim, key: check_formula(claim, key, [derivation]),
           "number": lambda claim, key: check_number(claim, key, derivation),
           "arithmetic": lambda claim, key: check_arithmetic(claim)}
    per_check = {}
    for kind, claim, key in CHECKS:
        seconds, _ = median_time(lambda k=kind, c=claim, q=key: run[k](c, q), repeats)
        per_check[f"{kind}: {claim}"] = seconds
    slowest = max(per_check.values())
    typical = statistics.median(per_check.values())
    cold, _ = median_time(lambda: run_quietly([sys.executable, "-m", "symbolic", "check",
                                               "2*2*nlayers*n_kv*dhead", "--against",
                                               "kv_cache.bytes_per_token", "--model", "llama-3.1-8b"]), 5)
    return {"per_check_s": per_check, "median_verdict_s": typical, "slowest_verdict_s": slowest,
            "verdicts_per_s": 1 / typical, "cold_cli_check_s": cold}


def llm_analysis_rate(points: int) -> dict:
    python = VENV / ("Scripts" if os.name == "nt" else "bin") / "python"
    if not python.exists():
        print(f"creating {VENV.relative_to(ROOT)} with {LLM_ANALYSIS} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", LLM_ANALYSIS], check=True)
    result = subprocess.run([str(python), str(HERE / "llm_analysis_rate.py"), str(points)], check=True,
                            capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def verdict(value: float, target: float, higher_is_better: bool) -> str:
    met = value >= target if higher_is_better else value <= target
    return "met" if met else "MISSED"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--preset", default="llama-3.1-70b")
    parser.add_argument("--skip-llm-analysis", action="store_true")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    results = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                           "platform": platform.platform()}}
    results["a_cold_markdown"] = cold_markdown(args.preset, args.repeats)
    largest = largest_preset()
    results["e_cold_largest"] = {"preset": largest, **cold_markdown(largest, args.repeats)}
    print(f"(e) cold start to Markdown, largest preset ({largest}): "
          f"{results['e_cold_largest']['median_s']:.3f} s [target < {TARGETS['cold_largest_s']} s: "
          f"{verdict(results['e_cold_largest']['median_s'], TARGETS['cold_largest_s'], False)}]")
    print(f"(a) cold start to Markdown ({args.preset}): {results['a_cold_markdown']['median_s']:.3f} s "
          f"[target < {TARGETS['cold_markdown_s']} s: "
          f"{verdict(results['a_cold_markdown']['median_s'], TARGETS['cold_markdown_s'], False)}]")

    results["b_sweep"] = sweep_rate(args.repeats)
    b = results["b_sweep"]
    print(f"(b) sweep: {b['points']:,} points in {b['evaluate_median_s'] * 1e3:.1f} ms = "
          f"{b['points_per_s'] / 1e6:.1f} M points/s (compile once: {b['compile_s']:.2f} s) "
          f"[target >= 10 M/s: {verdict(b['points_per_s'], TARGETS['sweep_points_per_s'], True)}]")
    results["b_sweep_commands"] = sweep_commands(max(3, args.repeats // 2))
    for name, figures in results["b_sweep_commands"].items():
        print(f"    symbolic sweep, {name.replace('_', ' ')}, whole command: {figures['median_s']:.2f} s")

    results["c_checker"] = checker_rate(args.repeats)
    c = results["c_checker"]
    print(f"(c) checker: median verdict {c['median_verdict_s'] * 1e3:.2f} ms "
          f"({c['verdicts_per_s']:.0f} verdicts/s), slowest {c['slowest_verdict_s'] * 1e3:.1f} ms, "
          f"cold command {c['cold_cli_check_s']:.2f} s "
          f"[target < 100 ms: {verdict(c['slowest_verdict_s'], TARGETS['checker_verdict_s'], False)}]")

    if not args.skip_llm_analysis:
        results["d_llm_analysis"] = llm_analysis_rate(400)
        d = results["d_llm_analysis"]
        ratio = b["points_per_s"] / d["points_per_s"]
        results["d_ratio"] = ratio
        print(f"(d) llm-analysis 0.2.2: {d['points_per_s']:,.0f} points/s ({d['points']} points in "
              f"{d['seconds'] * 1e3:.0f} ms); symbolic's sweep is {ratio:,.0f} x faster "
              f"[target >= 100 x: {verdict(ratio, TARGETS['ratio_to_llm_analysis'], True)}]")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
