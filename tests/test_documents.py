"""Derivation documents: every preset in both formats and languages, math that KaTeX parses,
LaTeX that pdflatex compiles, byte-identical output, and the seed's Llama-3.3-70B numbers."""

import importlib.util
import os
import subprocess
import sys

import pytest

import symbolic
from symbolic.cli import main
from symbolic.outputs.render import LANGUAGES, render
from symbolic.printing import latex_number
from symbolic.units import bytes_both

from .renderers import ROOT, compile_latex, katex_errors, math_spans

PRESETS = symbolic.preset_names()
DOCS = ROOT / "docs" / "derivations"


@pytest.fixture(scope="module")
def derivations():
    return {name: symbolic.derive(name) for name in PRESETS}


def test_all_markdown_math_parses_with_katex():
    """Every committed Markdown document's math parses: every preset in both languages, and the
    performance examples. They are what the code writes now: test_docs_are_current regenerates them
    and compares byte for byte."""
    files = sorted(DOCS.glob("**/*.md"))
    assert len(files) >= 2 * len(PRESETS) + 4
    spans = []
    for path in files:
        spans += math_spans(path.read_text(encoding="utf-8"), str(path.relative_to(DOCS)))
    checked, errors = katex_errors(spans)
    assert checked > 1000
    assert errors == []


def test_the_katex_check_catches_broken_math():
    checked, errors = katex_errors(math_spans("$$\n\\frac{1}{\n$$\n\nand $x^{$ here", "bad"))
    assert checked == 2 and len(errors) == 2


@pytest.mark.xdist_group("preset-documents")
@pytest.mark.parametrize("name", PRESETS)
def test_latex_compiles(derivations, name, tmp_path):
    """Every preset's LaTeX compiles, in both languages (one build of the document, two renderings)."""
    for lang in LANGUAGES:
        document = render(derivations[name], "tex", lang)
        assert len(document) > 5000
        ok, errors = compile_latex(document, tmp_path, f"document-{lang}")
        assert ok, (lang, errors)


@pytest.mark.parametrize("name", ["deepseek-v3.2", "qwen3-next-80b-a3b", "gemma-3-27b"])
def test_a_document_is_the_same_bytes_in_another_process(name, tmp_path, monkeypatch):
    """The LaTeX of a latent-attention MoE, a hybrid-state and a sliding-window model with their
    performance, written again by a second process with another hash seed (so set and dict order
    would show), is byte-identical. test_docs_are_current compares every preset's Markdown."""
    argv = ["derive", name, "--format", "tex", "--lang", "zh", "--hardware", "h200", "--tp", "8",
            "-o", "doc.tex"]                  # the footer quotes the command, so the same -o in both
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir(), there.mkdir()
    monkeypatch.chdir(here)
    assert main(argv) == 0
    seed = "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"
    result = subprocess.run([sys.executable, "-m", "symbolic", *argv], cwd=there, capture_output=True,
                            text=True, env={**os.environ, "PYTHONHASHSEED": seed})
    assert result.returncode == 0, result.stderr
    assert (there / "doc.tex").read_bytes() == (here / "doc.tex").read_bytes()


def test_the_latex_check_catches_a_broken_document(tmp_path):
    ok, errors = compile_latex("\\documentclass{article}\\begin{document}$x^{$\\end{document}", tmp_path)
    assert not ok and errors


