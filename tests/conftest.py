"""Hypothesis in CI draws the same examples on every run (``derandomize``): a fuzz or property
test that passes on a clean clone passes again, and a new failure points at a change, not at luck.
Run locally without ``CI`` set to explore new examples.

The tests marked ``oracle`` compare with torch and transformers (the ``oracle`` extra); without
them they are skipped, each saying what is missing, and the rest of the suite runs."""

import os

import pytest
from hypothesis import settings

from . import oracle


def pytest_collection_modifyitems(config, items):
    if oracle.MISSING is None:
        return
    skip = pytest.mark.skip(reason=f"oracle test: {oracle.MISSING}")
    for item in items:
        if item.get_closest_marker("oracle"):
            item.add_marker(skip)

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
