"""dq.generate_rules and dq.apply_rules: rules as data, quarantine, row accounting."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from dq_helpers import merge, planted_quarantine

from wfengine_dataquality import (
    DataQualityError,
    apply_rules,
    detect,
    generate_rules,
    load,
    profile,
)
from wfengine_dataquality.apply import apply_rules_frame
from wfengine_dataquality.io import read_frame
from wfengine_dataquality.rules import check_rules


def _prepared(tmp_path: Path, source: Path, **extra: Any) -> dict[str, Any]:
    """The state after load, profile and detect."""
    state: dict[str, Any] = {"source": str(source), "output_dir": str(tmp_path / "out"), **extra}
    for tool in (load, profile, detect):
        merge(state, tool(state))
    return state


def _frame(**columns: list[Any]) -> pl.DataFrame:
    n = len(next(iter(columns.values())))
    return pl.DataFrame({"_row": list(range(1, n + 1)), **columns})


def test_rules_for_the_customers(tmp_path: Path, customers: tuple[Path, dict[str, Any]]) -> None:
    state = _prepared(tmp_path, customers[0])
    update = generate_rules(state)
    by_id = {r["id"]: r for r in update["rule_set"]}
    # One rule per violation; nulls of optional columns and tail outliers get none.
    assert sorted(by_id) == [
        "extreme:age",
        "extreme:income",
        "malformed:age",
        "malformed:email",
        "malformed:signup_date",
        "unexpected_value:country",
        "unique",
    ]
    assert by_id["unique"] == {
        "kind": "unique",
        "columns": None,
        "action": "drop",
        "id": "unique",
        "note": "40 rows repeat an earlier row (1.33% of rows)",
    }
    assert by_id["extreme:age"] | {"note": ""} == {
        "kind": "range",
        "column": "age",
        "min": -177,
        "max": 285,
        "action": "quarantine",
        "id": "extreme:age",
        "note": "",
    }
    assert by_id["malformed:age"]["dtype"] == "Int64"
    assert by_id["unexpected_value:country"]["values"][0] == "US"
    saved = json.loads(Path(update["rules_path"]).read_text())
    assert saved == update["rule_set"]
    assert Path(update["rules_path"]).name == "rules-r0.json"


def test_generation_settings(tmp_path: Path, customers: tuple[Path, dict[str, Any]]) -> None:
    state = _prepared(tmp_path, customers[0], act_on="outliers", impute="median")
    rules = generate_rules(
        state, range_action="clip", fill={"name": {"strategy": "constant", "value": "?"}}
    )["rule_set"]
    by_id = {r["id"]: r for r in rules}
    assert by_id["outlier:income"]["action"] == "clip"
    assert by_id["extreme:income"]["action"] == "quarantine"  # violations are never clipped
    assert by_id["null:name"]["strategy"] == "constant"
    assert by_id["null:income"]["strategy"] == "median"
    assert by_id["null:plan"]["strategy"] == "mode"  # text: the most frequent value
    state["range_action"] = "drop"  # a setting in the state wins over the node param
    with pytest.raises(DataQualityError, match="range_action must be"):
        generate_rules(state, range_action="clip")


def test_apply_accounts_for_every_row(
    tmp_path: Path, customers: tuple[Path, dict[str, Any]]
) -> None:
    path, manifest = customers
    state = _prepared(tmp_path, path)
    merge(state, generate_rules(state))
    update = apply_rules(state)
    acc = update["accounting"]
    assert acc == {
        "input_rows": 3000,
        "output_rows": 2860,
        "quarantined_rows": 100,
        "duplicates_removed": 40,
        "imputed_values": 0,
        "clipped_values": 0,
    }
    assert acc["input_rows"] == acc["output_rows"] + acc["quarantined_rows"] + 40
    assert update["round"] == 1
    quarantine = read_frame(update["quarantine_paths"][0], "test")
    assert set(quarantine.get_column("_row").to_list()) == planted_quarantine(path, manifest)
    dups = read_frame(update["duplicates_paths"][0], "test").get_column("_row").to_list()
    assert dups == manifest["rows_by_problem"]["duplicate_row"]
    reasons = quarantine.filter(pl.col("age") == "999").get_column("_reason").to_list()
    assert reasons and all(r == "age: 999 outside [-177, 285]" for r in reasons)
    assert set(quarantine.get_column("_round").to_list()) == {1}
    applied = {r["id"]: r["affected"] for r in update["rules_applied"]}
    assert applied["unique"] == 40 and applied["extreme:age"] == 4
    assert applied["malformed:email"] == 30
    clean = read_frame(update["data_path"], "test")
    assert clean.get_column("name").null_count() == 25  # optional: missing stays missing
    assert "_imputed" not in clean.columns
    json.dumps(update)


def test_apply_is_rerunnable(tmp_path: Path, customers: tuple[Path, dict[str, Any]]) -> None:
    state = _prepared(tmp_path, customers[0])
    merge(state, generate_rules(state))
    first = apply_rules(state)
    clean = pl.read_parquet(first["data_path"])
    second = apply_rules(state)  # e.g. after a crash before the step was saved
    assert first == second
    assert pl.read_parquet(second["data_path"]).equals(clean)


def test_fills_clip_and_every_reason() -> None:
    frame = _frame(
        n=[1, None, 3, 100],
        s=["a", "a", None, "zz"],
        t=["1", "x", "3", "4"],
    )
    rules = check_rules(
        [
            {"kind": "not_null", "column": "n", "strategy": "median", "value": None},
            {"kind": "not_null", "column": "s", "strategy": "constant", "value": "b"},
            {"kind": "range", "column": "n", "min": 0, "max": 10, "action": "clip"},
            {"kind": "allowed_values", "column": "s", "values": ["a", "b"]},
            {"kind": "type", "column": "t", "type": "int"},
        ],
        ["n", "s", "t"],
        "test",
    )
    result = apply_rules_frame(frame, rules, 1)
    assert result.clean.to_dicts() == [
        {"_row": 1, "n": 1, "s": "a", "t": 1, "_imputed": None},
        {"_row": 3, "n": 3, "s": "b", "t": 3, "_imputed": "s"},
    ]
    assert result.quarantine.select("_row", "_reason").to_dicts() == [
        {"_row": 2, "_reason": "t: 'x' is not a valid int"},
        {"_row": 4, "_reason": "s: 'zz' is not an allowed value"},
    ]
    assert result.affected == [0, 1, 0, 1, 1]


def test_several_reasons_and_clip_counts() -> None:
    frame = _frame(a=[None, 5, 50], b=["x", "y", "y"])
    rules = check_rules(
        [
            {"kind": "not_null", "column": "a", "strategy": "quarantine"},
            {"kind": "allowed_values", "column": "b", "values": ["y"]},
            {"kind": "range", "column": "a", "min": None, "max": 10, "action": "clip"},
        ],
        ["a", "b"],
        "test",
    )
    result = apply_rules_frame(frame, rules, 2)
    assert result.quarantine.get_column("_reason").to_list() == [
        "a: missing; b: 'x' is not an allowed value"
    ]
    assert result.clean.get_column("a").to_list() == [5, 10]
    assert result.clean.get_column("_clipped").to_list() == [None, "a"]
    assert result.affected == [1, 1, 1]


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ("nope", "rules must be a list"),
        ([{"kind": "explode"}], "rules[0] (explode): unknown kind 'explode'"),
        ([{"kind": "range", "column": "zz"}], "rules[0] (range on 'zz'): column 'zz' is not in"),
        (
            [{"kind": "range", "column": "a", "min": "low"}],
            "'min' must be a number or null",
        ),
        ([{"kind": "not_null", "column": "a", "strategy": "guess"}], "'strategy' must be one"),
        ([{"kind": "not_null", "column": "a", "strategy": "constant"}], "needs a 'value'"),
        ([{"kind": "format", "column": "a", "format": "phone"}], "'format' must be"),
        ([{"kind": "unique", "columns": ["q"]}], "columns ['q'] are not in the data"),
        ([{"kind": "type", "column": "a", "type": "blob"}], "unknown type 'blob'"),
        ([{"kind": "allowed_values", "column": "a", "action": "clip", "values": []}], "'action'"),
    ],
)
def test_edited_rules_are_checked(rules: Any, message: str) -> None:
    with pytest.raises(DataQualityError) as caught:
        check_rules(rules, ["a"], "dq.apply_rules")
    assert message in str(caught.value)
    assert str(caught.value).startswith("dq.apply_rules: ")


def test_range_on_text_needs_a_conversion(tmp_path: Path) -> None:
    src = tmp_path / "a.csv"
    src.write_text("a\nx\ny\n")
    state = _prepared(tmp_path, src)
    rules = [{"kind": "range", "column": "a", "min": 0, "max": 1, "action": "quarantine"}]
    with pytest.raises(DataQualityError, match="not numbers; add a format or type rule"):
        apply_rules(state, rule_set=rules)


def test_edited_rules_file_is_applied(tmp_path: Path) -> None:
    src = tmp_path / "a.csv"
    src.write_text("a,b\n1,x\n2,y\n300,y\n2,y\n")
    state = _prepared(tmp_path, src)
    rules_file = tmp_path / "rules.json"
    rules_file.write_text(
        json.dumps(
            {
                "rules": [
                    {"kind": "range", "column": "a", "min": 0, "max": 10, "action": "clip"},
                    {"kind": "unique", "columns": ["a", "b"]},
                ]
            }
        )
    )
    update = apply_rules(state, rules=str(rules_file))
    clean = pl.read_parquet(update["data_path"])
    assert clean.get_column("a").to_list() == [1, 2, 10]
    assert update["accounting"]["duplicates_removed"] == 1
    with pytest.raises(DataQualityError, match="rules file '.*' does not exist"):
        apply_rules(state, rules=str(tmp_path / "none.json"))


def test_apply_needs_rules(tmp_path: Path) -> None:
    src = tmp_path / "a.csv"
    src.write_text("a\n1\n")
    state = _prepared(tmp_path, src)
    with pytest.raises(DataQualityError, match="the state has no 'rule_set'"):
        apply_rules(state)
