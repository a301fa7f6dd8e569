"""Tools declare their path keys; an engine with ``path_roots`` confines them at every call."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from wfengine import END, Engine, Graph, hookimpl
from wfengine.errors import RegistryError
from wfengine.paths import PathPolicy, PathRefusedError, iter_paths

opened: list[Any] = []


def read_files(state: dict[str, Any], **params: Any) -> dict[str, Any]:
    opened.append(state.get("files"))
    return {"done": True}


async def read_files_async(state: dict[str, Any], **params: Any) -> dict[str, Any]:
    await asyncio.sleep(0)
    return read_files(state, **params)


class Tools:
    @hookimpl
    def wfengine_register_tools(self, registry: Any) -> None:
        registry.register("t.read", read_files, "read files", paths=["files", "out_dir"])
        registry.register("t.aread", read_files_async, "read files", paths=("files",))
        registry.register("t.free", lambda state: {"free": True}, "declares nothing")


def engine(root: Path | None) -> Engine:
    return Engine(plugins=[Tools()], load_entrypoints=False, path_roots=[root] if root else None)


def spec(tool: str, params: dict[str, Any] | None = None, parallel: bool = False) -> Any:
    node: dict[str, Any] = {"tool": tool}
    if params:
        node["params"] = params
    if not parallel:
        return {
            "name": "g",
            "entry": "a",
            "nodes": {"a": node},
            "edges": [{"from": "a", "to": "END"}],
        }
    return {
        "name": "g",
        "entry": "start",
        "nodes": {"start": {"tool": "t.free"}, "a": node, "b": {"tool": "t.free"}},
        "edges": [
            {"from": "start", "to": "a"},
            {"from": "start", "to": "b"},
            {"from": "a", "to": "END"},
            {"from": "b", "to": "END"},
        ],
    }


@pytest.mark.parametrize("tool", ["t.read", "t.aread"])
@pytest.mark.parametrize("parallel", [False, True])
def test_declared_paths_outside_the_roots_are_refused_before_the_call(
    tmp_path: Path, tool: str, parallel: bool
) -> None:
    root = tmp_path / "data"
    root.mkdir()
    opened.clear()
    eng = engine(root)
    nested = {"inputs": [str(root / "ok.csv"), {"deep": "../../etc/passwd"}]}
    run = eng.run(spec(tool, parallel=parallel), {"files": nested})
    assert run.status == "failed"
    assert run.error is not None and run.error["type"] == "PathRefusedError"
    assert "node 'a': state.files.inputs[1].deep" in run.error["message"]
    assert run.error["node"] == "a"
    assert opened == []  # the tool never ran
    assert [e.status for e in run.logs if e.node == "a"] == ["failed"]  # not retried
    # relative paths are judged against the working directory, as the tool would open them
    relative = eng.run(spec(tool, parallel=parallel), {"files": [str(root / "x"), "rel.csv"]})
    assert relative.status == "failed" and "state.files[1]" in relative.error["message"]  # type: ignore[index]
    inside = eng.run(spec(tool, parallel=parallel), {"files": [str(root / "x.csv")]})
    assert inside.status == "completed", inside.error


def test_params_are_checked_and_undeclared_keys_are_not(tmp_path: Path) -> None:
    eng = engine(tmp_path)
    free = eng.run(spec("t.free"), {"files": "/etc/passwd"})
    assert free.status == "completed"
    run = eng.run(spec("t.read", {"out_dir": "/etc"}), {})
    assert run.status == "failed"
    assert "node 'a': params.out_dir" in run.error["message"]  # type: ignore[index]


def test_without_roots_nothing_is_checked() -> None:
    run = engine(None).run(spec("t.read"), {"files": "/etc/passwd"})
    assert run.status == "completed"


def test_python_graph_nodes_naming_a_tool_are_checked(tmp_path: Path) -> None:
    graph = (
        Graph("py").add_node("a", read_files, tool="t.read").add_edge("a", END).set_entry_point("a")
    )
    run = engine(tmp_path).run(graph, {"files": ["/etc/hosts"]})
    assert run.status == "failed" and "state.files[0]" in run.error["message"]  # type: ignore[index]


def test_urls_nul_and_symlinks_are_refused(tmp_path: Path) -> None:
    (tmp_path / "out").symlink_to("/etc")
    policy = PathPolicy([tmp_path])
    for bad in ("http://x/y", "a\x00b", str(tmp_path / "out" / "passwd")):
        with pytest.raises(PathRefusedError):
            policy.check("n", ["p"], {"p": bad}, {})
    policy.check("n", ["p"], {"p": [str(tmp_path / "in.csv"), 3, None]}, {})


def test_nesting_is_bounded() -> None:
    value: Any = "x"
    for _ in range(40):
        value = [value]
    with pytest.raises(PathRefusedError, match="nested deeper"):
        list(iter_paths(value, "v"))


def test_registration_validates_paths_and_lists_them() -> None:
    eng = engine(None)
    assert eng.tools.paths("t.read") == ("files", "out_dir")
    assert eng.tools.entry("t.read").to_dict()["paths"] == ["files", "out_dir"]
    assert "paths" not in eng.tools.entry("t.free").to_dict()
    assert eng.tools.path_keys() == {"files", "out_dir"}
    with pytest.raises(RegistryError, match="paths must be key names"):
        eng.tools.register("t.bad", read_files, paths=[3])  # type: ignore[list-item]