SPECIAL = "my_model #1 & 50% {v2} ~x^y $5"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_special_characters_in_names_are_escaped(tmp_path, lang):
    config = {"model_type": "llama", "vocab_size": 1000, "hidden_size": 64, "intermediate_size": 128,
              "num_hidden_layers": 2, "num_attention_heads": 8, "num_key_value_heads": 2}
    d = symbolic.derive(symbolic.load(symbolic.load_architecture(config, name=SPECIAL)))
    ok, errors = compile_latex(render(d, "tex", lang), tmp_path)
    assert ok, errors
    markdown = render(d, "md", lang)
    assert r"my\_model #1 & 50% {v2} \~x^y \$5" in markdown
    checked, errors = katex_errors(math_spans(markdown, "special"))
    assert errors == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_llama_70b_document_reproduces_the_seed(lang):
    """Seed 004's Llama-3.3-70B numbers (the Llama-3.1-70B architecture), and where the seed's
    arithmetic differs from the exact value, the document says so."""
    markdown = render(symbolic.derive("llama-3.1-70b"), "md", lang)
    assert "70{,}553{,}706{,}496" in markdown                  # seed: parameters
    assert "&= 12.75 H^{2} + 2 H" in markdown                   # seed: per block
    assert "671{,}088{,}640" in markdown                        # seed: 2 x 2 x 80 x 128 x 8 x 2048
    seed_setting = symbolic.derive("llama-3.1-70b", prompt=2048, attention_count="full")
    exact = seed_setting.value("flops.prefill.total")
    assert latex_number(exact) in markdown                      # the exact count, in the seed's setting
    assert "291.49" in markdown and "291.48" in markdown        # the seed's rounding slip, named
    verdict = {"en": "`flops.prefill.total`: does not hold", "zh": "`flops.prefill.total`：不成立"}[lang]
    assert verdict in markdown
    mixup = {"en": "is right only in GiB", "zh": "只有按 GiB"}[lang]
    assert mixup in markdown                                    # "40GB" at 128k tokens is 40 GiB


