"""Closed forms: the summed op list simplified into the shapes people write.

* :func:`closed_form` expands the sum and gathers it by layer counts (``L``, or ``L_full`` and
  ``L_sliding``), pulling common factors out of each group: ``2*H*V + H + L*H*(3*d_ff + ...)``.
* :func:`relative_to_hidden` writes it for one architecture the way textbooks do: head counts as
  numbers and widths as multiples of ``H`` (Llama-3.1-70B per layer: 12.75 H^2 + 2 H).
"""

from __future__ import annotations

import sympy

from .architecture import Architecture
from .symbols import H, L, L_full, L_sliding, d_ff, d_h, n_kv, n_q

LAYER_COUNTS = (L, L_full, L_sliding)


def closed_form(expr: sympy.Expr) -> sympy.Expr:
    """``expr`` expanded and collected by layer counts, common factors pulled out."""
    return sympy.collect(sympy.expand(expr), LAYER_COUNTS, func=sympy.factor_terms)


def relative_to_hidden(expr: sympy.Expr, arch: Architecture) -> sympy.Expr:
    """``expr`` for ``arch`` with head counts substituted and head_dim and d_ff written as exact
    multiples of H, so only H (and V, L, workload symbols) remain; expanded, collected by
    layer counts."""
    hidden = arch.hidden_size
    ratios = {
        n_q: sympy.Integer(arch.num_heads),
        n_kv: sympy.Integer(arch.num_kv_heads),
        d_h: sympy.Rational(arch.head_dim, hidden) * H,
        d_ff: sympy.Rational(arch.intermediate_size, hidden) * H,
    }
    return sympy.collect(sympy.expand(expr.xreplace(ratios)), LAYER_COUNTS)
