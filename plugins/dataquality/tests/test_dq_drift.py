"""Drift: new data against a saved profile; every finding an observation with counts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from wfengine_dataquality.drift import compare
from wfengine_dataquality.profiling import profile_frame


def _frame(n: int = 100, *, shift: float = 0.0, first: int = 1) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "_row": list(range(first, first + n)),
            "x": [float(i % 50) + shift for i in range(n)],
            "kind": [("a", "b", "c")[i % 3] for i in range(n)],
            "day": [dt.date(2024, 1, 1) + dt.timedelta(days=i % 30) for i in range(n)],
            "note": [None if i % 20 == 0 else "ok" for i in range(n)],
            "active": [i % 2 == 0 for i in range(n)],
        }
    )


def _by_kind(findings: list[dict[str, Any]]) -> dict[tuple[str, str | None], dict[str, Any]]:
    return {(f["kind"], f["column"]): f for f in findings}


def test_the_same_data_has_no_drift() -> None:
    frame = _frame()
    assert compare(profile_frame(frame), frame) == []
    assert compare(profile_frame(frame), _frame(80)) == []  # fewer rows, same distribution


def test_numbers_moved_are_range_and_median_drift() -> None:
    saved = profile_frame(_frame())
    found = _by_kind(compare(saved, _frame(shift=30.0)))
    assert set(found) == {("range", "x"), ("median", "x")}
    rng = found[("range", "x")]
    assert (rng["count"], rng["share"], rng["before"], rng["after"]) == (
        60,
        0.6,
        [0.0, 49.0],
        [30.0, 79.0],
    )
    assert rng["examples"] == [21, 22, 23, 24, 25] and rng["severity"] == "observation"
    median = found[("median", "x")]
    assert median["before"] == 24.5 and median["after"] == 54.5
    assert median["count"] == 100 and "moved from 24.5 to 54.5" in median["message"]


def test_dates_out_of_the_saved_range() -> None:
    saved = profile_frame(_frame())
    later = _frame().with_columns(pl.col("day") + pl.duration(days=10))
    found = _by_kind(compare(saved, later))
    assert found[("range", "day")]["count"] == 30  # days 31..40 after the saved last day


def test_null_share_categories_row_count_and_columns() -> None:
    saved = profile_frame(_frame())
    new = _frame(300).with_columns(
        pl.when(pl.col("_row") <= 60).then(None).otherwise(pl.col("note")).alias("note"),
        pl.when(pl.col("_row") % 3 == 0).then(pl.lit("d")).otherwise(pl.col("kind")).alias("kind"),
    )
    new = new.filter(pl.col("kind") != "c").drop("active").with_columns(pl.lit(1).alias("extra"))
    found = _by_kind(compare(saved, new))
    assert found[("row_count", None)]["before"] == 100
    nulls = found[("null_share", "note")]
    assert nulls["before"] == 0.05 and nulls["count"] == new.filter(pl.col("note").is_null()).height
    new_values = found[("new_values", "kind")]
    assert (
        new_values["values"] == ["d"]
        and new_values["count"] == new.filter(pl.col("kind") == "d").height
    )
    gone = found[("gone_values", "kind")]
    assert gone["values"] == ["c"] and gone["count"] == 33 and gone["share"] == 0.33
    assert ("column_gone", "active") in found and ("column_new", "extra") in found


def test_booleans_and_type_changes() -> None:
    saved = profile_frame(_frame())
    assert not [f for f in compare(saved, _frame()) if f["column"] == "active"]
    text = _frame().with_columns(pl.col("x").cast(pl.String))
    found = _by_kind(compare(saved, text))
    assert (
        found[("dtype", "x")]["before"] == "Float64" and found[("dtype", "x")]["after"] == "String"
    )