def test_the_seed_prefill_formula_misses_exactly_what_the_document_says():
    """Seed 004's prefill formula, evaluated, against the exact count in its own setting: the gap is
    the terms the document lists, derived here by hand from the Llama block (one more RMSNorm of
    4SH and two residual adds of SH per layer, the MLP's SiLU and gate product of 6 S d_ff per
    layer, RoPE on K over-counted by 3 S (n_q - n_kv) d_h per layer, the final norm of 4SH)."""
    S, H, L, V, n_q, n_kv, d_h, d_ff = 2048, 8192, 80, 128256, 64, 8, 128, 28672
    seed_formula = L * (10 * S * H + 51 * S * H**2 // 2 + 4 * S**2 * H + 5 * S**2 * n_q) + 2 * H * V
    missing = L * (4 * S * H + 2 * S * H + 6 * S * d_ff - 3 * S * (n_q - n_kv) * d_h) + 4 * S * H
    exact = symbolic.derive("llama-3.3-70b", prompt=S, attention_count="full").value("flops.prefill.total")
    assert exact == seed_formula + missing
    assert missing == 32_782_680_064                            # the figure quoted in the document
    assert round(seed_formula / 1e12, 2) == 291.49


def test_the_seed_prefill_figure_is_about_291_49_tflops_under_its_conventions():
    # seed 004: "≈ 291.48 TFLOPs" for S = 2048 with full S^2 scores, softmax 5, RMSNorm 4, RoPE 6
    # (3 for each of q and k), SiLU 5. Exact: 291.53; the seed's formula: 291.49.
    d = symbolic.derive("llama-3.3-70b", prompt=2048, attention_count="full")
    assert abs(float(d.value("flops.prefill.total")) / 1e12 - 291.49) < 0.05


def test_cli_writes_documents(tmp_path):
    out = tmp_path / "doc.tex"
    result = subprocess.run([sys.executable, "-m", "symbolic", "derive", "gpt2", "--format", "tex",
                             "--lang", "zh", "-o", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert out.read_text().startswith("\\documentclass")


@pytest.mark.xdist_group("preset-documents")
def test_docs_are_current(capsys):
    """docs/derivations/ is what `python docs/generate.py` writes (regenerate and commit). Run in
    this process, on the worker that compiles every preset's LaTeX (test_latex_compiles), so the
    two share each preset's derivation and document build."""
    spec = importlib.util.spec_from_file_location("generate", ROOT / "docs" / "generate.py")
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    assert generate.main(["--check"]) == 0, capsys.readouterr().out


def test_jupyter_shows_rendered_math():
    d = symbolic.derive("gpt2")
    assert symbolic.markdown(d).startswith("# ")
    assert symbolic.latex(d, lang="zh").startswith("\\documentclass")
    assert d["params.total"]._repr_latex_().startswith("$\\displaystyle")


PERFORMANCE_CASES = [("llama-3.1-70b", "h100-sxm", 4, 1), ("gemma-2-9b", "a100-sxm-80gb", 1, 1),
                     ("gpt2", "rtx-4090", 2, 2), ("qwen2.5-72b", "mi300x", 8, 1),
                     ("phi-3-mini-4k-instruct", "l40s", 1, 1)]


@pytest.mark.parametrize("name, hardware, tp, pp", PERFORMANCE_CASES)
def test_performance_sections_render_parse_and_compile(name, hardware, tp, pp, tmp_path):
    from symbolic.config.hardware import get_accelerator
    from symbolic.performance.roofline import Deployment, Performance

    d = symbolic.derive(name)
    perf = Performance(d, Deployment(get_accelerator(hardware), tp=tp, pp=pp, price_per_hour=2), 64)
    spans = []
    for lang in LANGUAGES:
        markdown = render(d, "md", lang, performance=perf, batches=[1, 4], users=100)
        assert render(d, "md", lang, performance=perf, batches=[1, 4], users=100) == markdown
        assert "TTFT" in markdown and "TPOT" in markdown
        spans += math_spans(markdown, f"{name}/{lang}")
        ok, errors = compile_latex(render(d, "tex", lang, performance=perf, batches=[1, 4], users=100),
                                   tmp_path, f"doc-{lang}")
        assert ok, errors
    checked, errors = katex_errors(spans)
    assert errors == []


SERVING = ["llama-3.1-8b", "--hardware", "h100-sxm", "--draft", "llama-3.2-1b", "--speculative-tokens", "4",
           "--acceptance", "0.8", "--workspace-tokens", "8192", "--kv-block", "16", "--engine", "vllm"]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_document_explains_speculation_the_workspace_and_the_efficiency_model(lang, tmp_path, capsys):
    """What --draft, --workspace-tokens, --kv-block and --engine change is said in the document,
    with the same figures the JSON gives; the math parses and the LaTeX compiles."""
    import json

    assert main(["derive", *SERVING, "--format", "json"]) == 0
    performance = json.loads(capsys.readouterr().out)["performance"]
    assert main(["derive", *SERVING, "--format", "md", "--lang", lang]) == 0
    markdown = capsys.readouterr().out
    workspace = performance["kv_allocation"]["workspace_bytes_per_device"]
    assert bytes_both(workspace) in markdown
    assert f"{performance['speculative']['expected_tokens_per_step']:.3f}" in markdown
    assert "vllm profile" in markdown and "16" in markdown and "llama-3.2-1b" in markdown
    checked, errors = katex_errors(math_spans(markdown, f"serving/{lang}"))
    assert errors == []
    assert main(["derive", *SERVING, "--format", "tex", "--lang", lang, "-o", str(tmp_path / "d.tex")]) == 0
    ok, errors = compile_latex((tmp_path / "d.tex").read_text(), tmp_path, f"serving-{lang}")
    assert ok, errors


def test_every_symbol_and_convention_means_something_in_both_languages():
    """Meanings live once, beside the symbols and conventions; a new one without its Chinese
    meaning would leave a hole in every zh document that uses it."""
    from symbolic.architecture.conventions import Conventions
    from symbolic.symbols import VOCABULARY, layer_count_symbol

    layer_count_symbol("sliding_attention_nope")          # a kind made on demand gets both too
    for term in VOCABULARY.values():
        assert term.meaning and term.zh, term.name
        assert term.meaning_in("zh") == term.zh and term.meaning_in("en") == term.meaning
    english, chinese = Conventions.documentation("en"), Conventions.documentation("zh")
    assert english.keys() == chinese.keys()
    assert all(english[name] and chinese[name] and english[name] != chinese[name] for name in english)
