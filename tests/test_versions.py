"""Graph versions: a run resumes on the graph it ran (hardening F7, F13; history issue)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

import pytest
from wfengine import END, Engine, Graph, hookimpl
from wfengine.storage import MemoryStore
from wfengine.versions import (
    GraphChangedError,
    canonical_json,
    graph_version,
    short,
    spec_version,
)


class Tools:
    @hookimpl
    def wfengine_register_tools(self, registry: Any) -> None:
        registry.register("v.add", lambda state, by=1: {"n": state.get("n", 0) + by})


def chain(*steps: tuple[str, int]) -> dict[str, Any]:
    names = [name for name, _ in steps]
    return {
        "name": "chain",
        "entry": names[0],
        "nodes": {name: {"tool": "v.add", "params": {"by": by}} for name, by in steps},
        "edges": [{"from": a, "to": b} for a, b in zip(names, [*names[1:], "END"], strict=True)],
    }


@pytest.fixture
def engine() -> Any:
    eng = Engine(plugins=[Tools()], load_entrypoints=False, store=MemoryStore())
    yield eng
    eng.close()


def test_a_run_resumes_on_its_own_version_after_the_id_is_stored_again(engine: Engine) -> None:
    engine.save_graph(chain(("a", 1), ("b", 10)), "g")
    paused = engine.run("g", {"n": 0}, interrupt_before=["b"])
    assert paused.status == "paused" and paused.graph_version is not None
    engine.save_graph(chain(("x", 100), ("y", 1000)), "g")  # no node 'b' any more
    resumed = engine.resume(paused.run_id)
    assert resumed.status == "completed" and resumed.state["n"] == 11
    assert engine.run("g", {"n": 0}).state["n"] == 1100  # new runs take the new graph


def test_a_spec_is_stored_once_however_many_runs_use_it(engine: Engine) -> None:
    runs = [engine.run(chain(("a", 1)), {}) for _ in range(5)]
    assert len({r.graph_version for r in runs}) == 1
    store = engine.store
    assert isinstance(store, MemoryStore) and len(store._versions) == 1
    stored = store.get_graph_version(runs[0].graph_version or "")
    assert stored is not None and stored["kind"] == "spec"
    assert stored["spec"]["nodes"]["a"] == {"tool": "v.add", "params": {"by": 1}}


def python_graph(step: Any) -> Graph:
    return (
        Graph("py")
        .add_node("a", lambda s: {"n": s.get("n", 0) + 1})
        .add_node("b", step)
        .add_edge("a", "b")
        .add_edge("b", END)
        .set_entry_point("a")
    )


def plus_ten(state: dict[str, Any]) -> dict[str, Any]:
    return {"n": state["n"] + 10}


def times_ten(state: dict[str, Any]) -> dict[str, Any]:
    return {"n": state["n"] * 10}


class Workflows:
    def __init__(self) -> None:
        self.step = plus_ten

    @hookimpl
    def wfengine_register_workflows(self, registry: Any) -> None:
        registry.register("py", lambda: python_graph(self.step))


def test_a_changed_python_graph_is_refused_unless_allowed() -> None:
    workflows = Workflows()
    store = MemoryStore()
    first = Engine(plugins=[workflows], load_entrypoints=False, store=store)
    paused = first.run("py", {}, interrupt_before=["b"])
    assert paused.status == "paused"
    same = Engine(plugins=[workflows], load_entrypoints=False, store=store)
    assert same.resume(paused.run_id).state["n"] == 11  # unchanged code resumes

    paused = first.run("py", {}, interrupt_before=["b"])
    workflows.step = times_ten
    changed = Engine(plugins=[workflows], load_entrypoints=False, store=store)
    with pytest.raises(GraphChangedError, match="--allow-changed-graph") as caught:
        changed.resume(paused.run_id)
    assert short("py", paused.graph_version or "") in str(caught.value)
    resumed = changed.resume(paused.run_id, allow_changed_graph=True)
    assert resumed.status == "completed" and resumed.state["n"] == 10


def test_a_run_without_a_version_stopped_before_a_vanished_node_is_a_clear_error(
    engine: Engine,
) -> None:
    engine.save_graph(chain(("a", 1), ("b", 10)), "g")
    paused = engine.run("g", {"n": 0}, interrupt_before=["b"])
    paused.graph_version = None  # as a run stored before versions existed
    engine.save_graph(chain(("x", 100)), "g")
    with pytest.raises(GraphChangedError, match="node\\(s\\) 'b'"):
        engine.resume(paused.run_id)


def test_versions_are_canonical_and_stable_across_processes() -> None:
    assert spec_version({"a": 1, "b": [1, 2]}) == spec_version({"b": [1, 2], "a": 1})
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode()
    code = textwrap.dedent(
        """
        from wfengine import END, Graph
        from wfengine.versions import graph_version
        def outer(s):
            inner = lambda x: x + 1
            return {"n": inner(s["n"])}
        g = Graph("p").add_node("a", outer).add_edge("a", END).set_entry_point("a")
        print(graph_version(g).version)
        """
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    }
    assert len(outputs) == 1 and len(outputs.pop().strip()) == 64


def test_python_fingerprints_follow_the_code() -> None:
    assert graph_version(python_graph(plus_ten)).kind == "python"
    assert (
        graph_version(python_graph(plus_ten)).version
        == graph_version(python_graph(plus_ten)).version
    )
    assert (
        graph_version(python_graph(plus_ten)).version
        != graph_version(python_graph(times_ten)).version
    )


def test_a_decorated_function_is_fingerprinted_by_the_code_it_wraps() -> None:
    import functools

    from wfengine.versions import _callable_id

    def decorate(func: Any) -> Any:
        @functools.wraps(func)
        def call(state: Any) -> Any:
            return func(state)

        return call

    def one(state: Any) -> Any:
        return {"n": 1}

    def two(state: Any) -> Any:
        return {"n": 2}

    two.__qualname__ = one.__qualname__
    assert _callable_id(decorate(one)) == _callable_id(one)
    assert _callable_id(decorate(one)) != _callable_id(decorate(two))  # code, not wrapper
