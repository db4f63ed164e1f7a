"""Every preset on every kind of accelerator, layout, format and language answers, or refuses in
one line: never a traceback, never exit 1, never a file left behind.

The factors are every preset, an H100 SXM, an MI300X and a 24 GB RTX 4090 that is too small for
the big models, TP 1, 2 and 8, EP 1 and 2 where the model is MoE, and json and md in English and
Chinese. CI (``CI`` set in the environment, as CI runs, or ``SYMBOLIC_FULL_MATRIX=1``) runs a
covering design: every preset with every accelerator, with every TP and (MoE) with every EP, and
every accelerator with every TP and EP, each pair of values at least once (a Latin square over
accelerator and TP, about a third of the full product's 720 cases); each case answers in JSON and in
a Markdown document in one language, the two languages alternating so that each preset, each
accelerator and each layout is written in both. A mistake that needs one preset in one layout is
found; one that needs three factors at once may not be, and the slice below runs the whole
product on models of each kind.
The default run takes that slice alone: a dense, a sliding-window, a MoE and a latent-attention
model.
"""

import json
import os

import pytest

from symbolic.cli import main
from symbolic.config.load import load_architecture
from symbolic.config.presets import preset_names

LANGUAGES = ("en", "zh")
FULL = bool(os.environ.get("CI") or os.environ.get("SYMBOLIC_FULL_MATRIX"))
SLICE = ("llama-3.1-8b", "gemma-2-9b", "mixtral-8x7b", "deepseek-v2-lite", "gpt2", "qwen3-30b-a3b")
ACCELERATORS = ("h100-sxm", "mi300x", "rtx-4090")
TPS = (1, 2, 8)


def _is_moe(name: str) -> bool:
    return load_architecture(name).has_moe


def _case(name: str, accelerator: str, tp: int, ep: int, lang: str):
    return pytest.param(name, accelerator, tp, ep, lang,
                        id=f"{name}-{accelerator}-tp{tp}-ep{ep}-{lang}")


def _cases():
    """The slice's whole product; in CI, every preset in the covering design as well."""
    for name in SLICE:
        for j, accelerator in enumerate(ACCELERATORS):
            for k, tp in enumerate(TPS):
                for ep in ((1, 2) if _is_moe(name) else (1,)):
                    yield _case(name, accelerator, tp, ep, LANGUAGES[(j + k) % 2])
    if not FULL:
        return
    for i, name in enumerate(n for n in preset_names() if n not in SLICE):
        for j, accelerator in enumerate(ACCELERATORS):
            tp = TPS[(i + j) % len(TPS)]          # preset x TP, accelerator x TP: every pair
            ep = 1 + (i // 2 + j) % 2 if _is_moe(name) else 1   # both EPs per preset, apart from lang
            yield _case(name, accelerator, tp, ep, LANGUAGES[(i + j) % 2])


def _run(capsys, argv):
    status = main(argv)
    out, err = capsys.readouterr()
    assert status in (0, 2), (argv, status, err)
    if status == 2:
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("symbolic: error: "), (argv, err)
        assert out == ""
    return status, out, err


@pytest.mark.parametrize("name, accelerator, tp, ep, lang", list(_cases()))
def test_every_preset_accelerator_and_layout_answers_in_every_format(name, accelerator, tp, ep, lang,
                                                                     capsys, tmp_path):
    setting = [name, "--hardware", accelerator, "--tp", str(tp), "--batch", "1,64,4096", "--price", "2"]
    if ep > 1:
        setting += ["--ep", str(ep)]
    status, out, err = _run(capsys, ["derive", *setting])
    if status == 0:
        performance = json.loads(out, parse_constant=pytest.fail)["performance"]
        assert len(performance["fits"]) == 3
        for key in ("ttft_s", "tpot_at_context_s", "tpot_mean_s", "decode_tokens_per_s",
                    "request_tokens_per_s"):
            assert all(value > 0 for value in performance[key]), key
        assert performance["critical_batch_method"]["at_context_0"]
        if ep > 1:
            assert performance["all_to_all_bytes_per_device"]
    target = tmp_path / f"doc.{lang}.md"
    md_status, md_out, _ = _run(capsys, ["derive", *setting, "--format", "md", "--lang", lang, "-o",
                                         str(target)])
    assert md_status == status          # the document answers exactly when the JSON does
    assert target.exists() == (md_status == 0)
    if md_status == 0:
        text = target.read_text()
        assert "TTFT" in text and ("4096 $^{\\dagger}$" in text) == (not performance["fits"][2])
    assert sorted(p.name for p in tmp_path.iterdir()) == ([target.name] if status == 0 else [])
