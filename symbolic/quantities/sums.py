"""Views over a model's op list: parameters, FLOPs, weight bytes, KV cache and memory traffic.

Each view is a sum of one op field over the sections, each section's sum multiplied by how often it
repeats. Nothing here knows a formula of its own: a FLOP count is the sum of the ops' FLOPs, a
weight-byte count is the sum of the ops' parameters times the bytes per weight, and so on. The
per-device views sum the same fields over the sections as one device runs them
(``Model.device_sections``, see :mod:`symbolic.ops.sharding`), collectives included.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import sympy

from ..architecture.workload import Phase
from ..exact import substitute
from ..ops.model import Model, Section
from ..ops.op import FLOP_CATEGORIES, DeviceKernel, Op, OpKind, kernels
from ..ops.sharding import calls
from ..symbols import B, L, N_ep, N_pp, b_a, b_kv, c


def section_sum(section: Section, field: str, *, kinds: Iterable[OpKind] | None = None,
                components: Iterable[str] | None = None) -> sympy.Expr:
    """One repetition of a section: the sum of ``field`` over its ops that match the filters."""
    return sympy.Add(*(getattr(op, field) for op in _matching(section.ops, kinds, components)))


def model_sum(model: Model, field: str, phase: Phase | None = None, *,
              kinds: Iterable[OpKind] | None = None, components: Iterable[str] | None = None,
              sections: Iterable[Section] | None = None) -> sympy.Expr:
    """The whole model: sum over sections of repeats x section sum, at ``phase`` if given."""
    kinds = tuple(kinds) if kinds is not None else None
    components = tuple(components) if components is not None else None
    chosen = model.sections if sections is None else tuple(sections)
    total = sympy.Add(*(s.repeats * section_sum(s, field, kinds=kinds, components=components)
                        for s in chosen))
    return at(total, phase)


def device_sum(model: Model, term: str | Callable[[Op], sympy.Expr], phase: Phase | None = None,
               *, by_kernel: Callable[[DeviceKernel], sympy.Expr] | None = None) -> sympy.Expr:
    """One step's path through the whole model, each op as one device runs it (every pipeline
    stage in turn, as a step passes through them): the sum of an op
    field, or of ``term(op)``, or with ``by_kernel`` of a function of each kernel (ops fused into
    one launch taken together), at ``phase`` if given. Maxes and mins are bound without SymPy's
    search for a dominating argument (``fast_extrema``): the values are the same, and binding a
    step's expression takes a fraction of the time."""
    def of_section(section: Section) -> sympy.Expr:
        if by_kernel is not None:
            return sympy.Add(*map(by_kernel, kernels(section.ops)))
        if isinstance(term, str):
            return sympy.Add(*(getattr(op, term) for op in section.ops))
        return sympy.Add(*map(term, section.ops))

    total = sympy.Add(*(s.repeats * of_section(s) for s in model.device_sections))
    return total if phase is None else substitute(total, phase.substitutions(), fast_extrema=True)


def at(expr: sympy.Expr, phase: Phase | None) -> sympy.Expr:
    """``expr`` evaluated for a phase (n and c substituted); unchanged when phase is None."""
    return expr if phase is None else expr.xreplace(phase.substitutions())


def _matching(ops: Iterable[Op], kinds, components) -> list[Op]:
    return [op for op in ops
            if (kinds is None or op.kind in kinds) and (components is None or op.component in components)]


# --- Parameters -------------------------------------------------------------------------------

