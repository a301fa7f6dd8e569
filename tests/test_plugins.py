"""The plugin system: hooks, registries, isolation, discovery switches."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from wfengine import END, Engine, Graph, MemoryStore, RunStatus, WorkflowRun, hookimpl
from wfengine import hookspecs as hookspecs_module
from wfengine.engine import get_engine, get_tool_registry
from wfengine.errors import RegistryError, UnknownNameError


class RecordingPlugin:
    """Implements every hook; records what the lifecycle hooks see."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.lock = threading.Lock()

    def _add(self, *item: Any) -> None:
        with self.lock:
            self.events.append(item)

    @hookimpl
    def wfengine_register_tools(self, registry: Any) -> None:
        registry.register("rec.double", lambda state: {"value": state["value"] * 2}, "Double")

    @hookimpl
    def wfengine_register_conditions(self, registry: Any) -> None:
        registry.register("rec.big", lambda spec, compile: lambda s: s["value"] > spec["over"])

    @hookimpl
    def wfengine_register_stores(self, registry: Any) -> None:
        registry.register("recmem", lambda url: MemoryStore(url), "A memory store, by another name")

    @hookimpl
    def wfengine_register_workflows(self, registry: Any) -> None:
        def build() -> Graph:
            return (
                Graph("rec-flow")
                .add_node("d", lambda s: {"value": s["value"] * 2})
                .add_edge("d", END)
                .set_entry_point("d")
            )

        registry.register("rec-flow", build, "Doubles the value")

    @hookimpl
    def wfengine_register_commands(self, cli: click.Group) -> None:
        cli.add_command(click.Command("rec-hello", callback=lambda: click.echo("hi")))

    @hookimpl
    def wfengine_run_started(self, run: Any) -> None:
        self._add("run_started", run.run_id)

    @hookimpl
    def wfengine_node_started(
        self, run: Any, node: str, state: dict[str, Any], attempt: int
    ) -> None:
        self._add("node_started", node, dict(state), attempt)

    @hookimpl
    def wfengine_node_finished(
        self, run: Any, node: str, update: Any, duration: float, attempt: int
    ) -> None:
        assert duration >= 0
        self._add("node_finished", node, update, attempt)

    @hookimpl
    def wfengine_node_failed(
        self, run: Any, node: str, error: BaseException, attempt: int, will_retry: bool
    ) -> None:
        self._add("node_failed", node, type(error).__name__, attempt, will_retry)

    @hookimpl
    def wfengine_run_finished(self, run: Any) -> None:
        self._add("run_finished", run.status.value)


@pytest.fixture
def recorder(engine: Engine) -> Iterator[RecordingPlugin]:
    plugin = RecordingPlugin()
    name = engine.register_plugin(plugin, name="recorder")
    try:
        yield plugin
    finally:
        engine.unregister_plugin(name)


def test_registration_hooks_fill_the_registries(engine: Engine, recorder: RecordingPlugin) -> None:
    assert engine.tools.call("rec.double", {"value": 4}) == {"value": 8}
    assert engine.tools.entry("rec.double").plugin == "recorder"
    assert "rec.big" in engine.conditions
    assert isinstance(engine.stores.open("recmem://x"), MemoryStore)
    assert engine.run("rec-flow", {"value": 3}).state == {"value": 6}
    group = click.Group("wf")
    engine.register_commands(group)
    assert "rec-hello" in group.commands


def test_unregistering_a_plugin_removes_its_entries(engine: Engine) -> None:
    engine.register_plugin(RecordingPlugin(), name="temp")
    assert "rec.double" in engine.tools
    engine.unregister_plugin("temp")
    assert "rec.double" not in engine.tools
    assert engine.hooks.dispatch is None


def test_lifecycle_hooks_see_every_event(engine: Engine, recorder: RecordingPlugin) -> None:
    calls = {"n": 0}

    def flaky(state: dict[str, Any]) -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ValueError("first try fails")
        return {"value": state["value"] + 1}

    graph = (
        Graph("g")
        .add_node("flaky", flaky, retry={"max_attempts": 2, "initial_delay": 0})
        .add_edge("flaky", END)
        .set_entry_point("flaky")
    )
    run = engine.run(graph, {"value": 1})
    assert run.status == RunStatus.COMPLETED
    kinds = [e[0] for e in recorder.events]
    assert kinds == [
        "run_started",
        "node_started",
        "node_failed",
        "node_started",
        "node_finished",
        "run_finished",
    ]
    assert recorder.events[1] == ("node_started", "flaky", {"value": 1}, 1)
    assert recorder.events[2] == ("node_failed", "flaky", "ValueError", 1, True)
    assert recorder.events[4] == ("node_finished", "flaky", {"value": 2}, 2)
    assert recorder.events[5] == ("run_finished", "completed")


