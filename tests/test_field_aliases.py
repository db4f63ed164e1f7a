"""Field spellings transformers' configuration classes map onto one attribute (their
attribute_map): a config that uses the other spelling means the same model, and a config that gives
both with different values is refused in one line."""

import pytest

import symbolic
from symbolic.config.presets import get_preset
from symbolic.errors import ConfigError

from .agreement import assert_parameters_agree

SMALL = {"vocab_size": 64, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
         "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8, "num_experts_per_tok": 2,
         "max_position_embeddings": 256}

ALIASED = {  # model_type -> (the spelling this test gives, the one the family names it by)
    "qwen3_moe": ({"moe_intermediate_size": 16}, "num_local_experts", "num_experts"),
    "mixtral": ({}, "num_experts", "num_local_experts"),
    "gpt_oss": ({"sliding_window": 4}, "num_experts", "num_local_experts"),
    "minimax_m2": ({}, "num_experts", "num_local_experts"),
    "glm4_moe": ({"moe_intermediate_size": 16}, "num_local_experts", "n_routed_experts"),
}


@pytest.mark.oracle
@pytest.mark.parametrize("model_type", sorted(ALIASED))
def test_the_other_spelling_means_the_same_model(model_type):
    extra, spelling, _ = ALIASED[model_type]
    config = {"model_type": model_type, **SMALL, **extra, spelling: 6}
    assert symbolic.load_architecture(config).num_experts == 6      # not the family's default
    assert_parameters_agree(config)


@pytest.mark.parametrize("model_type", sorted(ALIASED))
def test_both_spellings_that_disagree_are_refused(model_type):
    extra, spelling, canonical = ALIASED[model_type]
    config = {"model_type": model_type, **SMALL, **extra, spelling: 6, canonical: 8}
    with pytest.raises(ConfigError, match=f"'{spelling}'.*contradict|'{canonical}'.*contradict"):
        symbolic.load_architecture(config)


def test_deepseek_v3_reads_num_local_experts():
    config = {**get_preset("deepseek-v3").config}
    experts = config.pop("n_routed_experts")
    assert symbolic.load_architecture({**config, "num_local_experts": experts}).num_experts == experts
    with pytest.raises(ConfigError, match="contradict"):
        symbolic.load_architecture({**config, "num_local_experts": 8, "n_routed_experts": 256})


def test_gpt2_spellings_that_disagree_are_refused():
    config = {**get_preset("gpt2").config, "hidden_size": 1024}
    with pytest.raises(ConfigError, match="'n_embd'.*'hidden_size'.*contradict"):
        symbolic.load_architecture(config)
