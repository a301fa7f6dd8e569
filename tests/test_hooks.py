"""The hook facade keeps pluggy's semantics (issue 13, section 1)."""

from __future__ import annotations

import warnings
from collections.abc import Generator
from typing import Any

import pytest
from wfengine import END, Engine, Graph, hookimpl
from wfengine.errors import PluginLoadError
from wfengine.plugins import PluginWarning


def chain() -> Graph:
    return (
        Graph("chain")
        .add_node("a", lambda s: {"n": s.get("n", 0) + 1})
        .add_node("b", lambda s: {"n": s["n"] * 10})
        .add_edge("a", "b")
        .add_edge("b", END)
        .set_entry_point("a")
    )


class Plain:
    def __init__(self) -> None:
        self.finished: list[tuple[str, Any, int]] = []

    @hookimpl
    def wfengine_node_finished(self, node: str, update: Any, attempt: int) -> None:
        self.finished.append((node, update, attempt))


class Wrapper:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    @hookimpl(wrapper=True)
    def wfengine_node_finished(self, node: str) -> Generator[None, Any, Any]:
        self.seen.append(("before", node))
        result = yield
        self.seen.append(("after", node))
        return result


class OldStyleWrapper:
    def __init__(self) -> None:
        self.outcomes: list[Any] = []

    @hookimpl(hookwrapper=True)
    def wfengine_node_started(self, node: str) -> Generator[None, Any, None]:
        outcome = yield
        self.outcomes.append((node, outcome.get_result()))


class Broken:
    @hookimpl
    def wfengine_node_finished(self, node: str) -> None:
        raise RuntimeError(f"observer broke on {node}")


def engine(*plugins: object) -> Engine:
    return Engine(plugins=list(plugins), load_entrypoints=False)


def test_a_wrapper_sees_the_call_and_plain_observers_still_run() -> None:
    plain, wrapper = Plain(), Wrapper()
    run = engine(plain, wrapper).run(chain(), {})
    assert run.status == "completed"
    assert wrapper.seen == [("before", "a"), ("after", "a"), ("before", "b"), ("after", "b")]
    assert plain.finished == [("a", {"n": 1}, 1), ("b", {"n": 10}, 1)]


def test_old_style_hookwrappers_see_the_result() -> None:
    wrapper = OldStyleWrapper()
    engine(wrapper).run(chain(), {})
    assert wrapper.outcomes == [("a", []), ("b", [])]


def test_a_failing_observer_is_isolated_with_and_without_wrappers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    for extra in ((), (Wrapper(),)):
        plain = Plain()
        run = engine(Broken(), plain, *extra).run(chain(), {})
        assert run.status == "completed"
        assert [n for n, _u, _a in plain.finished] == ["a", "b"]
    assert "observer broke on a" in caplog.text


def test_monitoring_sees_every_lifecycle_call_and_its_removal_restores_the_fast_path() -> None:
    eng = engine(Plain())
    calls: list[str] = []
    undo = eng.pm.add_hookcall_monitoring(
        lambda name, impls, kwargs: calls.append(name), lambda outcome, name, impls, kw: None
    )
    eng.run(chain(), {})
    assert calls.count("wfengine_node_finished") == 2
    undo()
    calls.clear()
    eng.run(chain(), {})
    assert calls == []


def test_tracing_is_monitoring_too() -> None:
    eng = engine(Plain())
    lines: list[str] = []
    eng.pm.trace.root.setwriter(lines.append)
    undo = eng.pm.enable_tracing()
    eng.run(chain(), {})
    undo()
    assert any("wfengine_node_finished" in line for line in lines)


def test_a_plugin_registered_on_pm_directly_takes_part() -> None:
    eng = engine()

    class Tools:
        @hookimpl
        def wfengine_register_tools(self, registry: Any) -> None:
            registry.register("direct.tool", lambda state: {"x": 1})

    plain = Plain()
    eng.pm.register(Tools(), name="tools")
    eng.pm.register(plain, name="plain")
    assert "direct.tool" in eng.tools
    eng.run(chain(), {})
    assert len(plain.finished) == 2
    eng.pm.unregister(name="tools")
    assert "direct.tool" not in eng.tools


def test_registration_runs_once_per_plugin() -> None:
    counts: dict[str, int] = {}

    def plugin(name: str) -> object:
        class P:
            @hookimpl
            def wfengine_register_tools(self, registry: Any) -> None:
                counts[name] = counts.get(name, 0) + 1
                registry.register(f"{name}.t", lambda state: None)

        return P()

    eng = engine(plugin("a"))
    eng.register_plugin(plugin("b"), name="b")
    eng.register_plugin(plugin("c"), name="c")
    eng.unregister_plugin("b")
    assert counts == {"a": 1, "b": 1, "c": 1}
    assert {"a.t", "c.t"} <= set(eng.tools) and "b.t" not in eng.tools


class Misspelt:
    @hookimpl
    def wfengine_node_finshed(self, node: str) -> None:
        pass


def test_a_misspelt_hook_is_reported_and_its_plugin_skipped() -> None:
    with pytest.warns(
        PluginWarning, match="wfengine_node_finshed.*did you mean 'wfengine_node_finished'"
    ):
        eng = engine(Misspelt())
    assert eng.pm.get_plugin("Misspelt") is None
    assert eng.plugin_failures[-1].name == "Misspelt"


def test_a_misspelt_hook_is_an_error_in_strict_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WFENGINE_STRICT_PLUGINS", "1")
    with pytest.raises(PluginLoadError, match="wfengine_node_finshed"):
        engine(Misspelt())


def test_a_failing_registration_withdraws_the_plugin_entries() -> None:
    class Half:
        @hookimpl
        def wfengine_register_conditions(self, registry: Any) -> None:
            registry.register("half.cond", lambda spec, compile: lambda s: True)

        @hookimpl
        def wfengine_register_tools(self, registry: Any) -> None:
            registry.register("half.tool", lambda state: None)
            raise ValueError("half done")

    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        eng = engine(Half())
    assert "half.cond" not in eng.conditions and "half.tool" not in eng.tools
    assert "ValueError: half done" in eng.plugin_failures[-1].error
