"""The flow runs one way: every import inside accelsim goes to its own room or a room below.

Read from the source with `ast` (function-local imports count too), so a late import cannot
hide a dependency that runs back up. The rooms and what each may import are the house plan
(ARCHITECTURE.md, "The flow, one way").
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "accelsim"

BASE = "base"  # errors, io, units, the lazy-export helper, the package's own __init__
# room -> the rooms it may import from (besides itself and the base)
ALLOWED = {
    BASE: set(),
    "config": set(),
    "models": set(),
    "dropback": {"models"},
    "trace": {"models", "dropback"},
    "train": {"models", "dropback", "trace"},
    "sim": {"config", "trace"},
    "analysis": {"config", "sim", "trace"},
    "app": {"config", "models", "dropback", "trace", "train", "sim", "analysis"},
    "cli": {"app"},
}
# rooms that must never import torch, even lazily
TORCH_FREE = {BASE, "config", "sim", "analysis"}


def _room(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return BASE
    head = parts[1]
    return head if head in ALLOWED else BASE


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path):
    """(imported module, line, at module top?) for every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    top_level = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, id(node) in top_level
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            # `from accelsim.x import y` may name a submodule y: offer it first
            for alias in node.names:
                yield f"{name}.{alias.name}", node.lineno, id(node) in top_level
            yield name, node.lineno, id(node) in top_level


SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_run_down_the_floors(path):
    here = _room(_module_name(path))
    for name, line, _ in _imports(path):
        if name == "torch" or name.startswith("torch."):
            assert here not in TORCH_FREE, f"{path}:{line}: {here} must not import torch"
        if not name.startswith("accelsim"):
            continue
        there = _room(name)
        assert there in (here, BASE) or there in ALLOWED[here], (
            f"{path}:{line}: {here} imports {name} ({there}), against the flow")


def test_no_import_cycles_between_modules():
    """Imports form no cycle, function-local ones included: a late import is for an optional
    heavy dependency (torch, matplotlib, dask), not a way to break a circle (ARCHITECTURE.md)."""
    graph: dict[str, set[str]] = {}
    names = {_module_name(p): p for p in SOURCES}
    for module, path in names.items():
        graph[module] = set()
        for name, _, _ in _imports(path):
            # `from accelsim.x import y`: y when it is a submodule (offered first), else x
            if name in names and name != module:
                graph[module].add(name)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            # a package __init__ importing its own submodule is how packages re-export
            if nxt.startswith(node + "."):
                continue
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
