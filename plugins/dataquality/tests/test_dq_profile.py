"""dq.profile: per-column statistics."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from wfengine_dataquality import DataQualityError, load, profile
from wfengine_dataquality.profiling import profile_frame


def test_statistics_per_column() -> None:
    frame = pl.DataFrame(
        {
            "n": [1, 2, 3, 4, None],
            "x": [0.5, 1.5, 2.5, 3.5, 4.5],
            "day": [dt.date(2024, 1, d) for d in (1, 2, 3, 4, 5)],
            "word": ["a", "bb", "ccc", None, "bb"],
            "flag": [True, False, True, True, None],
        }
    )
    cols = profile_frame(frame)["columns"]
    assert cols["n"] == {
        "dtype": "Int64",
        "family": "int",
        "rows": 5,
        "nulls": 1,
        "distinct": 4,
        "min": 1,
        "max": 4,
        "mean": 2.5,
        "std": pytest.approx(1.2909944),
        "p05": pytest.approx(1.15),
        "p25": 1.75,
        "p50": 2.5,
        "p75": 3.25,
        "p95": pytest.approx(3.85),
    }
    assert cols["x"]["p50"] == 2.5 and cols["x"]["std"] == pytest.approx(1.5811388)
    assert cols["day"]["min"] == "2024-01-01" and cols["day"]["max"] == "2024-01-05"
    assert cols["day"]["p50"] == "2024-01-03" and cols["day"]["std"] == pytest.approx(1.5811388)
    assert cols["word"]["min_length"] == 1 and cols["word"]["max_length"] == 3
    assert cols["word"]["format"] is None
    assert "top_values" not in cols["word"]  # 3 distinct in 4 values: not low-cardinality
    assert cols["flag"]["top_values"] == [
        {"value": True, "count": 3},
        {"value": False, "count": 1},
    ]


def test_low_cardinality_top_values_are_complete_and_ordered() -> None:
    values = ["b"] * 5 + ["a"] * 5 + ["c"] * 2 + [None]
    cols = profile_frame(pl.DataFrame({"k": values}))["columns"]
    assert cols["k"]["top_values"] == [
        {"value": "a", "count": 5},
        {"value": "b", "count": 5},
        {"value": "c", "count": 2},
    ]
    many = profile_frame(pl.DataFrame({"k": [str(i % 30) for i in range(300)]}), 20)
    assert "top_values" not in many["columns"]["k"]


def test_text_formats_and_their_parsed_statistics() -> None:
    frame = pl.DataFrame(
        {
            "num": ["1", "2", "3", "4", "x"],
            "dec": ["1.5", "2", "3", "4", "5"],
            "day": ["2024-01-01", "2024-01-03", "2024-01-05", "2024-01-07", "bad"],
            "mail": ["a@b.org", "c@d.com", "e@f.net", "g@h.io", "nope"],
        }
    )
    cols = profile_frame(frame)["columns"]
    assert cols["num"]["format"] == {"format": "number", "dtype": "Int64"}
    assert (cols["num"]["min"], cols["num"]["max"], cols["num"]["p50"]) == (1, 4, 2.5)
    assert cols["dec"]["format"] == {"format": "number", "dtype": "Float64"}
    assert cols["day"]["format"] == {"format": "date", "pattern": "%Y-%m-%d"}
    assert cols["day"]["min"] == "2024-01-01" and cols["day"]["max"] == "2024-01-07"
    assert cols["mail"]["format"] == {"format": "email"}


def test_tool_profiles_data_path_and_keeps_the_first_profile(tmp_path: Path) -> None:
    src = tmp_path / "a.csv"
    src.write_text("x,y\n1,a\n2,b\n3,a\n")
    state = load({"source": str(src), "output_dir": str(tmp_path / "out")})
    update = profile(state)
    assert update["profile"] is update["profile_before"]
    assert update["profile"]["rows"] == 3
    assert update["profile"]["data_path"] == state["data_path"]
    assert "_row" not in update["profile"]["columns"]
    json.dumps(update)
    later = profile({**state, "round": 1})
    assert "profile_before" not in later


def test_tool_needs_data(tmp_path: Path) -> None:
    with pytest.raises(DataQualityError, match="dq.profile: the state has no 'data_path'"):
        profile({})
    with pytest.raises(DataQualityError, match="dq.profile: data file '.*' does not exist"):
        profile({"data_path": str(tmp_path / "gone.parquet")})
