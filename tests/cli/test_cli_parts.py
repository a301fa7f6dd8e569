"""Pieces of the CLI on their own: -s parsing, the live display, JSON safety, formats."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import click
import pytest
from wfengine.cli.output import LiveDisplay, format_seconds, format_table, jsonable
from wfengine.cli.state_args import assign, build_state, load_state_option, parse_assignment
from wfengine.run import Event, EventType


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("n=3", (["n"], 3)),
        ("ok=true", (["ok"], True)),
        ("x=null", (["x"], None)),
        ("name=alice", (["name"], "alice")),
        ("path=data/customers.csv", (["path"], "data/customers.csv")),
        ('cols=["a","b"]', (["cols"], ["a", "b"])),
        ('cfg={"k": 1}', (["cfg"], {"k": 1})),
        ("empty=", (["empty"], "")),
        ("eq=a=b", (["eq"], "a=b")),
        ("a.b.c=1.5", (["a", "b", "c"], 1.5)),
        (" spaced =x", (["spaced"], "x")),
    ],
)
def test_parse_assignment(text: str, expected: tuple[list[str], Any]) -> None:
    assert parse_assignment(text) == expected


@pytest.mark.parametrize("text", ["novalue", "=1", "a..b=1", ".a=1", "a.=1"])
def test_parse_assignment_refuses(text: str) -> None:
    with pytest.raises(click.BadParameter, match="example: -s threshold=3"):
        parse_assignment(text)


def test_build_state_nests_and_overrides() -> None:
    base = {"a": {"x": 1}, "n": 1}
    state = build_state(base, [(["a", "y"], 2), (["n"], 5), (["b", "c"], 3)])
    assert state == {"a": {"x": 1, "y": 2}, "n": 5, "b": {"c": 3}}


def test_assign_into_a_non_object_is_refused() -> None:
    with pytest.raises(click.BadParameter, match=r"cannot set n\.x: n is 1, not an object"):
        assign({"n": 1}, ["n", "x"], 2)


def test_state_option_from_files(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text('{"a": 1}')
    (tmp_path / "s.yaml").write_text("a: 2\nb: [1, 2]\n")
    (tmp_path / "list.json").write_text("[1]")
    assert load_state_option(f"@{tmp_path / 's.json'}") == {"a": 1}
    assert load_state_option(f"@{tmp_path / 's.yaml'}") == {"a": 2, "b": [1, 2]}
    with pytest.raises(click.BadParameter, match="must hold a JSON object, got list"):
        load_state_option(f"@{tmp_path / 'list.json'}")
    with pytest.raises(click.BadParameter, match="cannot read"):
        load_state_option(f"@{tmp_path / 'missing.json'}")
    assert load_state_option(None) == {}


def _event(kind: str, node: str, step: int = 1, **data: Any) -> Event:
    return Event(EventType(kind), "r1", step, node, data)


def test_live_display_piped_prints_plain_lines() -> None:
    out = io.StringIO()
    display = LiveDisplay(out, tty=False, nodes=["load", "profile"])
    display.handle(_event("node_started", "load", attempt=1))
    display.handle(_event("node_finished", "load", attempt=1, duration_ms=12.0))
    display.handle(
        _event(
            "node_failed",
            "profile",
            2,
            attempt=1,
            will_retry=True,
            error={"type": "OSError", "message": "disk\nmore"},
        )
    )
    display.handle(
        _event(
            "node_failed",
            "profile",
            2,
            attempt=2,
            will_retry=False,
            error={"type": "OSError", "message": "disk"},
            duration_ms=1500.0,
        )
    )
    assert out.getvalue().splitlines() == [
        "  ok     step 1    load        12 ms",
        "  retry  step 2    profile      0 ms  OSError: disk  (retrying)",
        "  FAILED step 2    profile    1.50 s  retry 1  OSError: disk",
    ]
    assert "\x1b" not in out.getvalue()


def test_live_display_on_a_terminal_keeps_a_status_line() -> None:
    out = io.StringIO()
    display = LiveDisplay(out, tty=True, nodes=["a", "b"])
    display.handle(_event("node_started", "a"))
    display.handle(_event("node_started", "b"))
    assert out.getvalue().endswith("running a (step 1), b (step 1)\x1b[0m")
    display.handle(_event("node_finished", "a", duration_ms=5.0))
    display.handle(_event("run_finished", ""))
    text = out.getvalue()
    assert "\r\x1b[K" in text
    assert "\r\x1b[K  ok step 1    a      5 ms\n" in text
    assert text.endswith("running b (step 1)\x1b[0m\r\x1b[K")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (0.0123, "12 ms"), (3.5, "3.50 s"), (125, "2 m 05 s"), (7322, "2 h 02 m")],
)
def test_format_seconds(seconds: float | None, text: str) -> None:
    assert format_seconds(seconds) == text


def test_format_table() -> None:
    assert format_table(("A", "BB"), [("x", None), ("long", 1)]) == "A     BB\nx\nlong  1"


def test_jsonable_handles_odd_values(tmp_path: Path) -> None:
    import datetime as dt
    import enum
    from dataclasses import dataclass

    class Colour(enum.Enum):
        RED = "red"

    @dataclass
    class Point:
        x: int

    cyclic: list[Any] = []
    cyclic.append(cyclic)
    data = jsonable(
        {
            1: (Colour.RED, dt.date(2024, 1, 2)),
            "p": Point(1),
            "b": b"hi",
            "inf": float("inf"),
            "c": cyclic,
        }
    )
    assert data["1"] == ["red", "2024-01-02"]
    assert data["p"] == {"x": 1} and data["b"] == "hi" and data["inf"] == "inf"
    assert isinstance(data["c"], list)  # cut off deep down, never a RecursionError


def test_output_locations_spread_mappings_and_lists() -> None:
    from wfengine.cli.output import output_locations

    state = {
        "n": 1,
        "out_dir": "/o",
        "outputs": {"csv": "/o/a.csv", "none": None},
        "quarantine_paths": ["/q1", "/q2"],
        "empty_path": "",
        "report_file": Path("/r"),
    }
    assert output_locations(state) == [
        ("out_dir", "/o"),
        ("outputs.csv", "/o/a.csv"),
        ("quarantine_paths[0]", "/q1"),
        ("quarantine_paths[1]", "/q2"),
        ("report_file", Path("/r")),
    ]


def test_summary_of_a_failed_run_in_a_persistent_store() -> None:
    import click
    from wfengine.cli.output import summary_lines
    from wfengine.run import RunStatus, WorkflowRun

    run = WorkflowRun(
        "g",
        {"a": 1, "x_path": "/p"},
        run_id="r1",
        status=RunStatus.FAILED,
        step=2,
        error={"type": "KeyError", "message": "'b'\nmore", "node": "n2", "step": 3},
    )
    run.finished = run.created + 1.5
    lines = [
        click.unstyle(line)
        for line in summary_lines(run, resume_command="wf runs resume r1", persistent=True)
    ]
    assert lines == [
        "failed: run r1 (g), 2 steps in 1.50 s",
        "state keys: a, x_path",
        "outputs:",
        "  x_path: /p",
        "error: node 'n2' step 3: KeyError: 'b'",
        "inspect: wf runs show r1 --state",
        "resume:  wf runs resume r1 [-s key=value ...]",
    ]
