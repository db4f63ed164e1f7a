"""Serving C users in a closed loop with continuous batching: each user starts a new request when
its last one ends, so C requests are always in flight, and C - 1 others start during the life of
each (one each, in steady state).

Without chunked prefill, a prompt runs as a step of its own between the decode steps, so a
request's time per output token is its g decode steps at batch C and the C - 1 prompts:

    TPOT = (sum of its g decode steps at batch C) / g + (C - 1) TTFT(1, S) / g.

With chunked prefill and a budget of T tokens a step (vLLM's max_num_batched_tokens), a starting
request's prompt runs in chunks of p = min(T - (C - 1), S) tokens beside the C - 1 sequences that
decode; the weights are read once for both (each kernel takes the longer of the two parts'
compute together and their bytes together, the weights both read counted once). A prompt takes
ceil(S / p) such steps, its TTFT. During a request's g steps the C - 1 prompts take
(C - 1) S / p of them, a share f = (C - 1) S / (g p); the rest decode alone:

    TPOT = f (mixed step) + (1 - f) (decode step at batch C), over contexts S .. S + g - 1,

with a chunk's prefix taken at its mean over the prompt, (S - p) / 2 (attention is linear in it).
A budget whose chunks cannot keep up with the prompts (f > 1) is refused: prompts would queue.
At C = 1 both reduce to the static batch of one.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ..errors import WorkloadError
from ..exact import substitute
from ..ops.op import DeviceKernel, OpKind
from ..quantities import sums as q
from ..symbols import B, BW_mem, c, eta_m, n, t_kern, t_o
from .roofline import (
    Performance,
    attention_share,
    is_collective,
    kernel_compute_time,
    kernel_memory_time,
    launches,
    link_time,
    op_traffic,
    sum_linear_pieces,
)


@dataclass(frozen=True)
class ServingPoint:
    """Serving C users in a closed loop with continuous batching."""

    concurrency: int
    chunk_tokens: int | None         # the step's token budget with chunked prefill; None without
    ttft_s: sympy.Rational           # a request's prompt
    tpot_s: sympy.Rational           # per output token, the others' prompts included
    request_s: sympy.Rational        # TTFT + g TPOT
    output_tokens_per_s: sympy.Rational   # C g / request_s, all users together
    fits: bool


def serving_weights(concurrency: int, generated: int) -> tuple[sympy.Rational, sympy.Rational]:
    """(a, b) with a request's time per output token, without chunked prefill, = a TTFT(1, S) +
    b (sum of its g decode steps at batch C): a = (C - 1) / g, the prompts of the requests that
    start during its life spread over its tokens, b = 1 / g."""
    return sympy.Rational(concurrency - 1, generated), sympy.Rational(1, generated)


def closed_loop(perf: Performance, concurrency: int) -> ServingPoint:
    """Serving without chunked prefill (see the module's docstring)."""
    prefill_weight, decode_weight = serving_weights(concurrency, perf.generated)
    ttft = perf.prefill_time(1)
    tpot = prefill_weight * ttft + decode_weight * perf.decode_total(concurrency)
    return _point(perf, concurrency, None, ttft, tpot)


def mixed_step(perf: Performance, decode_batch: int, chunk: int, chunk_context: int) -> sympy.Expr:
    """One step's time, in the decode context c: ``decode_batch`` sequences decode one token each
    and one prompt's chunk of ``chunk`` tokens after ``chunk_context`` cached runs beside them,
    kernel by kernel, the weights read once."""
    decode = {B: sympy.Integer(decode_batch), n: sympy.Integer(1)}
    prompt = {B: sympy.Integer(1), n: sympy.Integer(chunk), c: sympy.Integer(chunk_context)}

    def shared_weights_time(kernel: DeviceKernel) -> sympy.Expr:
        """The weights both parts read, read once: all of a matrix's for a dense matmul, the experts
        both touch at most for routed ones (the fewer of the two), none of a lookup table's rows."""
        shared = []
        for op in kernel.ops:
            if op.kind is OpKind.GATHER or op.weights_read == 0:
                continue
            weights = op_traffic(op)["weights"] / (BW_mem * eta_m * attention_share(op))
            first, second = weights.xreplace(decode), weights.xreplace(prompt)
            shared.append(first if first == second else sympy.Min(first, second, evaluate=False))
        return sympy.Add(*shared)

    def both(kernel: DeviceKernel) -> sympy.Expr:
        if is_collective(kernel):
            time = sympy.Add(*map(link_time, kernel.ops))
            return time.xreplace(prompt) + (time.xreplace(decode) if decode_batch else 0)
        compute, memory = kernel_compute_time(kernel), kernel_memory_time(kernel)
        together = sympy.Max(compute.xreplace(decode) + compute.xreplace(prompt),
                             memory.xreplace(decode) + memory.xreplace(prompt)
                             - shared_weights_time(kernel), evaluate=False)
        return together + launches(kernel) * t_kern

    return q.device_sum(perf.model, None, None, by_kernel=both) + t_o


def chunked_closed_loop(perf: Performance, concurrency: int, budget: int) -> ServingPoint:
    """Serving with chunked prefill at a budget of ``budget`` tokens a step (see the module's
    docstring)."""
    prompt, generated = perf.derivation.workload.prompt, perf.generated
    others = concurrency - 1
    chunk = min(budget - others, prompt)
    if chunk < 1:
        raise WorkloadError(f"--chunk-tokens {budget} leaves no room for a prompt beside {others} "
                            f"decoding sequences: give more than --concurrency")
    share = sympy.Rational(others * prompt, generated * chunk)
    if share > 1:
        raise WorkloadError(f"--chunk-tokens {budget}: chunks of {chunk} prompt tokens cannot keep up with "
                            f"the prompts of {others} other users ({prompt} tokens each) within "
                            f"{generated} output tokens; prompts would queue (raise --chunk-tokens or lower "
                            f"--concurrency)")
    mixed = substitute(mixed_step(perf, others, chunk, (prompt - chunk) // 2), perf_bindings(perf),
                       fast_extrema=True)
    decode = substitute(perf.token_step(), {B: sympy.Integer(concurrency)})
    mean_mixed = sum_linear_pieces(mixed, c, prompt, generated) / generated
    mean_decode = sum_linear_pieces(decode, c, prompt, generated) / generated
    ttft = -(-prompt // chunk) * perf.evaluate(mixed, context=prompt)
    tpot = share * mean_mixed + (1 - share) * mean_decode
    return _point(perf, concurrency, budget, ttft, tpot)


def perf_bindings(perf: Performance) -> dict:
    """Everything a performance binds but the batch and the decode context."""
    return {k: v for k, v in perf.bindings.items() if k not in (B, c)}


def _point(perf: Performance, concurrency: int, budget: int | None, ttft, tpot) -> ServingPoint:
    request = ttft + perf.generated * tpot
    return ServingPoint(concurrency, budget, ttft, tpot, request,
                        concurrency * perf.generated / request, perf.fits(concurrency))


def serving_dict(perf: Performance, concurrency: int, chunk_tokens: int | None = None) -> dict:
    """The ``serving`` section of the JSON document."""
    point = (chunked_closed_loop(perf, concurrency, chunk_tokens) if chunk_tokens
             else closed_loop(perf, concurrency))
    model = ("closed loop, continuous batching, chunked prefill at a budget of "
             f"{chunk_tokens} tokens a step" if chunk_tokens else
             "closed loop, continuous batching: TPOT = mean decode step at batch C + (C - 1) TTFT(1, S) / g")
    return {"concurrency": point.concurrency, "chunk_tokens": point.chunk_tokens,
            "ttft_s": float(point.ttft_s), "tpot_s": float(point.tpot_s), "request_s": float(point.request_s),
            "output_tokens_per_s": float(point.output_tokens_per_s), "fits": point.fits, "model": model}
