"""Checking what people write: formulas and figures against the derivation (a safe parser, the
equivalence of expressions, verdicts and their reasons, claims files), and the published figures
of model cards and papers checked the same way (``published``)."""
