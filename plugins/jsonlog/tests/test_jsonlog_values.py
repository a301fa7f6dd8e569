"""Changed keys by name by default; their values only when asked, cut beyond a size."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from wfengine import END, Engine, Graph

from wfengine_jsonlog import DEFAULT_MAX_VALUE_BYTES, JsonLogPlugin

Reader = Callable[[Path], list[dict[str, Any]]]


class Opaque:
    def __repr__(self) -> str:
        return "<Opaque thing>"


def producing_graph() -> Graph:
    def produce(state: dict[str, Any]) -> dict[str, Any]:
        return {
            **state,  # unchanged keys returned too: not listed
            "small": 42,
            "nested": {"a": [1, 2, None], "b": "two"},
            "big": "z" * 5000,
            "opaque": Opaque(),
            "nan": float("nan"),
            "tuple_keys": {(1, 2): "x"},
            "unicode": "naïve ☃",
        }

    return (
        Graph("produce")
        .add_node("produce", produce)
        .add_edge("produce", END)
        .set_entry_point("produce")
    )


def finished(events: list[dict[str, Any]]) -> dict[str, Any]:
    (event,) = [e for e in events if e["event"] == "node_finished"]
    return event


def test_only_key_names_by_default(tmp_path: Path, read_log: Reader) -> None:
    path = tmp_path / "log.jsonl"
    Engine(plugins=[JsonLogPlugin(path)], load_entrypoints=False).run(
        producing_graph(), {"kept": 1}
    )
    event = finished(read_log(path))
    assert event["keys"] == ["small", "nested", "big", "opaque", "nan", "tuple_keys", "unicode"]
    assert "values" not in event and "truncated" not in event


def test_values_opt_in_from_the_environment(
    env_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read_log: Reader
) -> None:
    path = tmp_path / "log.jsonl"
    monkeypatch.setenv("WFENGINE_JSONLOG", str(path))
    monkeypatch.setenv("WFENGINE_JSONLOG_VALUES", "1")
    env_engine.run(producing_graph(), {"kept": 1})
    event = finished(read_log(path))
    values = event["values"]
    assert set(values) == set(event["keys"])
    assert values["small"] == 42
    assert values["nested"] == {"a": [1, 2, None], "b": "two"}
    assert values["unicode"] == "naïve ☃"
    assert values["opaque"] == "<Opaque thing>"  # not JSON: its repr
    assert values["nan"] == "nan"  # NaN is not JSON either
    assert values["tuple_keys"] == "{(1, 2): 'x'}"
    # cut: a string holding the start of the value's JSON text, and listed as truncated
    assert event["truncated"] == ["big"]
    assert len(values["big"]) == DEFAULT_MAX_VALUE_BYTES
    assert values["big"] == json.dumps("z" * 5000)[:DEFAULT_MAX_VALUE_BYTES]
    # the file is plain ASCII: every non-ASCII character is escaped
    path.read_bytes().decode("ascii")


def test_values_off_when_the_flag_is_not_set(
    env_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read_log: Reader
) -> None:
    path = tmp_path / "log.jsonl"
    monkeypatch.setenv("WFENGINE_JSONLOG", str(path))
    monkeypatch.setenv("WFENGINE_JSONLOG_VALUES", "0")
    env_engine.run(producing_graph(), {})
    assert "values" not in finished(read_log(path))


def test_values_programmatically_with_a_smaller_limit(tmp_path: Path, read_log: Reader) -> None:
    path = tmp_path / "log.jsonl"
    plugin = JsonLogPlugin(path, values=True, max_value_bytes=16)
    Engine(plugins=[plugin], load_entrypoints=False).run(producing_graph(), {})
    event = finished(read_log(path))
    assert sorted(event["truncated"]) == ["big", "nested", "unicode"]
    assert event["values"]["nested"] == '{"a":[1,2,null],"b":"two"}'[:16]
    assert event["values"]["unicode"] == json.dumps("naïve ☃")[:16]
    assert event["values"]["small"] == 42
    assert event["values"]["opaque"] == "<Opaque thing>"  # its JSON is exactly 16 bytes


def test_max_value_bytes_must_be_sensible() -> None:
    with pytest.raises(ValueError, match="max_value_bytes"):
        JsonLogPlugin("-", max_value_bytes=0)
