"""Every number `symbolic derive` prints for every preset, against a snapshot of the package's
own output: a refactoring must change no number. It checks that later code agrees with earlier
code, not that either is right (the oracle tests do that). Written by
``python tests/test_snapshot.py``; retake it in the commit that means to change numbers, and say
which and why.

History: taken at 0768a43 (issues 12 and 13) and held through issue 14's refactoring. Retaken in
issue 15, which changed two things on purpose: the all-reduce after routed experts carries one
combined output per token, not k, and the output of B / N_ep sequences beside expert parallelism
(it carried k N_ep times too much); and a pipeline's last stage holds a copy of an embedding its
head is tied to. Issue 15 also added kernel-level efficiency parameters (t_kern, m_pad, eta_a,
eta_l) that default to the ideal roofline, where every other number stayed as it was, and KV
allocation options whose defaults allocate the exact tokens; their new JSON keys are left out."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from symbolic.cli import run
from symbolic.config.presets import preset_names
from symbolic.errors import SymbolicError

SNAPSHOT = Path(__file__).parent / "fixtures" / "numbers-snapshot.json"
PARALLEL_SNAPSHOT = Path(__file__).parent / "fixtures" / "numbers-parallel-snapshot.json"
"""The parallel layouts below on a model of each kind."""
HARDWARE = "h200"
LEFT_OUT = ("closed_forms", "textbook_forms", "display")   # text that may be rewritten, not numbers
NEW_EFFICIENCY_KEYS = ("model", "kernel_latency_s", "padding_rows", "attention_efficiency", "link_efficiency",
                       "dequant_flops",
                       "symbols")


def _numbers(argv: list[str], capsys) -> dict | None:
    """The command's JSON, or None where it refuses (weights that do not fit the devices)."""
    try:
        status = run([*argv, "--format", "json"])
    except SymbolicError:
        status = 2
    out = capsys.readouterr().out
    if status != 0:
        return None
    data = json.loads(out)
    if "performance" in data:
        efficiency = data["performance"]["efficiency"]
        for key in NEW_EFFICIENCY_KEYS:
            efficiency.pop(key)
        data["performance"].pop("kv_allocation")
        data["performance"].pop("kv_swap")
        data["performance"]["accelerator"].pop("host_link_bandwidth_per_direction", None)
    return {k: v for k, v in data.items() if k not in LEFT_OUT}


def numbers_of(name: str, capsys) -> dict:
    """The preset's JSON at the default setting, and on an H200 at the smallest TP its weights fit."""
    entry = {"default": _numbers(["derive", name], capsys)}
    for tp in (1, 2, 4, 8):
        found = _numbers(["derive", name, "--hardware", HARDWARE, "--tp", str(tp)], capsys)
        if found is not None:
            entry[f"{HARDWARE}-tp{tp}"] = found
            break
    return entry


PARALLEL_MODELS = ("llama-3.1-70b", "qwen3-8b", "gemma-3-27b", "deepseek-v2-lite", "mixtral-8x7b",
                   "gpt-oss-120b", "qwen3-next-80b-a3b", "nemotron-h-56b-base", "llama-4-scout",
                   "starcoder2-7b", "lfm2-700m", "gemma-4-31b", "granite-3.1-1b-a400m")
PARALLEL_LAYOUTS = {
    "tp8": ["--tp", "8"],
    "tp2-pp2": ["--tp", "2", "--pp", "2"],
    "pp4": ["--pp", "4"],
    "ep8": ["--ep", "8"],
    "tp2-ep4": ["--tp", "2", "--ep", "4"],
}
"""Each on H100s at batches 1, 16 and 256, a 1,024-token prompt and 64 tokens out, with every
efficiency option set; layouts a model cannot take are left out (the refusal is not a number)."""
PARALLEL_OPTIONS = ["--hardware", "h100-sxm", "--batch", "1,16,256", "--prompt", "1024", "--output", "64",
                    "--mfu", "0.6", "--mbu", "0.8", "--overhead", "0.00002", "--price", "2.5",
                    "--memory-fraction", "0.9", "--users", "1000"]


def parallel_numbers_of(name: str, capsys) -> dict:
    """The preset's JSON in each parallel layout it can take."""
    found = {layout: _numbers(["derive", name, *PARALLEL_OPTIONS, *flags], capsys)
             for layout, flags in PARALLEL_LAYOUTS.items()}
    return {layout: numbers for layout, numbers in found.items() if numbers is not None}


@pytest.mark.parametrize("name", PARALLEL_MODELS)
def test_parallel_numbers_are_unchanged(name, capsys):
    assert parallel_numbers_of(name, capsys) == json.loads(PARALLEL_SNAPSHOT.read_text())[name]


@pytest.mark.parametrize("name", preset_names())
def test_numbers_are_unchanged(name, capsys):
    snapshot = json.loads(SNAPSHOT.read_text())
    if name not in snapshot:
        pytest.skip(f"{name} is newer than the snapshot")
    assert numbers_of(name, capsys) == snapshot[name]


class _Capture:
    """capsys for the script: run() prints to stdout, read back here."""

    def __init__(self):
        import io
        self.buffer = io.StringIO()

    def readouterr(self):
        out, self.buffer = self.buffer.getvalue(), __import__("io").StringIO()
        sys.stdout = self.buffer
        return type("Captured", (), {"out": out})()


if __name__ == "__main__":     # take the snapshot
    capture = _Capture()
    real, sys.stdout = sys.stdout, capture.buffer
    try:
        taken = {name: numbers_of(name, capture) for name in preset_names()}
        parallel = {name: parallel_numbers_of(name, capture) for name in PARALLEL_MODELS}
    finally:
        sys.stdout = real
    SNAPSHOT.write_text(json.dumps(taken, indent=1, sort_keys=True) + "\n")
    PARALLEL_SNAPSHOT.write_text(json.dumps(parallel, indent=1, sort_keys=True) + "\n")
    print(f"wrote {SNAPSHOT} ({len(taken)} presets) and {PARALLEL_SNAPSHOT}")
