"""Hypothesis in CI draws the same examples on every run (``derandomize``): a fuzz or property
test that passes on a clean clone passes again, and a new failure points at a change, not at luck.
Run locally without ``CI`` set to explore new examples."""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
