"""Assertions that symbolic agrees with the real implementation (see oracle.py) on one config."""

from __future__ import annotations

import sympy

import symbolic
from symbolic.architecture.spec import Mamba2Spec
from symbolic.quantities import sums as quantities
from symbolic.symbols import B, c, d_lk, d_lv, d_m, d_st, n, n_lv, n_m

from . import oracle

WINDOW = 4  # sliding window of the scaled-down copies; prompts on either side of it are measured


def assert_parameters_agree(config: dict, built=None) -> None:
    """Total, embedding, position table, LM head, final norm and every layer, exactly: against
    ``built`` (the model transformers built from ``config``), or one built on the meta device."""
    derivation = symbolic.derive(config)
    real = oracle.parameter_counts(built if built is not None else oracle.build(config, meta=True))
    params = derivation.to_dict()["params"]
    assert params["total"] == real.total
    assert params["embedding"] == real.embedding
    assert params.get("position_embedding", 0) == real.position_embedding
    assert params["lm_head"] == real.lm_head
    assert params["final_norm"] == real.final_norm
    assert params["active"] == real.active
    ours = sorted(layer["total"] for layer in params["per_layer"].values()
                  for _ in range(layer["count"]))
    assert ours == sorted(real.per_layer)


def _per_layer(model: symbolic.Model, field: str, tokens: int) -> list[int]:
    """An op field summed over each layer, for one sequence once ``tokens`` tokens were processed:
    ``kv_held`` (all the cache holds) or ``state_per_sequence`` (its fixed-size states)."""
    held = []
    for section in model.layer_sections:
        per_layer = quantities.section_sum(section, field).xreplace({B: 1, c: tokens})
        held += [int(per_layer.xreplace(model.bindings()))] * section.group.count
    return sorted(held)


SCAN_CHUNK = 64   # torch_chunk_gated_delta_rule's chunk_size (modeling_qwen3_next.py)


