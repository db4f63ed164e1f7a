"""Finding a model: a preset name, a path to a config.json (or its folder), a Hugging Face hub id
(its config.json from the local cache, see :mod:`symbolic.config.hub`), or a config dict."""

from __future__ import annotations

from pathlib import Path

from ..architecture.conventions import Conventions
from ..architecture.spec import Architecture
from ..errors import ConfigError, SymbolicError
from ..ops.model import Model
from .families import architecture_from_config
from .hub import hub_config, is_hub_id
from .presets import find_preset, get_preset, unwrap
from .userfiles import read_json, shown_path


def load_architecture(model: str | Path | dict, name: str | None = None) -> Architecture:
    """The architecture of a preset (``"llama-3.1-8b"``), a config.json path (or a preset file's),
    a hub id (``"Qwen/Qwen3-8B"``: a preset whose hub repository it is, else the cached config),
    or a config dict."""
    if isinstance(model, dict):
        return architecture_from_config(model, name or str(model.get("_name_or_path") or "config"))
    text = str(model)
    preset = None if isinstance(model, Path) else find_preset(text)
    if preset is not None:
        return architecture_from_config(preset.config, name or preset.name, preset.source)
    path, source = config_path(text), None
    if path is None and is_hub_id(text):
        path, source = hub_config(text), f"https://huggingface.co/{text}/blob/main/config.json"
        name = name or text
    if path is None:
        get_preset(text)  # raises with the closest preset names
    try:
        config, preset_name = unwrap(read_json(path, "config"))
    except SymbolicError as exc:
        raise ConfigError(str(exc)) from None
    default_name = path.parent.name if path.name == "config.json" and path.parent.name else path.stem
    return architecture_from_config(config, name or preset_name or default_name, source or str(path))


def config_path(text: str) -> Path | None:
    """The file ``text`` names: itself, or the config.json inside a folder; None if nothing is there.
    A path the system refuses (a name over 255 bytes, a loop of links) is an error naming it."""
    path = Path(text)
    try:
        if path.is_dir():
            if not (path / "config.json").exists():
                raise ConfigError(f"{shown_path(path)}: a folder without a config.json")
            return path / "config.json"
        return path if path.exists() else None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(f"{shown_path(path)}: cannot read the config: {reason}") from None


def load(model: str | Path | dict | Architecture | Model, conventions: Conventions | None = None,
         **convention_changes) -> Model:
    """A :class:`Model` ready for every view: ``load("llama-3.1-8b", attention_count="full")``."""
    if isinstance(model, Model):
        model = model.arch
    arch = model if isinstance(model, Architecture) else load_architecture(model)
    conv = (conventions or Conventions()).replace(**convention_changes) if convention_changes \
        else (conventions or Conventions())
    return Model(arch, conv)
