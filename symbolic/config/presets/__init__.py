"""Presets: the config.json of known models, kept as data with their source.

Each ``<name>.json`` in this folder holds ``name``, ``hf_repo``, ``source`` (the config's address
on the Hugging Face hub), ``found_at`` (where its text was read), ``notes`` and ``config`` (the
config.json, verbatim).
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from ...errors import UnknownModelError
from ..userfiles import shown


@dataclass(frozen=True)
class Preset:
    name: str
    hf_repo: str
    source: str
    config: dict
    notes: str = ""


@cache
def _all() -> dict[str, Preset]:
    presets = {}
    for entry in sorted(resources.files(__package__).iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".json"):
            continue
        data = json.loads(entry.read_text(encoding="utf-8"))
        presets[data["name"]] = Preset(data["name"], data["hf_repo"], data["source"], data["config"],
                                       data.get("notes", ""))
    return presets


def unwrap(data: object) -> tuple[object, str | None]:
    """The config a preset file's data holds and the preset's name; other data (a config.json) as
    it is, without a name. Preset files are told from configs by a ``config`` object and no
    ``model_type`` beside it, so that a preset file passed as a path loads like the preset."""
    if isinstance(data, dict) and "model_type" not in data and isinstance(data.get("config"), dict):
        name = data.get("name")
        return data["config"], name if isinstance(name, str) and name.strip() else None
    return data, None


def preset_names() -> list[str]:
    return sorted(_all())


def find_preset(name: str) -> Preset | None:
    """The preset called ``name`` (case-insensitive; the hub repo name also works), or None."""
    key = name.strip().lower()
    for preset in _all().values():
        if key in (preset.name.lower(), preset.hf_repo.lower(), preset.hf_repo.split("/")[-1].lower()):
            return preset
    return None


def get_preset(name: str) -> Preset:
    preset = find_preset(name)
    if preset is None:
        close = difflib.get_close_matches(name.lower(), preset_names(), n=3, cutoff=0.4)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownModelError(f"unknown model {shown(name)}: not a preset and not a file{hint} "
                                f"(`symbolic presets` lists them)")
    return preset
