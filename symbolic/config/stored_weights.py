"""How a checkpoint stores its weights: reading a config's ``quantization_config``.

The result is a :class:`~symbolic.architecture.spec.StoredWeights`: one format for the weight matrices
the checkpoint quantizes (scales included, as bytes per weight) and the base dtype for the rest.
Methods read:

* ``mxfp4`` (gpt-oss): fp4 with an e8m0 scale for every 32 weights;
* ``fp8`` (DeepSeek, Kimi, MiniMax): fp8 per tensor, or with one scale per ``weight_block_size``
  block (fp32, or e8m0 where ``scale_fmt`` is ue8m0);
* ``compressed-tensors`` (llm-compressor, vLLM; github.com/vllm-project/compressed-tensors): one
  weight scheme for the ``Linear`` modules, int or float of 4 or 8 bits, per tensor, channel, group
  or block, nvfp4 (fp4 with an fp8 scale per 16) and mxfp4. Scales are in ``scale_dtype`` or the
  weights' own dtype (quantization/lifecycle/initialize.py); a per-channel scale, one per output
  row, and nvfp4's one global scale per tensor are left out (said in a note);
* ``modelopt`` (NVIDIA): ``quant_algo`` FP8 or NVFP4.

Which matrices stay in the base dtype: the LM head and the router always, and every module an
``ignore`` / ``modules_to_not_convert`` / ``exclude_modules`` entry names. Entries are matched as
their method matches them (``re:`` regular expressions from the start of the name, ``*`` globs,
module names and their parents) against the module names transformers gives each op in every
layer; an op named in any layer is kept in all (a note says when only some of the layers that have
it are named). Regular expressions run under a time limit (the ``regex`` module's timeout), so a
pattern that backtracks without end is refused in one line instead of hanging.
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Callable

import regex

from ..architecture.dtypes import dtype
from ..architecture.spec import Architecture, StoredWeights
from ..errors import SymbolicError
from .userfiles import Fields, shown

ALWAYS_KEPT = ("lm_head", "router")
"""Never quantized by any method read here."""

MODULE_NAMES: dict[str, tuple[str, ...]] = {
    # op name -> the module names transformers gives it in layer {i} (families differ)
    "q_proj": ("self_attn.q_proj", "mixer.q_proj"), "k_proj": ("self_attn.k_proj", "mixer.k_proj"),
    "v_proj": ("self_attn.v_proj", "mixer.v_proj"),
    "o_proj": ("self_attn.o_proj", "self_attn.out_proj", "mixer.o_proj"), "q_a_proj": ("self_attn.q_a_proj",),
    "q_b_proj": ("self_attn.q_b_proj",), "kv_a_proj": ("self_attn.kv_a_proj_with_mqa",),
    "kv_b_proj": ("self_attn.kv_b_proj",),
    "in_proj": ("conv.in_proj", "mamba.in_proj", "mixer.in_proj"),   # LFM2, Bamba, Nemotron-H
    "out_proj": ("conv.out_proj", "mamba.out_proj", "mixer.out_proj", "linear_attn.out_proj"),
    "in_proj_qkvz": ("linear_attn.in_proj_qkvz", "linear_attn.in_proj_qkv", "linear_attn.in_proj_z"),
    "in_proj_ba": ("linear_attn.in_proj_ba", "linear_attn.in_proj_b", "linear_attn.in_proj_a"),
    "gate_proj": ("mlp.gate_proj", "feed_forward.gate_proj", "feed_forward.w1"),
    "up_proj": ("mlp.up_proj", "feed_forward.up_proj", "mlp.c_fc", "feed_forward.w3", "mixer.up_proj"),
    "down_proj": ("mlp.down_proj", "feed_forward.down_proj", "mlp.c_proj", "feed_forward.w2",
                  "mixer.down_proj"),
    "expert_gate_proj": ("mlp.experts.0.gate_proj", "feed_forward.experts.0.gate_proj",
                         "block_sparse_moe.experts.0.w1"),
    "expert_up_proj": ("mlp.experts.0.up_proj", "feed_forward.experts.0.up_proj",
                       "block_sparse_moe.experts.0.w3"),
    "expert_down_proj": ("mlp.experts.0.down_proj", "feed_forward.experts.0.down_proj",
                         "block_sparse_moe.experts.0.w2"),
    "shared_gate_proj": ("mlp.shared_expert.gate_proj", "mlp.shared_experts.gate_proj",
                         "feed_forward.shared_expert.gate_proj"),
    "shared_up_proj": ("mlp.shared_expert.up_proj", "mlp.shared_experts.up_proj",
                       "feed_forward.shared_expert.up_proj", "mixer.shared_experts.up_proj"),
    "shared_down_proj": ("mlp.shared_expert.down_proj", "mlp.shared_experts.down_proj",
                         "feed_forward.shared_expert.down_proj", "mixer.shared_experts.down_proj"),
    "shared_expert_gate": ("mlp.shared_expert_gate",),
}
_PREFIXES = ("model.layers.{i}.", "model.language_model.layers.{i}.", "language_model.model.layers.{i}.")

MAX_PATTERN = 300
MAX_MATCHED_LAYERS = 4096
"""Ignore lists are matched against the module names of every layer, for models this deep at most."""
MAX_PATTERN_WORK = 5_000_000
"""Regex and glob entries times module names tried, at most."""
PATTERN_SECONDS = 2.0
"""Time all of a config's regular expressions may take together."""


