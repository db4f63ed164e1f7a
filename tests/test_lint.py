"""The code stays `ruff check` clean (the configuration is in pyproject.toml)."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_check_is_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    result = subprocess.run([ruff, "check", str(ROOT)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_subpackage_is_installed():
    """pyproject.toml lists packages by hand (templates/ is mapped into the package): a new
    subpackage must be added there or it will be missing from the installed package."""
    import re

    text = (ROOT / "pyproject.toml").read_text()
    listed = set(re.search(r"^packages = \[(.*?)\]", text, re.M).group(1).replace('"', "").split(", "))
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "symbolic").rglob("__init__.py")}
    assert listed == found | {"symbolic.templates"}
