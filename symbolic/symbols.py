"""The vocabulary: every symbol that appears in an expression, with its meaning.

Each term's Python name is also its SymPy name, so the code and the documents say the same thing
(``d_ff`` prints as ``d_{ff}`` in LaTeX and as ``d_ff`` in text). A term records:

* ``latex``: how documents typeset it;
* ``meaning`` and ``unit``: what it stands for (``zh``: the meaning in Chinese);
* ``hf_fields``: the Hugging Face ``config.json`` fields it is read from, in order of preference;
* ``aliases``: the names people write for it in notes, blogs and papers (resolved by the checker).

All symbols are positive integers except the byte sizes, which are positive rationals
(int4 stores half a byte per element).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import sympy


@dataclass(frozen=True)
class Term:
    """One entry of the vocabulary."""

    name: str
    latex: str
    meaning: str
    unit: str
    hf_fields: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    integer: bool = True
    zh: str = ""                    # the meaning in Chinese

    def meaning_in(self, lang: str) -> str:
        """The meaning in a document's language (``en`` or ``zh``)."""
        return self.zh if lang == "zh" else self.meaning

    @property
    def symbol(self) -> sympy.Symbol:
        return _symbol(self.name, self.integer)


def _symbol(name: str, integer: bool) -> sympy.Symbol:
    if integer:
        return sympy.Symbol(name, positive=True, integer=True)
    return sympy.Symbol(name, positive=True, rational=True)


