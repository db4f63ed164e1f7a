"""The outside tools that read our documents: KaTeX for Markdown math, pdflatex for LaTeX.

Both are installed by scripts/test-setup.sh; a missing tool fails the tests that need it rather
than skipping them, so CI cannot pass without having checked."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KATEX_SCRIPT = ROOT / "scripts" / "katex-check.js"

_DISPLAY = re.compile(r"^\$\$\n(.*?)\n\$\$$", re.S | re.M)
_CODE = re.compile(r"`[^`\n]*`")
_INLINE = re.compile(r"(?<![\\$])\$(?!\$)(\S(?:[^$\n]*?\S)?)(?<!\\)\$(?!\$)")


def math_spans(markdown: str, where: str = "") -> list[dict]:
    """Every $$...$$ block and inline $...$ span of a Markdown text."""
    spans = [{"tex": m.group(1), "display": True, "where": where} for m in _DISPLAY.finditer(markdown)]
    rest = _CODE.sub("", _DISPLAY.sub("", markdown))
    spans += [{"tex": m.group(1), "display": False, "where": where} for m in _INLINE.finditer(rest)]
    return spans


def katex_errors(spans: list[dict]) -> tuple[int, list[dict]]:
    """(spans checked, errors) from KaTeX run by node."""
    node = shutil.which("node")
    assert node, "node is not installed (scripts/test-setup.sh)"
    assert (ROOT / "node_modules" / "katex").is_dir(), "katex is not installed (scripts/test-setup.sh)"
    result = subprocess.run([node, str(KATEX_SCRIPT)], input=json.dumps(spans), capture_output=True,
                            text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    return report["checked"], report["errors"]


def compile_latex(source: str, folder: Path, name: str = "document") -> tuple[bool, str]:
    """pdflatex on ``source`` in ``folder``: (a PDF was produced without errors, the log's errors)."""
    pdflatex = shutil.which("pdflatex")
    assert pdflatex, "pdflatex is not installed (scripts/test-setup.sh)"
    tex = folder / f"{name}.tex"
    tex.write_text(source, encoding="utf-8")
    result = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", tex.name],
                            cwd=folder, capture_output=True, timeout=300)
    log = (folder / f"{name}.log").read_text(encoding="utf-8", errors="replace")
    errors = "\n".join(line for line in log.splitlines() if line.startswith("!"))
    return result.returncode == 0 and (folder / f"{name}.pdf").is_file(), errors
