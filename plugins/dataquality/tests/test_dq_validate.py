"""Validate mode: saved rules applied to new data, per-rule results, drift, exit codes."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner
from dq_helpers import REPO
from wfengine import Engine
from wfengine.cli import CliContext, build_cli

from wfengine_dataquality import DataQualityError
from wfengine_dataquality.plugin import DataQualityPlugin

Workflow = Callable[..., dict[str, Any]]


def _orders(n: int, *, shift: float = 0.0, offset: int = 0) -> pl.DataFrame:
    """Orders with an amount, a country code, start/end dates and an email."""
    start = [dt.date(2024, 1, 1) + dt.timedelta(days=i % 90) for i in range(n)]
    return pl.DataFrame(
        {
            "order_id": [offset + i + 1 for i in range(n)],
            "amount": [str(round(10 + (i * 7919 % 200) / 10 + shift, 2)) for i in range(n)],
            "country": [("US", "DE", "FR")[i % 3] for i in range(n)],
            "start": start,
            "end": [d + dt.timedelta(days=i % 5) for i, d in enumerate(start)],
            "email": [f"c{offset + i}@shop.example" for i in range(n)],
        }
    )


def _set(frame: pl.DataFrame, rows: list[int], column: str, value: Any) -> pl.DataFrame:
    """``frame`` with ``column`` set to ``value`` at the 0-based ``rows``."""
    index = pl.int_range(pl.len())
    return frame.with_columns(
        pl.when(index.is_in(rows)).then(pl.lit(value)).otherwise(pl.col(column)).alias(column)
    )


def _learn(tmp_path: Path) -> Path:
    """A learn run on 300 orders with planted problems; returns its output folder."""
    frame = _set(_orders(300), [4, 70], "amount", "oops")
    frame = _set(frame, [9], "country", "Frnace")
    frame = pl.concat([frame, frame.slice(20, 1)])  # one exact copy
    src = tmp_path / "learn.csv"
    frame.write_csv(src)
    out = tmp_path / "learned"
    result = _wf(["-s", f"source={src}", "-s", f"output_dir={out}"])
    assert result.exit_code == 0, result.output
    return out


def _wf(args: list[str]) -> Any:
    engine = Engine(load_entrypoints=False, plugins=[DataQualityPlugin], store="memory://")
    try:
        app = CliContext(engine)
        return CliRunner().invoke(build_cli(app), ["run", "data-quality", "-q", *args], obj=app)
    finally:
        engine.close()


def test_learn_writes_profile_json_next_to_the_rules(tmp_path: Path) -> None:
    out = _learn(tmp_path)
    saved = json.loads((out / "profile.json").read_text())
    assert saved["rows"] == 297  # 301 in, 3 quarantined, 1 copy dropped
    assert saved["columns"]["amount"]["dtype"] == "Float64"
    assert sorted(t["value"] for t in saved["columns"]["country"]["top_values"]) == [
        "DE",
        "FR",
        "US",
    ]
    rules = json.loads((out / "rules.json").read_text())
    assert {r["id"] for r in rules} == {"unique", "malformed:amount", "unexpected_value:country"}


def test_wf_run_validate_reports_each_rule_and_drift_and_exits_1(tmp_path: Path) -> None:
    out = _learn(tmp_path)
    new = _orders(100, shift=40.0, offset=1000)  # amounts moved up: drift, not violations
    new = _set(new, [3, 50, 60], "amount", "bad")
    new = _set(new, [10, 11, 12, 13, 14], "country", "IT")
    new = _set(new, list(range(70, 90)), "email", None)
    src = tmp_path / "new.csv"
    new.write_csv(src)
    checked = tmp_path / "checked"
    args = ["-s", f"source={src}", "-s", f"rules={out / 'rules.json'}", "-s", "mode=validate"]
    result = _wf([*args, "-s", f"output_dir={checked}"])
    assert result.exit_code == 1, result.output
    assert "validation failed: 2 of 3 rules failed with violations" in result.output
    assert "rules[1] malformed:amount" in result.output
    assert "rules[2] unexpected_value:country" in result.output

    report = json.loads((checked / "report.json").read_text())
    assert report["mode"] == "validate" and report["validation"]["passed"] is False
    by_id = {r["id"]: r for r in report["rule_results"]}
    amount = by_id["malformed:amount"]
    assert (amount["success"], amount["unexpected_count"], amount["unexpected_percent"]) == (
        False,
        3,
        3.0,
    )
    assert amount["examples"] == [4, 51, 61] and amount["example_values"] == ["bad"] * 3
    assert amount["element_count"] == 100 and amount["severity"] == "violation"
    country = by_id["unexpected_value:country"]
    assert country["unexpected_count"] == 5 and country["example_values"] == ["IT"] * 5
    assert by_id["unique"]["success"] is True and by_id["unique"]["unexpected_count"] == 0
    # The failing rows were quarantined per the rules' action; every output is there.
    assert report["accounting"]["quarantined_rows"] == 8
    assert pl.read_csv(checked / "quarantine.csv").height == 8
    assert pl.read_csv(checked / "clean.csv").height == 92
    # Drift of the rows that passed, against the learn run's profile.json.
    drift = {(d["kind"], d["column"]): d for d in report["drift"]}
    assert drift[("median", "amount")]["severity"] == "observation"
    assert drift[("range", "amount")]["count"] == 92  # every amount passed is above the saved max
    nulls = drift[("null_share", "email")]
    assert (nulls["count"], round(nulls["share"], 4), nulls["before"]) == (20, 0.2174, 0.0)
    assert ("new_values", "country") not in drift  # the IT rows were quarantined
    assert (drift[("row_count", None)]["before"], drift[("row_count", None)]["after"]) == (297, 92)
    md = (checked / "report.md").read_text()
    assert "## Rule results" in md and "## Drift (observations)" in md
    assert "| 1 | malformed:amount | amount is a valid number (Float64) |" in md
    assert not (checked / "profile.json").exists()  # validate mode learns nothing


def test_clean_output_passes_its_own_rules_without_drift(tmp_path: Path) -> None:
    out = _learn(tmp_path)
    args = ["-s", f"source={out / 'clean.csv'}", "-s", f"rules={out / 'rules.json'}"]
    result = _wf([*args, "-s", "mode=validate", "-s", f"output_dir={tmp_path / 'v'}"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "v" / "report.json").read_text())
    assert all(r["success"] for r in report["rule_results"])
    assert report["drift"] == [] and report["validation"]["passed"] is True
    assert report["accounting"]["output_rows"] == 297


def _validate_state(
    tmp_path: Path, frame: pl.DataFrame, rules: Any, **extra: Any
) -> dict[str, Any]:
    src = tmp_path / "data.csv"
    frame.write_csv(src)
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(rules))
    return {
        "source": str(src),
        "rules": str(path),
        "mode": "validate",
        "output_dir": str(tmp_path / "out"),
        **extra,
    }


def test_act_false_reports_only_and_still_fails_on_violations(
    tmp_path: Path, workflow: Workflow
) -> None:
    frame = pl.DataFrame({"a": [1, 2, 3, 50, 60], "b": ["x", "y", "x", "z", "x"]})
    rules = [{"id": "a-small", "kind": "range", "column": "a", "min": 0, "max": 10}]
    state = _validate_state(tmp_path, frame, rules, act=False)
    with pytest.raises(DataQualityError, match=r"validation failed: 1 of 1 rules .*a-small"):
        workflow(state)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["accounting"]["quarantined_rows"] == 0
    assert pl.read_csv(tmp_path / "out" / "clean.csv").equals(frame)
    result = report["rule_results"][0]
    assert (result["unexpected_count"], result["unexpected_percent"]) == (2, 40.0)
    assert result["examples"] == [4, 5] and result["example_values"] == ["50", "60"]
    assert "act=false" in report["stop_reason"]


def test_report_rules_and_mostly_do_not_fail_the_run(tmp_path: Path, workflow: Workflow) -> None:
    frame = pl.DataFrame({"a": list(range(1, 101)), "b": ["x"] * 99 + [None]})
    rules = [
        {"id": "tail", "kind": "range", "column": "a", "max": 95, "mostly": 0.95},
        {"id": "b-set", "kind": "not_null", "column": "b", "action": "report"},
        {"id": "tight", "kind": "range", "column": "a", "max": 98, "mostly": 0.99},
    ]
    state = workflow(_validate_state(tmp_path, frame, rules[:2]))  # passes: exit 0
    results = {r["id"]: r for r in state["rule_results"]}
    assert results["tail"]["success"] is True and results["tail"]["unexpected_count"] == 5
    assert results["b-set"]["success"] is False and results["b-set"]["severity"] == "observation"
    assert state["accounting"]["quarantined_rows"] == 5  # mostly: failing rows still act
    with pytest.raises(DataQualityError, match=r"1 of 3 rules failed .*rules\[2\] tight\)"):
        workflow(_validate_state(tmp_path, frame, rules))  # 2 of 100 fail, 1 allowed
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["validation"]["failed_rules"] == ["rules[2] tight"]


def test_rules_json_history_is_dropped_and_repeats_applied_once(
    tmp_path: Path, workflow: Workflow
) -> None:
    frame = pl.DataFrame({"a": [1, 2, 300]})
    rule = {"kind": "range", "column": "a", "min": 0, "max": 10, "action": "quarantine"}
    history = [{**rule, "round": 1, "affected": 1}, {**rule, "round": 2, "affected": 0}]
    state = _validate_state(tmp_path, frame, {"rules": history}, max_quarantine_share=0.5)
    with pytest.raises(DataQualityError, match="1 of 1 rules failed"):
        workflow(state)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert len(report["rule_results"]) == 1 and "round" not in report["rule_results"][0]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"mode": "check"}, "setting 'mode' must be one of learn, validate, got 'check'"),
        ({"mode": None}, "setting(s) ['rules'] are read in validate mode only"),
        ({"rules": None}, "validate mode needs 'rules', the path of a rules file"),
        ({"iqr_k": 3}, "setting(s) ['iqr_k'] are read in learn mode only"),
        ({"act": "maybe"}, "setting 'act' must be true or false, got 'maybe'"),
    ],
)
def test_mode_settings_are_checked_before_reading(
    tmp_path: Path, workflow: Workflow, extra: dict[str, Any], message: str
) -> None:
    state = _validate_state(tmp_path, pl.DataFrame({"a": [1]}), [])
    state.update(extra)
    with pytest.raises(DataQualityError) as caught:
        workflow(state)
    assert str(caught.value).startswith("dq.load: ")
    assert message in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_act_in_learn_mode_is_refused(tmp_path: Path, workflow: Workflow) -> None:
    src = tmp_path / "a.csv"
    src.write_text("a\n1\n")
    with pytest.raises(DataQualityError, match=r"\['act'\] are read in validate mode only"):
        workflow({"source": str(src), "act": False})


def test_a_rules_file_outside_the_allowed_directories_is_refused(tmp_path: Path) -> None:
    inside = tmp_path / "inside"
    inside.mkdir()
    (inside / "a.csv").write_text("a\n1\n")
    outside = tmp_path / "rules.json"
    outside.write_text("[]")
    engine = Engine(
        load_entrypoints=False, plugins=[DataQualityPlugin], store="memory://", path_roots=[inside]
    )
    try:
        state = {
            "source": str(inside / "a.csv"),
            "output_dir": str(inside / "out"),
            "mode": "validate",
            "rules": str(outside),
        }
        run = engine.run("data-quality", state)
    finally:
        engine.close()
    assert run.status == "failed"
    message = json.dumps(run.error)
    assert "state.rules" in message and "leads outside the allowed directories" in message


def test_the_example_rules_file_validates_the_bundled_sample(
    tmp_path: Path, customers: tuple[Path, dict[str, Any]]
) -> None:
    rules = REPO / "examples" / "data" / "customers.rules.yaml"
    if not rules.exists():
        pytest.skip("examples/ is not there (not a checkout)")
    path, manifest = customers
    args = ["-s", f"source={path}", "-s", f"rules={rules}", "-s", "mode=validate"]
    result = _wf([*args, "-s", f"output_dir={tmp_path / 'v'}"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "v" / "report.json").read_text())
    assert len(report["rule_results"]) == 15
    failed = {r["id"] for r in report["rule_results"] if not r["success"]}
    assert failed == {"customer-id-unique", "name-present"}  # report rules: observations
    by_id = {r["id"]: r for r in report["rule_results"]}
    counts = manifest["counts"]
    assert by_id["email"]["unexpected_count"] == counts["email_malformed"]
    assert by_id["age-number"]["unexpected_count"] == counts["age_text"]
    assert by_id["age-range"]["unexpected_count"] == counts["age_outlier"]
    assert by_id["country-code"]["unexpected_count"] == counts["country_unknown"]
    assert by_id["signup-date"]["unexpected_count"] == counts["signup_date_malformed"]
    assert by_id["name-present"]["unexpected_count"] == counts["name_null"]
    assert by_id["no-copies"]["unexpected_count"] == counts["duplicate_row"]
    assert by_id["enough-rows"]["observed_value"] == 3000
    acc = report["accounting"]
    assert (acc["output_rows"], acc["quarantined_rows"], acc["duplicates_removed"]) == (
        2855,
        105,
        40,
    )
    assert acc["balanced"] is True
