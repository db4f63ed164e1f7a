"""Invariants that must hold for every architecture, drawn with the exported strategies."""

import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

import symbolic
from symbolic.architecture.workload import DECODE_STEP, PHASES, PREFILL
from symbolic.ops.op import OpKind
from symbolic.quantities import sums as q
from symbolic.quantities.closed_forms import relative_to_hidden
from symbolic.strategies import (
    Bounds,
    architectures,
    fitting_workloads,
    hf_configs,
    models,
    scenarios,
    workloads,
)
from symbolic.symbols import B, c, layer_counts, n, n_kv, n_q

WIDE = Bounds(max_kv_heads=16, max_group=8, max_head_dim=256, max_width_factor=512,
              max_intermediate=65536, max_layers=128, max_vocab=300_000, max_window=8192)
ROTARY = ("llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "phi3")


@settings(max_examples=60, deadline=None)
@given(config=st.sampled_from(ROTARY).flatmap(lambda t: hf_configs(t, WIDE)), workload=workloads())
def test_gqa_with_as_many_kv_heads_as_query_heads_is_mha(config, workload):
    """The GQA expressions at n_kv = n_q give exactly the numbers of the same model built as MHA,
    and its KV cache is the classic 2 * layers * (heads * head_dim) * bytes per token."""
    mha_config = {**config, "num_key_value_heads": config["num_attention_heads"]}
    gqa = symbolic.derive(config, batch=workload.batch, prompt=workload.prompt, context=workload.context)
    mha = symbolic.derive(mha_config, batch=workload.batch, prompt=workload.prompt,
                          context=workload.context)
    as_mha = {**gqa.bindings, n_kv: gqa.bindings[n_q]}
    for key, quantity in gqa.quantities.items():
        assert quantity.expr.xreplace(as_mha) == mha.value(key), key
    arch = mha.model.arch
    assert mha.value("kv_cache.bytes_per_token") == \
        2 * arch.num_layers * arch.num_heads * arch.head_dim * mha.precision.kv.bytes


@settings(max_examples=60, deadline=None)
@given(arch=architectures(bounds=WIDE))
def test_one_decode_token_costs_two_flops_per_matmul_weight(arch):
    """A decode step of one sequence multiplies every matmul weight once: 2 FLOPs per weight,
    counting the tied LM head (which reads the embedding) and nothing else of the embedding."""
    d = symbolic.derive(arch, batch=1, prompt=1, mla_form="absorbed")
    model = d.model
    # what a token passes through besides matmul weights (norms, biases; an expert's bias only
    # for the k experts it is routed to)
    non_matmul = q.model_sum(model, "active", kinds=[k for k in OpKind if k is not OpKind.MATMUL])
    tied = arch.vocab_size * arch.hidden_size if arch.tie_word_embeddings else 0
    matmul_weights = d.value("params.active") - d.evaluate(non_matmul) + tied
    assert d.value("flops.decode_step.matmul") == 2 * matmul_weights


_SHAPES_CHECKED: set = set()
"""Symbolic expressions whose closed form was already compared with SymPy's: an expression holds
no sizes, so architectures of one shape share it, and comparing it again checks nothing new."""


@settings(max_examples=25, deadline=None)     # each draw compares every quantity with SymPy's collect
@given(scenario=scenarios(bounds=WIDE))
def test_closed_forms_equal_the_per_op_sums(scenario):
    arch, workload = scenario
    d = symbolic.derive(arch, batch=workload.batch, prompt=workload.prompt, context=workload.context)
    for key, quantity in d.quantities.items():
        assert d.evaluate(quantity.closed_form) == quantity.value, key
        if quantity.textbook is not None:
            assert d.evaluate(quantity.textbook) == quantity.value, key
            assert d.evaluate(relative_to_hidden(quantity.expr, arch)) == quantity.value
        if quantity.expr in _SHAPES_CHECKED:
            continue
        _SHAPES_CHECKED.add(quantity.expr)
        if not quantity.expr.has(sympy.Piecewise, sympy.Min):
            assert sympy.expand(quantity.closed_form - quantity.expr) == 0, key
        # The same shape SymPy's own collect gives (closed_form groups terms itself, for speed).
        reference = sympy.collect(sympy.expand(quantity.expr), layer_counts(), func=sympy.factor_terms)
        assert quantity.closed_form == reference, key


@settings(max_examples=40, deadline=None)
@given(model=models(bounds=WIDE), data=st.data(), factor=st.integers(2, 16))
def test_flops_traffic_and_kv_bytes_are_linear_in_batch(model, data, factor):
    workload = data.draw(fitting_workloads(model.arch))
    small = symbolic.derive(model, batch=workload.batch, prompt=workload.prompt, context=workload.context)
    big = symbolic.derive(model, batch=workload.batch * factor, prompt=workload.prompt,
                          context=workload.context)
    for key in [k for k in small.quantities if k.startswith("flops.")] + ["kv_cache.bytes_per_batch"]:
        assert big.value(key) == factor * small.value(key), key
        assert sympy.diff(small[key].expr, B, 2) == 0
    for phase in PHASES:
        # weights are read once per step whatever the batch: traffic is affine, not linear
        weights = small.value(f"memory.{phase.name}.weights")
        assert big.value(f"memory.{phase.name}.weights") >= weights


@settings(max_examples=40, deadline=None)
@given(scenario=scenarios(bounds=WIDE))
def test_parts_add_up(scenario):
    arch, workload = scenario
    d = symbolic.derive(arch, batch=workload.batch, prompt=workload.prompt, context=workload.context)
    out = d.to_dict()
    params = out["params"]
    assert params["total"] == (params["embedding"] + params.get("position_embedding", 0)
                               + params["layers"] + params["final_norm"] + params["lm_head"])
    assert params["layers"] == sum(k["total"] * k["count"] for k in params["per_layer"].values())
    for kind in params["per_layer"].values():
        assert kind["total"] == kind["attention"] + kind.get("mixer", 0) + kind["mlp"] + kind["norm"]
    for phase in ("prefill", "decode_step"):
        f = out["flops"][phase]
        assert f["total"] == f["matmul"] + f["attention"] + f["elementwise"]
    assert out["memory"]["weights_bytes"] == params["total"] * d.precision.weight.bytes


@settings(max_examples=40, deadline=None)
@given(scenario=scenarios(bounds=WIDE, max_context=1000))
def test_decode_costs_grow_with_context(scenario):
    arch, workload = scenario
    shorter = symbolic.derive(arch, batch=workload.batch, prompt=workload.prompt, context=workload.context)
    longer = symbolic.derive(arch, batch=workload.batch, prompt=workload.prompt,
                             context=workload.context + 1)
    for key in ("flops.decode_step.total", "memory.decode_step.kv_read", "kv_cache.bytes_per_batch"):
        assert longer.value(key) >= shorter.value(key), key


@settings(max_examples=40, deadline=None)
@given(scenario=scenarios(bounds=WIDE))
def test_causal_counting_never_exceeds_full_counting(scenario):
    arch, workload = scenario
    """Both conventions agree on a decode step (but for sparse and chunked attention, whose causal
    count is the keys a query may see and whose full count every key held, as eager kernels score
    them); in a prefill
    the full count exceeds the causal one by the masked pairs, S(S-1)/2 per head of each attention
    layer where no window, chunk or selection applies."""
    causal = symbolic.derive(arch, batch=workload.batch, prompt=workload.prompt, context=workload.context)
    full = symbolic.derive(arch, batch=workload.batch, prompt=workload.prompt, context=workload.context,
                           attention_count="full")
    attending = [g for g in arch.layer_groups if g.spec.attention is not None]
    # a decode step counts the same pairs both ways, but where a layer selects its keys (sparse
    # attention's top k) or starts a new chunk (chunked attention), which eager kernels still score
    if not any(g.spec.attention.indexer or g.spec.chunked for g in attending):
        assert causal.value("flops.decode_step.total") == full.value("flops.decode_step.total")
    assert causal.value("flops.prefill.attention") <= full.value("flops.prefill.attention")
    if all(g.spec.span == "full_attention" and not g.spec.attention.mla and not g.spec.attention.indexer
           for g in attending):
        # the masked pairs of the attention layers alone (a state layer's scan counts no pairs)
        S = workload.prompt
        masked = 0
        for g in attending:
            head_dim = arch.global_head_dim if g.spec.attention.global_heads else arch.head_dim
            per_pair = 2 * 2 * head_dim  # two products, 2 FLOPs per multiply-add, head_dim long
            masked += workload.batch * g.count * arch.num_heads * S * (S - 1) // 2 * per_pair
        assert full.value("flops.prefill.attention") - causal.value("flops.prefill.attention") == masked


@settings(max_examples=40, deadline=None)
@given(arch=architectures("gemma2", WIDE), workload=workloads(max_prompt=256, max_context=256))
def test_a_window_longer_than_the_context_is_full_attention(arch, workload):
    """Sliding layers whose window covers every token cost exactly what full layers cost."""
    window = max(workload.prompt, workload.context) + 2
    config = {**arch.config, "sliding_window": window}
    everything_full = {**arch.config, "layer_types": ["full_attention"] * arch.num_layers}
    sliding = symbolic.derive(config, batch=workload.batch, prompt=workload.prompt,
                              context=workload.context)
    full = symbolic.derive(everything_full, batch=workload.batch, prompt=workload.prompt,
                           context=workload.context)
    for key in ("flops.prefill.total", "flops.decode_step.total", "kv_cache.bytes_per_batch",
                "memory.decode_step.total"):
        assert sliding.value(key) == full.value(key), key


def test_symbolic_expressions_only_use_the_vocabulary():
    """Every free symbol of every quantity is a vocabulary term (its name is its printed name)."""
    from symbolic.symbols import VOCABULARY

    for name in symbolic.preset_names():
        d = symbolic.derive(name)
        for quantity in d.quantities.values():
            for s in quantity.expr.free_symbols:
                assert VOCABULARY[s.name].symbol == s


def test_phases_are_one_op_list_at_two_points():
    """A decode step is the prefill's expression with one new token after c cached ones."""
    model = symbolic.load("llama-3.1-8b")
    generic = q.model_sum(model, "flops")
    assert q.model_sum(model, "flops", PREFILL) == generic.xreplace({n: PREFILL.new_tokens, c: 0})
    assert q.model_sum(model, "flops", DECODE_STEP) == generic.xreplace({n: 1})


@settings(max_examples=40, deadline=None)
@given(arch=st.sampled_from(["mixtral", "qwen3_moe", "deepseek_v3"]).flatmap(
    lambda family: architectures(family, WIDE)))
def test_moe_with_every_expert_active_is_the_dense_mlp_of_that_width(arch):
    """Routing every token to all E experts costs what one gated MLP E*d_e wide costs."""
    from symbolic.architecture.conventions import Conventions
    from symbolic.architecture.spec import MLPSpec, MoESpec
    from symbolic.ops.layers.mlp import mlp_ops
    from symbolic.ops.layers.moe import moe_ops
    from symbolic.symbols import E, d_e, d_ff, k

    conv = Conventions()
    experts = [op for op in moe_ops(MoESpec(), conv) if op.name.startswith("expert_") and
               op.kind is OpKind.MATMUL]
    dense = [op for op in mlp_ops(MLPSpec(gated=True), conv) if op.kind is OpKind.MATMUL]
    for field in ("flops", "params"):
        routed = sympy.Add(*(getattr(op, field) for op in experts)).xreplace({k: E})
        plain = sympy.Add(*(getattr(op, field) for op in dense)).xreplace({d_ff: E * d_e})
        assert sympy.expand(routed - plain) == 0, field
    config = {**arch.config, "num_experts_per_tok": arch.num_experts}
    if arch.model_type == "deepseek_v3":
        config["topk_group"] = config["n_group"]
    every = symbolic.derive(config)
    assert every.value("params.active") == every.value("params.total")


@settings(max_examples=30, deadline=None)
@given(arch=architectures("deepseek_v2", WIDE) | architectures("deepseek_v3", WIDE), workload=workloads())
def test_both_forms_of_latent_attention_hold_the_same_weights_and_cache(arch, workload):
    absorbed = symbolic.derive(arch, batch=workload.batch, prompt=workload.prompt, context=workload.context)
    expanded = symbolic.derive(arch, batch=workload.batch, prompt=workload.prompt, context=workload.context,
                               mla_form="expanded")
    for key in ("params.total", "params.active", "kv_cache.bytes_per_batch", "memory.weights_bytes"):
        assert absorbed.value(key) == expanded.value(key), key
    # absorption pays off in decode once the context is long: the expanded form re-expands it all
    if workload.context >= 64:
        assert absorbed.value("flops.decode_step.total") <= expanded.value("flops.decode_step.total")
