"""A model: an architecture and the counting conventions, unfolded into its op lists.

The op list is split into sections: the input side (embeddings), one section per kind of decoder
layer (repeated ``L`` times, or ``L_full`` / ``L_sliding`` times when kinds are mixed), and the output
side (final norm and LM head). Every quantity is a sum over these sections.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import sympy

from ..architecture.conventions import Conventions
from ..architecture.spec import Architecture, LayerGroup
from ..symbols import B, H, n
from .layers.decoder import decoder_layer_ops
from .layers.embedding import embedding_ops
from .layers.head import head_ops
from .op import Op, OpKind
from .sharding import device_ops, stage_transfers


@dataclass(frozen=True)
class Section:
    """A run of ops repeated ``repeats`` times (a layer kind) or once (embedding, head)."""

    name: str
    ops: tuple[Op, ...]
    repeats: sympy.Expr
    group: LayerGroup | None = None

    @property
    def is_layer(self) -> bool:
        return self.group is not None


class Model:
    """An :class:`Architecture` with :class:`Conventions`: the op lists every view reads."""

    def __init__(self, arch: Architecture, conventions: Conventions | None = None):
        self.arch = arch
        self.conventions = conventions or Conventions()

    def __repr__(self) -> str:
        return f"Model({self.arch.name!r})"

    @cached_property
    def sections(self) -> tuple[Section, ...]:
        conv = self.conventions
        layers = tuple(
            Section(group.spec.kind, self._stored(decoder_layer_ops(group.spec, conv)),
                    self.arch.layer_count_symbol(group), group)
            for group in self.arch.layer_groups)
        one = sympy.Integer(1)
        return (Section("embedding", self._stored(embedding_ops(self.arch, conv)), one),
                *layers,
                Section("head", self._stored(head_ops(self.arch, conv)), one))

    @cached_property
    def device_sections(self) -> tuple[Section, ...]:
        """The sections as one device runs them (:mod:`symbolic.ops.sharding`): each op's share, the
        collectives tensor and expert parallelism add, and the transfers between pipeline stages
        (with the head, where a step's last stage ends)."""
        *sections, head = (replace(s, ops=device_ops(s.ops)) for s in self.sections)
        return (*sections, replace(head, ops=(*head.ops, stage_transfers(B * n, H))))

    def _stored(self, ops: list[Op]) -> tuple[Op, ...]:
        """``ops`` with the weight matrices a quantized checkpoint stores quantized marked so."""
        stored = self.arch.stored_weights
        if stored is None:
            return tuple(ops)
        return tuple(replace(op, quantized=True) if op.kind is OpKind.MATMUL and op.params != 0
                     and stored.quantizes(op.name, op.component) else op for op in ops)

    @property
    def layer_sections(self) -> tuple[Section, ...]:
        return tuple(s for s in self.sections if s.is_layer)

    def bindings(self) -> dict[sympy.Symbol, sympy.Integer]:
        return self.arch.bindings()
