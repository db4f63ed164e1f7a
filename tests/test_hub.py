"""Hub ids: ``symbolic derive Org/Model`` reads the config.json the local Hugging Face cache holds
(a cache folder built here, in huggingface_hub's layout: models--Org--Model/refs/main names a
snapshot, snapshots/<commit>/config.json); nothing reaches the hub (HF_HUB_OFFLINE=1)."""

import json

import pytest

import symbolic
from symbolic.cli import main
from symbolic.config.presets import get_preset

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _cache(root, repo_id: str, config: dict):
    folder = root / f"models--{repo_id.replace('/', '--')}"
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(COMMIT)
    snapshot = folder / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text(json.dumps(config))


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path


def test_a_cached_hub_id_derives_like_its_config(hub_cache, tmp_path):
    config = get_preset("qwen3-8b").config
    _cache(hub_cache, "Someone/Qwen3-8B-copy", config)
    out = tmp_path / "d.json"
    assert main(["derive", "Someone/Qwen3-8B-copy", "--format", "json", "-o", str(out)]) == 0
    derived = json.loads(out.read_text())
    assert derived["params"]["total"] == symbolic.derive(config).to_dict()["params"]["total"]
    assert derived["model"]["name"] == "Someone/Qwen3-8B-copy"
    assert derived["model"]["source"] == "https://huggingface.co/Someone/Qwen3-8B-copy/blob/main/config.json"


def test_a_hub_id_of_a_preset_needs_no_cache(hub_cache):
    assert symbolic.derive("Qwen/Qwen3-8B").value("params.total") == symbolic.derive("qwen3-8b").value(
        "params.total")


def test_a_hub_id_missing_from_the_cache_offline_is_one_line(hub_cache, tmp_path, capsys):
    out = tmp_path / "never.json"
    assert main(["derive", "Nobody/Nothing-7B", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Nobody/Nothing-7B" in err and "HF_HUB_OFFLINE" in err
    assert not out.exists()


def test_a_cached_config_that_is_broken_is_one_line(hub_cache, capsys):
    _cache(hub_cache, "Someone/Broken", {**get_preset("llama-3.1-8b").config, "hidden_size": "wide"})
    assert main(["derive", "Someone/Broken"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "hidden_size" in err