TERMS: tuple[Term, ...] = (
    # Architecture
    Term("V", "V", "vocabulary size", "tokens", ("vocab_size",),
         ("vocab", "vocab_size", "n_vocab", "nvocab", "vocabulary_size"),
         zh="词表大小"),
    Term("H", "H", "hidden size (model width)", "elements", ("hidden_size", "n_embd", "d_model"),
         ("h", "hidden", "hidden_size", "hidden_dim", "dmodel", "d_model", "n_embd", "model_dim",
          "emb_dim", "embed_dim"),
         zh="隐藏维度（模型宽度）"),
    Term("L", "L", "number of decoder layers", "layers", ("num_hidden_layers", "n_layer"),
         ("l", "nlayers", "n_layers", "num_layers", "layers", "n_layer", "num_hidden_layers", "depth"),
         zh="解码层数"),
    Term("n_q", "n_{q}", "number of query (attention) heads", "heads", ("num_attention_heads", "n_head"),
         ("nheads", "n_heads", "num_heads", "heads", "n_head", "num_attention_heads", "n_q_heads",
          "num_q_heads", "a"),
         zh="查询（注意力）头数"),
    Term("n_kv", "n_{kv}", "number of key/value heads (GQA groups; 1 for MQA, n_q for MHA)", "heads",
         ("num_key_value_heads",),
         ("n_kv_heads", "num_kv_heads", "kv_heads", "nkv", "num_key_value_heads", "n_kv_head",
          "num_kv"),
         zh="键/值头数（GQA 的组数；MQA 为 1，MHA 等于查询头数）"),
    Term("d_h", "d_{h}", "dimension of one attention head", "elements", ("head_dim",),
         ("dhead", "d_head", "head_dim", "head_size", "dim_head", "headdim", "d_k", "hd"),
         zh="单个注意力头的维度"),
    Term("d_hg", "d_{hg}", "dimension of one attention head in the global (full-attention) layers, "
         "where it differs from the sliding layers' (Gemma-4)", "elements", ("global_head_dim",),
         ("global_head_dim", "d_head_global"),
         zh="全局（全注意力）层中单个注意力头的维度，与滑动窗口层不同时使用（Gemma-4）"),
    Term("n_kvg", "n_{kvg}", "key/value heads of the global (full-attention) layers, where they differ "
         "from the sliding layers' (Gemma-4)", "heads", ("num_global_key_value_heads",),
         ("num_global_key_value_heads", "n_kv_global"),
         zh="全局（全注意力）层的键/值头数，与滑动窗口层不同时使用（Gemma-4）"),
    Term("d_ff", "d_{ff}", "inner width of the MLP (intermediate size)", "elements",
         ("intermediate_size", "n_inner"),
         ("dff", "d_ffn", "ffn_dim", "ffn_hidden_size", "intermediate_size", "d_mlp", "ffn_size",
          "n_inner", "inter_size"),
         zh="MLP 的中间维度"),
    Term("n_pos", "n_{pos}", "rows of the learned position-embedding table", "positions",
         ("n_positions", "max_position_embeddings"), ("n_positions", "max_positions", "n_ctx"),
         zh="可学习位置编码表的行数"),
    Term("W", "W", "sliding-window length (keys a query may attend to, itself included)", "tokens",
         ("sliding_window",), ("window", "sliding_window", "window_size", "w"),
         zh="滑动窗口长度（一个查询最多能看到的 key 数，含自身）"),
    Term("W_c", "W_{c}", "attention chunk length: a query attends to the keys of its own chunk of W_c "
         "positions only (Llama-4)", "tokens", ("attention_chunk_size",),
         ("attention_chunk_size", "chunk_size", "chunk"),
         zh="注意力分块长度：查询只看到自己所在的、长 W_c 个位置的分块中的 key（Llama-4）"),
    Term("L_full", "L_{full}", "layers with full (global) attention and a dense MLP", "layers", (),
         ("n_full_layers", "num_full_layers", "global_layers", "n_dense_layers", "first_k_dense_replace"),
         zh="全注意力、稠密 MLP 层的层数"),
    Term("L_sliding", "L_{sliding}", "layers with sliding-window (local) attention and a dense MLP", "layers",
         (),
         ("n_sliding_layers", "num_sliding_layers", "local_layers"),
         zh="滑动窗口注意力、稠密 MLP 层的层数"),
    Term("L_moe", "L_{moe}", "layers with full attention and a mixture-of-experts MLP", "layers", (),
         ("n_moe_layers", "num_moe_layers", "moe_layers"),
         zh="全注意力、混合专家 MLP 层的层数"),
    Term("L_sliding_moe", "L_{sliding moe}",
         "layers with sliding-window attention and a mixture-of-experts MLP", "layers", (), (),
         zh="滑动窗口注意力、混合专家 MLP 层的层数"),
    # Mixture of experts
    Term("E", "E", "routed experts per MoE layer", "experts",
         ("num_local_experts", "num_experts", "n_routed_experts"),
         ("num_experts", "n_experts", "num_local_experts", "n_routed_experts", "experts"),
         zh="每个 MoE 层的路由专家数"),
    Term("k", "k", "experts each token is routed to (top-k)", "experts", ("num_experts_per_tok",),
         ("top_k", "topk", "num_experts_per_tok", "experts_per_token", "active_experts"),
         zh="每个 token 被路由到的专家数（top-k）"),
    Term("d_e", "d_{e}", "inner width of one routed expert", "elements",
         ("moe_intermediate_size", "intermediate_size"),
         ("moe_intermediate_size", "d_expert", "expert_dim", "d_ff_expert", "expert_intermediate_size"),
         zh="单个路由专家的中间维度"),
    Term("d_s", "d_{s}", "inner width of the shared expert(s), all together", "elements",
         ("shared_expert_intermediate_size",),
         ("shared_expert_intermediate_size", "d_shared", "shared_dim"),
         zh="共享专家的中间维度（合计）"),
    # Multi-head latent attention (DeepSeek-V2/V3)
    Term("r_q", "r_{q}", "rank of the compressed query (q_lora_rank)", "elements", ("q_lora_rank",),
         ("q_lora_rank", "d_c_q"),
         zh="压缩后查询的秩（q_lora_rank）"),
    Term("r_kv", "r_{kv}", "rank of the compressed key-value latent (kv_lora_rank)", "elements",
         ("kv_lora_rank",), ("kv_lora_rank", "d_c", "latent_dim"),
         zh="压缩后键值潜向量的秩（kv_lora_rank）"),
    Term("d_nope", "d_{nope}", "query/key head dimension without rotary embedding", "elements",
         ("qk_nope_head_dim",), ("qk_nope_head_dim",),
         zh="不带旋转位置编码的查询/键头维度"),
    Term("d_rope", "d_{rope}", "query/key head dimension with rotary embedding (shared key)", "elements",
         ("qk_rope_head_dim",), ("qk_rope_head_dim", "d_r"),
         zh="带旋转位置编码的查询/键头维度（共享键）"),
    Term("d_v", "d_{v}", "value head dimension", "elements", ("v_head_dim",), ("v_head_dim",),
         zh="值的头维度"),
    Term("k_idx", "k_{idx}", "tokens each query attends to in DeepSeek sparse attention (index_topk)",
         "tokens", ("index_topk",), ("index_topk", "topk_tokens"),
         zh="DeepSeek 稀疏注意力中每个查询关注的 token 数（index_topk）"),
    Term("n_idx", "n_{idx}", "heads of the sparse-attention indexer", "heads", ("index_n_heads",),
         ("index_n_heads", "indexer_heads"),
         zh="稀疏注意力索引器的头数"),
    Term("d_idx", "d_{idx}", "head dimension of the sparse-attention indexer, and of its cached key",
         "elements", ("index_head_dim",), ("index_head_dim", "indexer_head_dim"),
         zh="稀疏注意力索引器的头维度（也是其缓存键的维度）"),
    # Layers with a fixed-size state (short convolutions, linear attention)
    Term("w_conv", "w_{conv}", "taps of a short causal convolution; its state keeps this many inputs "
         "per channel",
         "tokens", ("conv_L_cache", "linear_conv_kernel_dim", "conv_kernel"),
         ("conv_L_cache", "linear_conv_kernel_dim", "conv_kernel", "d_conv", "kernel_size"),
         zh="短因果卷积的抽头数；其状态为每个通道保留这么多个输入"),
    Term("n_lk", "n_{lk}", "key (and query) heads of a linear-attention layer", "heads",
         ("linear_num_key_heads",), ("linear_num_key_heads",),
         zh="线性注意力层的 key（及 query）头数"),
    Term("n_lv", "n_{lv}", "value heads of a linear-attention layer, each with its own state", "heads",
         ("linear_num_value_heads",), ("linear_num_value_heads",),
         zh="线性注意力层的 value 头数，每个头有自己的状态"),
    Term("d_lk", "d_{lk}", "key (and query) head dimension of a linear-attention layer", "elements",
         ("linear_key_head_dim",), ("linear_key_head_dim",),
         zh="线性注意力层 key（及 query）头的维度"),
    Term("d_lv", "d_{lv}", "value head dimension of a linear-attention layer", "elements",
         ("linear_value_head_dim",), ("linear_value_head_dim",),
         zh="线性注意力层 value 头的维度"),
    Term("n_m", "n_{m}", "heads of a Mamba-2 layer, each with its own state", "heads", ("mamba_num_heads",),
         ("mamba_num_heads", "ssm_heads"),
         zh="Mamba-2 层的头数，每个头有自己的状态"),
    Term("d_m", "d_{m}", "head dimension of a Mamba-2 layer", "elements", ("mamba_head_dim",),
         ("mamba_head_dim", "ssm_head_dim"),
         zh="Mamba-2 层的头维度"),
    Term("d_st", "d_{st}", "state size of a Mamba-2 layer: state elements per head dimension", "elements",
         ("ssm_state_size",), ("ssm_state_size", "d_state", "state_size", "mamba_d_state"),
         zh="Mamba-2 层的状态大小：每个头维度对应的状态元素数"),
    Term("n_g", "n_{g}", "groups of a Mamba-2 layer sharing B and C (and its norm)", "groups",
         ("n_groups", "mamba_n_groups"), ("n_groups", "mamba_n_groups", "ngroups"),
         zh="Mamba-2 层中共享 B、C（及其归一化）的组数"),
    # Workload
    Term("B", "B", "batch size (sequences processed together)", "sequences", (),
         ("b", "bs", "batch", "batch_size", "n_seqs", "num_seqs"),
         zh="批大小（同时处理的序列数）"),
    Term("S", "S", "prompt length (tokens processed in the prefill)", "tokens", (),
         ("s", "seq_len", "seqlen", "sequence_length", "seq_length", "prompt", "prompt_len",
          "prompt_length", "input_len", "n_tokens", "ntokens"),
         zh="提示长度（预填充处理的 token 数）"),
    Term("c", "c", "context: tokens already in the KV cache before the step", "tokens", (),
         ("context", "ctx", "context_len", "context_length", "kv_len", "past_len", "cache_len"),
         zh="上下文：这一步之前 KV 缓存中已有的 token 数"),
    Term("n", "n", "new tokens per sequence in one forward pass (S in a prefill, 1 in a decode step)",
         "tokens", (), ("new_tokens", "n_new", "q_len"),
         zh="一次前向中每条序列的新 token 数（预填充为 S，解码为 1）"),
    # Bytes per element
    Term("b_w", "b_{w}", "bytes per weight element", "bytes", (),
         ("bytes_per_param", "bytes_per_weight", "weight_bytes", "param_bytes"), integer=False,
         zh="每个权重元素的字节数"),
    Term("b_q", "b_{q}", "bytes per element of the weights a checkpoint stores quantized, scales included",
         "bytes", (), ("bytes_per_quantized_weight",), integer=False,
         zh="检查点以量化格式存储的权重每个元素的字节数（含缩放因子）"),
    Term("b_kv", "b_{kv}", "bytes per KV-cache element", "bytes", (),
         ("bytes_per_kv", "kv_bytes", "kv_bytes_per_element", "precision_in_bytes", "bytes_per_element"),
         integer=False,
         zh="每个 KV 缓存元素的字节数"),
    Term("b_a", "b_{a}", "bytes per activation element", "bytes", (),
         ("bytes_per_activation", "act_bytes", "activation_bytes"), integer=False,
         zh="每个激活元素的字节数"),
    # Hardware and deployment
    Term("F_peak", r"F_{peak}", "peak dense compute of one device in the compute dtype", "FLOP/s", (),
         ("peak_flops", "flops_per_second", "a_f", "peak_compute"), integer=False,
         zh="单个设备在计算数据类型下的稠密峰值算力"),
    Term("BW_mem", r"BW_{mem}", "memory bandwidth of one device", "B/s", (),
         ("memory_bandwidth", "mem_bw", "hbm_bandwidth", "a_bm"), integer=False,
         zh="单个设备的显存带宽"),
    Term("M_dev", r"M_{dev}", "memory capacity of one device", "B", (),
         ("device_memory", "gpu_memory", "vram", "hbm_capacity"), integer=False,
         zh="单个设备的显存容量"),
    Term("BW_link", r"BW_{link}", "interconnect bandwidth between devices, one direction", "B/s", (),
         ("link_bandwidth", "interconnect_bandwidth", "nvlink_bandwidth", "a_c"), integer=False,
         zh="设备间互连的单向带宽"),
    Term("BW_host", r"BW_{host}", "bandwidth between a device and host memory (PCIe), one direction", "B/s",
         (), ("host_bandwidth", "pcie_bandwidth"), integer=False,
         zh="设备与主机内存之间（PCIe）的单向带宽"),
    Term("t_link", r"t_{link}", "latency of one collective call or transfer between devices", "s", (),
         ("latency", "link_latency"), integer=False,
         zh="设备间一次集合通信调用或一次传输的延迟"),
    Term("eta_f", r"\eta_{f}", "compute efficiency (MFU): achieved share of peak FLOP/s", "1", (),
         ("mfu",), integer=False,
         zh="计算效率（MFU）：实际达到的峰值 FLOP/s 比例"),
    Term("eta_m", r"\eta_{m}", "memory efficiency (MBU): achieved share of peak bandwidth", "1", (),
         ("mbu",), integer=False,
         zh="访存效率（MBU）：实际达到的峰值带宽比例"),
    Term("t_kern", r"t_{kern}", "fixed latency of one kernel launch, whatever its work (launch, "
         "tail of the previous kernel, synchronisation)", "s", (),
         ("kernel_latency", "launch_latency", "t_launch"), integer=False,
         zh="一次内核启动的固定延迟，与其工作量无关（启动、前一内核的收尾、同步）"),
    Term("m_pad", r"m_{pad}", "rows a matmul kernel computes beyond its tokens: tile and wave "
         "padding, so a small-M matmul runs below peak", "rows", (),
         ("padding_rows", "tile_rows"), integer=False,
         zh="矩阵乘内核在 token 行之外多算的行数（分块与波次填充），使小 M 的矩阵乘达不到峰值"),
    Term("eta_a", r"\eta_{a}", "attention-kernel efficiency: achieved share of the roofline in "
         "attention and KV-cache kernels", "1", (), ("attention_efficiency",), integer=False,
         zh="注意力内核效率：注意力与 KV 缓存内核实际达到的 roofline 比例"),
    Term("eta_l", r"\eta_{l}", "link efficiency: achieved share of the interconnect bandwidth", "1", (),
         ("link_efficiency",), integer=False,
         zh="链路效率：实际达到的互连带宽比例"),
    Term("c_dq", r"c_{dq}", "dequantization work of a weight-only-quantized matmul, per FLOP of the "
         "matmul: expanding int4/int8 weights inside each matmul, a cost that grows with the batch", "1", (),
         ("dequant_flops", "dequantization_cost"), integer=False,
         zh="仅权重量化矩阵乘的解量化工作量（每个矩阵乘 FLOP 的倍数）："
            "在每次矩阵乘中把 int4/int8 权重展开，随 batch 增长"),
    Term("chi_w", r"\chi_{w}", "1 when the weights' format is expanded before multiplying (narrower than "
         "the compute dtype: weight-only quantization), else 0", "1", (), (), integer=False,
         zh="权重格式在相乘前需要展开时为 1（比计算数据类型窄：仅权重量化），否则为 0"),
    Term("chi_q", r"\chi_{q}", "1 when the format of the weights a checkpoint stores quantized is expanded "
         "before multiplying, else 0", "1", (), (), integer=False,
         zh="检查点量化存储的权重格式在相乘前需要展开时为 1，否则为 0"),
    Term("t_o", r"t_{o}", "fixed overhead per step (launches, synchronisation)", "s", (),
         ("overhead", "step_overhead"), integer=False,
         zh="每一步的固定开销（内核启动、同步）"),
    Term("f_mem", r"f_{mem}", "usable share of device memory (headroom)", "1", (),
         ("headroom", "memory_fraction", "gpu_memory_utilization"), integer=False,
         zh="设备显存中可用的比例（余量）"),
    Term("N_tp", r"N_{tp}", "tensor-parallel degree (devices sharing each layer)", "devices", (),
         ("tp", "tensor_parallel", "tp_degree"),
         zh="张量并行度（共同承担每一层的设备数）"),
    Term("N_pp", r"N_{pp}", "pipeline-parallel degree (stages of consecutive layers)", "devices", (),
         ("pp", "pipeline_parallel", "pp_degree"),
         zh="流水线并行度（连续层组成的阶段数）"),
    Term("N_ep", r"N_{ep}", "expert-parallel degree (devices sharing the experts)", "devices", (),
         ("ep", "expert_parallel", "ep_degree"),
         zh="专家并行度（共同承担专家的设备数）"),
    Term("g", "g", "tokens generated per request", "tokens", (),
         ("output_tokens", "output_len", "gen_len", "generated"),
         zh="每个请求生成的 token 数"),
    Term("p_h", r"p_{h}", "price of one device for one hour", "$/h", (),
         ("price", "gpu_price", "price_per_hour", "dollars_per_hour"), integer=False,
         zh="一台设备一小时的价格"),
)

