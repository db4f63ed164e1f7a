"""Step 4, the numbers: sums of op fields over a model's sections (``sums``: parameters, FLOPs,
bytes, KV cache and state, per device), their closed forms (``closed_forms``), and a derivation,
every quantity of one setting as an expression, a closed form and an exact value (``derive``)."""
