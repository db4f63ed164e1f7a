"""Time, throughput, capacity and cost on given hardware, from the same op list.

Per device: every view reads the sections as one device runs them (``Model.device_sections``,
:mod:`symbolic.ops.sharding`): each op's share under tensor and expert parallelism, and the
collectives those add, with ``ceil(L / N_pp)`` layers on a pipeline stage.

Roofline: an op takes ``max(FLOPs / (F_peak eta_f), bytes / (BW_mem eta_m))``, a collective its
bytes over the link and ``t_link`` per call; a step is the sum over its kernels ("op by op") or the
``max`` of the step's compute and memory totals ("whole step", the seeds' form) plus the
collectives, and a fixed overhead ``t_o``.

A request: time to first token (the prefill), then ``g`` decode steps at contexts S, ..., S + g - 1,
summed exactly in closed form (each step's time is piecewise linear in the context).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import sympy

from ..architecture.workload import DECODE_STEP, PREFILL, Phase
from ..config.hardware import Accelerator
from ..errors import SymbolicError, WorkloadError
from ..exact import substitute, to_rational
from ..ops.model import Model
from ..ops.op import DeviceKernel, Op, OpKind, kernels
from ..quantities import sums as q
from ..quantities.derive import Derivation
from ..symbols import (
    B,
    BW_host,
    BW_link,
    BW_mem,
    F_peak,
    M_dev,
    N_ep,
    N_pp,
    N_tp,
    S,
    b_a,
    b_kv,
    c,
    c_dq,
    chi_q,
    chi_w,
    eta_a,
    eta_f,
    eta_l,
    eta_m,
    f_mem,
    g,
    m_pad,
    p_h,
    t_kern,
    t_link,
    t_o,
)

IDEAL_KERNELS = {t_kern: sympy.Integer(0), m_pad: sympy.Integer(0), eta_a: sympy.Integer(1),
                 eta_l: sympy.Integer(1), c_dq: sympy.Integer(0)}
"""The kernel-level efficiency parameters at their ideal values, where the roofline is the
textbook one: no launch latency, no padding rows, attention and links at the full roofline."""

DEFAULT_LINK_LATENCY = sympy.Rational(5, 10**6)
"""5 microseconds per collective: seed note 004 gives 3 to 5 us of message latency, 'depending on
the hardware'; the upper end is the default."""

def op_traffic(op: Op) -> dict[str, sympy.Expr]:
    """Bytes an op (as one device runs it) moves, by what they hold: weights, KV cache, activations."""
    return {"weights": op.weights_read * op.bytes_per_weight,
            "kv_cache": (op.kv_read + op.kv_written) * b_kv,
            "activations": (op.activations_read + op.activations_written) * b_a}


def op_bytes(op: Op) -> sympy.Expr:
    """Bytes an op moves to and from memory: weights, activations and KV cache."""
    return sympy.Add(*op_traffic(op).values())


ATTENTION_KINDS = (OpKind.ATTENTION, OpKind.CACHE)
"""Ops whose kernels run at the attention-kernel efficiency eta_a (FlashAttention-style kernels
that read the KV cache and compute scores and values)."""


def attention_share(op: Op) -> sympy.Expr:
    return eta_a if op.kind in ATTENTION_KINDS else sympy.Integer(1)


def op_compute_time(op: Op) -> sympy.Expr:
    """Seconds an op's FLOPs take: its FLOPs, and m_pad more rows through every weight matrix it
    reads (a matmul kernel computes in tiles, so a decode matmul of a few rows costs as if it had
    m_pad more; Nvidia's 'Matrix Multiplication Background' guide on tile and wave quantization),
    at the peak rate F_peak times the compute efficiency eta_f (and eta_a in attention kernels).
    A matmul whose weights are stored narrower than it computes (weight-only quantization)
    expands them inside the kernel: c_dq more work per FLOP, so a cost that grows with the batch."""
    work = op.flops + m_pad * op.row_flops
    if op.kind is OpKind.MATMUL:
        work += c_dq * (chi_q if op.quantized else chi_w) * op.flops
    return work / (F_peak * eta_f * attention_share(op))


def op_memory_time(op: Op) -> sympy.Expr:
    """Seconds an op's bytes take at the memory bandwidth BW_mem times the memory efficiency eta_m
    (and eta_a in attention kernels)."""
    return op_bytes(op) / (BW_mem * eta_m * attention_share(op))


def kernel_sum(kernel: DeviceKernel, what: str) -> sympy.Expr:
    """A kernel's ``flops`` or ``bytes``: the sum over its ops."""
    return sympy.Add(*(op_bytes(op) if what == "bytes" else getattr(op, what) for op in kernel.ops))


def link_time(op: Op) -> sympy.Expr:
    """A collective's time: its bytes over the link at the link efficiency eta_l, and the link
    latency for each call."""
    return op.link_elements * b_a / (BW_link * eta_l) + op.messages * t_link


def is_collective(kernel: DeviceKernel) -> bool:
    return all(op.kind is OpKind.COLLECTIVE for op in kernel.ops)


def launches(kernel: DeviceKernel) -> int:
    """Kernel launches a kernel costs: one for a kernel that multiplies by weights or moves
    activations or cache; none for a collective (it pays t_link per call) or for work that moves
    nothing of its own (a bias or a soft cap fused into its neighbour)."""
    if is_collective(kernel):
        return 0
    moves = any(op.kind is OpKind.MATMUL or op.activations_read != 0 or op.activations_written != 0
                or op.kv_read != 0 or op.kv_written != 0 for op in kernel.ops)
    return 1 if moves else 0


def kernel_compute_time(kernel: DeviceKernel) -> sympy.Expr:
    return sympy.Add(*map(op_compute_time, kernel.ops))


def kernel_memory_time(kernel: DeviceKernel) -> sympy.Expr:
    return sympy.Add(*map(op_memory_time, kernel.ops))