VOCABULARY: dict[str, Term] = {term.name: term for term in TERMS}

# Module-level SymPy symbols, so code reads like the formulas: ``2 * H * V``.
V = VOCABULARY["V"].symbol
H = VOCABULARY["H"].symbol
L = VOCABULARY["L"].symbol
n_q = VOCABULARY["n_q"].symbol
n_kv = VOCABULARY["n_kv"].symbol
d_h = VOCABULARY["d_h"].symbol
d_hg = VOCABULARY["d_hg"].symbol
n_kvg = VOCABULARY["n_kvg"].symbol
d_ff = VOCABULARY["d_ff"].symbol
n_pos = VOCABULARY["n_pos"].symbol
W = VOCABULARY["W"].symbol
W_c = VOCABULARY["W_c"].symbol
L_full = VOCABULARY["L_full"].symbol
L_sliding = VOCABULARY["L_sliding"].symbol
L_moe = VOCABULARY["L_moe"].symbol
L_sliding_moe = VOCABULARY["L_sliding_moe"].symbol
E = VOCABULARY["E"].symbol
k = VOCABULARY["k"].symbol
d_e = VOCABULARY["d_e"].symbol
d_s = VOCABULARY["d_s"].symbol
r_q = VOCABULARY["r_q"].symbol
r_kv = VOCABULARY["r_kv"].symbol
d_nope = VOCABULARY["d_nope"].symbol
d_rope = VOCABULARY["d_rope"].symbol
d_v = VOCABULARY["d_v"].symbol
k_idx = VOCABULARY["k_idx"].symbol
n_idx = VOCABULARY["n_idx"].symbol
d_idx = VOCABULARY["d_idx"].symbol
w_conv = VOCABULARY["w_conv"].symbol
n_lk = VOCABULARY["n_lk"].symbol
n_lv = VOCABULARY["n_lv"].symbol
d_lk = VOCABULARY["d_lk"].symbol
d_lv = VOCABULARY["d_lv"].symbol
n_m = VOCABULARY["n_m"].symbol
d_m = VOCABULARY["d_m"].symbol
d_st = VOCABULARY["d_st"].symbol
n_g = VOCABULARY["n_g"].symbol
B = VOCABULARY["B"].symbol
S = VOCABULARY["S"].symbol
c = VOCABULARY["c"].symbol
n = VOCABULARY["n"].symbol
b_w = VOCABULARY["b_w"].symbol
b_q = VOCABULARY["b_q"].symbol
b_kv = VOCABULARY["b_kv"].symbol
b_a = VOCABULARY["b_a"].symbol
F_peak = VOCABULARY["F_peak"].symbol
BW_mem = VOCABULARY["BW_mem"].symbol
M_dev = VOCABULARY["M_dev"].symbol
BW_link = VOCABULARY["BW_link"].symbol
BW_host = VOCABULARY["BW_host"].symbol
t_link = VOCABULARY["t_link"].symbol
eta_f = VOCABULARY["eta_f"].symbol
eta_m = VOCABULARY["eta_m"].symbol
t_o = VOCABULARY["t_o"].symbol
t_kern = VOCABULARY["t_kern"].symbol
m_pad = VOCABULARY["m_pad"].symbol
eta_a = VOCABULARY["eta_a"].symbol
eta_l = VOCABULARY["eta_l"].symbol
c_dq = VOCABULARY["c_dq"].symbol
chi_w = VOCABULARY["chi_w"].symbol
chi_q = VOCABULARY["chi_q"].symbol
f_mem = VOCABULARY["f_mem"].symbol
N_tp = VOCABULARY["N_tp"].symbol
N_pp = VOCABULARY["N_pp"].symbol
N_ep = VOCABULARY["N_ep"].symbol
g = VOCABULARY["g"].symbol
p_h = VOCABULARY["p_h"].symbol

