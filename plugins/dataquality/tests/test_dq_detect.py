"""dq.detect: every kind of finding, and the exact planted problems of the sample data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from wfengine_dataquality import DataQualityError, detect, load, profile
from wfengine_dataquality.detection import detect_frame, duplicate_rows
from wfengine_dataquality.profiling import profile_frame
from wfengine_dataquality.sample import COUNTRY_TYPOS, FINDING_OF_PROBLEM


def _findings(frame: pl.DataFrame, expected: dict[str, str] | None = None) -> list[dict[str, Any]]:
    frame = frame.with_row_index("_row", offset=1).with_columns(pl.col("_row").cast(pl.Int64))
    return detect_frame(frame, profile_frame(frame), expected)[0]


def _by_key(findings: list[dict[str, Any]]) -> dict[tuple[str, str | None], dict[str, Any]]:
    return {(f["kind"], f["column"]): f for f in findings}


def test_customers_planted_problems_are_found_exactly(
    tmp_path: Path, customers: tuple[Path, dict[str, Any]]
) -> None:
    path, manifest = customers
    state: dict[str, Any] = load({"source": str(path), "output_dir": str(tmp_path)})
    state.update(profile(state))
    update = detect(state)
    found = _by_key(update["findings"])
    assert set(found) == {key for keys in FINDING_OF_PROBLEM.values() for key in keys}
    for problem, keys in FINDING_OF_PROBLEM.items():
        planted = manifest["rows_by_problem"][problem]
        assert sum(found[key]["count"] for key in keys) == len(planted), problem
        for key in keys:
            assert set(found[key]["examples"]) <= set(planted), (problem, key)
            assert found[key]["round"] == 0
    assert update["issues"] == update["findings"]
    # Violations are acted on; the nulls of optional columns and the tails are observations.
    acted = {key for key, f in found.items() if f["actionable"]}
    assert {k for k, f in found.items() if f["severity"] == "violation"} == acted
    assert acted == {
        ("duplicate", None),
        ("malformed", "email"),
        ("malformed", "age"),
        ("extreme", "age"),
        ("unexpected_value", "country"),
        ("malformed", "signup_date"),
        ("extreme", "income"),
    }
    assert update["anomaly_count"] == 40 + 30 + 20 + 4 + 18 + 22 + 6
    assert set(found[("extreme", "age")]["example_values"]) == {"999"}
    assert found[("extreme", "income")]["count"] == 6
    assert set(found[("outlier", "income")]["example_values"]) == {"-75000.0"}
    assert found[("outlier", "age")]["min"] == -23 and found[("outlier", "age")]["max"] == 131
    assert found[("outlier", "age")]["share"] == round(11 / 3000, 6)
    assert "reported only" in found[("outlier", "age")]["message"]
    typos = found[("unexpected_value", "country")]
    assert sorted(typos["values"]) == sorted(COUNTRY_TYPOS)
    assert typos["allowed"] == ["US", "DE", "FR", "GB", "NL", "ES", "IT", "SE"]
    assert found[("malformed", "signup_date")]["pattern"] == "%Y-%m-%d"
    assert found[("malformed", "age")]["example_values"][:2] == ["forty-two", "n.a."]
    assert found[("null", "name")]["message"].endswith("the column is optional, they are kept")
    assert update["baseline"]["required"] == ["active", "age", "country", "customer_id",
                                              "email", "signup_date"]  # fmt: skip
    json.dumps(update)


def test_each_kind_on_small_data() -> None:
    frame = pl.DataFrame(
        {
            "id": list(range(1, 401)),
            "city": ["Oslo"] * 200 + ["Rome"] * 199 + ["Romee"],
            "v": [10.0, 11.0, 12.0, 13.0] * 99 + [13.0, 18.0, 19.0, 500_000.0],
            "note": [None, *["x"] * 399],
        }
    )
    frame = pl.concat([frame, frame.head(2)])  # rows 401 and 402 repeat rows 1 and 2
    found = _by_key(_findings(frame))
    assert found[("duplicate", None)]["count"] == 2
    assert found[("duplicate", None)]["examples"] == [401, 402]
    assert found[("null", "note")]["count"] == 2
    assert found[("null", "note")]["example_values"] == []
    assert found[("null", "note")]["severity"] == "observation"
    assert found[("unexpected_value", "city")]["count"] == 1
    assert found[("unexpected_value", "city")]["example_values"] == ["Romee"]
    assert found[("extreme", "v")]["examples"] == [400]
    assert found[("extreme", "v")]["severity"] == "violation"
    outlier = found[("outlier", "v")]
    assert outlier["examples"] == [398, 399] and outlier["actionable"] is False
    assert outlier["message"] == (
        "v: 2 values (0.50% of rows) in the tails, outside [8.0, 16.0];"
        " reported only (act_on to act)"
    )


def test_no_outliers_when_the_iqr_is_zero() -> None:
    found = _by_key(_findings(pl.DataFrame({"v": [1] * 50 + [2]})))
    assert ("outlier", "v") not in found and ("extreme", "v") not in found


def test_schema_drift_against_expected_schema() -> None:
    frame = pl.DataFrame({"id": ["1", "2", "x"], "extra": [1, 2, 3], "score": [1.0, 2.0, 3.0]})
    expected = {"id": "int", "score": "number", "name": "string"}
    found = _by_key(_findings(frame, expected))
    assert found[("missing_column", "name")]["actionable"] is False
    assert found[("unexpected_column", "extra")]["actionable"] is False
    mismatch = found[("type_mismatch", "id")]
    assert (mismatch["count"], mismatch["unconvertible"]) == (3, 1)
    assert (mismatch["expected"], mismatch["actual"]) == ("int", "String")
    assert mismatch["examples"] == [3] and mismatch["example_values"] == ["x"]
    assert ("type_mismatch", "score") not in found  # a float is a number


def test_anomaly_count_leaves_out_what_no_rule_can_fix(tmp_path: Path) -> None:
    src = tmp_path / "a.csv"
    src.write_text("a,b\n1,2\n3,4\n")
    state: dict[str, Any] = {
        "source": str(src),
        "output_dir": str(tmp_path / "o"),
        "expected_schema": {"c": "int"},
    }
    state.update(load(state))
    update = detect(state)  # no profile in the state: detect profiles by itself
    assert [f["kind"] for f in update["findings"]] == [
        "missing_column",
        "unexpected_column",
        "unexpected_column",
    ]
    assert update["anomaly_count"] == 0


def test_duplicate_rows_compares_exactly_after_hashing() -> None:
    frame = pl.DataFrame(
        {"_row": [1, 2, 3, 4], "a": [1, 1, None, None], "b": ["x", "x", None, None]}
    )
    assert duplicate_rows(frame).to_list() == [2, 4]
    assert duplicate_rows(frame, ["a"]).to_list() == [2, 4]


def test_tool_needs_data() -> None:
    with pytest.raises(DataQualityError, match="dq.detect: the state has no 'data_path'"):
        detect({})
