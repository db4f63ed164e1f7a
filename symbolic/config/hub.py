"""Hugging Face hub ids (``Qwen/Qwen3-8B``): a model's config.json from the local Hugging Face
cache, or fetched through ``huggingface_hub`` when the cache lacks it and a network allows.

Offline first: the cache (``HF_HUB_CACHE``, or ``HF_HOME``/hub, or ~/.cache/huggingface/hub) is
read without any request; only a config missing from it is downloaded, and ``HF_HUB_OFFLINE=1``
forbids that. A failure is one line naming the id and where the cache was looked for."""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import ConfigError

HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
_TRUE = ("1", "true", "yes", "on")


def is_hub_id(text: str) -> bool:
    """``org/name`` as the hub spells repository ids (a path to a .json file is not one)."""
    return bool(HUB_ID.match(text)) and not text.endswith(".json") and ".." not in text


def cache_folder() -> Path:
    """Where huggingface_hub keeps downloaded files, read from the environment at each call."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface")
    return Path(home) / "hub"


def hub_config(repo_id: str) -> Path:
    """The cached (or fetched) config.json of hub repository ``repo_id``."""
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:  # pragma: no cover - a core dependency, absent only in broken installs
        raise ConfigError(f"{repo_id}: reading a hub id needs huggingface_hub "
                          f"(python -m pip install huggingface_hub)") from None
    cache = cache_folder()
    try:
        return Path(hf_hub_download(repo_id, "config.json", cache_dir=cache, local_files_only=True))
    except Exception:  # noqa: BLE001 - any miss in the cache means: fetch it, if allowed
        pass
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE:
        raise ConfigError(f"{repo_id}: no config.json for it in the Hugging Face cache ({cache}), and "
                          f"HF_HUB_OFFLINE forbids fetching it")
    try:
        return Path(hf_hub_download(repo_id, "config.json", cache_dir=cache, etag_timeout=10))
    except Exception as exc:  # noqa: BLE001 - network, authorisation or a missing repository alike
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ConfigError(f"{repo_id}: no config.json for it in the Hugging Face cache ({cache}), and "
                          f"fetching it failed: {reason}") from None
