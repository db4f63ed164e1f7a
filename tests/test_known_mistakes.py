"""Wrong formulas and figures from public sources: each is flagged with the right reason, and its
corrected version passes. Every entry quotes where it was published (collected in Nov 2026 from
stored copies of the pages; formulas transcribed into symbolic's vocabulary)."""

from dataclasses import dataclass

import pytest

from symbolic.architecture.dtypes import Precision
from symbolic.architecture.workload import Workload
from symbolic.check.checker import check_formula, check_hardware_number, check_number
from symbolic.config.hardware import get_accelerator
from symbolic.config.load import load
from symbolic.quantities.derive import Derivation


@dataclass(frozen=True)
class Known:
    id: str
    source: str          # where it was published
    quote: str           # what it says
    claim: str           # the formula (or figure) in symbolic's vocabulary
    against: str
    model: str
    reason: str          # a mistake key, or 'violates:<assumption>', or a phrase of a number's verdict
    corrected: str
    setting: tuple = ()


KNOWN = [
    Known("devto-llama31-70b-kv-hidden-dim-340gb", "https://wpnews.pro (copy of a dev.to post)",
          "KV cache for Llama 3.1 70B at 128K context: 2 x 80 layers x 8192 hidden x 128K ... ≈ 340 GB",
          "2 * L * H * c * b_kv", "kv_cache.bytes_per_sequence", "llama-3.1-70b", "query_heads_for_kv",
          "2 * L * n_kv * d_h * c * b_kv", (("context", 131072),)),
    Known("localops-llama31-70b-kv-num-heads", "https://localops.tech",
          "KV cache = 2 x num_layers x num_heads x head_dim x seq_len x bytes",
          "2 * L * n_q * d_h * c * b_kv", "kv_cache.bytes_per_sequence", "llama-3.1-70b",
          "query_heads_for_kv", "2 * L * n_kv * d_h * c * b_kv", (("context", 131072),)),
    Known("parthyadav-mistral-7b-kv-512kib", "https://parthyadav.vercel.app",
          "Mistral 7B: 2 x 32 layers x 4096 x 2 bytes = 512 KiB per token",
          "2 * L * H * b_kv", "kv_cache.bytes_per_token", "mistral-7b-v0.1", "query_heads_for_kv",
          "2 * L * n_kv * d_h * b_kv"),
    Known("ml-notes-kv-equals-embedding-dim", "https://git.putinpi.com",
          "KV cache per token = 2 x n_layers x embedding_dim x bytes",
          "2 * L * n_q * d_h * b_kv", "kv_cache.bytes_per_token", "llama-3.1-8b", "query_heads_for_kv",
          "2 * L * n_kv * d_h * b_kv"),
    Known("kolosal-calculator-kv-uses-embedding-length", "https://github.com (kolosal calculator issue)",
          "kv cache size computed from embedding_length, ignoring head_count_kv",
          "2 * L * H * c * b_kv", "kv_cache.bytes_per_sequence", "qwen2.5-7b", "query_heads_for_kv",
          "2 * L * n_kv * d_h * c * b_kv"),
    Known("scaling-book-vocab-times-layers", "https://github.com/jax-ml/scaling-book",
          "vocabulary parameters counted as L x D x V", "L * H * V", "params.embedding", "llama-3.1-8b",
          "per_layer", "H * V"),
    Known("hf-hub-falcon-7b-7.22b-params", "https://huggingface.co (a falcon-7b fine-tune's page)",
          "7.22B params (lm_head.weight, tied to word_embeddings, summed again)",
          "2*V*H + L*(2*H*n_q*d_h + 2*H*n_kv*d_h + 3*H*d_ff + 2*H + n_q*d_h + 2*n_kv*d_h) + H",
          "params.total", "qwen2.5-0.5b", "tied_counted_twice",
          "V*H + L*(2*H*n_q*d_h + 2*H*n_kv*d_h + 3*H*d_ff + 2*H + n_q*d_h + 2*n_kv*d_h) + H"),
    Known("llama2c-state-dict-tied-twice", "https://github.com/karpathy/llama2.c",
          "sum(v.numel() for v in state_dict.values()) counts the shared embedding twice",
          "2*V*H + L*(2*H*n_q*d_h + 2*H*n_kv*d_h + 3*H*d_ff + 2*H) + H", "params.total", "llama-3.2-1b",
          "tied_counted_twice", "V*H + L*(2*H*n_q*d_h + 2*H*n_kv*d_h + 3*H*d_ff + 2*H) + H"),
    Known("fvcore-fma-counted-as-one-flop", "https://github.com/facebookresearch/fvcore",
          "fvcore counts one fused multiply-add as one flop",
          "B * (L*(2*H*n_q*d_h + 2*H*n_kv*d_h + 3*H*d_ff) + H*V)", "flops.decode_step.matmul",
          "llama-3.1-8b", "macs_as_flops", "2 * B * (L*(2*H*n_q*d_h + 2*H*n_kv*d_h + 3*H*d_ff) + H*V)"),
    Known("thop-readme-macs-labelled-flops", "https://github.com/Lyken17/pytorch-OpCounter",
          "flops, params = profile(model, inputs=(input, )) -- the FLOPs(G) column counts MACs",
          "B * S * L * (2*H*n_q*d_h + 2*H*n_kv*d_h + 3*H*d_ff) + B * H * V", "flops.prefill.matmul",
          "llama-2-7b", "macs_as_flops",
          "2 * B * S * L * (2*H*n_q*d_h + 2*H*n_kv*d_h + 3*H*d_ff) + 2 * B * H * V"),
    Known("nvidia-modelopt-flops-equal-macs", "https://github.com/NVIDIA/TensorRT-Model-Optimizer",
          "FLOPs = MACs", "L*(2*H*n_q*d_h + 2*H*n_kv*d_h + 3*H*d_ff) + H*V", "flops.decode_step.matmul",
          "qwen3-8b", "macs_as_flops", "2 * (L*(2*H*n_q*d_h + 2*H*n_kv*d_h + 3*H*d_ff) + H*V)"),
    Known("dit-paper-gflops-are-macs", "https://github.com/facebookresearch/DiT",
          "Gflops reported as one operation per weight per token", "P * S", "flops.prefill.total",
          "llama-2-7b", "about_half_flops", "2 * P * S"),
    Known("dit-issue-6-forward-flops-per-param", "https://github.com/facebookresearch/DiT (issue 6)",
          "6 forward FLOPs per parameter per token", "6 * P * S", "flops.prefill.total", "llama-2-7b",
          "about_training_flops", "2 * P * S"),
    Known("megatron-causal-full-square-mfu-over-100", "https://github.com/NVIDIA/Megatron-LM",
          "attention FLOPs use the full S^2 even for causal attention (MFU above 100%)",
          "4 * B * L * S^2 * n_q * d_h", "flops.prefill.attention", "llama-3.1-8b",
          "full_square_for_causal", "2 * B * L * S * (S + 1) * n_q * d_h"),
    Known("tooljolt-gemma2-9b-head-dim-224", "https://tooljolt.com",
          "2 x 42 x 8 x 224 x 2 ≈ 294.0 KB per token", "2 * L * n_kv * (H / n_q) * b_kv",
          "kv_cache.bytes_per_token", "gemma-2-9b", "violates:head_dim", "2 * L * n_kv * d_h * b_kv"),
    Known("bumblebee-gemma-head-size-shape-mismatch", "https://github.com/elixir-nx/bumblebee",
          "expected value weights of shape {3072, 3072} (head size = hidden / heads) for gemma-7b",
          "4 * H * n_kv * (H / n_q)", "params.per_layer.full_attention.attention", "gemma-7b",
          "violates:head_dim", "2 * H * n_q * d_h + 2 * H * n_kv * d_h"),
    Known("devto-mistral-7b-kv-ignores-sliding-window", "https://dev.to",
          "Mistral 7B KV cache: 4 GB at 32K tokens", "2 * L * n_kv * d_h * c * 2",
          "kv_cache.bytes_per_sequence", "mistral-7b-v0.1", "sliding_window_ignored",
          "2 * L * n_kv * d_h * min(c, W - 1) * 2", (("context", 32768),)),
    Known("llama-issue-70b-params-ignoring-gqa", "https://github.com/meta-llama/llama (issue)",
          "L*(4*H^2 + 3*H*d_ff) + V*H = 78B for Llama-2-70B", "L*(4*H^2 + 3*H*d_ff)", "params.layers",
          "llama-2-70b", "violates:mha", "L*(2*H*n_q*d_h + 2*H*n_kv*d_h + 3*H*d_ff)"),
    Known("transformerlens-llama7b-n-params-2-matrix-mlp", "https://github.com/TransformerLensOrg/TransformerLens",
          "n_params = 5033164800 for LLaMA-7B (2-matrix MLP)", "L*(4*H^2 + 2*H*d_ff)", "params.layers",
          "llama-2-7b", "gate_missing", "L*(4*H^2 + 3*H*d_ff)"),
]

