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

from .architecture import Architecture
from .conventions import Conventions
from .derive import Derivation, Quantity
from .dtypes import Precision
from .errors import ConfigError, SymbolicError, UnknownModelError, WorkloadError
from .load import load, load_architecture
from .model import Model
from .presets import preset_names
from .workload import DECODE_STEP, PREFILL, Workload


def derive(model, *, batch: int = 1, prompt: int | None = None, context: int | None = None,
           weight_dtype: str = "bf16", kv_dtype: str | None = None, activation_dtype: str = "bf16",
           **conventions) -> Derivation:
    """Every quantity of ``model`` (a :class:`Model`, preset name, config path or dict) for a workload.

    Keyword arguments beyond the workload and dtypes set counting conventions, e.g.
    ``attention_count="full"``."""
    if not isinstance(model, Model) or conventions:
        base = model.conventions if isinstance(model, Model) else None
        model = load(model.arch if isinstance(model, Model) else model, base, **conventions)
    return Derivation(model, Workload(batch, prompt, context),
                      Precision.of(weight_dtype, kv_dtype, activation_dtype))


__all__ = [
    "Architecture", "ConfigError", "Conventions", "DECODE_STEP", "Derivation", "Model", "PREFILL",
    "Precision", "Quantity", "SymbolicError", "UnknownModelError", "Workload", "WorkloadError",
    "derive", "load", "load_architecture", "preset_names", "__version__",
]
