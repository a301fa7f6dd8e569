"""``wfengine.rows``: what the SQL stores share, checked without a database."""

from __future__ import annotations

import pytest
from wfengine.codec import encode
from wfengine.errors import InvalidQueryError, StoreError
from wfengine.rows import cursor_after, parse_cursor, rebuild_position, run_filters


def step_row(number: int, changes: dict[str, object], grown: str | None = None) -> tuple:
    return (number, '["a"]', '["a"]', None, encode(changes), grown)


def test_a_position_is_the_snapshot_plus_the_steps_after_it() -> None:
    snapshot = (2, encode({"n": 2, "log": [1, 2]}), '["a"]', None, '["a", "a"]')
    grown = encode({"log": ["tail", [3]]})
    at, state, nxt, progress, visited = rebuild_position(
        snapshot, [step_row(3, {"n": 3}, grown)], step=None, run_id="r", where="here"
    )
    assert (at, state, nxt, progress) == (3, {"n": 3, "log": [1, 2, 3]}, ["a"], {})
    assert visited == ["a", "a", "a"]


def test_a_missing_step_or_state_is_named() -> None:
    with pytest.raises(StoreError, match="run r: step 1 is missing from store X"):
        rebuild_position(None, [step_row(2, {})], step=None, run_id="r", where="store X")
    with pytest.raises(StoreError, match="run r has no stored state at step 4"):
        rebuild_position(None, [], step=4, run_id="r", where="store X")
    with pytest.raises(StoreError, match="run r has no step 5; its last stored step is 1"):
        start = (0, encode({}), '["a"]', None, "[]")
        rebuild_position(start, [step_row(1, {})], step=5, run_id="r", where="store X")


def test_filters_use_the_dialects_placeholder_and_escape_like_patterns() -> None:
    where, args = run_filters(
        mark="%s",
        search_sql="(run_id ILIKE %s OR e1 ILIKE %s OR e2 ILIKE %s)",
        status="failed",
        search="50%_",
        cursor=cursor_after(12.5, "abc"),
    )
    assert where[0] == "status = %s" and where[2].count("%s") == 3
    assert args == ["failed", r"%50\%\_%", r"%50\%\_%", r"%50\%\_%", 12.5, 12.5, "abc"]
    assert parse_cursor(cursor_after(12.5, "abc")) == (12.5, "abc")
    with pytest.raises(InvalidQueryError, match="invalid list_runs cursor 'nope'"):
        parse_cursor("nope")
