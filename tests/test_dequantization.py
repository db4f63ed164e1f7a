"""Weight-only quantization's dequantization work (issue 15, the seed talk's int8-vs-int4 slide:
'batch size 越大，解量化所需时间越长', the larger the batch, the longer dequantization takes)."""

import json

import pytest

from .command import symbolic_cli

BASE = ["llama-3.1-8b", "--hardware", "h100-sxm"]


def _perf(*args) -> dict:
    result = symbolic_cli("derive", *BASE, *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["performance"]


def test_without_dequantization_work_nothing_changes():
    plain = _perf("--weight-dtype", "int4-g128", "--batch", "1,64,512")
    zero = _perf("--weight-dtype", "int4-g128", "--batch", "1,64,512", "--dequant-flops", "0")
    assert plain["tpot_at_context_s"] == zero["tpot_at_context_s"]


def test_weights_in_the_compute_dtype_are_not_expanded():
    plain = _perf("--batch", "1,512")
    costly = _perf("--batch", "1,512", "--dequant-flops", "2")
    assert plain["tpot_at_context_s"] == costly["tpot_at_context_s"]


def test_the_dequantization_cost_grows_with_the_batch():
    cheap = _perf("--weight-dtype", "int4-g128", "--batch", "1,16,256,1024")
    costly = _perf("--weight-dtype", "int4-g128", "--batch", "1,16,256,1024", "--dequant-flops", "0.5")
    extra = [b - a for a, b in zip(cheap["tpot_at_context_s"], costly["tpot_at_context_s"], strict=True)]
    assert extra == sorted(extra) and extra[-1] > 0


@pytest.mark.parametrize("cost", ["0.25", "0.5", "1"])
def test_the_crossover_is_where_the_step_times_cross(cost):
    found = _perf("--weight-dtype", "int4-g128", "--dequant-flops", cost, "--crossover-dtype", "bf16")
    batch = found["weight_crossover"]["bf16"]["batch"]
    assert batch is not None and batch > 1
    narrow = _perf("--weight-dtype", "int4-g128", "--dequant-flops", cost, "--batch", f"{batch - 1},{batch}")
    wide = _perf("--batch", f"{batch - 1},{batch}")
    assert narrow["tpot_at_context_s"][0] < wide["tpot_at_context_s"][0]
    assert narrow["tpot_at_context_s"][1] >= wide["tpot_at_context_s"][1]


def test_int4_stops_paying_against_int8_before_bf16_when_it_costs_more_to_expand():
    found = _perf("--weight-dtype", "int4-g128", "--dequant-flops", "0.5",
                  "--crossover-dtype", "int8:0.25,bf16")
    crossing = {name: entry["batch"] for name, entry in found["weight_crossover"].items()}
    assert 1 < crossing["int8:0.25"] < crossing["bf16"]
    never = _perf("--weight-dtype", "int4-g128", "--crossover-dtype", "bf16")
    assert never["weight_crossover"]["bf16"]["batch"] is None       # no expansion cost: never


@pytest.mark.parametrize("args,message", [([], "--hardware"),
                                          (["--hardware", "h100-sxm", "--format", "md"], "JSON")])
def test_a_crossover_needs_a_deployment_and_json(args, message):
    result = symbolic_cli("derive", "llama-3.1-8b", "--crossover-dtype", "bf16", *args)
    assert result.returncode == 2 and message in result.stderr
