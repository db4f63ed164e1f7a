"""Closed forms: the summed op list simplified into the shapes people write.

* :func:`closed_form` expands the sum and gathers it by layer counts (``L``, or ``L_full`` and
  ``L_sliding``), pulling common factors out of each group: ``2*H*V + H + L*H*(3*d_ff + ...)``.
* :func:`relative_to_hidden` writes it for one architecture the way textbooks do: head counts as
  numbers and widths as multiples of ``H`` (Llama-3.1-70B per layer: 12.75 H^2 + 2 H).
"""

from __future__ import annotations

from functools import lru_cache

import sympy

from ..architecture.spec import Architecture
from ..symbols import (
    E,
    H,
    d_e,
    d_ff,
    d_h,
    d_hg,
    d_nope,
    d_rope,
    d_s,
    d_v,
    k,
    layer_counts,
    n_kv,
    n_kvg,
    n_q,
    r_kv,
    r_q,
)


@lru_cache(maxsize=4096)
def closed_form(expr: sympy.Expr) -> sympy.Expr:
    """``expr`` expanded and collected by layer counts, common factors pulled out (remembered: the
    symbolic forms do not depend on a model's sizes, so every model and language shares them).

    The same as ``sympy.collect(expanded, layer_counts(), func=sympy.factor_terms)`` for sums
    linear in the layer counts (every op list's), in less than half the time: each term goes to
    the one layer count it is a multiple of (or to none), and each group is factored once."""
    groups: dict[sympy.Expr, list[sympy.Expr]] = {}
    counts = layer_counts()
    for term in sympy.Add.make_args(sympy.expand(expr)):
        key = sympy.S.One
        for count in counts:
            coefficient = term.as_coefficient(count) if term.has(count) else None
            if coefficient is not None and not coefficient.has(*counts):
                key, term = count, coefficient
                break
        groups.setdefault(key, []).append(term)
    return sympy.Add(*(key * sympy.factor_terms(sympy.Add(*terms)) for key, terms in groups.items()))


COUNTS = (n_q, n_kv, n_kvg, E, k)
WIDTHS = (d_h, d_hg, d_ff, d_e, d_s, r_q, r_kv, d_nope, d_rope, d_v)


def relative_to_hidden(expr: sympy.Expr, arch: Architecture) -> sympy.Expr:
    """``expr`` for ``arch`` with head and expert counts substituted and every width (head_dim,
    d_ff, expert and latent sizes) written as an exact multiple of H, so only H (and V, L and the
    workload symbols) remain; expanded, collected by layer counts."""
    values = arch.bindings()
    hidden = values[H]
    ratios = {s: values[s] for s in COUNTS if s in values}
    ratios.update({s: values[s] / hidden * H for s in WIDTHS if s in values})
    return sympy.collect(sympy.expand(expr.xreplace(ratios)), layer_counts())
