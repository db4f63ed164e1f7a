"""Jinja2 templates of the derivation documents, installed as ``symbolic.templates``: one
structure per document (derivation.j2, performance.j2), the markup of each format
(markup/md.j2, markup/tex.j2) and the prose of each language (prose/en.j2, prose/zh.j2)."""
