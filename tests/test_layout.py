"""The package's shape: its modules import one another without a cycle, so that each stage of the
pipeline can be read, and tested, without the ones after it. Data flows config -> architecture ->
ops -> quantities -> performance -> outputs; imports go the other way, and config (which reads
files into an architecture) imports the architecture it builds. Imports inside functions count: a
local import that closes a cycle is still a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import symbolic

PACKAGE = Path(symbolic.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The package's modules that ``path`` imports, at any depth of its code."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            candidates = [f"{base}.{alias.name}" for alias in node.names] + [base]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        found |= {c for c in candidates if c in modules}
    return found - {name}


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules it imports. Packages' ``__init__`` files are sources but never
    targets: ``from . import symbols`` depends on ``symbols``, not on the facade that re-exports
    it (Python runs ``__init__`` first, but that is loading order, not a dependency)."""
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {_module_name(p) for p in paths if p.name != "__init__.py"}
    return {_module_name(p): _imports(p, modules) for p in paths}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph, as the modules along it, or None."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_import_graph_has_no_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle)


def test_a_cycle_is_found_where_there_is_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_local_imports_are_in_the_graph():
    graph = import_graph()
    assert "symbolic.outputs.render" in graph["symbolic.cli"]      # imported inside a function


STAGES = {"architecture": 1, "config": 2, "ops": 3, "quantities": 4, "performance": 5, "outputs": 6,
          "check": 6}
"""The pipeline's folders in order: a module may import its own stage and the ones before it.
Modules at the top of the package are either the foundation every stage uses (symbols, exact,
units, printing, errors: stage 0) or the entry points that tie the stages together (setting, cli,
strategies, testing: after every stage)."""
FOUNDATION = {"symbols", "exact", "units", "printing", "errors"}
KNOWN_EXCEPTIONS = {
    ("symbolic.config.stored_weights", "symbolic.ops.model"),   # ignore lists name the ops' modules
    ("symbolic.config.load", "symbolic.ops.model"),             # load() hands back the model itself
    ("symbolic.performance.sweep", "symbolic.setting"),         # a sweep is a grid of settings
    ("symbolic.check.claims_file", "symbolic.setting"),         # a claim states its setting
    ("symbolic.check.published", "symbolic.setting"),
}
"""Imports against the order, each with its reason; a new one fails the test below."""


def _stage(module: str) -> int:
    parts = module.split(".")
    if len(parts) > 2 and parts[1] in STAGES:
        return STAGES[parts[1]]
    return 0 if parts[-1] in FOUNDATION else max(STAGES.values()) + 1


def test_each_stage_imports_only_the_stages_before_it():
    backwards = sorted((module, target) for module, targets in import_graph().items() for target in targets
                       if _stage(target) > _stage(module) and (module, target) not in KNOWN_EXCEPTIONS)
    assert backwards == [], backwards
    assert _stage("symbolic.outputs.render") > _stage("symbolic.quantities.derive") > _stage("symbolic.exact")
