"""Property: for drawn architectures, each mistake of the catalogue, committed on the exact
expression, is diagnosed as that mistake (or, where two mistakes make the same expression on that
model, as one of them), and a negligible term left out is named as neglected."""

from fractions import Fraction

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import symbolic
from symbolic.check import mutations as mut
from symbolic.check.checker import check_formula_on, quantity_kind
from symbolic.errors import WorkloadError
from symbolic.strategies import hf_configs, workloads

KEYS = ("kv_cache.bytes_per_token", "kv_cache.bytes_per_sequence", "params.total", "params.layers",
        "flops.prefill.total", "flops.decode_step.total", "flops.decode_step.attention",
        "memory.weights_bytes")
FAMILIES = ("llama", "qwen3", "gemma2", "gemma3_text", "gpt2", "mixtral", "qwen2_moe", "deepseek_v3",
            "gpt_oss", "qwen3_next", "lfm2", "llama4_text")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=st.sampled_from(FAMILIES).flatmap(hf_configs), workload=workloads(max_batch=8, max_prompt=4096,
                                                                              max_context=16384),
       key=st.sampled_from(KEYS), data=st.data())
def test_a_committed_mistake_is_diagnosed_as_itself(config, workload, key, data):
    try:
        derivation = symbolic.derive(config, batch=workload.batch, prompt=workload.prompt,
                                     context=workload.context)
    except WorkloadError:       # more tokens than a drawn GPT-2 has positions
        assume(False)
    exact = derivation[key].expr
    ctx = mut.Context(derivation, key, quantity_kind(key), exact)
    mut.relatives(ctx)
    point = {s: Fraction(int(v.p), int(v.q)) for s, v in derivation.bindings.items()}
    value = Fraction(int(derivation.value(key).p), int(derivation.value(key).q))
    edits = [e for e in mut.edits_for(ctx) if mut.value_at(e.apply(exact), point) not in (None, value)]
    assume(edits)       # a mistake that changes nothing on this model cannot be told
    edit = data.draw(st.sampled_from(edits))
    verdict = check_formula_on(edit.apply(exact), derivation, key)
    named = {f.key for explanation in verdict.explanations for f in explanation}
    named |= {f.key for f in verdict.neglected}
    assert edit.key in named, (edit.key, edit.reason, verdict.status, named)
