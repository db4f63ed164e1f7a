"""The vocabulary: every symbol documented, the aliases people write resolve to it."""

import pytest

from symbolic import symbols
from symbolic.config.families import ConfigReader

ALIASES = {
    "nlayers": "L", "n_layers": "L", "num_hidden_layers": "L", "dmodel": "H", "d_model": "H",
    "hidden_size": "H", "n_embd": "H", "nheads": "n_q", "n_heads": "n_q", "head_dim": "d_h",
    "dhead": "d_h", "d_head": "d_h", "seq_len": "S", "bs": "B", "batch_size": "B",
    "num_key_value_heads": "n_kv", "n_kv_heads": "n_kv", "d_ffn": "d_ff", "intermediate_size": "d_ff",
    "vocab_size": "V", "sliding_window": "W", "precision_in_bytes": "b_kv", "bytes_per_param": "b_w",
}


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_aliases_resolve(alias):
    assert symbols.lookup(alias).name == ALIASES[alias]
    assert symbols.lookup(alias.upper()).name == ALIASES[alias]


def test_every_term_is_documented_and_prints_as_it_is_named():
    import sympy

    for term in symbols.TERMS:
        assert term.meaning and term.unit and term.latex
        assert str(term.symbol) == term.name
        assert sympy.latex(term.symbol) == term.latex


def test_hf_fields_of_the_vocabulary_are_the_ones_the_readers_use():
    """A term's hf_fields name the config keys symbolic reads it from."""
    assert symbols.VOCABULARY["H"].hf_fields[:2] == ("hidden_size", "n_embd")
    reader = ConfigReader({"n_embd": 768}, "gpt2")
    assert reader.integer(*symbols.VOCABULARY["H"].hf_fields) == 768


def test_unknown_names_get_close_suggestions():
    assert symbols.lookup("nlayer") is None
    assert "nlayers" in symbols.closest_names("nlayer")


def test_a_kind_of_layer_not_seen_before_gets_its_own_count_symbol():
    """The layer vocabulary is open: a new part makes a new kind name, whose count symbol and
    vocabulary term are made on first use; closed forms gather terms by it like L_full."""
    from symbolic.quantities.closed_forms import closed_form
    from symbolic.symbols import H, V, is_layer_count, layer_count_symbol, term_of

    count = layer_count_symbol("chunked_attention_moe")
    assert count is layer_count_symbol("chunked_attention_moe")
    assert is_layer_count(count) and term_of(count).unit == "layers"
    assert closed_form(3 * count * H + 2 * count * V + H) == H + count * (3 * H + 2 * V)


def test_kinds_are_named_by_their_parts():
    import symbolic

    kinds = {g.spec.kind: (g.spec.slides, g.spec.is_moe)
             for name in ("gemma-2-9b", "deepseek-v2-lite", "qwen3-30b-a3b", "llama-3.1-8b")
             for g in symbolic.load(name).arch.layer_groups}
    assert kinds == {"full_attention": (False, False), "sliding_attention": (True, False),
                     "full_attention_moe": (False, True)}


def test_a_vision_language_wrapper_derives_its_language_model_and_says_what_is_left_out(capsys):
    import json

    import pytest

    import symbolic
    from symbolic.cli import main

    from .configs import SPARSE_GEMMA3

    d = symbolic.derive(SPARSE_GEMMA3)
    assert d.model.arch.model_type == "gemma3_text"
    assert any("siglip_vision_model" in w and "left out" in w for w in d.warnings)
    assert d.model.arch.describe()["V"]["origin"] == "default"      # 262,208: the family's default
    with pytest.raises(symbolic.ConfigError, match="'text_config' must be an object"):
        symbolic.derive({**SPARSE_GEMMA3, "text_config": "none"})
    assert main(["derive", "gemma-3-27b"]) == 0
    warnings = json.loads(capsys.readouterr().out)["warnings"]
    assert len(warnings) == 1 and "vision encoder" in warnings[0]
