"""Steps and workloads: which tokens a forward pass processes, and the concrete sizes of a run.

A prefill and a decode step are one op list evaluated at two points:

* prefill: ``n = S`` new tokens per sequence, ``c = 0`` cached;
* decode step: ``n = 1`` new token per sequence, ``c`` tokens already cached.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from .errors import WorkloadError
from .symbols import B, S, c, n


@dataclass(frozen=True)
class Phase:
    name: str
    new_tokens: sympy.Expr
    cached: sympy.Expr
    description: str

    def substitutions(self) -> dict[sympy.Symbol, sympy.Expr]:
        return {n: self.new_tokens, c: self.cached}


PREFILL = Phase("prefill", S, sympy.Integer(0),
                "a forward pass over the S prompt tokens of each of B sequences, nothing cached")
DECODE_STEP = Phase("decode_step", sympy.Integer(1), c,
                    "one new token for each of B sequences, with c tokens already cached")
PHASES = (PREFILL, DECODE_STEP)


@dataclass(frozen=True)
class Workload:
    """B sequences, a prompt of S tokens, and a decode step taken at context c (c tokens cached;
    by default c = S, the first generated token)."""

    batch: int = 1
    prompt: int = 2048
    context: int | None = None

    def __post_init__(self):
        for name, minimum in (("batch", 1), ("prompt", 1), ("context", 0)):
            value = getattr(self, name)
            if value is None and name == "context":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                kind = "a positive integer" if minimum else "a non-negative integer"
                raise WorkloadError(f"{name} must be {kind}, got {value!r}")
        if self.context is None:
            object.__setattr__(self, "context", self.prompt)

    def bindings(self) -> dict[sympy.Symbol, sympy.Integer]:
        return {B: sympy.Integer(self.batch), S: sympy.Integer(self.prompt),
                c: sympy.Integer(self.context)}
