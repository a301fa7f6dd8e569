"""``call:`` spec nodes run plain Python functions by import path (hardening F20)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from wfengine import Engine
from wfengine.cli import CliContext, build_cli
from wfengine.errors import SpecError
from wfengine.spec import dump_spec

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "specs"


def spec_with(call: str, **params: Any) -> dict[str, Any]:
    node: dict[str, Any] = {"call": call}
    if params:
        node["params"] = params
    return {"name": "c", "entry": "a", "nodes": {"a": node}, "edges": [{"from": "a", "to": "END"}]}


@pytest.fixture
def engine() -> Any:
    eng = Engine(load_entrypoints=False)
    yield eng
    eng.close()


@pytest.fixture
def tools_file(tmp_path: Path) -> Path:
    path = tmp_path / "mytools.py"
    path.write_text(
        "def bump(state, by=1):\n"
        "    return {'n': state.get('n', 0) + by}\n"
        "class Box:\n"
        "    @staticmethod\n"
        "    def twice(state):\n"
        "        return {'n': state['n'] * 2}\n"
    )
    return path


def test_a_module_on_the_path_is_called_with_params(
    engine: Engine, tools_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tools_file.parent))
    monkeypatch.delitem(sys.modules, "mytools", raising=False)
    run = engine.run(spec_with("mytools:bump", by=5), {"n": 1})
    assert run.status == "completed" and run.state["n"] == 6
    nested = engine.run(spec_with("mytools:Box.twice"), {"n": 4})
    assert nested.state["n"] == 8


def test_a_file_next_to_the_spec_file_is_loaded_and_kept_absolute(
    engine: Engine, tools_file: Path
) -> None:
    spec = tools_file.parent / "pipeline.yaml"
    spec.write_text(
        "name: p\nentry: a\nnodes:\n  a: {call: mytools.py:bump, params: {by: 2}}\n"
        "edges:\n  - {from: a, to: END}\n"
    )
    graph = engine.load_spec(spec)
    assert graph.nodes["a"].call == f"{tools_file}:bump"
    assert dump_spec(graph)["nodes"]["a"] == {"call": f"{tools_file}:bump", "params": {"by": 2}}
    assert engine.run(graph, {"n": 0}).state["n"] == 2


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("nocolon", "expected 'package.module:function'"),
        ("a:b:c", "expected 'package.module:function'"),
        ("os:__import__", "is not a function name"),
        ("no_such_module_xyz:f", "cannot import module 'no_such_module_xyz'"),
        ("json:no_such_function", "module 'json' has no 'no_such_function'"),
        ("missing.py:f", "not found"),
        ("json:__name__", "is not a function name"),
    ],
)
def test_bad_import_paths_say_what_and_where(engine: Engine, ref: str, message: str) -> None:
    with pytest.raises(SpecError, match="nodes.a.call") as caught:
        engine.load_spec(spec_with(ref))
    assert message in str(caught.value)


def test_a_file_that_fails_to_load_is_a_spec_error(engine: Engine, tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("raise RuntimeError('broken on import')\n")
    with pytest.raises(SpecError, match="RuntimeError: broken on import"):
        engine.load_spec(spec_with(f"{bad}:f"))


def test_tool_and_call_together_are_refused(engine: Engine) -> None:
    spec = spec_with("json:dumps")
    spec["nodes"]["a"]["tool"] = "x"
    with pytest.raises(SpecError, match="'tool' or 'call', not both"):
        engine.load_spec(spec)


def test_an_engine_can_refuse_import_paths(engine: Engine, tools_file: Path) -> None:
    engine.allow_calls = False
    with pytest.raises(SpecError, match="--allow-import-paths"):
        engine.load_spec(spec_with(f"{tools_file}:bump"))


@pytest.mark.parametrize("name", ["counter.json", "review.yaml", "compose.yaml"])
def test_every_example_spec_runs_as_is_with_wf(name: str) -> None:
    engine = Engine(load_entrypoints=False, store="memory://")
    app = CliContext(engine)
    result = CliRunner().invoke(build_cli(app), ["run", str(EXAMPLES / name), "--json"], obj=app)
    assert result.exit_code == 0, result.output
    engine.close()
