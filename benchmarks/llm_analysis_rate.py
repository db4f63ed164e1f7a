"""Points per second of llm-analysis (https://github.com/cli99/llm-analysis, PyPI llm-analysis 0.2.2)
on the question a sweep point answers: TTFT, TPOT and KV-cache memory of Llama-3.1-8B on one
H100 SXM for a batch size and a context.

Runs inside its own virtual environment (llm-analysis pins transformers 4.31); benchmarks/run.py
creates it and reads the one JSON line this prints."""

import itertools
import json
import logging
import sys
import time

from llm_analysis.analysis import LLMAnalysis
from llm_analysis.config import DtypeConfig, ModelConfig, ParallelismConfig, get_gpu_config_by_name

# Llama-3.1-8B's config.json (meta-llama/Llama-3.1-8B): 32 layers, 32 heads, 8 KV heads, hidden
# 4096, intermediate 14336, vocabulary 128256, 131072 positions.
LLAMA_3_1_8B = ModelConfig(name="llama-3.1-8b", num_layers=32, n_head=32, hidden_dim=4096, vocab_size=128256,
                           max_seq_len=131072, num_key_value_heads=8, ffn_embed_dim=14336,
                           expansion_ratio=3.5, model_type="llama")


def main() -> None:
    logging.disable(logging.CRITICAL)   # it logs a report per call; the timing is what we want
    points = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    side = max(1, int(points ** 0.5))
    # A grid every point of which fits (llm-analysis raises on one that does not).
    batches = [1 + i * 15 // max(1, side - 1) for i in range(side)]
    contexts = [128 + i * (4096 - 128) // max(1, side - 1) for i in range(side)]
    analysis = LLMAnalysis(LLAMA_3_1_8B, get_gpu_config_by_name("h100-sxm-80gb"),
                           DtypeConfig(name="w16a16e16"), ParallelismConfig(tp_size=1))
    start = time.perf_counter()
    done = 0
    for batch, context in itertools.product(batches, contexts):
        summary = analysis.inference(batch_size_per_gpu=batch, seq_len=context, num_tokens_to_generate=256)
        done += 1
    seconds = time.perf_counter() - start
    print(json.dumps({"points": done, "seconds": seconds, "points_per_s": done / seconds,
                      "sample": {k: summary[k] for k in ("prefill_latency", "decode_latency",
                                                         "kv_cache_memory_per_gpu") if k in summary}}))


if __name__ == "__main__":
    main()
