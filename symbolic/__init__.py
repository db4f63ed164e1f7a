"""symbolic: the cost of running decoder-only transformers, derived from first principles with SymPy.

    >>> import symbolic
    >>> model = symbolic.load("llama-3.1-8b")
    >>> d = symbolic.derive(model, batch=8, prompt=2048)
    >>> d.value("params.total")
    8030261248

See the README for the tour.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .architecture.conventions import Conventions
from .architecture.dtypes import Precision
from .architecture.spec import Architecture
from .architecture.workload import DECODE_STEP, PREFILL, Workload
from .config.load import load, load_architecture
from .config.presets import preset_names
from .errors import ConfigError, SymbolicError, UnknownModelError, WorkloadError
from .ops.model import Model
from .outputs.render import render
from .quantities.derive import Derivation, Quantity
from .setting import Setting


def derive(model, **setting) -> Derivation:
    """Every quantity of ``model`` (a :class:`Model`, preset name, config path or dict) in a
    setting given by keyword: ``batch``, ``prompt``, ``context``, ``weight_dtype``, ``kv_dtype``,
    ``activation_dtype`` and counting conventions by name, e.g. ``attention_count="full"``. They
    are read as the command line's options are (:class:`symbolic.setting.Setting`). A preset
    asked for again in an equal setting gives the same derivation, built once per process."""
    base = model.conventions if isinstance(model, Model) else None
    return Setting.from_mapping(model, setting, conventions=base).derivation


def markdown(derivation: Derivation, lang: str = "en") -> str:
    """The derivation document in Markdown, in English or Chinese (``lang="zh"``)."""
    return render(derivation, "md", lang)


def latex(derivation: Derivation, lang: str = "en") -> str:
    """The derivation document as a complete LaTeX file."""
    return render(derivation, "tex", lang)


__all__ = [
    "Architecture", "ConfigError", "Conventions", "DECODE_STEP", "Derivation", "Model", "PREFILL",
    "Precision", "Quantity", "Setting", "SymbolicError", "UnknownModelError", "Workload", "WorkloadError",
    "derive", "latex", "load", "load_architecture", "markdown", "preset_names", "__version__",
]
