"""Every preset against transformers: parameters on the meta device (full size), KV cache and
matmul FLOPs on a scaled-down copy (see oracle.py and agreement.py)."""

import pytest

from symbolic.config.presets import get_preset, preset_names

from .agreement import assert_parameters_agree, assert_scaled_copy_agrees
from .configs import SPARSE_GEMMA3

pytestmark = pytest.mark.oracle


@pytest.mark.parametrize("name", preset_names())
def test_parameters_match_transformers(name):
    assert_parameters_agree(get_preset(name).config)


@pytest.mark.parametrize("name", preset_names())
def test_kv_cache_and_flops_match_a_real_forward(name):
    assert_scaled_copy_agrees(get_preset(name).config)


def test_a_multimodal_wrappers_language_model_matches_transformers():
    """The language model of a gemma3 wrapper, read from a sparse text_config, equals the text
    model transformers builds from the same text_config (its class filling the defaults)."""
    assert_parameters_agree(SPARSE_GEMMA3)
    assert_scaled_copy_agrees(SPARSE_GEMMA3)
