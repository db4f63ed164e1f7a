"""A derivation: every quantity of a model for one workload and precision, symbolic and exact.

Each :class:`Quantity` keeps its general expression (in the vocabulary's symbols), its closed form,
and its exact value once the architecture, workload and byte sizes are substituted. Keys are the
dotted paths of the JSON output (``params.total``, ``flops.decode_step.matmul``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import sympy

from ..architecture.dtypes import Precision
from ..architecture.spec import Architecture
from ..architecture.workload import PHASES, Workload
from ..exact import plain, substitute
from ..ops.model import Model
from ..printing import decimal, text
from ..units import with_unit
from . import sums as q
from .closed_forms import closed_form, relative_to_hidden

SCHEMA = "symbolic.derive/1"


@dataclass(frozen=True)
class Quantity:
    """One derived quantity: its expression over the vocabulary, exact value and unit. Its closed
    form, and for the quantities that have one its textbook form (relative to ``textbook_of``, the
    architecture), are worked out when first asked for: most uses read only values."""

    key: str
    expr: sympy.Expr
    value: sympy.Rational
    unit: str
    textbook_of: Architecture | None = field(default=None, repr=False, compare=False)

    @cached_property
    def closed_form(self) -> sympy.Expr:
        return closed_form(self.expr)

    @cached_property
    def textbook(self) -> sympy.Expr | None:
        """Widths as multiples of H, counts as numbers (see :func:`relative_to_hidden`)."""
        return relative_to_hidden(self.expr, self.textbook_of) if self.textbook_of is not None else None

    def _repr_latex_(self) -> str:
        """Jupyter: the quantity as rendered math, closed form = exact value."""
        from ..printing import latex, latex_number

        return f"$\\displaystyle {latex(self.closed_form)} = {latex_number(self.value)}$"

    def display(self) -> str:
        return with_unit(self.value, self.unit)


class Derivation:
    """All quantities of ``model`` under ``workload`` and ``precision``."""

    def __init__(self, model: Model, workload: Workload | None = None,
                 precision: Precision | None = None):
        self.model = model
        self.workload, warnings = (workload or Workload()).fitted(model.arch)
        self.warnings = [*model.arch.notes, *warnings]
        self.precision = precision or Precision.of()
        self.bindings = {**model.bindings(), **self.workload.bindings(), **self.precision.bindings()}
        self.quantities: dict[str, Quantity] = {}
        self.built: dict = {}
        """What later stages built from this derivation (its documents), kept with it: they live
        as long as it does, and go with it."""
        self._collect()

    def __getitem__(self, key: str) -> Quantity:
        return self.quantities[key]

    def value(self, key: str) -> sympy.Rational:
        return self.quantities[key].value

    def evaluate(self, expr: sympy.Expr) -> sympy.Rational:
        """``expr`` with every symbol bound: an exact rational."""
        value = substitute(expr, self.bindings)
        if not value.is_Rational:
            value = sympy.simplify(value)
        if not value.is_Rational:
            free = ", ".join(sorted(s.name for s in value.free_symbols))
            raise ValueError(f"expression still depends on {free or 'unevaluated terms'}: {value}")
        return value

    def _add(self, key: str, expr: sympy.Expr, unit: str, textbook: bool = False) -> None:
        arch = self.model.arch
        self.quantities[key] = Quantity(key, expr, self.evaluate(expr), unit, arch if textbook else None)

    def _collect(self) -> None:
        """Every quantity, in the order the JSON document and the documents show them."""
        self._collect_parameters_and_cache()
        model = self.model
        for phase in PHASES:
            for name, expr in q.flops(model, phase).items():
                self._add(f"flops.{phase.name}.{name}", expr, "FLOP", textbook=name == "total")
        self._add("memory.weights_bytes", q.weight_bytes(model), "B")
        if model.arch.has_moe:
            for name, expr in q.moe(model).items():
                self._add(f"moe.{name}", expr, "count")
        if model.arch.all_mla:
            self._collect_mla()
        for phase in PHASES:
            for name, expr in q.traffic(model, phase).items():
                self._add(f"memory.{phase.name}.{name}", expr, "B")

    def _collect_parameters_and_cache(self) -> None:
        model = self.model
        for name, expr in q.parameters(model).items():
            self._add(f"params.{name}", expr, "parameters", textbook=name == "total")
        for section in model.layer_sections:
            for name, expr in q.layer_parameters(section).items():
                self._add(f"params.per_layer.{section.name}.{name}", expr, "parameters",
                          textbook=name == "total")
        for name, expr in q.kv_cache(model).items():
            self._add(f"kv_cache.{name}", expr, "B" if "bytes" in name else "elements")
        if "kv_cache.state_elements_per_sequence" in self.quantities:   # a hybrid: what each kind holds
            for section in model.layer_sections:
                for name, expr in q.layer_cache(section).items():
                    self._add(f"kv_cache.per_layer.{section.name}.{name}", expr, "elements")

    def _collect_mla(self) -> None:
        """MLA's cache, compressed and expanded, and the FLOPs of the form not chosen."""
        model = self.model
        for name, expr in q.mla(model).items():
            self._add(f"mla.{name}", expr, "elements")
        other = "expanded" if model.conventions.mla_form == "absorbed" else "absorbed"
        twin = Model(model.arch, model.conventions.replace(mla_form=other))
        for phase in PHASES:
            self._add(f"mla.{phase.name}_flops_{other}", q.model_sum(twin, "flops", phase), "FLOP")

    def to_dict(self) -> dict:
        """The JSON document: exact integers at the dotted keys, closed forms beside them."""
        arch = self.model.arch
        values: dict = {}
        for key, quantity in self.quantities.items():
            _put(values, key, plain(quantity.value))
        for section in self.model.layer_sections:
            values["params"]["per_layer"][section.name]["count"] = section.group.count
            if "per_layer" in values["kv_cache"]:
                values["kv_cache"]["per_layer"][section.name]["count"] = section.group.count
        return {
            "schema": SCHEMA,
            "model": {"name": arch.name, "model_type": arch.model_type, "source": arch.source},
            "architecture": arch.describe(),
            "workload": {"batch": self.workload.batch, "prompt": self.workload.prompt,
                         "context": self.workload.context},
            "precision": self.precision.as_dict(),
            "conventions": self.model.conventions.as_dict(),
            "warnings": self.warnings,
            **values,
            "closed_forms": {k: text(v.closed_form) for k, v in self.quantities.items()},
            "textbook_forms": {k: decimal(v.textbook) for k, v in self.quantities.items()
                               if v.textbook is not None},
            "display": {k: v.display() for k, v in self.quantities.items()},
        }


def _put(tree: dict, dotted: str, value) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        tree = tree.setdefault(part, {})
    tree[leaf] = value