KNOWN += [
    Known("maxtext-mixtral-tflops-all-experts", "https://github.com/AI-Hypercomputer/maxtext",
          "Mixtral TFLOPs per step computed with num_experts (8) rather than num_experts_per_tok (2)",
          "2*B*S*L*(2*H*n_q*d_h + 2*H*n_kv*d_h + 3*H*d_e*E + H*E) + 2*B*H*V", "flops.prefill.matmul",
          "mixtral-8x7b", "moe_without_top_k",
          "2*B*S*L*(2*H*n_q*d_h + 2*H*n_kv*d_h + 3*H*d_e*k + H*E) + 2*B*H*V"),
    Known("vllm-fit-moe-params-active-only", "https://github.com (a vLLM memory-fit estimator)",
          "memory estimated from about 13B (active) parameters for Mixtral-8x7B",
          "2*V*H + H + L*(2*H*n_q*d_h + 2*H*n_kv*d_h + 3*H*d_e*k + E*H + 2*H)", "params.total",
          "mixtral-8x7b", "moe_active_only",
          "2*V*H + H + L*(2*H*n_q*d_h + 2*H*n_kv*d_h + 3*H*d_e*E + E*H + 2*H)"),
]

FIGURES = [
    # (id, source, quote, claim, against, model or accelerator, reason phrase, corrected, setting)
    ("fms-fsdp-mfu-1979-tflops", "https://github.com/foundation-model-stack/fms-fsdp",
     "MFU = achieved / 1979 TFLOPs / sec", "1979 TFLOPS", "hardware.peak_flops", "h100-sxm",
     "sparse peak", "989.4 TFLOPS", ()),
    ("megatron-mfu-400-over-2000", "https://github.com/NVIDIA/Megatron-LM (issue)",
     "400 TFLOP/s / 2000 TFLOP/s = 20% MFU", "2000 TFLOP/s", "hardware.peak_flops", "h100-sxm",
     "sparse peak", "989 TFLOP/s", ()),
    ("zubnet-h100-2000-tflops", "https://zubnet.ai", "the H100's theoretical 2000 TFLOP/s",
     "2000 TFLOPS", "hardware.peak_flops", "h100-sxm", "sparse peak", "989 TFLOPS", ()),
    ("neuralbase-llama70b-140gb-fp32", "https://theneuralbase.com", "Llama 2 70B needs ~140GB (FP32)",
     "140 GB", "memory.weights_bytes", "llama-2-70b", "about half", "276 GB", (("weight_dtype", "fp32"),)),
]