def _deltanet_as_counted(values: dict, new: int, decoding: bool) -> int:
    """What FlopCounterMode sees of one Gated DeltaNet layer's scan in transformers' torch path, per
    sequence. A decode step (one token, the layer's state cached) runs
    torch_recurrent_gated_delta_rule: elementwise products and sums, unseen. A prefill, even of one
    token, runs torch_chunk_gated_delta_rule: the sequence padded to whole
    chunks of 64, and per chunk and value head the batched matmuls k_beta @ key^T and query @ key^T
    (2 C^2 d_lk each), intra_chunk_attn @ v_new (2 C^2 d_lv), k_cumdecay @ state, query @ state
    and key^T @ v_new (2 C d_lk d_lv each); torch.linalg.solve_triangular has no counter formula."""
    if decoding:
        return 0
    heads, dk, dv = (int(values[s]) for s in (n_lv, d_lk, d_lv))
    chunk = SCAN_CHUNK
    return heads * -(-new // chunk) * (4 * chunk**2 * dk + 2 * chunk**2 * dv + 6 * chunk * dk * dv)


def _mamba_as_counted(values: dict, new: int, chunk: int, decoding: bool) -> int:
    """What FlopCounterMode sees of one Mamba-2 layer's scan in transformers' torch path
    (modeling_nemotron_h.py), per sequence. A decode step (one token, the layer's state cached)
    runs mamba2_selective_state_update, whose only batched matmul is the output,
    torch.bmm(ssm_states, C): 2 d_m d_st per head. A prefill, even of one token, runs
    mamba2_chunk_scan over N = ceil(new / Q) chunks of the config's Q (padded), whose einsums are
    batched matmuls: per head G = C B^T (2 N Q^2 d_st), Y_diag (2 N Q^2 d_m), the
    chunk states (2 N Q d_m d_st), the states of every chunk from every earlier one at once,
    "bzch,bzhpn->bchpn" (2 (N + 1)^2 d_m d_st), and C times the states (2 N Q d_st d_m)."""
    heads, dm, dst = (int(values[s]) for s in (n_m, d_m, d_st))
    if decoding:
        return heads * 2 * dm * dst
    chunks = -(-new // chunk)
    # torch.einsum contracts a summed dimension of length 1 by a broadcast multiply, not a bmm
    seen = {"state": dst > 1, "chunk": chunk > 1}
    return heads * (2 * chunks * chunk**2 * dst * seen["state"]           # G = C B^T, over d_st
                    + 2 * chunks * chunk**2 * dm * seen["chunk"]           # Y_diag, over the chunk
                    + 2 * chunks * chunk * dm * dst * seen["chunk"]        # chunk states, over the chunk
                    + 2 * (chunks + 1) ** 2 * dm * dst                     # new_states, over the chunks
                    + 2 * chunks * chunk * dst * dm * seen["state"])       # C times the states, over d_st


def _scan_as_counted(model: symbolic.Model, batch: int, new: int, decoding: bool) -> tuple[int, int]:
    """The linear-attention and state-space scans: (symbolic's FLOPs of them among the attention
    products, what FlopCounterMode sees of transformers' torch paths)."""
    values = {**model.bindings(), n: new, c: 1 if decoding else 0}
    ours = counted = 0
    for section in model.layer_sections:
        scan = [op for op in section.ops if op.name.startswith("scan_")]
        if not scan:
            continue
        flops = sympy.Add(*(op.flops for op in scan)).xreplace(values).xreplace({B: batch})
        ours += section.group.count * int(flops)
        mixer = section.group.spec.mixer
        seen = _mamba_as_counted(values, new, mixer.chunk, decoding) if isinstance(mixer, Mamba2Spec) \
            else _deltanet_as_counted(values, new, decoding)
        counted += section.group.count * batch * seen
    return ours, counted


def _convolution_as_counted(model: symbolic.Model, batch: int, new: int, decoding: bool) -> int:
    """The short convolutions' FLOPs as FlopCounterMode sees transformers' torch fallbacks
    (modeling_lfm2.py, modeling_qwen3_next.py). In a prefill, LinearAttentionLayer.update_conv_state
    (cache_utils.py) left-pads a prompt shorter than w_conv to w_conv inputs, and causal_conv1d_fn
    pads w_conv - 1 zeros on each side, so F.conv1d computes max(new, w_conv) + w_conv - 1 outputs
    (and keeps the first), even for a prompt of one token; in a decode step (the convolution's
    inputs cached) causal_conv1d_update runs over the w_conv cached inputs and the new one,
    2 outputs. Each output of each channel costs 2 w_conv FLOPs, as symbolic counts per token."""
    values = model.bindings()
    total = 0
    for section in model.layer_sections:
        for op in section.ops:
            if "taps" in op.dims():
                taps, channels = (int(op.dims()[k].xreplace(values)) for k in ("taps", "channels"))
                outputs = 2 if decoding else max(new, taps) + taps - 1
                total += section.group.count * 2 * taps * batch * channels * outputs
    return total


def assert_forward_agrees(config: dict, *, batch: int, prompt: int, built=None) -> None:
    """KV cache and matmul FLOPs of a prefill of ``prompt`` tokens and one decode step, for a
    config small enough to run (``built``: the model transformers built from it, if at hand)."""
    # transformers' eager kernels: full score matrices, MLA re-expanded, and Llama-4's experts
    # computing every token (the other families' experts compute only the tokens routed to them)
    arch = symbolic.load_architecture(config)
    moe_compute = "all_experts" if arch.model_type == "llama4_text" else "routed"
    model = symbolic.load(config, attention_count="full", lm_head_positions="last", mla_form="expanded",
                          moe_compute=moe_compute)
    real = oracle.measure_forward(config, batch=batch, prompt=prompt, built=built)
    dtype = {4: "fp32", 2: "bf16"}[real.kv_dtype_bytes]
    d = symbolic.derive(model, batch=batch, prompt=prompt, context=prompt, kv_dtype=dtype)
    for phase, step, new in (("prefill", real.prefill, prompt), ("decode_step", real.decode_step, 1)):
        assert d.value(f"flops.{phase}.matmul") == step.matmul, phase
        decoding = phase == "decode_step"
        scan, scan_counted = _scan_as_counted(model, batch, new, decoding)
        assert d.value(f"flops.{phase}.attention") - scan + scan_counted == step.attention, phase
        assert _convolution_as_counted(model, batch, new, decoding) == step.convolution, phase
    for tokens, step in ((prompt, real.prefill), (prompt + 1, real.decode_step)):
        assert _per_layer(model, "kv_held", tokens) == sorted(step.kv_elements_per_layer)
        assert _per_layer(model, "state_per_sequence", tokens) == sorted(step.state_elements_per_layer)
    windows = [w for w in (model.arch.sliding_window, model.arch.attention_chunk_size) if w]
    if not windows or prompt < min(windows):
        growing = sum(real.prefill.kv_elements_per_layer) - sum(real.prefill.state_elements_per_layer)
        measured_per_token = sympy.Rational(growing, prompt)
        assert d.value("kv_cache.bytes_per_token") == measured_per_token * real.kv_dtype_bytes


def assert_scaled_copy_agrees(config: dict, *, batch: int = 2) -> None:
    """:func:`assert_forward_agrees` on a scaled-down copy of a full-size config, for a prompt
    shorter than the copy's sliding window and one longer than it."""
    small = oracle.scaled_down(oracle.language_config(config), symbolic.load_architecture(config),
                               window=WINDOW)
    built = oracle.build(small, meta=False)
    for prompt in (WINDOW - 1, WINDOW + 2):
        assert_forward_agrees(small, batch=batch, prompt=prompt, built=built)
