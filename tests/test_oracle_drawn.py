"""Hypothesis-drawn small architectures of every family against transformers: parameters, KV
cache and matmul FLOPs of a real prefill and decode step (see oracle.py)."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symbolic.strategies import MODEL_TYPES, hf_configs

from .agreement import assert_forward_agrees, assert_parameters_agree
from .oracle import build

pytestmark = pytest.mark.oracle

EXAMPLES_PER_FAMILY = 8
"""Drawn configs per model_type in a run (derandomized in CI): 8 x 36 families; run with a larger
number by hand after changing a family (40 per family was the check when each was added)."""


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_drawn_architectures_match_transformers(model_type):
    @settings(max_examples=EXAMPLES_PER_FAMILY, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(config=hf_configs(model_type), batch=st.integers(1, 3), prompt=st.integers(1, 14))
    def check(config, batch, prompt):
        built = build(config, meta=False)
        assert_parameters_agree(config, built)
        assert_forward_agrees(config, batch=batch, prompt=prompt, built=built)

    check()
