"""Counting conventions: the choices peers disagree on, named, with documented defaults.

Every derivation states the conventions it used. The defaults follow the worked Llama derivation of
tensoreconomics.com ("LLM Inference Economics from First Principles", the seed note 004), except
where that note is inexact (it counts the full S x S score matrix; our default counts exactly the
causal pairs and ``attention_count="full"`` reproduces the note and torch's eager kernels).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import sympy

from ..errors import SymbolicError
from ..exact import plain, to_rational

ATTENTION_COUNTS = ("causal", "full")
LM_HEAD_POSITIONS = ("last", "all")
MLA_FORMS = ("absorbed", "expanded")
MOE_COMPUTES = ("routed", "all_experts")
CHOICES = {"attention_count": ATTENTION_COUNTS, "lm_head_positions": LM_HEAD_POSITIONS, "mla_form": MLA_FORMS,
           "moe_compute": MOE_COMPUTES}


def _option(default, doc: str, zh: str):
    """A convention field: its default and what it means, in English and Chinese (shown in every
    document)."""
    if isinstance(default, int):
        default = sympy.Integer(default)
    return field(default=default, metadata={"doc": doc, "zh": zh})


@dataclass(frozen=True)
class Conventions:
    """How FLOPs are counted. Numbers are exact (SymPy integers or rationals)."""

    flops_per_mac: sympy.Rational = _option(
        2, "FLOPs per multiply-add in a matrix product: 2 (one multiply, one add); 1 counts MACs.",
        "矩阵乘中每次乘加计为几个 FLOP：2（一次乘法、一次加法）；取 1 即按 MAC 计。")
    attention_count: str = _option(
        "causal", "Query-key pairs counted in a prefill: 'causal' counts exactly the pairs a causal "
                  "mask keeps, S(S+1)/2 per head; 'full' counts the whole S x S matrix, as eager "
                  "kernels compute it (and as torch's FLOP counter reports).",
        "预填充中计入的查询-键对：causal 只计因果掩码保留的对，每头 S(S+1)/2；full 计完整的 S×S 矩阵，"
        "与 eager 实现的实际计算（以及 torch 的 FLOP 计数器）一致。")
    lm_head_positions: str = _option(
        "last", "Positions whose logits a prefill computes: 'last' (generation needs only the next "
                "token) or 'all' (a training-style forward).",
        "预填充中计算 logits 的位置：last（生成只需要下一个 token）或 all（训练式前向）。")
    softmax_flops: sympy.Rational = _option(
        5, "FLOPs per attention score for scaling, masking and softmax (max, subtract, exp, sum, "
           "divide).",
        "每个注意力分数的缩放、掩码与 softmax（取最大、相减、指数、求和、相除）所需 FLOP。")
    rmsnorm_flops: sympy.Rational = _option(
        4, "FLOPs per element of an RMSNorm: square, sum, multiply by the reciprocal root, scale.",
        "RMSNorm 每个元素的 FLOP：平方、求和、乘以均方根的倒数、乘缩放系数。")
    layernorm_flops: sympy.Rational = _option(
        7, "FLOPs per element of a LayerNorm: RMSNorm's four plus the mean's sum, the subtraction "
           "and the shift.",
        "LayerNorm 每个元素的 FLOP：RMSNorm 的四个，加上求均值、减均值与平移。")
    activation_flops: sympy.Rational = _option(5, "FLOPs per element of the MLP activation (SiLU, GELU).",
        "MLP 激活函数（SiLU、GELU）每个元素的 FLOP。")
    rope_flops: sympy.Rational = _option(
        3, "FLOPs per rotated element of q and k for RoPE: two multiplies, one add.",
        "RoPE 对 q、k 每个被旋转元素的 FLOP：两次乘法、一次加法。")
    softcap_flops: sympy.Rational = _option(
        3, "FLOPs per element of a tanh soft cap: divide, tanh, multiply (gemma-2).",
        "tanh 软截断每个元素的 FLOP：除法、tanh、乘法（gemma-2）。")
    mla_form: str = _option(
        "absorbed", "How multi-head latent attention is computed: 'absorbed' (kv_b_proj folded into the "
                    "query and output, attention in the latent space, as served by vLLM and SGLang) or "
                    "'expanded' (the cached latent re-expanded into keys and values at every step, as "
                    "transformers computes it).",
        "多头潜在注意力（MLA）的计算方式：absorbed（把 kv_b_proj 吸收到查询和输出中，在潜空间里做注意力，"
        "vLLM 与 SGLang 的做法）或 expanded（每一步把缓存的潜向量重新展开成键和值，transformers 的做法）。")
    moe_compute: str = _option(
        "routed", "Which experts a token is computed by: 'routed', the k its router picks (as serving "
                  "engines run MoE), or 'all_experts', every expert with the outputs weighted by the "
                  "router (as transformers' Llama-4 experts compute, and as torch's FLOP counter sees "
                  "them). The weights a step reads are the same either way only when every expert is "
                  "picked.",
        "每个 token 由哪些专家计算：routed 为路由器选中的 k 个（推理引擎的做法），all_experts 为全部专家、"
        "输出按路由权重加权（transformers 的 Llama-4 专家如此计算，torch 的 FLOP 计数器也这样统计）。"
        "只有当每个专家都被选中时，两种方式一步读取的权重才相同。")
    scan_chunk: sympy.Rational = _option(
        64, "Tokens per chunk of a linear-attention layer's chunked scan (Gated DeltaNet), 64 as in "
            "flash-linear-attention and transformers' torch_chunk_gated_delta_rule. A step of n tokens "
            "runs chunks of min(n, scan_chunk); a decode step is the chunk of one, the recurrent update.",
        "线性注意力层（Gated DeltaNet）分块扫描中每块的 token 数，取 64，"
        "与 flash-linear-attention 及 transformers 的 torch_chunk_gated_delta_rule 相同。"
        "一步处理 n 个 token 时按 min(n, scan_chunk) 分块；解码一步即一个 token 的块，也就是递推更新。")

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in CHOICES:
                if value not in CHOICES[f.name]:
                    raise SymbolicError(f"convention {f.name} must be one of {', '.join(CHOICES[f.name])}, "
                                        f"got {value!r}")
                continue
            exact = to_rational(value)
            if exact is None or exact < 0:
                raise SymbolicError(f"convention {f.name} must be a non-negative number, got {value!r}")
            if f.name == "scan_chunk" and (exact < 1 or not exact.is_integer):
                raise SymbolicError(f"convention scan_chunk must be a positive whole number, got {value!r}")
            object.__setattr__(self, f.name, exact)

    def replace(self, **changes) -> Conventions:
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, object]:
        """Name -> value, numbers as int where whole."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @staticmethod
    def documentation(lang: str = "en") -> dict[str, str]:
        """Name -> what the convention means, in English or Chinese (``lang="zh"``)."""
        key = "zh" if lang == "zh" else "doc"
        return {f.name: f.metadata[key] for f in dataclasses.fields(Conventions)}


def _plain(value):
    return plain(value) if isinstance(value, sympy.Basic) else value


def parse_convention(text: str) -> tuple[str, object]:
    """``'softmax_flops=1'`` -> ``('softmax_flops', 1)``; the value is read as an exact number."""
    name, sep, raw = text.partition("=")
    name, raw = name.strip(), raw.strip()
    known = {f.name for f in dataclasses.fields(Conventions)}
    if not sep or not name:
        raise SymbolicError(f"convention {text!r} must read NAME=VALUE")
    if name not in known:
        raise SymbolicError(f"unknown convention {name!r}; known: {', '.join(sorted(known))}")
    if name in CHOICES:
        return name, raw
    value = to_rational(raw)
    if value is None:
        raise SymbolicError(f"convention {name} needs a number, got {raw!r}")
    return name, value
