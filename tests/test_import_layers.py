"""The engine's modules import each other top-down: no cycle, hidden or not.

Every import counts, at the top, inside a function or under ``TYPE_CHECKING``: a cycle that
only works because one side imports late is still a cycle for a reader.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import wfengine

PACKAGE = Path(wfengine.__file__).parent


def _module_name(path: Path) -> str:
    parts = ["wfengine", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The wfengine modules ``path`` imports anywhere in its code."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            for alias in node.names:  # `from . import x` may name a module
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in modules else target)
    return {m for m in found if m in modules and m != name}


def import_graph() -> dict[str, set[str]]:
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {_module_name(p) for p in files}
    return {_module_name(p): _imports(p, modules) for p in files}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as a path of modules, or ``None``."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        stack.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)) is not None:
                return cycle
        stack.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)) is not None:
            return cycle
    return None


def test_the_checker_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_engine_has_no_import_cycle() -> None:
    graph = import_graph()
    assert "wfengine.execution" in graph["wfengine.executor"]  # the graph is really read
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def reach(graph: dict[str, set[str]], module: str) -> set[str]:
    """Every module ``module`` imports, directly or not."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        for target in graph[todo.pop()] - seen:
            seen.add(target)
            todo.append(target)
    return seen


LOOP = ["wfengine.engine", "wfengine.executor", "wfengine.execution", "wfengine.runner"]


def test_the_run_loop_reads_top_down() -> None:
    """engine -> executor -> execution -> runner -> state, each importing only below it."""
    graph = import_graph()
    for upper, lower in zip(LOOP, LOOP[1:], strict=False):
        assert lower in graph[upper], f"{upper} should import {lower}"
    assert "wfengine.state" in graph["wfengine.execution"]
    for index, module in enumerate(LOOP):
        above = set(LOOP[: index + 1]) - {module}
        assert not reach(graph, module) & above, f"{module} imports a layer above it"
    assert not reach(graph, "wfengine.state") & set(LOOP)


def test_graphs_read_top_down_and_the_registry_imports_no_graph() -> None:
    graph = import_graph()
    assert "wfengine.conditions" in graph["wfengine.graph"]
    assert "wfengine.expression" in graph["wfengine.conditions"]
    assert "wfengine.graph" not in reach(graph, "wfengine.conditions")
    assert "wfengine.graph" not in reach(graph, "wfengine.registry")
    assert "wfengine.builtins.conditions" not in reach(graph, "wfengine.conditions")


@pytest.mark.parametrize(
    "module",
    ["state", "runner", "execution", "executor", "graph", "conditions", "registry", "engine"],
)
def test_each_module_imports_first_in_a_fresh_interpreter(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", f"import wfengine.{module}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
