"""pytest helpers for other projects: assert that a formula or a stated number is right.

    from symbolic.testing import assert_formula, assert_number

    def test_our_kv_formula():
        assert_formula("2 * n_layers * n_kv_heads * head_dim * 2", "kv_cache.bytes_per_token",
                       model="llama-3.1-8b")

    def test_our_readme_figure():
        assert_number("16.06 GB", "memory.weights_bytes", model="llama-3.1-8b")

A failing check raises AssertionError with the verdict and its explanation.
"""

from __future__ import annotations

from .check.checker import FormulaCheck, NumberCheck
from .check.claims_file import ClaimSpec, run_claim
from .check.report import explain


def _setting(options: dict) -> dict:
    return {key: str(value) for key, value in options.items()}


def assert_formula(formula: str, against: str, model: str | None = None, **setting) -> FormulaCheck:
    """The formula is exact for ``model`` (every preset if None), or exact under assumptions the
    model satisfies. Keyword arguments set the workload, dtypes and conventions (``prompt=2048``)."""
    check = run_claim(ClaimSpec(formula, against, model or "", _setting(setting)))
    if not check.holds:
        raise AssertionError("\n".join(explain(check)))
    return check


def assert_number(claim: str, against: str, model: str, **setting) -> NumberCheck:
    """The stated number (``"671 MB"``) is the exact value to the precision written."""
    check = run_claim(ClaimSpec(claim, against, model, _setting(setting)))
    if not check.holds:
        raise AssertionError("\n".join(explain(check)))
    return check