def _module_names(arch: Architecture) -> dict[str, list[tuple[str, int]]]:
    """Module name -> (op, layer) for every name transformers may give a layer's weight matrices,
    with the LM head's and the embedding's (layer -1)."""
    names: dict[str, list[tuple[str, int]]] = {}
    for i in range(arch.num_layers):
        for op, suffixes in MODULE_NAMES.items():
            for prefix in _PREFIXES:
                for suffix in suffixes:
                    names.setdefault(prefix.format(i=i) + suffix, []).append((op, i))
    for name in ("lm_head", "language_model.lm_head"):
        names[name] = [("lm_head", -1)]
    for name in ("model.embed_tokens", "model.language_model.embed_tokens"):
        names[name] = [("embed_tokens", -1)]
    return names


def _pattern(entry: str, fields: Fields, where: str, deadline: float) -> Callable[[str], bool]:
    """A ``re:`` entry (compressed-tensors' match_name: a regex matched from the start of the
    name, run until ``deadline``) or a ``*`` glob (modelopt; transformers' modules_to_not_convert),
    which also names the modules under a matched parent."""
    if entry.startswith("re:"):
        try:
            pattern = regex.compile(entry[3:])
        except regex.error as exc:
            raise fields.fail(f"{fields.field(where)} entry {shown(entry)} is not a regular expression: "
                              f"{exc}") from None

        def matches(name: str) -> bool:
            try:
                return pattern.match(name, timeout=max(deadline - time.monotonic(), 0.001)) is not None
            except TimeoutError:
                raise fields.fail(f"{fields.field(where)} entry {shown(entry)} takes too long to match "
                                  f"module names (over {PATTERN_SECONDS:g} s in all)") from None
        return matches
    return lambda name: fnmatch.fnmatchcase(name, entry) or fnmatch.fnmatchcase(name, entry + ".*")