def test_a_failing_lifecycle_hook_is_logged_and_the_run_goes_on(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        @hookimpl
        def wfengine_node_finished(self, node: str) -> None:
            raise RuntimeError("observer bug")

    engine.register_plugin(Broken(), name="broken-observer")
    graph = Graph("g").add_node("a", lambda s: {"x": 1}).add_edge("a", END).set_entry_point("a")
    with caplog.at_level(logging.WARNING, logger="wfengine.plugins"):
        run = engine.run(graph, {})
    assert run.status == RunStatus.COMPLETED and run.state == {"x": 1}
    assert "broken-observer" in caplog.text and "wfengine_node_finished" in caplog.text


def test_no_lifecycle_implementation_means_no_dispatch(engine: Engine) -> None:
    assert engine.hooks.dispatch is None
    graph = Graph("g").add_node("a", lambda s: {"x": 1}).add_edge("a", END).set_entry_point("a")
    assert engine.executor(graph).emit is None


def test_the_facade_has_one_method_per_hook_with_the_spec_arguments() -> None:
    import inspect

    from wfengine.hooks import Hooks

    names = [n for n in dir(hookspecs_module) if n.startswith("wfengine_")]
    assert len(names) == 12
    for name in names:
        method = getattr(Hooks, name.removeprefix("wfengine_"), None)
        assert method is not None, f"Hooks has no method for {name}"
        spec_args = list(inspect.signature(getattr(hookspecs_module, name)).parameters)
        method_args = [a for a in inspect.signature(method).parameters if a != "self"]
        assert method_args[: len(spec_args)] == spec_args, name


def test_every_facade_method_runs_with_no_implementations() -> None:
    eng = Engine(load_entrypoints=False, plugins=[])
    run = WorkflowRun("g")
    eng.hooks.run_started(run)
    eng.hooks.node_started(run, "a", {}, 1)
    eng.hooks.node_finished(run, "a", {}, 0.1, 1)
    eng.hooks.node_failed(run, "a", ValueError("x"), 1, False)
    eng.hooks.node_progress(run, "a", "progress", {"done": 1})
    eng.hooks.run_finished(run)
    assert eng.hooks.dispatch is None


def test_duplicate_names_name_both_plugins(engine: Engine) -> None:
    class Other:
        @hookimpl
        def wfengine_register_tools(self, registry: Any) -> None:
            registry.register("rec.double", lambda s: s)

    engine.register_plugin(RecordingPlugin(), name="first")
    with pytest.warns(UserWarning, match="'first'.*'second'"):
        engine.register_plugin(Other(), name="second")
    assert engine.tools.entry("rec.double").plugin == "first"
    assert any(f.name == "second" for f in engine.plugin_failures)


def test_duplicate_names_are_errors_in_strict_mode(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Other:
        @hookimpl
        def wfengine_register_tools(self, registry: Any) -> None:
            registry.register("rec.double", lambda s: s)

    monkeypatch.setenv("WFENGINE_STRICT_PLUGINS", "1")
    engine.register_plugin(RecordingPlugin(), name="first")
    with pytest.raises(Exception, match="registered twice: by plugin 'first' and by plugin"):
        engine.register_plugin(Other(), name="second")


def test_registry_errors_are_clear() -> None:
    from wfengine import ToolRegistry

    tools = ToolRegistry()
    tools.register("load_csv", lambda s: s, "Load")
    with pytest.raises(UnknownNameError, match="did you mean 'load_csv'"):
        tools.get("load_cvs")
    with pytest.raises(RegistryError, match="not callable"):
        tools.register("bad", 42)  # type: ignore[arg-type]
    with pytest.raises(RegistryError, match="invalid"):
        tools.register("has space", lambda s: s)


def test_the_seed_names_work() -> None:
    registry = get_tool_registry()
    registry.register("my_tool", lambda a, b: a + b, "Adds")
    assert registry.call("my_tool", 2, 3) == 5
    assert registry.get("my_tool")(1, 1) == 2
    assert get_engine().tools is registry


def test_one_engine_serves_many_threads(engine: Engine) -> None:
    graph = (
        Graph("inc")
        .add_node("a", lambda s: {"n": s["n"] + 1})
        .add_node("b", lambda s: {"n": s["n"] * 10})
        .add_edge("a", "b")
        .add_edge("b", END)
        .set_entry_point("a")
    )
    results: list[int] = []
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for _ in range(50):
                run = engine.run(graph, {"n": k})
                results.append(run.state["n"] - (k + 1) * 10)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert results == [0] * 400
    runs, _ = engine.store.list_runs(graph_id="inc")
    assert len(runs) == 400 and all(r.status == RunStatus.COMPLETED for r in runs)


# -- entry-point discovery, in subprocesses with fixture distributions on sys.path -----------

PROBE = textwrap.dedent(
    """
    import json, sys, warnings
    warnings.simplefilter("always")
    with warnings.catch_warnings(record=True) as caught:
        try:
            from wfengine import Engine
            engine = Engine()
        except Exception as exc:
            print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
            sys.exit(0)
    print(json.dumps({
        "plugins": [p.name for p in engine.plugins() if not p.builtin],
        "tools": engine.tools.names(),
        "failures": [f.to_dict() for f in engine.plugin_failures],
        "warnings": [str(w.message) for w in caught],
    }))
    """
)


def _dist(root: Path, dist: str, module: str, ep_name: str, body: str) -> None:
    package = root / module
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "plugin.py").write_text(textwrap.dedent(body))
    info = root / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[wfengine]\n{ep_name} = {module}.plugin\n")


@pytest.fixture
def fixture_dists(tmp_path: Path) -> Path:
    _dist(
        tmp_path,
        "wfengine-broken-fixture",
        "wfengine_broken_fixture",
        "broken",
        "raise RuntimeError('this plugin is broken on purpose')\n",
    )
    _dist(
        tmp_path,
        "wfengine-ok-fixture",
        "wfengine_ok_fixture",
        "okplug",
        """
        from wfengine import hookimpl

        @hookimpl
        def wfengine_register_tools(registry):
            registry.register("ok.tool", lambda state: {"ok": True}, "Says ok")
        """,
    )
    return tmp_path


def _probe(paths: Path, **env: str) -> dict[str, Any]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("WFENGINE_")}
    environ["PYTHONPATH"] = os.pathsep.join([str(paths), environ.get("PYTHONPATH", "")])
    environ.update(env)
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
        check=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def test_a_broken_plugin_is_skipped_with_a_warning(fixture_dists: Path) -> None:
    result = _probe(fixture_dists)
    assert "okplug" in result["plugins"] and "broken" not in result["plugins"]
    assert "ok.tool" in result["tools"]
    assert result["failures"][0]["name"] == "broken"
    assert "this plugin is broken on purpose" in result["failures"][0]["error"]
    assert any("'broken'" in w and "broken on purpose" in w for w in result["warnings"])