def parameters(model: Model) -> dict[str, sympy.Expr]:
    """Parameter counts: the total, the parts outside the layers, and all layers together.

    ``embedding`` is the token table; ``lm_head`` counts only what the head owns (0 when tied to
    the embedding, which is then counted once, as transformers does). ``active`` counts what one
    token passes through: everything but the routed experts it is not sent to (the total for a dense
    model); model cards differ on the embedding, so ``active_without_embedding`` leaves it out
    (DeepSeek's convention) and ``active`` keeps it (Qwen's)."""
    active = model_sum(model, "active")
    parts = {
        "total": model_sum(model, "params"),
        "active": active,
        "active_without_embedding": active - model_sum(model, "params", components=["embedding"]),
        "embedding": model_sum(model, "params", components=["embedding"]),
        "position_embedding": model_sum(model, "params", components=["position_embedding"]),
        "final_norm": model_sum(model, "params", components=["final_norm"]),
        "lm_head": model_sum(model, "params", components=["lm_head"]),
        "layers": model_sum(model, "params", sections=model.layer_sections),
    }
    if not model.arch.learned_positions:
        del parts["position_embedding"]
    return parts


LAYER_COMPONENTS = ("attention", "mixer", "mlp", "norm")
"""A layer's parts; ``mixer`` is a token mixer with a fixed-size state (a short convolution, linear
attention, Mamba), listed only for layers that have one."""


def layer_parameters(section: Section) -> dict[str, sympy.Expr]:
    """One layer of a kind: its parameters in total and by component (``mixer`` where the layer
    mixes tokens with a fixed-size state instead of attention)."""
    rows = {"total": section_sum(section, "params")}
    present = {op.component for op in section.ops}
    for component in LAYER_COMPONENTS:
        if component != "mixer" or component in present:
            rows[component] = section_sum(section, "params", components=[component])
    return rows


# --- FLOPs ------------------------------------------------------------------------------------

def flops(model: Model, phase: Phase) -> dict[str, sympy.Expr]:
    """FLOPs of one step: the total and its split into weight matmuls, attention products and
    elementwise work (norms, activations, softmax, RoPE, bias and residual adds)."""
    rows = {"total": model_sum(model, "flops", phase)}
    for kind in FLOP_CATEGORIES:
        rows[kind.value] = model_sum(model, "flops", phase, kinds=[kind])
    return rows


# --- Bytes ------------------------------------------------------------------------------------

def weight_bytes(model: Model) -> sympy.Expr:
    """Bytes to store every parameter once: params x b_w, or x b_q for those stored quantized."""
    return model_sum(model, "param_bytes")


def kv_cache(model: Model) -> dict[str, sympy.Expr]:
    """The cache: elements and bytes per token (what grows with the context, while every layer
    still keeps every token), and bytes held for one sequence and for the batch once ``c`` tokens
    are cached. Where layers keep a state of fixed size instead (a convolution's window, a linear
    attention state), its elements per sequence are given apart; the held bytes include it."""
    per_token = model_sum(model, "kv_per_token")
    held = model_sum(model, "kv_held")
    rows = {
        "elements_per_token": per_token,
        "bytes_per_token": per_token * b_kv,
        "bytes_per_sequence": held.xreplace({B: 1}) * b_kv,
        "bytes_per_batch": held * b_kv,
    }
    state = model_sum(model, "state_per_sequence")
    if state != 0:
        rows["state_elements_per_sequence"] = state
        rows["state_bytes_per_sequence"] = state * b_kv
    return rows


def weights_bytes_per_device(model: Model) -> sympy.Expr:
    """Weights one device holds: its share of every split matrix, all replicated ones, and the
    layers of the heaviest pipeline stage, ceil(L / N_pp) of them. The first stage holds the
    embedding, the last the head; one stage holds both, min(N_pp - 1, 1) = 0. A head tied to the
    embedding reads the table, so a last stage of its own holds a copy of it (Megatron-LM keeps the
    tied word embeddings on the first and the last stage and sums their gradients)."""
    embedding, *layers, head = model.device_sections
    def held(section: Section) -> sympy.Expr:
        return sympy.Add(*(op.param_bytes for op in section.ops))

    tied_copy = sympy.Add(*(op.weights_read_bytes for op in head.ops
                            if op.kind is OpKind.MATMUL and op.params == 0))
    per_layer = sympy.Add(*((s.repeats / L) * held(s) for s in layers))
    first, last = held(embedding), held(head)
    one_stage = 1 - calls(N_pp)
    ends = one_stage * (first + last) + calls(N_pp) * sympy.Max(first, last + tied_copy)
    return sympy.ceiling(L / N_pp) * per_layer + ends


