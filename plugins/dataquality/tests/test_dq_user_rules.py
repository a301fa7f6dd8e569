"""User rules: regex, allowed values, range, not-null, unique, compare, row count, aggregate."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from wfengine_dataquality import DataQualityError
from wfengine_dataquality.apply import apply_rules_frame
from wfengine_dataquality.rules import check_rules, load_rules
from wfengine_dataquality.validation import TOOL, evaluate


def _frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "_row": list(range(1, 7)),
            "code": ["AB-1", "AB-22", "ab-3", None, "AB-5", "XX"],
            "start": [dt.date(2024, 1, d) for d in (1, 2, 3, 4, 5, 6)],
            "end": [dt.date(2024, 1, d) for d in (2, 2, 1, 9, 4, 7)],
            "amount": [10.0, 12.0, 14.0, 16.0, None, 18.0],
            "key": [1, 2, 2, 3, 4, 4],
        }
    )


def _results(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    frame = _frame()
    return evaluate(frame, check_rules(rules, frame.columns[1:], TOOL))


@pytest.mark.parametrize(
    ("rule", "failing"),
    [
        ({"kind": "regex", "column": "code", "pattern": "AB-[0-9]+"}, [3, 6]),
        ({"kind": "regex", "column": "code", "pattern": "AB-[0-9]"}, [2, 3, 6]),  # whole value
        ({"kind": "allowed_values", "column": "code", "values": ["AB-1", "XX"]}, [2, 3, 5]),
        ({"kind": "range", "column": "amount", "min": 12, "max": 16}, [1, 6]),  # inclusive
        ({"kind": "not_null", "column": "amount"}, [5]),  # strategy quarantine by default
        ({"kind": "unique", "columns": ["key"]}, [3, 6]),
        ({"kind": "compare", "column": "end", "op": ">=", "other": "start"}, [3, 5]),
        ({"kind": "compare", "column": "end", "op": "<", "value": "2024-01-05"}, [4, 6]),
        ({"kind": "compare", "column": "amount", "op": "!=", "value": 14}, [3]),
        ({"kind": "compare", "column": "code", "op": "==", "value": "XX"}, [1, 2, 3, 5]),
    ],
)
def test_row_rules_count_and_quarantine_the_failing_rows(
    rule: dict[str, Any], failing: list[int]
) -> None:
    [result] = _results([rule])
    assert result["examples"] == failing
    assert result["unexpected_count"] == len(failing)
    assert result["unexpected_percent"] == round(len(failing) / 6 * 100, 4)
    assert result["success"] is False and result["severity"] == "violation"
    frame = _frame()
    applied = apply_rules_frame(frame, check_rules([rule], frame.columns, TOOL), 1)
    assert sorted(applied.quarantine.get_column("_row").to_list()) == failing
    assert applied.clean.height + applied.quarantine.height == 6


def test_report_action_counts_but_changes_nothing() -> None:
    rule = {"kind": "compare", "column": "end", "op": ">=", "other": "start", "action": "report"}
    [result] = _results([rule])
    assert result["unexpected_count"] == 2 and result["severity"] == "observation"
    assert result["example_values"] == ["2024-01-01", "2024-01-04"]
    frame = _frame()
    applied = apply_rules_frame(frame, check_rules([rule], frame.columns, TOOL), 1)
    assert applied.quarantine.height == 0 and applied.clean.equals(frame)


def test_quarantine_reason_names_the_comparison() -> None:
    frame = _frame()
    rules = check_rules(
        [{"kind": "compare", "column": "end", "op": ">=", "other": "start"}], frame.columns, TOOL
    )
    reasons = apply_rules_frame(frame, rules, 1).quarantine.get_column("_reason").to_list()
    assert reasons[0] == "end: '2024-01-01' fails >= start (2024-01-03)"


def test_unique_over_every_column_drops_later_copies() -> None:
    frame = pl.DataFrame({"_row": [1, 2, 3], "a": [1, 1, 2]})
    rules = check_rules([{"kind": "unique", "columns": None}], frame.columns, TOOL)
    applied = apply_rules_frame(frame, rules, 1)
    assert applied.duplicates.get_column("_row").to_list() == [2]
    assert applied.quarantine.height == 0
    assert evaluate(frame, rules)[0]["unexpected_count"] == 1


@pytest.mark.parametrize(
    ("rule", "observed", "success"),
    [
        ({"kind": "row_count", "min": 6, "max": 6}, 6, True),
        ({"kind": "row_count", "min": 10}, 6, False),
        (
            {"kind": "aggregate", "column": "amount", "stat": "mean", "min": 10, "max": 20},
            14.0,
            True,
        ),
        ({"kind": "aggregate", "column": "amount", "stat": "max", "max": 15}, 18.0, False),
        ({"kind": "aggregate", "column": "amount", "stat": "null_share", "max": 0.1}, 1 / 6, False),
        ({"kind": "aggregate", "column": "key", "stat": "distinct", "min": 4}, 4, True),
        (
            {"kind": "aggregate", "column": "amount", "stat": "median", "min": 14, "max": 14},
            14.0,
            True,
        ),
    ],
)
def test_table_rules(rule: dict[str, Any], observed: Any, success: bool) -> None:
    [result] = _results([rule])
    assert result["observed_value"] == pytest.approx(observed)
    assert result["success"] is success
    assert result["unexpected_count"] is None and result["action"] == "fail"
    assert result["severity"] == "violation"


def test_aggregate_runs_on_converted_values() -> None:
    frame = pl.DataFrame({"_row": [1, 2, 3], "n": ["10", "20", "x"]})
    rules = [
        {"kind": "format", "column": "n", "format": "number", "dtype": "Int64"},
        {"kind": "aggregate", "column": "n", "stat": "sum", "min": 30, "max": 30},
    ]
    results = evaluate(frame, check_rules(rules, frame.columns, TOOL))
    assert results[1]["observed_value"] == 30 and results[1]["success"] is True
    assert results[0]["unexpected_count"] == 1


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            {"id": "r", "kind": "regex", "column": "code", "pattern": "(ab"},
            "rules[0] (regex on 'code', id 'r'): 'pattern' '(ab' is not a valid regular expression",
        ),
        ({"kind": "regex", "column": "code"}, "'pattern' must be a non-empty regular expression"),
        (
            {"id": "ends", "kind": "compare", "column": "end", "op": ">=", "other": "begin"},
            "rules[0] (compare on 'end', id 'ends'): other 'begin' is not in the data"
            " (columns: code, start, end, amount, key)",
        ),
        ({"kind": "compare", "column": "end", "op": "=>", "other": "start"}, "'op' must be one of"),
        (
            {"kind": "compare", "column": "end", "op": ">", "other": "start", "value": 1},
            "give either 'other' (a column) or 'value' (a literal), not both",
        ),
        ({"kind": "row_count"}, "rules[0] (row_count): give 'min', 'max' or both"),
        ({"kind": "row_count", "min": 5, "max": 1}, "'min' (5) is greater than 'max' (1)"),
        ({"kind": "row_count", "min": 1, "action": "quarantine"}, "'action' must be 'fail' or"),
        ({"kind": "aggregate", "column": "amount", "stat": "avg", "min": 1}, "'stat' must be one"),
        ({"kind": "regex", "column": "code", "pattern": "a", "action": "drop"}, "'action' must be"),
        ({"kind": "range", "column": "amount", "min": 1, "mostly": 2}, "'mostly' must be a share"),
        ({"kind": "unique", "columns": ["key"], "action": "clip"}, "'action' must be 'drop'"),
        ({"kind": "not_null", "column": "code", "action": "clip"}, "'action' must be 'report'"),
    ],
)
def test_wrong_user_rules_name_the_rule(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(DataQualityError) as caught:
        check_rules([rule], _frame().columns[1:], TOOL)
    assert str(caught.value).startswith("dq.validate: rules[0] (")
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            {"id": "c", "kind": "compare", "column": "end", "op": ">", "other": "amount"},
            "rules[0] (compare on 'end', id 'c'): columns 'end' (Date) and 'amount' (Float64)"
            " cannot be compared",
        ),
        (
            {"kind": "compare", "column": "end", "op": ">", "value": "soon"},
            "value 'soon' cannot be compared with column 'end' (Date)",
        ),
        (
            {"kind": "aggregate", "column": "code", "stat": "mean", "min": 1},
            "rules[0] (aggregate on 'code', id 'aggregate:code'): stat 'mean' needs a number"
            " column",
        ),
        (
            {"kind": "range", "column": "code", "min": 1},
            "rules[0] (range on 'code', id 'range:code'): the column holds String values, not"
            " numbers",
        ),
    ],
)
def test_rules_that_do_not_fit_the_data_name_the_rule(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(DataQualityError) as caught:
        _results([rule])
    assert str(caught.value).startswith("dq.validate: ")
    assert message in str(caught.value)


def test_rules_files_in_yaml_and_json(tmp_path: Path) -> None:
    yaml_file = tmp_path / "r.yaml"
    yaml_file.write_text(
        "rules:\n  - {kind: row_count, min: 1}\n  - kind: regex\n    column: a\n"
        "    pattern: '[a-z]+'\n"
    )
    assert load_rules(yaml_file, TOOL) == [
        {"kind": "row_count", "min": 1},
        {"kind": "regex", "column": "a", "pattern": "[a-z]+"},
    ]
    json_file = tmp_path / "r.json"
    json_file.write_text(json.dumps([{"kind": "row_count", "min": 1}]))
    assert load_rules(json_file, TOOL) == [{"kind": "row_count", "min": 1}]
    bad = tmp_path / "bad.yml"
    bad.write_text("rules: [a, b\n")
    with pytest.raises(DataQualityError, match=r"rules file '.*bad.yml' is not valid YAML"):
        load_rules(bad, TOOL)
    scalar = tmp_path / "s.json"
    scalar.write_text('"range"')
    with pytest.raises(DataQualityError, match="must hold a list of rules or an object"):
        load_rules(scalar, TOOL)