def compute_beyond_memory(kernel: DeviceKernel) -> sympy.Expr:
    """How much longer a kernel computes than it takes to move its bytes: max(0, compute - memory),
    the part of its roofline time that memory does not hide (0 for a collective)."""
    if is_collective(kernel):
        return sympy.Integer(0)
    return sympy.Max(0, kernel_compute_time(kernel) - kernel_memory_time(kernel), evaluate=False)


def kernel_time(kernel: DeviceKernel) -> sympy.Expr:
    """Time of one kernel on one device: a collective's link time, or the roofline, the longer of
    its compute and memory times (Williams, Waterman and Patterson, 'Roofline', CACM 2009), plus
    t_kern for its launch."""
    if is_collective(kernel):
        return sympy.Add(*map(link_time, kernel.ops))
    return (sympy.Max(kernel_compute_time(kernel), kernel_memory_time(kernel), evaluate=False)
            + launches(kernel) * t_kern)


@dataclass(frozen=True)
class Deployment:
    """Where and how the model runs: one accelerator type, parallel degrees, efficiencies, price."""

    accelerator: Accelerator
    tp: int = 1
    pp: int = 1
    ep: int = 1
    compute_dtype: str = "bf16"
    mfu: sympy.Rational = sympy.Integer(1)
    mbu: sympy.Rational = sympy.Integer(1)
    overhead_s: sympy.Rational = sympy.Integer(0)
    link_latency_s: sympy.Rational = DEFAULT_LINK_LATENCY
    kernel_latency_s: sympy.Rational = sympy.Integer(0)
    padding_rows: sympy.Rational = sympy.Integer(0)
    attention_efficiency: sympy.Rational = sympy.Integer(1)
    link_efficiency: sympy.Rational = sympy.Integer(1)
    dequant_flops: sympy.Rational = sympy.Integer(0)
    memory_fraction: sympy.Rational = sympy.Integer(1)
    kv_block: int = 1                       # tokens per KV-cache block (vLLM's block_size: 16)
    kv_reserve: int | None = None           # tokens reserved per sequence whatever it uses (max length)
    workspace_tokens: int = 0               # tokens of the forward whose activations are kept free
    price_per_hour: sympy.Rational | None = None
    efficiency_model: str = "ideal roofline"     # where the efficiencies come from (a profile's label)
    notes: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self):
        for name in ("tp", "pp", "ep", "kv_block"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SymbolicError(f"--{name.replace('_', '-')} must be a positive integer, got {value!r}")
        for name in ("kv_reserve", "workspace_tokens"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise SymbolicError(f"--{name.replace('_', '-')} must be a whole number, got {value!r}")
        for name, low, high in (("mfu", 0, 1), ("mbu", 0, 1), ("memory_fraction", 0, 1),
                                ("attention_efficiency", 0, 1), ("link_efficiency", 0, 1)):
            value = to_rational(getattr(self, name))
            if value is None or not low < value <= high:
                flag = name.replace("_", "-")
                raise SymbolicError(f"--{flag} must be in (0, 1], got {getattr(self, name)!r}")
            object.__setattr__(self, name, value)
        for name in ("overhead_s", "link_latency_s", "kernel_latency_s", "padding_rows", "dequant_flops",
                     "price_per_hour"):
            raw = getattr(self, name)
            if raw is None:
                continue
            value = to_rational(raw)
            if value is None or value < 0:
                raise SymbolicError(f"{name} must be a non-negative number, got {raw!r}")
            object.__setattr__(self, name, value)
        if (self.tp > 1 or self.pp > 1 or self.ep > 1) and self.accelerator.link_bandwidth is None:
            raise SymbolicError(f"{self.accelerator.name} has no interconnect figure; "
                                f"tensor or pipeline parallelism needs one")

    @property
    def devices(self) -> int:
        return self.tp * self.pp * self.ep

    def check(self, model: Model) -> None:
        arch = model.arch
        if arch.num_heads % self.tp:
            raise SymbolicError(f"--tp {self.tp} must divide num_attention_heads ({arch.num_heads})")
        if self.pp > arch.num_layers:
            raise SymbolicError(f"--pp {self.pp} exceeds the {arch.num_layers} layers")
        if self.ep > 1 and not arch.has_moe:
            raise SymbolicError("--ep needs a mixture-of-experts model")
        if self.ep > 1 and arch.num_experts % self.ep:
            raise SymbolicError(f"--ep {self.ep} must divide the {arch.num_experts} experts")

    def bindings(self) -> dict[sympy.Symbol, sympy.Rational]:
        a = self.accelerator
        values = {
            F_peak: a.peak(self.compute_dtype), BW_mem: a.memory_bandwidth, M_dev: a.memory_bytes,
            eta_f: self.mfu, eta_m: self.mbu, t_o: self.overhead_s, t_link: self.link_latency_s,
            t_kern: self.kernel_latency_s, m_pad: self.padding_rows, eta_a: self.attention_efficiency,
            eta_l: self.link_efficiency, c_dq: self.dequant_flops,
            f_mem: self.memory_fraction, N_tp: sympy.Integer(self.tp), N_pp: sympy.Integer(self.pp),
            N_ep: sympy.Integer(self.ep),
        }
        if a.link_bandwidth is not None:
            values[BW_link] = a.link_bandwidth
        if a.host_link_bandwidth is not None:
            values[BW_host] = a.host_link_bandwidth
        if self.price_per_hour is not None:
            values[p_h] = self.price_per_hour
        return values


class Performance:
    """Performance expressions of a model on a deployment; values for a derivation's setting."""

    def __init__(self, derivation: Derivation, deployment: Deployment, generated: int, speculation=None):
        if isinstance(generated, bool) or not isinstance(generated, int) or generated < 1:
            raise WorkloadError(f"--output must be a positive number of tokens, got {generated!r}")
        deployment.check(derivation.model)
        self.derivation = derivation
        self.model = derivation.model
        self.deployment = deployment
        self.generated = generated
        self.speculation = speculation if speculation is not None and speculation.gamma > 0 else None
        self.bindings = {**derivation.bindings, **deployment.bindings(),
                         **self._expanded(derivation, deployment), g: sympy.Integer(generated)}
        self._step_times: dict[tuple, sympy.Expr] = {}
        self._points: dict[int, BatchPoint] = {}
        self._critical: dict[int | None, CriticalBatch | None] = {}

    @staticmethod
    def _expanded(derivation: Derivation, deployment: Deployment) -> dict:
        """chi_w and chi_q: whether the weights' formats are narrower than the compute dtype, so that
        a matmul expands them before multiplying (int4 or MXFP4 weights beside bf16 compute)."""
        from ..architecture.dtypes import dtype

        compute = dtype(deployment.compute_dtype).bytes
        precision = derivation.precision
        stored = precision.quantized or precision.weight
        return {chi_w: sympy.Integer(1 if bool(precision.weight.bytes < compute) else 0),
                chi_q: sympy.Integer(1 if bool(stored.bytes < compute) else 0)}

    # --- expressions -------------------------------------------------------------------------

    def flops(self, phase: Phase) -> sympy.Expr:
        return q.device_sum(self.model, "flops", phase)

    def bytes(self, phase: Phase) -> sympy.Expr:
        return q.device_sum(self.model, op_bytes, phase)

    def traffic(self, phase: Phase) -> dict[str, sympy.Expr]:
        """Bytes one device moves in a step, by what they hold (see ``op_traffic``)."""
        return {part: q.device_sum(self.model, lambda op, p=part: op_traffic(op)[p], phase)
                for part in ("weights", "kv_cache", "activations")}

    def traffic_time(self, phase: Phase) -> dict[str, sympy.Expr]:
        """Seconds one device's memory traffic in a step takes, by what it holds (weights, KV
        cache, activations), each op's bytes at its achieved bandwidth (:func:`op_memory_time`)."""
        def part_time(op: Op, part: str) -> sympy.Expr:
            return op_traffic(op)[part] / (BW_mem * eta_m * attention_share(op))

        return {part: q.device_sum(self.model, lambda op, p=part: part_time(op, p), phase)
                for part in ("weights", "kv_cache", "activations")}

    def compute_time(self, phase: Phase) -> sympy.Expr:
        """The step's FLOPs at the achieved rate, with the matmuls' padding rows (:func:`op_compute_time`)."""
        return q.device_sum(self.model, op_compute_time, phase)

    def memory_time(self, phase: Phase) -> sympy.Expr:
        """The step's bytes at the achieved bandwidth (:func:`op_memory_time`)."""
        return q.device_sum(self.model, op_memory_time, phase)

    def launch_time(self, phase: Phase) -> sympy.Expr:
        """The step's kernel launches, t_kern each (:func:`launches`)."""
        return q.device_sum(self.model, None, phase, by_kernel=lambda kernel: launches(kernel) * t_kern)

    def communication_time(self, phase: Phase) -> sympy.Expr:
        """The collectives' time (see :mod:`symbolic.ops.sharding`): all-reduces after row-split
        matmuls, all-to-alls around routed experts, transfers between pipeline stages."""
        return q.device_sum(self.model, link_time, phase)

    def compute_beyond_memory(self, phase: Phase) -> sympy.Expr:
        """The step's compute time that memory traffic does not hide, kernel by kernel."""
        return q.device_sum(self.model, None, phase, by_kernel=compute_beyond_memory)

    def all_to_all_bytes(self, phase: Phase) -> sympy.Expr:
        """Bytes one device sends in one all-to-all of an MoE layer."""
        sent = next(op.link_elements for s in self.model.device_sections for op in s.ops
                    if op.name == "dispatch")
        return q.at(sent * b_a, phase)

    def step_time(self, phase: Phase, *, by_op: bool = True) -> sympy.Expr:
        """Time of one step: the roofline kernel by kernel (or whole step) with the collectives'
        time and the kernels' launches, plus the fixed overhead t_o."""
        key = (phase.name, by_op)
        if key not in self._step_times:
            if by_op:
                busy = q.device_sum(self.model, None, phase, by_kernel=kernel_time)
            else:
                busy = (sympy.Max(self.compute_time(phase), self.memory_time(phase), evaluate=False)
                        + self.communication_time(phase) + self.launch_time(phase))
            self._step_times[key] = busy + t_o
        return self._step_times[key]

    def _bound_step(self, phase: Phase) -> sympy.Expr:
        """The op-by-op step time with everything but B and c bound (evaluated once)."""
        key = (phase.name, "bound")
        if key not in self._step_times:
            fixed = {k: v for k, v in self.bindings.items() if k not in (B, c)}
            self._step_times[key] = substitute(self.step_time(phase), fixed, fast_extrema=True)
        return self._step_times[key]

    @cached_property
    def weight_bytes_per_device(self) -> sympy.Expr:
        """Weights held by one device (see :func:`symbolic.quantities.sums.weights_bytes_per_device`)."""
        return q.weights_bytes_per_device(self.model)

    def kv_bytes_per_sequence(self, context: sympy.Expr) -> sympy.Expr:
        """KV cache of one sequence on the device that holds it once ``context`` tokens are cached."""
        return q.kv_bytes_per_sequence_per_device(self.model, context)

    # --- values ------------------------------------------------------------------------------

    def evaluate(self, expr: sympy.Expr, **workload) -> sympy.Rational:
        """``expr`` with every symbol bound; keyword arguments override B, S or c."""
        overrides = {{"batch": B, "prompt": S, "context": c}[k]: sympy.Integer(v)
                     for k, v in workload.items()}
        result = substitute(expr, {**self.bindings, **overrides})
        if not result.is_Rational:
            result = sympy.nsimplify(result) if not result.free_symbols else result
        if not result.is_Rational:
            raise ValueError(f"unbound symbols in {result}")
        return result

    def decode_total(self, batch: int) -> sympy.Rational:
        """Exact sum of the g decode steps' times, contexts S .. S + g - 1 (see :func:`sum_linear_pieces`)."""
        return self.decode_sum(batch, self.derivation.workload.prompt, self.generated)

    def decode_sum(self, batch: int, first: int, steps: int) -> sympy.Rational:
        """Exact sum of ``steps`` decode steps' times at ``batch``, contexts first .. first + steps - 1;
        with speculation, the expected time to make that many tokens (see
        :mod:`symbolic.performance.speculation`)."""
        per_step = substitute(self.token_step(), {B: sympy.Integer(batch)})
        return sum_linear_pieces(per_step, c, first, steps)

    def token_step(self) -> sympy.Expr:
        """A decode step's time in B and c; with speculation, a verify step and its draft steps over
        the tokens the step yields in expectation: the time per token at context c."""
        if self.speculation is None:
            return self._bound_step(DECODE_STEP)
        from .speculation import verify_phase

        spec = self.speculation
        draft = spec.draft._bound_step(DECODE_STEP)
        drafts = sympy.Add(*(draft.xreplace({c: c + j}) for j in range(spec.gamma)))
        return (self._bound_step(verify_phase(spec.gamma)) + drafts) / spec.tokens_per_step

    def prefill_time(self, batch: int) -> sympy.Rational:
        """The prefill of ``batch`` prompts of S tokens: the time to first token (the draft's
        prefill of the same prompts included)."""
        own = self.evaluate(self._bound_step(PREFILL), batch=batch)
        return own + (self.speculation.draft.prefill_time(batch) if self.speculation else 0)

    def token_step_time(self, batch: int) -> sympy.Rational:
        """A decode step's time at the workload's context, per token made."""
        return self.evaluate(self.token_step(), batch=batch)

    def decode_loop(self, batch: int) -> sympy.Rational:
        """The same sum, step by step (for checking the closed form)."""
        start = self.derivation.workload.prompt
        step = self.step_time(DECODE_STEP)
        return sum((self.evaluate(step, batch=batch, context=start + i) for i in range(self.generated)),
                   sympy.Integer(0))

    @cached_property
    def free_bytes_per_device(self) -> sympy.Rational:
        """Memory left for the KV cache: the usable share of the device, less the weights and the
        activation workspace (as engines size their cache: vLLM profiles a forward of
        max_num_batched_tokens and gives the cache what remains of gpu_memory_utilization)."""
        return self.evaluate(M_dev * f_mem - self.weight_bytes_per_device) - self.workspace_bytes \
            - self.draft_weight_bytes

    @cached_property
    def draft_weight_bytes(self) -> sympy.Rational:
        """Weights a speculative draft adds on a device: all of its own, or for a module that
        shares the model's embedding and head (MTP), its layers'."""
        spec = self.speculation
        if spec is None:
            return sympy.Integer(0)
        draft = spec.draft
        if not spec.shares_weights:
            return draft.evaluate(draft.weight_bytes_per_device)
        layers = sympy.Add(*(s.repeats * sum((op.param_bytes for op in s.ops), sympy.Integer(0))
                             for s in draft.model.device_sections if s.is_layer))
        return draft.evaluate(layers)

    @cached_property
    def usable_bytes_per_device(self) -> sympy.Rational:
        return self.evaluate(M_dev * f_mem)

    @cached_property
    def workspace_bytes(self) -> sympy.Rational:
        """Activations one device keeps room for: the largest op's inputs and outputs in a forward
        of ``workspace_tokens`` tokens (0 when none is asked for)."""
        tokens = self.deployment.workspace_tokens
        if not tokens:
            return sympy.Integer(0)
        at = {B: sympy.Integer(1), S: sympy.Integer(tokens)}

        def held(op: Op) -> sympy.Expr:
            return q.at((op.activations_read + op.activations_written) * b_a, PREFILL).xreplace(at)

        return max(self.evaluate(held(op)) for section in self.model.device_sections for op in section.ops)

    def allocated_tokens(self, tokens, reserved: bool = True):
        """Tokens of cache a sequence holds room for when it has ``tokens``: its reservation (the
        maximum length, reserved whole) or its tokens rounded up to whole blocks of ``kv_block``
        (paged attention; vLLM's blocks hold 16 tokens). ``reserved=False``: the blocks its tokens
        fill, whatever is reserved (what a swap moves). Works on ints and NumPy arrays."""
        dep = self.deployment
        if dep.kv_reserve and reserved:
            return tokens * 0 + dep.kv_reserve
        return -(-tokens // dep.kv_block) * dep.kv_block

    def swap_time(self, moved: sympy.Expr) -> sympy.Expr:
        """Seconds to move ``moved`` bytes between a device and host memory, one way, at the host
        link's bandwidth: what swapping a preempted sequence's KV cache out (or back in) costs. An
        engine that swaps inside its step (vLLM's swap preemption) stalls every sequence's decode
        step for that long; the seed talk's figure is about 20 ms per GB."""
        return moved / BW_host

    @cached_property
    def kv_bytes_per_sequence_at_end(self) -> sympy.Rational:
        """KV cache one sequence holds room for at the end of its request, context S + g, on its
        device (whole blocks, or its reservation)."""
        end = self.derivation.workload.prompt + self.generated
        reserve = self.deployment.kv_reserve
        if reserve and reserve < end:
            raise WorkloadError(f"--kv-reserve {reserve} is shorter than a request's {end} tokens "
                                f"(prompt + output)")
        held = sympy.Integer(self.allocated_tokens(end))
        draft = self.speculation.draft.evaluate(self.speculation.draft.kv_bytes_per_sequence(held)) \
            if self.speculation else 0
        return self.evaluate(self.kv_bytes_per_sequence(held)) + draft

    def check_weights_fit(self) -> None:
        """Refuse a deployment whose weights alone exceed a device's usable memory, naming how many
        devices' memory they need."""
        if self.free_bytes_per_device > 0:
            return
        weights = self.evaluate(self.weight_bytes_per_device)
        usable = self.usable_bytes_per_device
        beside = self.workspace_bytes + self.draft_weight_bytes
        if beside and weights < usable:      # the workspace or the draft fills what the weights leave
            raise WorkloadError(
                f"the weights ({_gb(weights)} per device) with the activation workspace "
                f"({_gb(self.workspace_bytes)}) and the draft's weights ({_gb(self.draft_weight_bytes)}) "
                f"exceed the {_gb(usable)} {self.deployment.accelerator.name} offers: lower "
                f"--workspace-tokens, use a smaller --draft, or shard over more devices")
        share = weights * self.deployment.tp * self.deployment.pp // usable   # devices' worth, floored
        raise WorkloadError(
            f"the weights need {_gb(weights)} per device but {self.deployment.accelerator.name} offers "
            f"{_gb(usable)}: shard them over at least {int(share) + 1} devices (--tp, --pp"
            f"{', --ep' if self.model.arch.has_moe else ''}) or use a smaller --weight-dtype")

    def memory_needed_per_device(self, batch: int) -> sympy.Rational:
        """Bytes one device holds for ``batch`` sequences at the end of their requests: its weights
        and the KV cache of its ceil(B / N_ep) sequences at context S + g."""
        sequences = -(-batch // self.deployment.ep)
        return (self.evaluate(self.weight_bytes_per_device) + self.draft_weight_bytes + self.workspace_bytes
                + sequences * self.kv_bytes_per_sequence_at_end)

    def fits(self, batch: int) -> bool:
        return bool(self.memory_needed_per_device(batch) <= self.usable_bytes_per_device)

    def max_batch(self) -> int:
        """Most sequences whose KV cache, at the full context S + g, fits beside the weights (with
        expert parallelism, on all N_ep devices together, each holding its own sequences)."""
        self.check_weights_fit()
        return int(self.free_bytes_per_device // self.kv_bytes_per_sequence_at_end) * self.deployment.ep

    def critical_batch(self, context: int | None = None) -> CriticalBatch | None:
        """See :meth:`_critical_batch` (computed once per context)."""
        if context not in self._critical:
            self._critical[context] = self._critical_batch(context)
        return self._critical[context]

    def _critical_batch(self, context: int | None = None) -> CriticalBatch | None:
        """The batch at which a decode step at ``context`` (default: the workload's c) turns
        compute-bound in the whole-step roofline: the root of compute_time(B) = memory_time(B).
        None if it never does (each sequence's KV reads cost more time than its FLOPs).

        A difference linear in B (dense models) has an exact rational root. MoE makes it
        transcendental: a decode step reads the E (1 - (1 - k/E)^B) experts its B tokens touch,
        so the weight bytes are concave in B while the FLOPs stay linear. The difference
        f(B) = t_compute - t_memory is then convex with f(0) <= 0, so it has at most one positive
        root; it is bracketed by doubling B and found by bisection to ``ROOT_PRECISION``
        (relative), and reported as numeric."""
        bound = {k: v for k, v in self.bindings.items() if k is not B}
        if context is not None:
            bound[c] = sympy.Integer(context)
        batch = sympy.Dummy("batch", positive=True)  # B is an integer; the crossing need not be
        difference = substitute(self.compute_time(DECODE_STEP) - self.memory_time(DECODE_STEP), bound,
                                fast_extrema=True).xreplace({B: batch})
        if difference.free_symbols - {batch}:
            raise ValueError(f"unbound symbols in the critical-batch equation: {difference.free_symbols}")
        polynomial = sympy.Poly(difference, batch) if difference.is_polynomial(batch) else None
        if polynomial is not None and polynomial.degree() <= 1:
            slope, offset = (polynomial.all_coeffs() if polynomial.degree() == 1
                             else (sympy.Integer(0), polynomial.as_expr()))
            if slope <= 0:
                return None
            root = -offset / slope
            return CriticalBatch(root, exact=True) if root > 0 else None
        return _bisect_root(sympy.lambdify(batch, difference, modules="mpmath"))

    def ops_per_byte(self) -> sympy.Rational:
        """The device's balance point: FLOP it can do per byte it reads, F_peak / BW_mem."""
        return self.evaluate(F_peak / BW_mem)

    def kernel_work(self, phase: Phase, batch: int) -> list[KernelWork]:
        """Every kernel that computes or moves bytes to and from memory, section by section, as one
        device runs it in a step of ``phase`` at ``batch``, for one repetition of its section,
        exact. The roofline table and the roofline chart both read this list; collectives, which
        move bytes over the link only, are timed apart (:meth:`communication_time`)."""
        work = []
        for section in self.model.device_sections:
            for kernel in kernels(section.ops):
                flops, moved = (self.evaluate(q.at(kernel_sum(kernel, what), phase), batch=batch)
                                for what in ("flops", "bytes"))
                if flops != 0 or moved != 0:
                    compute, memory = (self.evaluate(q.at(time(kernel), phase), batch=batch)
                                       for time in (kernel_compute_time, kernel_memory_time))
                    work.append(KernelWork(section, kernel, flops, moved, compute, memory))
        return work

    def at_batch(self, batch: int) -> BatchPoint:
        """Latency, throughput, cost and memory of a static batch of ``batch`` requests, each a
        prefill of S tokens and g decode steps at contexts S, ..., S + g - 1 (computed once)."""
        if batch not in self._points:
            self._points[batch] = self._point(batch)
        return self._points[batch]

    def _point(self, batch: int) -> BatchPoint:
        prompt = self.derivation.workload.prompt
        ttft = self.prefill_time(batch)
        decode = self.decode_total(batch)
        tokens = batch * self.generated
        devices = self.deployment.devices
        price = self.deployment.price_per_hour
        per_token_cost = (lambda seconds, count: cost_per_million_tokens(price, devices, seconds, count)) \
            if price is not None else None
        return BatchPoint(
            batch=batch, ttft_s=ttft,
            tpot_at_context_s=self.token_step_time(batch),
            tpot_mean_s=decode / self.generated, decode_s=decode, request_s=ttft + decode,
            decode_tokens_per_s=tokens / decode, request_tokens_per_s=tokens / (ttft + decode),
            decode_tokens_per_s_per_sequence=sympy.Integer(self.generated) / decode,
            memory_needed=self.memory_needed_per_device(batch), fits=self.fits(batch),
            cost_output=per_token_cost(decode, tokens) if per_token_cost else None,
            cost_input=per_token_cost(ttft, batch * prompt) if per_token_cost else None,
        )


@dataclass(frozen=True)
class KernelWork:
    """One kernel of a step as one device runs it: FLOPs, bytes, and the seconds each takes at the
    achieved rates (:func:`kernel_compute_time`, :func:`kernel_memory_time`)."""

    section: object
    kernel: DeviceKernel
    flops: sympy.Rational
    bytes: sympy.Rational
    compute_s: sympy.Rational
    memory_s: sympy.Rational


ROOT_PRECISION = sympy.Rational(1, 10**9)
"""Relative width to which a numeric critical batch is bisected."""


@dataclass(frozen=True)
class CriticalBatch:
    """The batch where a decode step turns compute-bound: an exact rational root, or a numeric one
    bisected to ``ROOT_PRECISION`` of its value."""

    value: sympy.Rational
    exact: bool

    def __float__(self) -> float:
        return float(self.value)

    @property
    def method(self) -> str:
        return "exact" if self.exact else f"numeric (bisection, relative precision {float(ROOT_PRECISION):g})"


def _bisect_root(f) -> CriticalBatch | None:
    """The positive root of a convex ``f`` with ``f(0) <= 0``, or None if ``f`` stays negative up
    to a batch of 2^64. ``f`` is evaluated with mpmath at 50 significant digits."""
    import mpmath

    with mpmath.workdps(50):
        def sign(x) -> bool:
            return f(mpmath.mpf(x.p) / x.q) > 0

        high = sympy.Integer(1)
        while not sign(high):
            high *= 2
            if high > 2**64:
                return None
        low = high / 2 if high > 1 else sympy.Integer(0)
        while high - low > ROOT_PRECISION * high:
            middle = (low + high) / 2
            if sign(middle):
                high = middle
            else:
                low = middle
    return CriticalBatch(sympy.Rational(sympy.Float((low + high) / 2, 15)), exact=False)


MAX_CROSSOVER_BATCH = 1 << 20


def crossover_batch(narrow: Performance, wide: Performance) -> int | None:
    """The smallest batch at which a decode step (at the workload's context) of ``narrow`` takes at
    least as long as one of ``wide``: where storing weights in fewer bytes stops paying, because
    expanding them costs work that grows with the batch while the bytes saved do not. None when
    ``narrow`` is faster up to ``MAX_CROSSOVER_BATCH`` sequences (found by doubling, then bisection,
    on exact step times)."""
    def slower(batch: int) -> bool:
        return narrow.token_step_time(batch) >= wide.token_step_time(batch)

    if slower(1):
        return 1
    high = 2
    while not slower(high):
        if high >= MAX_CROSSOVER_BATCH:
            return None
        high *= 2
    low = high // 2                 # faster at low, slower at high
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if slower(middle) else (middle, high)
    return high


def cost_per_million_tokens(price_per_hour, devices, seconds, tokens):
    """USD for a million tokens: ``devices`` devices at ``price_per_hour`` each, for the
    ``seconds`` it takes to make ``tokens`` tokens. Works on exact rationals and on NumPy arrays."""
    return price_per_hour * devices * seconds / 3600 / tokens * 10**6


@dataclass(frozen=True)
class BatchPoint:
    """A static batch of B requests: each a prefill of S prompt tokens, then g decode steps.

    Benchmark tools report the request-level figures: vLLM's serving benchmark gives TPOT as a
    request's decode time over its output tokens after the first, (e2e - TTFT) / (g - 1) with g
    tokens out, here ``tpot_mean_s`` (the prefill makes no token in this model, so the g steps
    make g tokens); and output throughput over the run's wall time, prefill included, here
    ``request_tokens_per_s``."""

    batch: int
    ttft_s: sympy.Rational                  # the prefill of B prompts
    tpot_at_context_s: sympy.Rational       # one decode step at context c (the first when c = S)
    tpot_mean_s: sympy.Rational             # the g steps' mean, contexts S .. S + g - 1
    decode_s: sympy.Rational                # all g decode steps
    request_s: sympy.Rational               # TTFT + all g decode steps
    decode_tokens_per_s: sympy.Rational     # B g / decode_s: decode only, the steady state
    request_tokens_per_s: sympy.Rational    # B g / request_s: the whole request, prefill included
    decode_tokens_per_s_per_sequence: sympy.Rational   # g / decode_s
    memory_needed: sympy.Rational           # bytes per device at the end of the requests
    fits: bool
    cost_output: sympy.Rational | None      # USD per million output tokens, at the decode rate
    cost_input: sympy.Rational | None       # USD per million prompt tokens, at the prefill rate


def _gb(value: sympy.Rational) -> str:
    from ..units import bytes_both

    return bytes_both(value)


def linear_pieces(expr: sympy.Expr, var: sympy.Symbol, start: int, end: int) -> list[int]:
    """Where ``expr``, piecewise linear in ``var`` (sums and constant multiples of linear terms,
    nested max and min), may change slope over the integers start..end: the sorted cuts
    ``start = k_0 < k_1 < ... < k_m = end + 1`` such that ``expr`` is linear on each
    ``k_i .. k_{i+1} - 1``.

    Kinks are found exactly: for every max or min (innermost first) and every pair of its
    arguments, the difference of the two is linear between the kinks found so far, so where it
    changes sign the crossing is a linear root. A floor(u) or u mod m (chunked attention) is a
    step wherever u crosses a whole number (a multiple of m), and constant between: each such
    crossing of u, linear between the kinks found so far, is a cut."""
    cuts = [start, end + 1]

    def at_point(e, point):
        return substitute(e, {var: point})

    def crossings(u, step):
        """The first integers of ``var`` past each point where ``u`` reaches a multiple of ``step``."""
        new = set()
        for low, high in zip(cuts, cuts[1:], strict=False):
            u_low, u_high = at_point(u, low), at_point(u, high - 1)
            if high - 1 == low or u_low == u_high:
                continue
            slope = (u_high - u_low) / (high - 1 - low)
            first, last = sorted((u_low, u_high))
            for multiple in range(int(sympy.floor(first / step)) + 1, int(sympy.floor(last / step)) + 1):
                new.add(int(sympy.ceiling(low + (multiple * step - u_low) / slope)))
        return new

    kinds = (sympy.Max, sympy.Min, sympy.floor, sympy.Mod)
    nodes = [node for node in sympy.postorder_traversal(expr) if isinstance(node, kinds) and node.has(var)]
    for node in nodes:
        new = set()
        if isinstance(node, sympy.floor):
            new = crossings(node.args[0], 1)
        elif isinstance(node, sympy.Mod):
            new = crossings(node.args[0], node.args[1])
        else:
            for i, first in enumerate(node.args):
                for second in node.args[i + 1:]:
                    difference = first - second
                    for low, high in zip(cuts, cuts[1:], strict=False):
                        d_low, d_high = at_point(difference, low), at_point(difference, high - 1)
                        if (d_low > 0) != (d_high > 0) and high - 1 > low:
                            root = low + d_low * (high - 1 - low) / (d_low - d_high)
                            new.add(int(sympy.floor(root)) + 1)
        cuts = sorted(set(cuts) | {k for k in new if start < k <= end})
    return cuts


def sum_linear_pieces(expr: sympy.Expr, var: sympy.Symbol, start: int, count: int) -> sympy.Rational:
    """Exact sum of ``expr`` for ``var`` = start, ..., start + count - 1, where ``expr`` is piecewise
    linear in ``var``: between the cuts of :func:`linear_pieces` the sequence is linear and sums to
    (number of terms) x (first + last) / 2."""
    cuts = linear_pieces(expr, var, start, start + count - 1)
    total = sympy.Integer(0)
    for low, high in zip(cuts, cuts[1:], strict=False):
        total += (high - low) * (substitute(expr, {var: low}) + substitute(expr, {var: high - 1})) / 2
    return total


def _float(value) -> float | None:
    return None if value is None else float(value)


def _method(root: CriticalBatch | None) -> str:
    return "none: memory-bound at every batch" if root is None else root.method


def fit_note(perf: Performance, point: BatchPoint) -> str:
    """Why a batch does not fit, in one phrase: 'needs 412.3 GiB per device, has 80.0 GiB'."""
    from ..units import binary_bytes

    return (f"needs {binary_bytes(point.memory_needed)} per device, has "
            f"{binary_bytes(perf.usable_bytes_per_device)}")


def performance_dict(perf: Performance, batches: list[int], users: int | None = None,
                     crossovers: dict | None = None) -> dict:
    """The ``performance`` section of the JSON document: settings, capacity, and one column per
    quantity with a value for each batch size. A batch that does not fit is answered all the same
    and marked: ``fits`` is false and ``does_not_fit`` says what it would need."""
    dep = perf.deployment
    acc = dep.accelerator
    max_batch = perf.max_batch()
    points = [perf.at_batch(b) for b in batches]
    critical = perf.critical_batch()
    without_kv = perf.critical_batch(context=0)
    return {
        "accelerator": {"name": acc.name, "label": acc.label,
                        "peak_flops": float(acc.peak(dep.compute_dtype)),
                        "memory_bytes": int(acc.memory_bytes),
                        "memory_bandwidth": float(acc.memory_bandwidth),
                        "link_bandwidth_per_direction": _float(acc.link_bandwidth)},
        "compute_dtype": dep.compute_dtype,
        "parallel": {"tp": dep.tp, "pp": dep.pp, "ep": dep.ep, "devices": dep.devices},
        "efficiency": {"model": dep.efficiency_model, "mfu": float(dep.mfu), "mbu": float(dep.mbu),
                       "overhead_s": float(dep.overhead_s),
                       "link_latency_s": float(dep.link_latency_s),
                       "kernel_latency_s": float(dep.kernel_latency_s),
                       "padding_rows": float(dep.padding_rows),
                       "attention_efficiency": float(dep.attention_efficiency),
                       "link_efficiency": float(dep.link_efficiency),
                       "dequant_flops": float(dep.dequant_flops),
                       "memory_fraction": float(dep.memory_fraction),
                       "symbols": efficiency_symbols(dep)},
        "output_tokens": perf.generated,
        "price_per_device_hour": _float(dep.price_per_hour),
        "ops_per_byte": float(perf.ops_per_byte()),
        "weights_bytes_per_device": int(perf.evaluate(perf.weight_bytes_per_device)),
        "kv_bytes_per_sequence_per_device": int(perf.kv_bytes_per_sequence_at_end),
        **({"speculative": _speculative(perf)} if perf.speculation else {}),
        "kv_allocation": {"block_tokens": dep.kv_block, "reserved_tokens": dep.kv_reserve,
                          "workspace_tokens": dep.workspace_tokens,
                          "workspace_bytes_per_device": int(perf.workspace_bytes)},
        "kv_swap": kv_swap(perf, batches[0]),
        "usable_bytes_per_device": int(perf.usable_bytes_per_device),
        "max_batch": max_batch,
        "critical_batch": _float(critical),
        "critical_batch_without_kv": _float(without_kv),
        "critical_batch_method": {"at_context": _method(critical), "at_context_0": _method(without_kv)},
        **({"all_to_all_bytes_per_device": [_float(perf.evaluate(perf.all_to_all_bytes(DECODE_STEP), batch=b))
                                            for b in batches]} if dep.ep > 1 else {}),
        "batch": batches,
        "fits": [p.fits for p in points],
        "memory_needed_bytes_per_device": [int(p.memory_needed) for p in points],
        "does_not_fit": {str(p.batch): fit_note(perf, p) for p in points if not p.fits},
        "ttft_s": [float(p.ttft_s) for p in points],
        "tpot_at_context_s": [float(p.tpot_at_context_s) for p in points],
        "tpot_mean_s": [float(p.tpot_mean_s) for p in points],
        "request_s": [float(p.request_s) for p in points],
        "decode_tokens_per_s": [float(p.decode_tokens_per_s) for p in points],
        "request_tokens_per_s": [float(p.request_tokens_per_s) for p in points],
        "decode_tokens_per_s_per_sequence": [float(p.decode_tokens_per_s_per_sequence) for p in points],
        "cost_per_million_output_tokens": [_float(p.cost_output) for p in points],
        "cost_per_million_input_tokens": [_float(p.cost_input) for p in points],
        **({"users": _users(users, max_batch, dep.devices)} if users else {}),
        **({"weight_crossover": {name: {"batch": crossover_batch(perf, other),
                                        "meaning": f"the smallest batch at which a decode step with these "
                                                   f"weights takes at least as long as with {name} weights"}
                                 for name, other in crossovers.items()}} if crossovers else {}),
    }


def kv_swap(perf: Performance, batch: int) -> dict:
    """The KV-swapping section of the JSON: the host link, seconds per GiB, and what swapping one
    sequence's cache at the end of its request (its tokens in whole blocks, not a reservation's
    unused tail) out to host memory and back costs, in seconds and in decode steps of ``batch``
    (a speculative step being gamma draft steps and a verify step), which every sequence waits for
    where the engine swaps inside its step."""
    acc = perf.deployment.accelerator
    if acc.host_link_bandwidth is None:
        return {"host_link": None, "reason": f"{acc.name} has no host-link figure; give one as host_link "
                                             f"in a --hardware-file"}
    filled = perf.allocated_tokens(perf.derivation.workload.prompt + perf.generated, reserved=False)
    sequence = perf.evaluate(perf.kv_bytes_per_sequence(sympy.Integer(filled)))
    one_way = perf.evaluate(perf.swap_time(sequence))
    spec = perf.speculation
    step = perf.token_step_time(batch) * (spec.tokens_per_step if spec else 1)
    return {"host_link": acc.host_link_name,
            "host_link_bandwidth_per_direction": float(acc.host_link_bandwidth),
            "formula": "t_swap = M_KV,dev / BW_host (one way)",
            "seconds_per_gib": float(perf.evaluate(perf.swap_time(sympy.Integer(2**30)))),
            "sequence_kv_bytes_per_device": int(sequence),
            "swap_out_s": float(one_way),
            "swap_out_and_in_s": float(2 * one_way),
            "decode_steps_per_swap_out_and_in": float(2 * one_way / step)}


def _speculative(perf: Performance) -> dict:
    """The speculative-decoding section of the JSON: the draft, gamma, alpha, tokens per step."""
    spec = perf.speculation
    return {"draft": spec.draft.model.arch.name, "tokens_drafted_per_step": spec.gamma,
            "acceptance": float(spec.alpha), "expected_tokens_per_step": float(spec.tokens_per_step),
            "expected_tokens_formula": "(1 - alpha^(gamma + 1)) / (1 - alpha)  (Leviathan et al., ICML 2023)",
            "draft_weights_bytes_per_device": int(perf.draft_weight_bytes),
            "draft_shares_embedding_and_head": spec.shares_weights}


EFFICIENCY_FIELDS = (("mfu", eta_f), ("mbu", eta_m), ("attention_efficiency", eta_a),
                     ("padding_rows", m_pad), ("kernel_latency_s", t_kern), ("overhead_s", t_o),
                     ("link_latency_s", t_link), ("link_efficiency", eta_l), ("dequant_flops", c_dq))
"""Each efficiency parameter of a deployment and the symbol it binds in the step time."""


def efficiency_symbols(dep: Deployment) -> dict:
    """Each efficiency parameter by its symbol: the value bound and what it means."""
    from ..symbols import VOCABULARY

    return {str(symbol): {"field": name, "value": float(getattr(dep, name)),
                          "meaning": VOCABULARY[str(symbol)].meaning, "unit": VOCABULARY[str(symbol)].unit}
            for name, symbol in EFFICIENCY_FIELDS}


def _users(users: int, max_batch: int, devices: int) -> dict:
    replicas, total = devices_for_users(users, max_batch, devices)
    return {"users": users, "replicas": replicas, "devices": total}


def devices_for_users(users: int, batch_per_replica: int, devices_per_replica: int) -> tuple[int, int]:
    """(replicas, devices) to serve ``users`` concurrent sequences when one replica of the model
    (``devices_per_replica`` devices) holds ``batch_per_replica`` of them: ceil(users / batch)."""
    if batch_per_replica < 1:
        raise WorkloadError("a replica must hold at least one sequence")
    replicas = -(-users // batch_per_replica)
    return replicas, replicas * devices_per_replica