def kv_bytes_per_sequence_per_device(model: Model, context: sympy.Expr) -> sympy.Expr:
    """Cache one sequence needs on the device that holds it once ``context`` tokens are cached:
    its share of the layers of one pipeline stage, ceil(L / N_pp) / L of them (with expert
    parallelism a sequence lives on one device, so the division by N_ep is undone)."""
    layers = sympy.Add(*(s.repeats * section_sum(s, "kv_held") for s in model.device_sections
                         if s.is_layer)) * N_ep
    return (layers * sympy.ceiling(L / N_pp) / L).xreplace({B: 1, c: context}) * b_kv


def layer_cache(section: Section) -> dict[str, sympy.Expr]:
    """One layer of a kind: the cache elements it adds per token (keys and values) and those it
    holds per sequence whatever the context (its fixed-size states; 0 for attention)."""
    return {"elements_per_token": section_sum(section, "kv_per_token"),
            "state_elements_per_sequence": section_sum(section, "state_per_sequence")}


def traffic(model: Model, phase: Phase) -> dict[str, sympy.Expr]:
    """Bytes a step moves to and from memory: weights read once per step (embedding rows only as
    gathered), KV cache read and written, activations read and written (attention fused)."""
    rows = {
        "weights": model_sum(model, "weights_read_bytes", phase),
        "kv_read": model_sum(model, "kv_read", phase) * b_kv,
        "kv_written": model_sum(model, "kv_written", phase) * b_kv,
        "activations": (model_sum(model, "activations_read", phase)
                        + model_sum(model, "activations_written", phase)) * b_a,
    }
    rows["total"] = sympy.Add(*rows.values())
    return rows



# --- Mixture of experts and latent attention ------------------------------------------------------

def moe(model: Model) -> dict[str, sympy.Expr]:
    """Routing in numbers, read from the first routed expert matmul: tokens each routed expert
    receives in a prefill and in a decode step (its activation rows over its experts: B S k / E
    and B k / E when each token goes to k of the E), and the experts a decode step's B tokens touch
    in one layer (its weights read over one expert's: E (1 - (1 - k/E)^B) when tokens pick
    uniformly)."""
    from ..architecture.workload import DECODE_STEP, PREFILL

    routed = next(op for s in model.layer_sections for op in s.ops
                  if op.routed and op.kind is OpKind.MATMUL)
    dims = routed.dims()
    per_expert = routed.activations_read / (dims["d_in"] * dims["experts"])
    touched = routed.weights_read / (dims["d_in"] * dims["d_out"])
    return {
        "tokens_per_expert_prefill": at(per_expert, PREFILL),
        "tokens_per_expert_decode": at(per_expert, DECODE_STEP),
        "experts_touched_decode": at(touched, DECODE_STEP),
    }


def mla(model: Model) -> dict[str, sympy.Expr]:
    """Per token, all layers: what MLA caches (the op ``kv_cache``: the latent and the rotary key)
    and what a cache of expanded keys and values would hold (older transformers versions, naive
    serving): per head, the widths of the keys and values the expanded form's attention products
    use."""
    expanded = model if model.conventions.mla_form == "expanded" else \
        Model(model.arch, model.conventions.replace(mla_form="expanded"))

    def per_token(m: Model, width) -> sympy.Expr:
        return sympy.Add(*(s.repeats * sympy.Add(*map(width, s.ops)) for s in m.layer_sections))

    def head_widths(op: Op) -> sympy.Expr:
        dims = op.dims()
        attends = op.kind is OpKind.ATTENTION and op.name in ("scores", "values")   # not the indexer's
        return dims["heads"] * dims["head_dim"] if attends else sympy.Integer(0)

    return {
        "kv_elements_per_token_compressed": per_token(
            model, lambda op: op.kv_per_token if op.name == "kv_cache" else sympy.Integer(0)),
        "kv_elements_per_token_expanded": per_token(expanded, head_widths),
    }
