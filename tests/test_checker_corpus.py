"""The checker on formulas and figures from public sources (tests/corpus/checker.json): each wrong
one is flagged with the reason a practitioner would give, and no right one is called wrong.

Every entry quotes where it was published (collected in Nov and Dec 2026 from stored copies of the
pages, formulas transcribed into symbolic's vocabulary) and says what it is expected to do:
``expect: fails`` with the ``reason`` the verdict must name (a mistake of the catalogue,
``violates:<assumption>``, or ``none`` where no known mistake explains it and the checker must not
invent one), or ``expect: holds`` (model cards that round or cut their figures, datasheets, papers).
The file is a claims file: ``symbolic check --claims tests/corpus/checker.json`` runs it too.
"""

import json
from pathlib import Path

import pytest

from symbolic.check.claims_file import passes, read_claims, reasons_named, run_claim

CORPUS = Path(__file__).parent / "corpus" / "checker.json"
ENTRIES = json.loads(CORPUS.read_text(encoding="utf-8"))
SPECS = read_claims(CORPUS)


def test_every_entry_says_where_it_comes_from_and_what_it_expects():
    ids = [entry["id"] for entry in ENTRIES]
    assert len(set(ids)) == len(ids)
    for entry in ENTRIES:
        assert entry["source"].startswith("http"), entry["id"]
        assert entry["quote"].strip(), entry["id"]
        assert entry["expect"] in ("holds", "fails"), entry["id"]
        assert (entry["expect"] == "fails") == bool(entry.get("reason")), entry["id"]


def test_the_corpus_is_large_enough():
    wrong = [e for e in ENTRIES if e["expect"] == "fails"]
    right = [e for e in ENTRIES if e["expect"] == "holds" and not e["id"].endswith("-corrected")]
    assert len(wrong) >= 60 and len(right) >= 30
    assert len({e["reason"] for e in wrong}) >= 25          # many kinds of mistake, not one


@pytest.fixture(scope="module")
def outcomes():
    return [(entry, spec, run_claim(spec)) for entry, spec in zip(ENTRIES, SPECS, strict=True)]


def test_the_reason_is_named_for_nine_wrong_claims_in_ten(outcomes):
    wrong = [(e, check) for e, spec, check in outcomes if e["expect"] == "fails"]
    missed = [(e["id"], e["reason"], reasons_named(check), check.holds) for e, spec, check in outcomes
              if e["expect"] == "fails" and not passes(spec, check)]
    assert len(missed) <= len(wrong) // 10, missed


def test_no_right_claim_is_called_wrong(outcomes):
    wrong = [(e["id"], reasons_named(check)) for e, spec, check in outcomes
             if e["expect"] == "holds" and not check.holds]
    assert not wrong
