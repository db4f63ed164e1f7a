"""Finding a model: a preset name, a path to a config.json (or its folder), or a config dict."""

from __future__ import annotations

import json
from pathlib import Path

from .architecture import Architecture
from .conventions import Conventions
from .errors import ConfigError
from .families import architecture_from_config
from .model import Model
from .presets import find_preset, get_preset


def load_architecture(model: str | Path | dict, name: str | None = None) -> Architecture:
    """The architecture of a preset (``"llama-3.1-8b"``), a config.json path, or a config dict."""
    if isinstance(model, dict):
        return architecture_from_config(model, name or str(model.get("_name_or_path") or "config"))
    text = str(model)
    preset = None if isinstance(model, Path) else find_preset(text)
    if preset is not None:
        return architecture_from_config(preset.config, name or preset.name, preset.source)
    path = Path(text)
    if path.is_dir():
        path = path / "config.json"
    if not path.is_file():
        get_preset(text)  # raises with the closest preset names
    config = read_config_file(path)
    default_name = path.parent.name if path.name == "config.json" and path.parent.name else path.stem
    return architecture_from_config(config, name or default_name, str(path))


def read_config_file(path: Path) -> dict:
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc.__class__.__name__}: {exc}") from None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") \
            from None


def load(model: str | Path | dict | Architecture | Model, conventions: Conventions | None = None,
         **convention_changes) -> Model:
    """A :class:`Model` ready for every view: ``load("llama-3.1-8b", attention_count="full")``."""
    if isinstance(model, Model):
        model = model.arch
    arch = model if isinstance(model, Architecture) else load_architecture(model)
    conv = (conventions or Conventions()).replace(**convention_changes) if convention_changes \
        else (conventions or Conventions())
    return Model(arch, conv)
