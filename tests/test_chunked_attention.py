"""Llama-4's chunked attention and DeepSeek-V3.2's sparse attention: the pairs a causal chunked mask
keeps, the keys a sparse query sees, and exact sums of decode steps whose cost jumps at every chunk
boundary. The oracle tests compare the cache and the eager
FLOPs with transformers; these check the causal count against the mask's definition (a key j is
visible to the query at i when j <= i and both lie in the same chunk, floor(j / W_c) = floor(i / W_c):
transformers' masking_utils.chunked_overlay), counted one pair at a time."""

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from symbolic.architecture.conventions import Conventions
from symbolic.architecture.spec import AttentionSpec
from symbolic.ops.layers.attention import attended_pairs, cached_tokens
from symbolic.performance.roofline import sum_linear_pieces
from symbolic.symbols import W_c, c, k_idx, n


def _mask_pairs(cached: int, new: int, chunk: int) -> int:
    return sum(1 for i in range(cached, cached + new) for j in range(i + 1) if j // chunk == i // chunk)


@settings(max_examples=200, deadline=None)
@given(cached=st.integers(0, 60), new=st.integers(1, 40), chunk=st.integers(1, 17))
def test_causal_pairs_equal_the_chunked_mask(cached, new, chunk):
    pairs = attended_pairs(AttentionSpec(chunked=True), Conventions())
    assert pairs.xreplace({c: cached, n: new, W_c: chunk}) == _mask_pairs(cached, new, chunk)


@settings(max_examples=200, deadline=None)
@given(cached=st.integers(0, 60), new=st.integers(1, 40), top=st.integers(1, 17))
def test_sparse_attention_attends_to_the_selected_keys(cached, new, top):
    # DeepSeek-V3.2: a query sees its index_topk best keys, or every visible key when fewer exist
    pairs = attended_pairs(AttentionSpec(mla=True, q_lora=True, indexer=True), Conventions())
    expected = sum(min(i + 1, top) for i in range(cached, cached + new))
    assert pairs.xreplace({c: cached, n: new, k_idx: top}) == expected


def test_the_cache_keeps_one_chunk_less_a_token():
    # transformers' cache_utils maps chunked_attention to DynamicSlidingWindowLayer with
    # sliding_window = attention_chunk_size: the last W_c - 1 tokens stay
    held = cached_tokens(AttentionSpec(chunked=True))
    assert [held.xreplace({c: t, W_c: 8}) for t in (0, 5, 7, 8, 100)] == [0, 5, 7, 7, 7]


@pytest.mark.parametrize(("start", "count"), [(0, 40), (5, 1), (7, 9), (23, 61)])
def test_decode_steps_sum_exactly_across_chunk_boundaries(start, count):
    step = attended_pairs(AttentionSpec(chunked=True), Conventions()).xreplace({n: 1, W_c: 8})
    stepwise = sum(step.xreplace({c: t}) for t in range(start, start + count))
    assert sum_linear_pieces(step, c, start, count) == stepwise
    assert stepwise == sum(_mask_pairs(t, 1, 8) for t in range(start, start + count))
    bound = sympy.Max(3 * step, 2 * c + 5)   # a roofline-like max over the sawtooth
    assert sum_linear_pieces(bound, c, start, count) == sum(bound.xreplace({c: t})
                                                            for t in range(start, start + count))
