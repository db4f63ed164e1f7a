"""Speculative decoding and multi-token prediction: a draft proposes tokens, the model verifies them.

Each verify step runs the model on ``gamma + 1`` new tokens per sequence (the op list at
``n = gamma + 1`` after ``c`` cached), after ``gamma`` decode steps of the draft at contexts
c .. c + gamma - 1. With each drafted token accepted with probability ``alpha``, independently, a
step yields ``(1 - alpha^(gamma + 1)) / (1 - alpha)`` tokens in expectation (Leviathan, Kalman
and Matias, 'Fast Inference from Transformers via Speculative Decoding', ICML 2023, eq. 1;
``gamma + 1`` at alpha = 1). A request of g tokens takes g / E steps in expectation; with step
costs linear in the context between kinks, its decode time is the sum of a step's cost over the
contexts S .. S + g - 1 divided by E (each step advances the context by E on average).

The draft is another model on the same devices (``--draft MODEL``), or ``mtp``: the model's own
multi-token-prediction module, one more decoder layer of its last kind that shares its embedding
and head (DeepSeek-V3's ``num_nextn_predict_layers = 1``; its small projection of the embedding
and hidden state into the layer is left out). ``gamma = 0`` is plain decoding.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import sympy

from ..architecture.spec import Architecture, LayerGroup
from ..architecture.workload import Phase
from ..errors import SymbolicError
from ..symbols import c

MTP = "mtp"


def expected_tokens(gamma: int, alpha: sympy.Rational) -> sympy.Rational:
    """Tokens a verify step yields in expectation: sum_{i=0}^{gamma} alpha^i."""
    return sum((alpha**i for i in range(gamma + 1)), sympy.Integer(0))


def verify_phase(gamma: int) -> Phase:
    """The model's step that checks ``gamma`` drafted tokens: gamma + 1 new tokens after c cached."""
    return Phase(f"verify_step_{gamma}", sympy.Integer(gamma + 1), c,
                 f"{gamma + 1} new tokens for each of B sequences (the last one and {gamma} drafted), "
                 f"with c tokens already cached")


MTP_FIELDS = ("num_nextn_predict_layers", "mtp_num_hidden_layers", "num_mtp_modules")
"""The config fields that declare multi-token-prediction layers: DeepSeek-V3 and GLM-4.5 name them
the first way, Qwen3.5 the second, MiniMax-M2 the third (beside ``use_mtp``)."""

MTP_MODEL_TYPES = {"qwen3_next": 1}
"""Models whose MTP layer no config field declares: Qwen3-Next ships one (vLLM serves every
``qwen3_next`` checkpoint's ``qwen3_next_mtp`` draft from the model type alone)."""


def mtp_layers(arch: Architecture) -> int:
    """How many multi-token-prediction layers the model has (0 where none is declared)."""
    for config in (arch.config, arch.config.get("text_config")):
        if not isinstance(config, dict):
            continue
        if config.get("use_mtp") is False:
            return 0
        for name in MTP_FIELDS:
            value = config.get(name)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                return value
        if config.get("model_type") in MTP_MODEL_TYPES:
            return MTP_MODEL_TYPES[config["model_type"]]
    return 0


def mtp_architecture(arch: Architecture) -> Architecture:
    """The multi-token-prediction module of ``arch`` as a model of its own: one decoder layer of its
    last layer kind, with its embedding and head. Refused for a model whose config declares none."""
    if not mtp_layers(arch):
        raise SymbolicError(f"--draft mtp: {arch.name} declares no multi-token-prediction layer "
                            f"({', '.join(MTP_FIELDS)}); name a draft model instead")
    last = arch.layer_groups[-1]
    return dataclasses.replace(arch, name=f"{arch.name} MTP", num_layers=1,
                               layer_groups=(LayerGroup(last.spec, 1),))


@dataclass(frozen=True)
class Speculation:
    """A draft (its :class:`~symbolic.performance.roofline.Performance` on the same deployment),
    the tokens it drafts per verify step and the chance each is accepted. ``shares_weights``: the
    draft's embedding and head are the model's own (MTP), so only its layers add memory."""

    draft: object
    gamma: int
    alpha: sympy.Rational
    shares_weights: bool

    @property
    def tokens_per_step(self) -> sympy.Rational:
        return expected_tokens(self.gamma, self.alpha)
