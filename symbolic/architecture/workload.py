"""Steps and workloads: which tokens a forward pass processes, and the concrete sizes of a run.

A prefill and a decode step are one op list evaluated at two points:

* prefill: ``n = S`` new tokens per sequence, ``c = 0`` cached;
* decode step: ``n = 1`` new token per sequence, ``c`` tokens already cached.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ..errors import WorkloadError
from ..symbols import B, S, c, n
from .spec import Architecture


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


DEFAULT_PROMPT = 2048


@dataclass(frozen=True)
class Workload:
    """B sequences, a prompt of S tokens, and a decode step taken at context c (c tokens cached).

    Left as None, the prompt is 2048 tokens (half the learned positions of a model that has fewer,
    such as GPT-2) and the context is the prompt length: the step that makes the first new token."""

    batch: int = 1
    prompt: int | None = None
    context: int | None = None

    def __post_init__(self):
        for name, minimum in (("batch", 1), ("prompt", 1), ("context", 0)):
            value = getattr(self, name)
            if value is None and name != "batch":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                kind = "a positive integer" if minimum else "a non-negative integer"
                raise WorkloadError(f"{name} must be {kind}, got {value!r}")

    def fitted(self, arch: Architecture) -> tuple[Workload, list[str]]:
        """This workload with its defaults resolved for ``arch``, and warnings about it. A prompt or
        context beyond a learned position table is impossible; beyond a rotary model's
        max_position_embeddings it is only untrained."""
        positions = arch.max_position_embeddings
        prompt = self.prompt
        if prompt is None:
            prompt = min(DEFAULT_PROMPT, positions // 2) if arch.learned_positions else DEFAULT_PROMPT
        context = prompt if self.context is None else self.context
        needed = max(prompt, context + 1)
        warnings = []
        if positions and needed > positions:
            what = f"a prompt of {prompt} tokens and a decode step at context {context} need " \
                   f"{needed} positions"
            if arch.learned_positions:
                raise WorkloadError(f"{what}; {arch.name} has {positions} learned positions "
                                    f"(n_positions): use --prompt and --context below {positions}")
            warnings.append(f"{what}, beyond max_position_embeddings ({positions}) of {arch.name}")
        return Workload(self.batch, prompt, context), warnings

    def bindings(self) -> dict[sympy.Symbol, sympy.Integer]:
        if self.prompt is None or self.context is None:
            raise ValueError("resolve the workload for a model first (Workload.fitted)")
        return {B: sympy.Integer(self.batch), S: sympy.Integer(self.prompt),
                c: sympy.Integer(self.context)}