def test_strict_mode_makes_a_broken_plugin_an_error(fixture_dists: Path) -> None:
    result = _probe(fixture_dists, WFENGINE_STRICT_PLUGINS="1")
    assert "PluginLoadError" in result["error"] and "'broken'" in result["error"]


def test_load_plugins_chooses_which_load(fixture_dists: Path) -> None:
    assert _probe(fixture_dists, WFENGINE_LOAD_PLUGINS="okplug")["plugins"] == ["okplug"]
    none = _probe(fixture_dists, WFENGINE_LOAD_PLUGINS="")
    assert none["plugins"] == [] and none["failures"] == [] and none["warnings"] == []


def test_disable_plugins_blocks_some(fixture_dists: Path) -> None:
    result = _probe(fixture_dists, WFENGINE_DISABLE_PLUGINS="broken")
    assert "okplug" in result["plugins"]
    assert result["failures"] == [] and result["warnings"] == []


def test_a_graph_stored_again_under_its_id_replaces_the_one_in_use(engine: Engine) -> None:
    engine.register_plugin(RecordingPlugin(), name="rec")
    spec = {"name": "s", "entry": "d", "nodes": {"d": {"tool": "rec.double"}}, "edges": []}
    engine.save_graph(spec, "g1")
    assert engine.run("g1", {"value": 2}).state == {"value": 4}
    spec2 = {
        **spec,
        "nodes": {"d": {"tool": "rec.double"}, "e": {"tool": "rec.double"}},
        "edges": [{"from": "d", "to": "e"}],
    }
    engine.save_graph(spec2, "g1")
    assert engine.run("g1", {"value": 2}).state == {"value": 8}


# -- isolation: SystemExit, flooding logs, built-in commands (issue 11, F14) -----------------


