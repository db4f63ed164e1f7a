"""Rendering documents: the Jinja2 environment, the templates' location, and format helpers.

Templates live in the top-level ``templates/`` folder and are installed as ``symbolic.templates``.
Each document has one structure (``derivation.j2``, ``performance.j2``), each format its markup
(``markup/md.j2``, ``markup/tex.j2``: headings, tables, equations) and each language its prose
(``prose/en.j2``, ``prose/zh.j2``). A document is built once (:func:`.document.build`) and
rendered in any format and language from that one build.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import jinja2

from ..architecture.conventions import Conventions
from ..errors import SymbolicError
from ..printing import latex, latex_number
from ..quantities.derive import Derivation
from ..symbols import VOCABULARY
from ..units import bytes_both, count, seconds_latex, si, with_unit
from .document import build

FORMATS = ("md", "tex")
"""The document formats; each has its markup in templates/markup/<format>.j2."""
LANGUAGES = ("en", "zh")


def template_folder() -> Path:
    """The templates beside this code: the checkout's when it runs from one (so two checkouts on
    one machine each render with their own), else the installed ``symbolic.templates``."""
    checkout = Path(__file__).resolve().parents[2] / "templates"
    if (checkout / "prose").is_dir():
        return checkout
    try:
        folder = Path(str(resources.files("symbolic.templates")))
        if folder.is_dir():
            return folder
    except ModuleNotFoundError:
        pass
    return checkout


_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_\[\]<>|$~])")


def percent(value) -> str:
    """A signed-where-negative percentage with enough digits to be non-zero: 12.3, -0.016."""
    pct = float(value) * 100
    if pct == 0 or abs(pct) >= 1:
        return f"{pct:.1f}"
    return f"{pct:.2g}" if abs(pct) >= 0.01 else f"{pct:.1e}"


def _markdown_text(value: object) -> str:
    """Plain text from data (a model name, a quote) with Markdown's specials escaped."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", str(value))


def _latex_text(value: object) -> str:
    return "".join(_LATEX_SPECIALS.get(ch, ch) for ch in str(value))


def _latex_url(url: str) -> str:
    return re.sub(r"[\\{}]", "", url).replace("%", r"\%").replace("#", r"\#")


@dataclass(frozen=True)
class Format:
    """How prose marks things up in one output format; the prose templates call these."""

    name: str
    text: Callable[[object], str]            # escape plain text
    code_pattern: str                         # inline code, around the (escaped) text
    code_escaped: bool
    bold_pattern: str
    percent_sign: str
    link_pattern: str                         # {url} and {label}
    url: Callable[[str], str]
    begin_list: str
    end_list: str
    item: str

    def code(self, value: object) -> str:
        return self.code_pattern.format(self.text(value) if self.code_escaped else value)

    def bold(self, value: str) -> str:
        return self.bold_pattern.format(value)

    def pct(self, value) -> str:
        return f"{percent(value)}{self.percent_sign}"

    def link(self, url: str, label: str) -> str:
        return self.link_pattern.format(url=self.url(url), label=label)


MARKDOWN = Format("md", _markdown_text, "`{}`", False, "**{}**", "%", "[{label}]({url})", str,
                  "", "", "- ")
LATEX = Format("tex", _latex_text, r"\texttt{{{}}}", True, r"\textbf{{{}}}", r"\%",
               r"\href{{{url}}}{{{label}}}", _latex_url, r"\begin{itemize}", r"\end{itemize}", r"\item ")


def breakable(latex: str) -> str:
    """LaTeX math without \\left/\\right, so a long inline formula can wrap at its operators."""
    return re.sub(r"\\(left|right)(?=[()\[\]|.]|\\[{}])", "", latex)


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates kept between runs (Jinja2's own cache, in $XDG_CACHE_HOME/symbolic or
    ~/.cache/symbolic): a cold start then skips compiling them. Keyed by the templates' source, so
    an edited template is recompiled; None where the folder cannot be made."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(base, "symbolic", "jinja")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return None
    return jinja2.FileSystemBytecodeCache(folder) if os.access(folder, os.W_OK) else None


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_folder())),
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True,
        trim_blocks=True, lstrip_blocks=True, bytecode_cache=_bytecode_cache())
    env.filters["breakable"] = breakable
    env.globals.update(vocabulary=VOCABULARY,
                       convention_docs={lang: Conventions.documentation(lang) for lang in LANGUAGES},
                       units=Numbers, latex=latex, latex_number=latex_number, seconds=seconds_latex)
    return env


class Numbers:
    """Number formatting for prose (language-neutral)."""

    count = staticmethod(count)

    @staticmethod
    def flop(value) -> str:
        return si(value, "FLOP")

    @staticmethod
    def bytes(value) -> str:
        return bytes_both(value)

    @staticmethod
    def bytes_si(value) -> str:
        return si(value, "B")

    @staticmethod
    def rate(value) -> str:
        return si(value, "B/s")

    @staticmethod
    def flops_rate(value) -> str:
        return si(value, "FLOP/s")

    @staticmethod
    def fixed(value, digits: int) -> str:
        return f"{float(value):,.{digits}f}"

    @staticmethod
    def money(value) -> str:
        """Dollars; written 'USD' because a dollar sign opens math in Markdown and LaTeX."""
        return f"{float(value):,.{3 if abs(value) < 1 else 2}f} USD"

    human = staticmethod(with_unit)


def render(derivation: Derivation, fmt: str = "md", lang: str = "en", *, performance=None,
           batches: list[int] | None = None, users: int | None = None,
           figures: dict[str, str] | None = None, command: str | None = None) -> str:
    """The derivation document of ``derivation`` in a format (md, tex) and a language (en, zh).
    ``command``: the command line that made it, shown in the footer (default: ``symbolic derive
    MODEL`` with the format and language)."""
    if fmt not in FORMATS:
        raise SymbolicError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    if lang not in LANGUAGES:
        raise SymbolicError(f"unknown language {lang!r}; known: {', '.join(LANGUAGES)}")
    formatter = MARKDOWN if fmt == "md" else LATEX
    template = environment().get_template("derivation.j2")
    document = build(derivation, performance, batches, users)
    if command is None:
        command = " ".join(["symbolic derive", shlex.quote(derivation.model.arch.name), "--format", fmt,
                            *(["--lang", lang] if lang != "en" else [])])
    return template.render(doc=document, fmt=formatter, lang=lang, figures=figures or {}, command=command)
