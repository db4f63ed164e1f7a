"""Checking what people write: a safe parser for formulas (and, later, verdicts on claims)."""