def _loop_graph(steps: int) -> Graph:
    return (
        Graph("loop")
        .add_node("inc", lambda s: {"n": s["n"] + 1})
        .add_edge("inc", "inc", condition=lambda s: s["n"] < steps)
        .add_edge("inc", END, default=True)
        .set_entry_point("inc")
    )


def test_system_exit_in_an_import_skips_the_plugin_and_wf_still_runs(
    fixture_dists: Path,
) -> None:
    _dist(
        fixture_dists,
        "wfengine-exit-fixture",
        "wfengine_exit_fixture",
        "exiter",
        "import sys\nsys.exit(3)\n",
    )
    result = _probe(fixture_dists)
    assert "okplug" in result["plugins"] and "exiter" not in result["plugins"]
    assert any(f["name"] == "exiter" and "SystemExit" in f["error"] for f in result["failures"])
    environ = {k: v for k, v in os.environ.items() if not k.startswith("WFENGINE_")}
    environ["PYTHONPATH"] = os.pathsep.join([str(fixture_dists), environ.get("PYTHONPATH", "")])
    out = subprocess.run(
        [sys.executable, "-m", "wfengine", "--version"],
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "wfengine" in out.stdout
    assert "'exiter' failed to import: SystemExit: 3" in out.stderr


def test_system_exit_in_an_observer_hook_does_not_fail_the_run(engine: Engine) -> None:
    class Exits:
        @hookimpl
        def wfengine_node_finished(self, node: str) -> None:
            sys.exit("observer wants out")

        @hookimpl
        def wfengine_run_finished(self, run: Any) -> None:
            raise SystemExit(1)

    engine.register_plugin(Exits(), name="exits")
    run = engine.run(_loop_graph(3), {"n": 0})
    assert run.status == RunStatus.COMPLETED and run.state == {"n": 3}
    # through the event path too (stream builds events for every hook)
    events = list(engine.stream(_loop_graph(2), {"n": 0}))
    assert events[-1].data["status"] == "completed"


def test_system_exit_in_a_registration_hook_is_a_clear_plugin_failure() -> None:
    class ExitsOnRegister:
        @hookimpl
        def wfengine_register_tools(self, registry: Any) -> None:
            raise SystemExit(2)

    with pytest.warns(UserWarning, match=r"'exits' failed to register: SystemExit: 2"):
        engine = Engine(plugins=[], load_entrypoints=False)
        engine.register_plugin(ExitsOnRegister(), name="exits")
    assert [f.name for f in engine.plugin_failures] == ["exits"]


def test_a_failing_hook_logs_one_traceback_then_counts(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        @hookimpl
        def wfengine_node_started(self, node: str) -> None:
            raise RuntimeError("observer bug")

        @hookimpl
        def wfengine_node_finished(self, node: str) -> None:
            raise KeyError("another bug")

    engine.register_plugin(Broken(), name="broken-observer")
    with caplog.at_level(logging.WARNING, logger="wfengine.plugins"):
        run = engine.run(_loop_graph(300), {"n": 0})
    assert run.status == RunStatus.COMPLETED and run.state == {"n": 300}
    records = [r for r in caplog.records if r.name == "wfengine.plugins"]
    with_traceback = [r for r in records if r.exc_info]
    assert len(with_traceback) == 2  # one per hook
    assert {r.getMessage().split(" failed")[0] for r in records} == {"plugin 'broken-observer'"}
    # then one line at the 10th and 100th failure of each: 2 + 2 * 2 lines for 300 steps
    counts = [r.getMessage() for r in records if not r.exc_info]
    assert len(counts) == 4
    assert any("wfengine_node_started 100 times so far" in m for m in counts)
    assert len(caplog.text.splitlines()) < 40


def test_a_plugin_given_as_a_class_gets_an_instance_per_engine() -> None:
    class Counting:
        """State of its own (a destination, a cache) must not be shared by two engines."""

        def __init__(self) -> None:
            self.runs: list[str] = []

        @hookimpl
        def wfengine_run_started(self, run: WorkflowRun) -> None:
            self.runs.append(run.run_id)

    graph = Graph("one").add_node("a", lambda s: None).add_edge("a", END).set_entry_point("a")
    first = Engine(plugins=[Counting], load_entrypoints=False)
    second = Engine(load_entrypoints=False)
    second.register_plugin(Counting)
    mine, theirs = first.pm.get_plugin("Counting"), second.pm.get_plugin("Counting")
    assert isinstance(mine, Counting) and isinstance(theirs, Counting) and mine is not theirs
    run = first.run(graph)
    assert mine.runs == [run.run_id] and theirs.runs == []