def derivation(model, setting):
    s = dict(setting)
    return Derivation(load(model), Workload(1, s.get("prompt"), s.get("context")),
                      Precision.of(s.get("weight_dtype", "bf16")))


def test_there_are_at_least_twenty_from_public_sources():
    assert len(KNOWN) + len(FIGURES) >= 20
    assert len({k.id for k in KNOWN} | {f[0] for f in FIGURES}) == len(KNOWN) + len(FIGURES)


@pytest.mark.parametrize("known", KNOWN, ids=[k.id for k in KNOWN])
def test_known_wrong_formula_is_flagged_with_its_reason(known):
    d = derivation(known.model, known.setting)
    verdict = check_formula(known.claim, known.against, [d]).verdicts[0]
    assert not verdict.holds, verdict
    if known.reason.startswith("violates:"):
        assert known.reason.split(":")[1] in [a.key for a in verdict.violated], verdict
    else:
        assert known.reason in [m.key for m in verdict.mistakes], verdict
    corrected = check_formula(known.corrected, known.against, [d])
    assert corrected.holds, corrected.verdicts[0]


@pytest.mark.parametrize("figure", FIGURES, ids=[f[0] for f in FIGURES])
def test_known_wrong_figure_is_flagged_with_its_reason(figure):
    _, _, _, claim, against, target, reason, corrected, setting = figure
    if against.startswith("hardware."):
        wrong = check_hardware_number(claim, against, get_accelerator(target))
        right = check_hardware_number(corrected, against, get_accelerator(target))
    else:
        d = derivation(target, setting)
        wrong, right = check_number(claim, against, d), check_number(corrected, against, d)
    assert not wrong.holds
    assert reason in wrong.verdict.factor
    assert right.holds


def test_a_causal_discount_in_decode_is_named():
    # DESIGN.md's peer trap: "a causal factor ... silently applied to decode as well as prefill"
    d = derivation("llama-3.1-8b", ())
    halved = check_formula("2 * B * L * n_q * d_h * (c + 1)", "flops.decode_step.attention", [d])
    assert "causal_discount_in_decode" in [m.key for m in halved.verdicts[0].mistakes]
