"""Every number `symbolic derive` prints for every preset, against a snapshot taken before the
refactoring of issue 14 ("One cost engine, one document structure"): the refactoring must change
no number. The snapshot is the package's own output at commit 0768a43 (the state that resolved
issues 12 and 13), written by ``python tests/test_snapshot.py``; it checks that later code agrees
with earlier code, not that either is right (the oracle tests do that). Remove it, or take a new
one, once a change is meant to alter numbers (the performance work of the issue after 14)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from symbolic.cli import run
from symbolic.errors import SymbolicError
from symbolic.presets import preset_names

SNAPSHOT = Path(__file__).parent / "fixtures" / "numbers-before-issue-14.json"
HARDWARE = "h200"
LEFT_OUT = ("closed_forms", "textbook_forms", "display")   # text that may be rewritten, not numbers


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
    finally:
        sys.stdout = real
    SNAPSHOT.write_text(json.dumps(taken, indent=1, sort_keys=True) + "\n")
    print(f"wrote {SNAPSHOT} ({len(taken)} presets)")
