"""Destinations: off by default, stderr, logging with JsonFormatter, unwritable paths."""

from __future__ import annotations

import io
import json
import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from wfengine import Engine, Graph, WorkflowRun

from wfengine_jsonlog import JsonFormatter, JsonLogPlugin, JsonLogWarning

Parser = Callable[[str], list[dict[str, Any]]]
Reader = Callable[[Path], list[dict[str, Any]]]


@pytest.fixture
def wfengine_logger() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """The ``wfengine`` logger at INFO with a JsonFormatter handler writing to a buffer."""
    logger = logging.getLogger("wfengine")
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield logger, buffer
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def caught_jsonlog_warnings(action: Callable[[], Any]) -> list[str]:
    """Run ``action``; the messages of the JsonLogWarnings it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        action()
    return [str(w.message) for w in caught if issubclass(w.category, JsonLogWarning)]


# -- off by default ----------------------------------------------------------------------


def test_installed_but_not_configured_writes_nothing(
    env_engine: Engine,
    fanout: Graph,
    failing: Graph,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert caught_jsonlog_warnings(lambda: (env_engine.run(fanout), env_engine.run(failing))) == []
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert env_engine.pm.get_plugin("jsonlog").sink is None


@pytest.mark.parametrize("value", ["", "0", "off", "OFF", "none", "false"])
def test_off_values_turn_logging_off(
    value: str,
    env_engine: Engine,
    fanout: Graph,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WFENGINE_JSONLOG", value)
    env_engine.run(fanout)
    assert capfd.readouterr() == ("", "")
    assert list(tmp_path.iterdir()) == []


def test_environment_is_read_at_the_first_event_not_at_import(
    env_engine: Engine, fanout: Graph, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the plugin module was imported (and the engine built) before the variable was set
    path = tmp_path / "late.jsonl"
    monkeypatch.setenv("WFENGINE_JSONLOG", str(path))
    env_engine.run(fanout)
    assert path.read_text().count("\n") == 10


# -- stderr ------------------------------------------------------------------------------


def test_dash_writes_json_lines_to_stderr(
    env_engine: Engine,
    retrying: Graph,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    parse_lines: Parser,
) -> None:
    monkeypatch.setenv("WFENGINE_JSONLOG", "-")
    run = env_engine.run(retrying)
    out, err = capsys.readouterr()
    assert out == ""
    events = parse_lines(err)
    assert [(e["event"], e["level"]) for e in events] == [
        ("run_started", "info"),
        ("node_started", "info"),
        ("node_finished", "info"),
        ("node_started", "info"),
        ("node_failed", "warning"),
        ("node_started", "info"),
        ("node_finished", "info"),
        ("run_finished", "info"),
    ]
    assert {e["run_id"] for e in events} == {run.run_id}


def test_a_text_stream_can_be_the_destination(fanout: Graph, parse_lines: Parser) -> None:
    stream = io.StringIO()
    engine = Engine(plugins=[JsonLogPlugin(stream)], load_entrypoints=False)
    engine.run(fanout)
    assert len(parse_lines(stream.getvalue())) == 10


# -- logging -----------------------------------------------------------------------------


def test_logging_destination_with_json_formatter(
    env_engine: Engine,
    failing: Graph,
    monkeypatch: pytest.MonkeyPatch,
    wfengine_logger: tuple[logging.Logger, io.StringIO],
    capfd: pytest.CaptureFixture[str],
    parse_lines: Parser,
) -> None:
    _, buffer = wfengine_logger
    monkeypatch.setenv("WFENGINE_JSONLOG", "logging")
    run = env_engine.run(failing)
    events = [e for e in parse_lines(buffer.getvalue()) if e["event"] != "log"]
    assert [(e["event"], e["level"]) for e in events] == [
        ("run_started", "info"),
        ("node_started", "info"),
        ("node_finished", "info"),
        ("node_started", "info"),
        ("node_failed", "error"),
        ("run_finished", "error"),
    ]
    assert events[-1]["run_id"] == run.run_id
    assert events[-1]["error"]["type"] == "RuntimeError"
    assert capfd.readouterr().err == ""  # nothing besides the app's own handler


def test_logging_records_carry_level_event_and_json(
    fanout: Graph, retrying: Graph, wfengine_logger: tuple[logging.Logger, io.StringIO]
) -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger, _ = wfengine_logger
    keep = Keep()
    logger.addHandler(keep)
    try:
        engine = Engine(plugins=[JsonLogPlugin("logging")], load_entrypoints=False)
        engine.run(retrying)
    finally:
        logger.removeHandler(keep)
    failed = [r for r in records if getattr(r, "wfengine_event", None) == "node_failed"]
    assert len(failed) == 1
    assert failed[0].levelno == logging.WARNING
    assert failed[0].name == "wfengine"
    assert failed[0].getMessage() == "wfengine node_failed"
    assert json.loads(failed[0].wfengine_json)["error"]["type"] == "ConnectionError"


def test_logging_below_the_logger_level_builds_nothing(fanout: Graph) -> None:
    logger = logging.getLogger("wfengine.test.quiet")
    logger.setLevel(logging.WARNING)
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.propagate = False
    engine = Engine(plugins=[JsonLogPlugin(logger)], load_entrypoints=False)
    engine.run(fanout)
    assert buffer.getvalue() == ""  # every event of a completed run is info


def test_json_formatter_formats_other_records_as_json() -> None:
    formatter = JsonFormatter()
    try:
        raise KeyError("missing")
    except KeyError:
        record = logging.LogRecord(
            "wfengine.executor",
            logging.ERROR,
            __file__,
            1,
            "could not save %s",
            ("r1",),
            sys.exc_info(),
        )
    data = json.loads(formatter.format(record))
    assert data["level"] == "error"
    assert data["event"] == "log"
    assert data["logger"] == "wfengine.executor"
    assert data["message"] == "could not save r1"
    assert data["error"]["type"] == "KeyError"
    assert "Traceback" in data["error"]["traceback"]
    assert data["ts"].endswith("Z")


# -- failures never break a run ----------------------------------------------------------


def test_unwritable_path_is_reported_once_and_runs_complete(
    env_engine: Engine,
    fanout: Graph,
    failing: Graph,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where a directory should be")
    target = blocker / "sub" / "events.jsonl"
    monkeypatch.setenv("WFENGINE_JSONLOG", str(target))
    runs: list[WorkflowRun] = []

    def run_three() -> None:
        runs.extend([env_engine.run(fanout), env_engine.run(fanout), env_engine.run(failing)])

    messages = caught_jsonlog_warnings(run_three)
    assert [r.status.value for r in runs] == ["completed", "completed", "failed"]
    assert len(messages) == 1, messages
    assert str(target) in messages[0]
    assert "WFENGINE_JSONLOG" in messages[0]
    assert "Not a directory" in messages[0] or "exists" in messages[0]
    assert not target.exists()


def test_a_directory_as_destination_is_reported(fanout: Graph, tmp_path: Path) -> None:
    engine = Engine(plugins=[JsonLogPlugin(tmp_path)], load_entrypoints=False)
    runs: list[WorkflowRun] = []
    messages = caught_jsonlog_warnings(
        lambda: runs.extend([engine.run(fanout), engine.run(fanout)])
    )
    assert [r.status.value for r in runs] == ["completed", "completed"]
    assert len(messages) == 1
    assert str(tmp_path) in messages[0] and "Is a directory" in messages[0]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs Linux /dev/full")
def test_write_errors_are_reported_once(fanout: Graph) -> None:
    engine = Engine(plugins=[JsonLogPlugin("/dev/full")], load_entrypoints=False)
    runs: list[WorkflowRun] = []
    messages = caught_jsonlog_warnings(
        lambda: runs.extend([engine.run(fanout), engine.run(fanout)])
    )
    assert [r.status.value for r in runs] == ["completed", "completed"]
    assert len(messages) == 1
    assert "/dev/full" in messages[0] and "No space left" in messages[0]


def test_warnings_as_errors_still_do_not_raise(fanout: Graph, tmp_path: Path) -> None:
    plugin = JsonLogPlugin(tmp_path)  # a directory: cannot be opened
    engine = Engine(plugins=[plugin], load_entrypoints=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run = engine.run(fanout)
    assert run.status.value == "completed"


def test_hooks_never_raise_even_on_nonsense(tmp_path: Path) -> None:
    plugin = JsonLogPlugin(tmp_path / "x.jsonl")
    bogus: Any = object()

    def call_everything() -> None:
        plugin.wfengine_run_started(bogus)
        plugin.wfengine_node_started(bogus, "n", 1)
        plugin.wfengine_node_finished(bogus, "n", {"k": 1}, 0.1, 1)
        plugin.wfengine_node_failed(bogus, "n", ValueError("v"), 1, False)
        plugin.wfengine_run_finished(bogus)

    messages = caught_jsonlog_warnings(call_everything)
    assert messages, "a hook that could not log says so"
    assert all("could not log" in m for m in messages)
    assert len(messages) == len(set(messages))


def test_an_existing_file_is_appended_to(fanout: Graph, tmp_path: Path, read_log: Reader) -> None:
    path = tmp_path / "a" / "b" / "c" / "log.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text('{"earlier": true}\n')
    engine = Engine(plugins=[JsonLogPlugin(path)], load_entrypoints=False)
    engine.run(fanout)
    events = read_log(path)
    assert events[0] == {"earlier": True}
    assert len(events) == 11


def test_a_half_written_last_line_is_not_glued_to_the_next(
    fanout: Graph, tmp_path: Path, parse_lines: Parser
) -> None:
    # what a full disk (or a crash) leaves behind: a last line without its newline
    path = tmp_path / "log.jsonl"
    path.write_text('{"ts":"2026-01-01T00:00:00.000000Z","level":"info","event":"node_st')
    Engine(plugins=[JsonLogPlugin(path)], load_entrypoints=False).run(fanout)
    broken, *rest = path.read_text().split("\n", 1)
    assert broken.endswith('"event":"node_st')
    events = parse_lines(rest[0])
    assert len(events) == 10 and events[0]["event"] == "run_started"


def test_a_write_cut_short_makes_the_next_line_start_fresh(
    fanout: Graph, tmp_path: Path, parse_lines: Parser, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "log.jsonl"
    real_write = os.write
    cut = []

    def disk_full_once(fd: int, data: bytes) -> int:
        if not cut and b"node_finished" in data:
            cut.append(real_write(fd, data[:20]))
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", disk_full_once)
    plugin = JsonLogPlugin(path)
    messages = caught_jsonlog_warnings(
        lambda: Engine(plugins=[plugin], load_entrypoints=False).run(fanout)
    )
    assert cut and any("No space left" in m for m in messages)
    lines = path.read_text().splitlines()
    assert sum(1 for line in lines if not line.endswith("}")) == 1  # only the cut one
    parse_lines("".join(line + "\n" for line in lines if line.endswith("}")))


def test_each_engine_gets_its_own_entry_point_instance(
    env_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = Engine(store="memory://")
    try:
        mine, theirs = env_engine.pm.get_plugin("jsonlog"), other.pm.get_plugin("jsonlog")
        assert isinstance(mine, JsonLogPlugin) and isinstance(theirs, JsonLogPlugin)
        assert mine is not theirs
    finally:
        other.close()
