"""KV-cache allocation as engines do it (issue 15): whole blocks of a block size (paged attention),
a reservation of the maximum length per sequence, and memory kept free for the activations of a
forward; each reduces to the exact token count when left out."""

import json

import pytest

from .command import symbolic_cli

BASE = ["llama-3.1-8b", "--hardware", "h100-sxm", "--prompt", "2000", "--output", "50"]


def _perf(*args) -> dict:
    result = symbolic_cli("derive", *BASE, *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["performance"]


def _per_token() -> int:
    return json.loads(symbolic_cli("derive", "llama-3.1-8b").stdout)["kv_cache"]["bytes_per_token"]


def test_blocks_of_one_token_and_no_workspace_are_the_exact_model():
    plain, trivial = _perf(), _perf("--kv-block", "1", "--workspace-tokens", "0")
    plain.pop("kv_allocation")
    trivial.pop("kv_allocation")
    assert plain == trivial


def test_a_sequence_holds_whole_blocks():
    """vLLM gives a sequence cdiv(tokens, block_size) blocks: 2050 tokens in blocks of 16 hold 2064."""
    paged = _perf("--kv-block", "16")
    assert paged["kv_bytes_per_sequence_per_device"] == 2064 * _per_token()
    exact = _perf()
    assert exact["kv_bytes_per_sequence_per_device"] == 2050 * _per_token()
    free = exact["usable_bytes_per_device"] - exact["weights_bytes_per_device"]
    assert paged["max_batch"] == free // (2064 * _per_token())
    assert exact["max_batch"] == free // (2050 * _per_token()) > paged["max_batch"]


def test_a_reservation_of_the_maximum_length_holds_fewer_users():
    reserved = _perf("--kv-reserve", "8192")
    free = reserved["usable_bytes_per_device"] - reserved["weights_bytes_per_device"]
    assert reserved["max_batch"] == free // (8192 * _per_token())
    assert reserved["max_batch"] < _perf("--kv-block", "16")["max_batch"]


def test_the_workspace_is_the_largest_op_of_a_forward_of_that_many_tokens():
    """For Llama-3.1-8B at 8192 tokens: the gated activation, which reads gate and up outputs
    (2 x 14336 features) and writes 14336 per token in bf16 (vLLM's SiluAndMul: [T, 2 d_ff] in,
    [T, d_ff] out)."""
    perf = _perf("--workspace-tokens", "8192")
    assert perf["kv_allocation"]["workspace_bytes_per_device"] == 8192 * 3 * 14336 * 2
    free = perf["usable_bytes_per_device"] - perf["weights_bytes_per_device"] - 8192 * 3 * 14336 * 2
    assert perf["max_batch"] == free // (2050 * _per_token())


@pytest.mark.parametrize("options", [["--kv-block", "16"], ["--kv-reserve", "4096"],
                                     ["--kv-block", "1024", "--workspace-tokens", "8192"]])
def test_the_sweep_and_derive_agree_on_who_fits(options):
    largest = _perf(*options)["max_batch"]
    result = symbolic_cli("sweep", "llama-3.1-8b", "--hardware", "h100-sxm", "--prompt", "2000",
                          "--output", "50", "--context", "2000", "--batch", f"{largest},{largest + 1}",
                          "--format", "json", *options)
    table = json.loads(result.stdout)
    fits = [row[table["columns"].index("fits")] for row in table["rows"]]
    assert fits == [True, False]


def test_a_reservation_shorter_than_a_request_is_refused_in_one_line():
    result = symbolic_cli("derive", *BASE, "--kv-reserve", "1000")
    assert result.returncode == 2 and "--kv-reserve 1000" in result.stderr
    assert result.stderr.count("\n") == 1


def test_the_sweep_counts_a_request_longer_than_its_reservation_as_not_fitting():
    result = symbolic_cli("sweep", "llama-3.1-8b", "--hardware", "h100-sxm", "--prompt", "2048",
                          "--output", "256", "--context", "2048", "--kv-reserve", "1000", "--batch", "1",
                          "--format", "json")
    table = json.loads(result.stdout)
    assert [row[table["columns"].index("fits")] for row in table["rows"]] == [False]


def test_a_workspace_that_fills_memory_is_named_as_the_cause():
    result = symbolic_cli("derive", *BASE, "--workspace-tokens", "1000000000")
    assert result.returncode == 2 and "activation workspace" in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("hardware", ["a100-sxm-80gb", "h100-sxm", "l40s"])
def test_swapping_kv_to_host_memory_costs_what_the_host_link_carries(hardware):
    """One GiB over the quoted PCIe host link (half its bidirectional figure) takes 10-40 ms.
    The seed talk (shared/seeds/003, 'Mem Offload', line 90: moving 1 GB costs 20 ms, one decode
    step fewer for every user) sits between PCIe Gen4 (33.6 ms) and Gen5 (16.8 ms). A sequence's swap is its
    KV bytes at that rate, and in decode steps it is that time over the step the JSON reports."""
    from symbolic.config.hardware import get_accelerator

    perf = _perf("--hardware", hardware, "--batch", "8")
    swap = perf["kv_swap"]
    sources = get_accelerator(hardware).sources["host_link"]
    import re

    bidirectional = float(re.search(r"PCIe Gen\d(?: x16)?:? (\d+) ?GB", sources["quote"])[1])
    assert swap["host_link_bandwidth_per_direction"] == bidirectional * 1e9 / 2
    assert 0.010 <= swap["seconds_per_gib"] <= 0.040
    assert swap["sequence_kv_bytes_per_device"] == perf["kv_bytes_per_sequence_per_device"]
    per_byte = swap["seconds_per_gib"] / 2**30
    assert swap["swap_out_s"] == pytest.approx(swap["sequence_kv_bytes_per_device"] * per_byte)
    assert swap["decode_steps_per_swap_out_and_in"] == pytest.approx(
        swap["swap_out_and_in_s"] / perf["tpot_at_context_s"][0])


def test_a_device_without_a_host_link_figure_says_so_and_a_hardware_file_can_give_one(tmp_path):
    assert "no host-link figure" in _perf("--hardware", "h200")["kv_swap"]["reason"]
    own = {"accelerators": [{"name": "mine", "peak_flops": {"bf16": 1e15}, "memory": {"value": 80e9},
                             "memory_bandwidth": 3e12,
                             "host_link": {"name": "CXL", "per_direction": 1e11}}]}
    path = tmp_path / "hw.json"
    path.write_text(json.dumps(own))
    swap = _perf("--hardware", "mine", "--hardware-file", path)["kv_swap"]
    assert swap["host_link"] == "CXL" and swap["seconds_per_gib"] == pytest.approx(2**30 / 1e11)


def test_a_swap_moves_the_cached_tokens_and_counts_whole_speculative_steps():
    """A reservation's unused tail is not moved; whole blocks are. With speculation a step is gamma
    draft steps and a verify step: E tokens' worth of TPOT."""
    plain = _perf()["kv_swap"]
    reserved = _perf("--kv-reserve", "4096")["kv_swap"]
    assert reserved["sequence_kv_bytes_per_device"] == plain["sequence_kv_bytes_per_device"]
    blocks = _perf("--kv-block", "64")["kv_swap"]
    assert blocks["sequence_kv_bytes_per_device"] == plain["sequence_kv_bytes_per_device"] * 2112 // 2050
    spec = _perf("--draft", "llama-3.2-1b", "--speculative-tokens", "4", "--acceptance", "0.8")
    step = spec["tpot_at_context_s"][0] * spec["speculative"]["expected_tokens_per_step"]
    assert spec["kv_swap"]["decode_steps_per_swap_out_and_in"] == pytest.approx(
        spec["kv_swap"]["swap_out_and_in_s"] / step)
