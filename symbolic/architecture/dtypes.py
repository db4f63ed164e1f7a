"""Element sizes of the number formats weights, KV cache and activations are stored in.

Bytes per element are exact rationals: int4 packs two elements into a byte (1/2). Group-wise
quantisation adds one scale per group: ``int4-g128`` is int4 with an fp16 scale for every 128
weights, 1/2 + 2/128 = 33/64 bytes per weight (``int4-g128-fp32`` for fp32 scales). A weight
format applies to every parameter (embeddings and norms included); ``LAYERS+BASE`` (``fp8+bf16``,
``nvfp4+bf16``) stores the weight matrices of the layers in ``LAYERS`` and the rest (embedding,
LM head, router, norms) in ``BASE``, as FP8 and FP4 checkpoints do (ModelOpt and compressed-tensors
leave the LM head unquantized).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy

from ..errors import SymbolicError
from ..exact import plain
from ..symbols import b_a, b_kv, b_q, b_w


@dataclass(frozen=True)
class DType:
    name: str
    bytes: sympy.Rational
    description: str


_DTYPES = (
    DType("fp32", sympy.Integer(4), "IEEE 754 single precision"),
    DType("fp16", sympy.Integer(2), "IEEE 754 half precision"),
    DType("bf16", sympy.Integer(2), "bfloat16 (8-bit exponent, 7-bit mantissa)"),
    DType("fp8", sympy.Integer(1), "8-bit float (E4M3 or E5M2)"),
    DType("int8", sympy.Integer(1), "8-bit integer"),
    DType("int4", sympy.Rational(1, 2), "4-bit integer, two per byte"),
    DType("fp4", sympy.Rational(1, 2), "4-bit float (E2M1), two per byte"),
    DType("e8m0", sympy.Integer(1), "8-bit power-of-two scale (OCP microscaling)"),
    DType("mxfp4", sympy.Rational(17, 32), "OCP MXFP4: fp4 (E2M1) with an e8m0 scale for every 32 elements"),
    DType("nvfp4", sympy.Rational(9, 16), "NVFP4: fp4 (E2M1) with an fp8 (E4M3) scale for every 16 elements"),
)

_SPELLINGS = {
    "float32": "fp32", "f32": "fp32", "float": "fp32",
    "float16": "fp16", "half": "fp16", "f16": "fp16",
    "bfloat16": "bf16",
    "float8": "fp8", "fp8_e4m3": "fp8", "fp8_e5m2": "fp8", "e4m3": "fp8", "e5m2": "fp8",
    "i8": "int8", "i4": "int4", "nf4": "int4", "e2m1": "fp4",
}
_GROUPED = re.compile(r"^(?P<base>[a-z0-9_]+)-g(?P<group>[0-9]+)(?:-(?P<scale>[a-z0-9]+))?$")

DTYPES: dict[str, DType] = {d.name: d for d in _DTYPES}


def dtype(name: str) -> DType:
    """The format called ``name`` (``bf16``, ``bfloat16``, ``int4``, ``int4-g128``, ...)."""
    key = name.strip().lower()
    grouped = _GROUPED.match(key)
    if grouped:
        base = dtype(grouped.group("base"))
        scale = dtype(grouped.group("scale") or "fp16")
        size = int(grouped.group("group"))
        if size < 1:
            raise SymbolicError(f"dtype {name!r}: the group size must be positive")
        return DType(key, base.bytes + scale.bytes / size,
                     f"{base.name} with a {scale.name} scale for every {size} elements")
    key = _SPELLINGS.get(key, key)
    if key not in DTYPES:
        raise SymbolicError(f"unknown dtype {name!r}; known: {', '.join(DTYPES)}, "
                            f"and grouped forms such as int4-g128")
    return DTYPES[key]


def mixed_weights(text: str) -> tuple[str, str] | None:
    """``'nvfp4+bf16'`` as (layers' format, the rest's format), both checked; None for one format."""
    if "+" not in text:
        return None
    layers, _, base = text.partition("+")
    if not layers.strip() or not base.strip() or "+" in base:
        raise SymbolicError(f"weight dtype {text!r}: write LAYERS+BASE, e.g. fp8+bf16")
    return dtype(layers).name, dtype(base).name


@dataclass(frozen=True)
class Precision:
    """The formats of weights, KV cache and activations. The KV cache defaults to the weights' format
    when that is a 16- or 32-bit float, and to the activations' format when the weights are
    quantised (fp8, fp4, int8, int4, grouped): a quantised checkpoint still computes and caches in
    its activation dtype unless the cache is quantised on purpose, as vLLM's default
    ``kv_cache_dtype="auto"`` ("use the model's data type") does."""

    weight: DType
    kv: DType
    activation: DType
    quantized: DType | None = None   # the format the checkpoint stores its quantized tensors in

    @classmethod
    def of(cls, weight: str = "bf16", kv: str | None = None, activation: str = "bf16",
           quantized: str | None = None) -> Precision:
        """``quantized``: the stored format of the tensors a checkpoint's quantization_config
        quantizes (the others are in ``weight``); None when every weight is in ``weight``."""
        mixed = mixed_weights(weight)
        if mixed is not None:
            if quantized is not None:
                raise SymbolicError(f"weight dtype {weight!r} already names the quantized format")
            quantized, weight = mixed
        w, a = dtype(weight), dtype(activation)
        kv_default = w if w.name in ("fp32", "fp16", "bf16") else a
        return cls(w, dtype(kv) if kv else kv_default, a, dtype(quantized) if quantized else None)

    @property
    def weight_label(self) -> str:
        """The weights' format as a label: ``bf16``, or ``mxfp4+bf16`` when some are stored quantized."""
        return f"{self.quantized.name}+{self.weight.name}" if self.quantized else self.weight.name

    @property
    def roles(self) -> tuple[tuple[str, DType], ...]:
        roles = (("weight", self.weight), ("kv", self.kv), ("activation", self.activation))
        return roles + ((("quantized", self.quantized),) if self.quantized else ())

    def bindings(self) -> dict[sympy.Symbol, sympy.Rational]:
        stored = self.quantized or self.weight
        return {b_w: self.weight.bytes, b_q: stored.bytes, b_kv: self.kv.bytes, b_a: self.activation.bytes}

    def as_dict(self) -> dict[str, dict[str, object]]:
        return {role: {"dtype": d.name, "bytes": plain(d.bytes)} for role, d in self.roles}
