"""The code stays `ruff check` clean (the configuration is in pyproject.toml)."""

import re
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
    text = (ROOT / "pyproject.toml").read_text()
    listed = set(re.findall(r'"([\w.]+)"', re.search(r"^packages = \[(.*?)\]", text, re.M | re.S).group(1)))
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "symbolic").rglob("__init__.py")}
    assert listed == found | {"symbolic.templates"}


def test_every_imported_library_is_a_declared_dependency():
    """A library the package imports (at the top or inside a function) must be listed in
    pyproject.toml, as a dependency or in an extra, or a fresh install breaks."""
    import ast

    text = (ROOT / "pyproject.toml").read_text()
    requirements = text[text.index("\ndependencies = ["):text.index("[project.scripts]")]
    declared = {name.lower() for name in re.findall(r'^\s*"([A-Za-z0-9_.-]+)', requirements, re.M)}
    imported = set()
    for path in (ROOT / "symbolic").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    distributions = {"yaml": "pyyaml"}   # import name -> the name pip knows it by
    third_party = {distributions.get(name, name) for name in imported
                   if name not in sys.stdlib_module_names and name not in ("symbolic", "__future__")}
    assert third_party <= declared, third_party - declared
