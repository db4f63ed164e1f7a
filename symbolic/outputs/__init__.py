"""Step 6, what a reader gets: derivation documents (``document`` turns a derivation into plain
data, ``render`` lays it out through the templates), figures (``plots``), and files written whole
or not at all (``files``). Formulas and numbers as LaTeX and text are ``symbolic.printing``,
beside the vocabulary, since the JSON document prints closed forms too."""
