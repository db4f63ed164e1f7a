"""Jinja2 templates of the derivation documents, installed as ``symbolic.templates``:
markdown/ and latex/ hold the structure of each format, prose/ the text of each language."""