def kept_modules(entries: object, fields: Fields, where: str,
                 arch: Architecture) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The op names an ignore list keeps in the base dtype, and a note for each op it names in
    some layers only (counted kept in all: formats that change layer by layer are not modelled).

    An entry is a ``re:`` regex or a glob (see :func:`_pattern`), a module name (the module and
    those under it), or a bare part (``lm_head``, ``self_attn``: every module with that part)."""
    if entries is None:
        return (), ()
    if not isinstance(entries, list) or not all(isinstance(e, str) and len(e) <= MAX_PATTERN
                                                for e in entries):
        raise fields.fail(f"{fields.field(where)} must be a list of module names of at most {MAX_PATTERN} "
                          f"characters, got {shown(entries)}")
    if not entries:
        return (), ()
    if arch.num_layers > MAX_MATCHED_LAYERS:
        raise fields.fail(f"{fields.field(where)} is matched against every layer's modules, for models of "
                          f"at most {MAX_MATCHED_LAYERS} layers ({arch.num_layers} here)")
    names = _module_names(arch)
    deadline = time.monotonic() + PATTERN_SECONDS
    patterns = [_pattern(e, fields, where, deadline) for e in entries
                if e.startswith("re:") or "*" in e or "?" in e]
    if len(patterns) * len(names) > MAX_PATTERN_WORK:
        raise fields.fail(f"{fields.field(where)} has too many patterns for a model this deep")
    plain = {e for e in entries if not (e.startswith("re:") or "*" in e or "?" in e)}
    hits: dict[str, set[int]] = {}
    for name, holders in names.items():
        parts = name.split(".")
        spans = {".".join(parts[a:b]) for a in range(len(parts)) for b in range(a + 1, len(parts) + 1)}
        if spans & plain or any(p(name) for p in patterns):
            for op, layer in holders:
                hits.setdefault(op, set()).add(layer)
    holding = _layers_holding(arch) if hits else {}
    notes = tuple(f"quantization_config keeps {op} in the base dtype in {len(layers)} of the "
                  f"{holding.get(op, 0)} layers that have it; symbolic counts it kept in all"
                  for op, layers in hits.items() if -1 not in layers and len(layers) < holding.get(op, 0))
    return tuple(hits), notes


def _layers_holding(arch: Architecture) -> dict[str, int]:
    """How many layers have an op of each name (built from each layer kind's ops)."""
    from ..ops.model import Model  # the op lists; model.py does not import this module

    holding: dict[str, int] = {}
    for section in Model(arch).layer_sections:
        for name in {op.name for op in section.ops}:
            holding[name] = holding.get(name, 0) + section.group.count
    return holding


def _integer_pair(value: object) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(type(v) is int and v > 0 for v in value)


def _fp8(quant: Fields) -> str:
    """transformers' fp8 method: per tensor, or a scale per weight_block_size block."""
    block = quant.data.get("weight_block_size")
    if block is None:
        return "fp8"
    if not _integer_pair(block):
        raise quant.fail(f"{quant.field('weight_block_size')} must be two positive integers, "
                         f"got {shown(block)}")
    scale = "e8m0" if quant.text("scale_fmt", default=None) == "ue8m0" else "fp32"
    return f"fp8-g{block[0] * block[1]}-{scale}"


def _compressed_tensors(quant: Fields, base: str) -> tuple[str | None, tuple[str, ...]]:
    """The stored format of a compressed-tensors config's weight scheme, or None (with a note)
    when it is not one format for every Linear module."""
    groups = quant.section("config_groups", required=True)
    schemes = [groups.section(name, required=True) for name in groups.data]
    weights = [s.section("weights") for s in schemes]
    if not schemes or any(w is None for w in weights):
        return None, ("compressed-tensors config_groups without weights are not read: every weight is "
                      "counted in the weight dtype",)
    described = {tuple(sorted((k, str(v)) for k, v in w.data.items() if k in _WEIGHT_KEYS)) for w in weights}
    for scheme in schemes:
        listed = scheme.data.get("targets") or []
        if not isinstance(listed, list) or not all(isinstance(t, str) for t in listed):
            raise scheme.fail(f"{scheme.field('targets')} must be a list of module or class names, "
                              f"got {shown(listed)}")
    targets = {tuple(s.data.get("targets") or ()) for s in schemes}
    if len(described) > 1 or targets != {("Linear",)}:
        return None, ("compressed-tensors with several weight schemes, or targets other than Linear, is "
                      "not read: every weight is counted in the weight dtype",)
    w = weights[0]
    bits = w.integer("num_bits")
    kind = w.text("type", default="int")
    group = w.data.get("group_size")
    # a null strategy is the one group_size implies (compressed-tensors' QuantizationArgs validator)
    inferred = "group" if isinstance(group, int) and group > 0 else "channel" if group == -1 else "tensor"
    strategy = w.text("strategy", default=inferred)
    scale = (w.text("scale_dtype", default=None) or base).removeprefix("torch.")
    try:
        dtype(scale)
    except SymbolicError:
        raise w.fail(f"{w.field('scale_dtype')} is not a dtype symbolic knows: {shown(scale)}") from None
    if kind == "float" and bits == 4:
        group = w.integer("group_size", default=None) if w.present("group_size") else None
        name = {16: "nvfp4", 32: "mxfp4"}.get(group)
        if name is None:
            raise w.fail(f"{w.field('group_size')} of fp4 weights must be 16 (nvfp4) or 32 (mxfp4), "
                         f"got {shown(group)}")
        notes = ("nvfp4's one fp32 global scale per matrix is left out",) if name == "nvfp4" else ()
        return name, notes
    formats = {("int", 4): "int4", ("int", 8): "int8", ("float", 8): "fp8"}
    element = formats.get((kind, bits))
    if element is None:
        raise w.fail(f"weights of type {shown(kind)} with {bits} bits are not a format symbolic knows "
                     "(int 4 or 8, float 4 or 8)")
    notes = () if w.flag("symmetric", True) else (
        "the zero points of asymmetric weights are left out",)
    if quant.text("format", default=None) == "pack-quantized":
        notes += ("pack-quantized's weight_shape, two int64 per matrix, is left out",)
    if strategy == "group":
        return f"{element}-g{w.integer('group_size')}-{scale}", notes
    if strategy == "block":
        block = w.data.get("block_structure")
        if not _integer_pair(block):
            raise w.fail(f"{w.field('block_structure')} must be two positive integers, got {shown(block)}")
        return f"{element}-g{block[0] * block[1]}-{scale}", notes
    if strategy == "channel":
        return element, (*notes, f"one {scale} scale per output channel is left out (1/in_features of "
                                  "the weights' bytes or less)")
    if strategy == "tensor":
        return element, (*notes, f"one {scale} scale per matrix is left out")
    raise w.fail(f"{w.field('strategy')} {shown(strategy)} is not one symbolic reads "
                 "(tensor, channel, group, block)")


_WEIGHT_KEYS = ("num_bits", "type", "strategy", "group_size", "block_structure", "symmetric", "scale_dtype")


def _modelopt(quant: Fields) -> str | None:
    algo = quant.text("quant_algo", default=None)
    if algo is None and quant.section("quantization"):
        algo = quant.section("quantization").text("quant_algo", default=None)
    return {"FP8": "fp8", "NVFP4": "nvfp4"}.get(algo or "")


def stored_weights(config: Fields, arch: Architecture) -> tuple[StoredWeights | None, tuple[str, ...]]:
    """The stored formats a config's quantization_config gives, and notes on what is left out. A
    method not read here is said in a note, and every weight counts in the weight dtype."""
    quant = config.section("quantization_config")
    if quant is None:
        return None, ()
    method = quant.text("quant_method", default=None)
    base = config.text("torch_dtype", "dtype", default="bf16")
    try:
        dtype(base)
    except SymbolicError:
        raise config.fail(f"{config.field('torch_dtype')} is not a dtype symbolic knows: "
                          f"{shown(base)}") from None
    notes: tuple[str, ...] = ()
    if method == "mxfp4":
        dtype_name = "mxfp4"
    elif method == "fp8":
        dtype_name = _fp8(quant)
    elif method == "compressed-tensors":
        dtype_name, notes = _compressed_tensors(quant, base)
    elif method == "modelopt":
        dtype_name = _modelopt(quant)
    else:
        dtype_name = None
    if dtype_name is None:
        return None, (*notes, f"quantization_config method {shown(method)} is not read here: every weight "
                              f"is counted in the weight dtype (--weight-dtype)")
    kept, partial = [], []
    for where in ("modules_to_not_convert", "ignore", "exclude_modules"):
        names, said = kept_modules(quant.data.get(where), quant, where, arch)
        kept += names
        partial += said
    return (StoredWeights(method, dtype_name, base, tuple(dict.fromkeys((*ALWAYS_KEPT, *kept)))),
            (*notes, *partial))