LAYER_COUNT_SYMBOLS = {"full_attention": L_full, "sliding_attention": L_sliding,
                       "full_attention_moe": L_moe, "sliding_attention_moe": L_sliding_moe}
"""The symbol counting the layers of each kind, when a model mixes kinds (gemma-2, DeepSeek): the
four kinds named so far, and any other made by :func:`layer_count_symbol` when a model has it."""


def layer_count_symbol(kind: str) -> sympy.Symbol:
    """The symbol counting layers of ``kind`` (a :attr:`LayerSpec.kind <symbolic.architecture.
    LayerSpec.kind>` name). A kind not seen before gets a vocabulary term of its own, ``L_<kind>``,
    so a new part needs no new entry here."""
    if kind not in LAYER_COUNT_SYMBOLS:
        words = kind.replace("_", " ")
        typeset = kind.replace("_", r"\ ")
        term = Term(f"L_{kind}", rf"L_{{\mathrm{{{typeset}}}}}", f"layers of kind {words}", "layers", (), (),
                    zh=f"“{words}”类层的层数")
        VOCABULARY[term.name] = term
        LAYER_COUNT_SYMBOLS[kind] = term.symbol
    return LAYER_COUNT_SYMBOLS[kind]


def is_layer_count(symbol: sympy.Symbol) -> bool:
    """``L`` or the count of one kind of layer."""
    return symbol is L or symbol in LAYER_COUNT_SYMBOLS.values()


def layer_counts() -> tuple[sympy.Symbol, ...]:
    """``L`` and every kind's count known so far (closed forms gather terms by them)."""
    return (L, *LAYER_COUNT_SYMBOLS.values())


def _build_alias_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for term in TERMS:
        for spelling in (term.name, *term.aliases):
            key = spelling.lower()
            if key in index and index[key] != term.name:
                raise AssertionError(f"alias {spelling!r} names both {index[key]} and {term.name}")
            index[key] = term.name
    return index


ALIASES: dict[str, str] = _build_alias_index()


def lookup(name: str) -> Term | None:
    """The term a name or alias stands for (case-insensitive), or None."""
    canonical = ALIASES.get(name.lower())
    return VOCABULARY[canonical] if canonical else None


def closest_names(name: str, limit: int = 3) -> list[str]:
    """Known names and aliases that look most like ``name``, for 'did you mean' messages."""
    return difflib.get_close_matches(name.lower(), list(ALIASES), n=limit, cutoff=0.5)


def term_of(symbol: sympy.Symbol) -> Term:
    """The vocabulary entry of a SymPy symbol built from it."""
    return VOCABULARY[symbol.name]
