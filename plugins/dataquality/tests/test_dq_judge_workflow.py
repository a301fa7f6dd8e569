"""Judgement through the workflow: bounds learned once, missing is missing, imputation
marked, guards, index columns, and the workflow's declared settings."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner
from wfengine import Engine
from wfengine.cli import CliContext, build_cli
from wfengine.errors import UnknownSettingError

from wfengine_dataquality import DataQualityError
from wfengine_dataquality.plugin import PATH_KEYS
from wfengine_dataquality.settings import READ_SETTINGS, SETTINGS

Workflow = Callable[..., dict[str, Any]]


def _csv(tmp_path: Path, frame: pl.DataFrame, name: str = "data.csv") -> str:
    path = tmp_path / name
    frame.write_csv(path)
    return str(path)


def _flights(n: int = 5000, seed: int = 3) -> pl.DataFrame:
    """Flights with a long tail of delays and cancelled flights (no delay: missing)."""
    rng = random.Random(seed)
    delays: list[float | None] = [
        round(rng.expovariate(1 / 25) ** 1.3 / 4 - 8, 1) for _ in range(n)
    ]
    for i in range(0, n, 50):
        delays[i] = None  # cancelled
    return pl.DataFrame({"flight": range(1, n + 1), "dep_delay": delays})


def test_bounds_are_learned_once_and_the_rounds_converge(
    tmp_path: Path, workflow: Workflow
) -> None:
    flights = _flights()
    state = workflow(
        {"source": _csv(tmp_path, flights), "output_dir": str(tmp_path / "o"), "act_on": "outliers"}
    )
    round0 = [f for f in state["issues"] if f["round"] == 0 and f["kind"] == "outlier"]
    round1 = [f for f in state["issues"] if f["round"] == 1 and f["kind"] == "outlier"]
    assert round0 and not round1  # the trimmed data is not peeled again
    assert state["round"] == 1 and state["anomaly_count"] == 0
    assert state["accounting"]["quarantined_rows"] == round0[0]["count"]
    report = json.loads(Path(state["outputs"]["report_json"]).read_text())
    assert report["stop_reason"] == "no finding to act on was left after 1 round(s)"
    assert report["baseline"]["columns"]["dep_delay"]["outlier"]["max"] == round0[0]["max"]


def test_without_act_on_a_long_tail_and_missing_values_are_kept(
    tmp_path: Path, workflow: Workflow
) -> None:
    flights = _flights()
    state = workflow({"source": _csv(tmp_path, flights), "output_dir": str(tmp_path / "o")})
    assert state["round"] == 0  # nothing to act on: no cleaning round at all
    clean = pl.read_parquet(state["outputs"]["clean_parquet"])
    assert clean.height == flights.height
    assert clean.get_column("dep_delay").null_count() == 100  # cancelled stay cancelled
    assert clean.get_column("dep_delay").to_list() == flights.get_column("dep_delay").to_list()


def test_required_columns_quarantine_missing_values(tmp_path: Path, workflow: Workflow) -> None:
    state = workflow(
        {
            "source": _csv(tmp_path, _flights()),
            "output_dir": str(tmp_path / "o"),
            "required": "dep_delay",
            "max_quarantine_share": 0.5,
        }
    )
    assert state["accounting"]["quarantined_rows"] == 100
    quarantine = pl.read_parquet(state["outputs"]["quarantine_parquet"])
    assert set(quarantine.get_column("_reason").to_list()) == {"dep_delay: missing"}


def test_imputation_only_when_asked_and_marked(tmp_path: Path, workflow: Workflow) -> None:
    frame = pl.DataFrame(
        {
            "id": range(1, 9),
            "x": [1.0, None, 3.0, 4.0, None, 6.0, 7.0, 8.0],
            "k": ["a", "a", "a", None, "b", "b", "a", "b"],
        }
    )
    state = workflow(
        {"source": _csv(tmp_path, frame), "output_dir": str(tmp_path / "o"), "impute": "median"}
    )
    clean = pl.read_parquet(state["outputs"]["clean_parquet"]).sort("id")
    assert clean.get_column("x").to_list() == [1.0, 5.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    assert clean.get_column("k").to_list()[3] == "a"  # text: the most frequent value
    assert clean.get_column("_imputed").to_list() == [
        None, "x", None, "k", "x", None, None, None,
    ]  # fmt: skip
    assert state["accounting"]["imputed_values"] == 3
    markdown = Path(state["outputs"]["report_md"]).read_text()
    assert "Values filled in (marked in `_imputed`): 3" in markdown
    unchanged = frame.join(clean, on="id", suffix="_clean").filter(pl.col("_imputed").is_null())
    assert unchanged.filter(pl.col("x") != pl.col("x_clean")).height == 0


def test_guard_fails_the_run_and_keeps_every_output(tmp_path: Path, engine: Engine) -> None:
    frame = pl.DataFrame({"id": range(1, 101), "n": [str(i) for i in range(1, 101)]})
    frame = frame.with_columns(
        pl.when(pl.col("id") <= 15).then(pl.lit("oops")).otherwise(pl.col("n")).alias("n")
    )
    out = tmp_path / "o"
    run = engine.run("data-quality", {"source": _csv(tmp_path, frame), "output_dir": str(out)})
    assert run.status == "failed"
    message = json.dumps(run.error)
    assert "15 of 100 rows (15.00%) were quarantined, more than max_quarantine_share 0.1" in message
    for name in ("report.md", "report.json", "clean.csv", "quarantine.csv", "rules.json"):
        assert (out / name).is_file(), name
    assert json.loads((out / "report.json").read_text())["guard"]["passed"] is False
    ok = engine.run(
        "data-quality",
        {"source": _csv(tmp_path, frame), "output_dir": str(out), "max_quarantine_share": 0.2},
    )
    assert ok.status == "completed"


def test_duplicates_do_not_count_toward_the_guard(tmp_path: Path, workflow: Workflow) -> None:
    frame = pl.DataFrame({"a": [1, 2, 3, 4] * 10, "b": ["x", "y", "z", "w"] * 10})
    state = workflow({"source": _csv(tmp_path, frame), "output_dir": str(tmp_path / "o")})
    assert state["accounting"]["duplicates_removed"] == 36
    assert state["accounting"]["output_rows"] == 4


def test_an_empty_clean_output_fails(tmp_path: Path, workflow: Workflow) -> None:
    state = {
        "rows": [{"email": None, "n": 1}, {"email": None, "n": 2}],
        "output_dir": str(tmp_path / "o"),
        "required": "email",
        "max_quarantine_share": 1.0,
    }
    with pytest.raises(DataQualityError, match="no row is left in the clean output"):
        workflow(state)
    assert pl.read_csv(tmp_path / "o" / "quarantine.csv").height == 2


def test_wf_run_exits_1_when_the_guard_fails(tmp_path: Path, engine: Engine) -> None:
    frame = pl.DataFrame({"id": range(1, 101), "n": ["oops"] * 15 + [str(i) for i in range(85)]})
    app = CliContext(engine)
    args = ["run", "data-quality", "-q", "-s", f"source={_csv(tmp_path, frame)}"]
    result = CliRunner().invoke(
        build_cli(app), [*args, "-s", f"output_dir={tmp_path / 'o'}"], obj=app
    )
    assert result.exit_code == 1, result.output
    assert "max_quarantine_share" in result.output


@pytest.mark.parametrize("name", ["", "Unnamed: 0", "rownames", "X", "index"])
def test_index_columns_are_left_out_of_duplicates(
    tmp_path: Path, workflow: Workflow, name: str
) -> None:
    frame = pl.DataFrame({name: range(1, 41), "a": [1, 2, 3, 4] * 10, "b": ["x", "y"] * 20})
    state = workflow({"source": _csv(tmp_path, frame), "output_dir": str(tmp_path / "o")})
    assert state["baseline"]["index_columns"] == [name]
    assert state["accounting"]["duplicates_removed"] == 36
    assert state["rules_applied"][0]["columns"] == ["a", "b"]


def test_named_keys_and_non_consecutive_indexes_are_data(
    tmp_path: Path, workflow: Workflow
) -> None:
    frame = pl.DataFrame({"customer_id": range(1, 41), "a": [1, 2, 3, 4] * 10})
    state = workflow({"source": _csv(tmp_path, frame), "output_dir": str(tmp_path / "o")})
    assert state["baseline"]["index_columns"] == []
    assert state["accounting"]["duplicates_removed"] == 0
    frame = pl.DataFrame({"index": [1, 3, 5, 7] * 10, "a": [1, 2, 3, 4] * 10})
    state = workflow({"source": _csv(tmp_path, frame, "b.csv"), "output_dir": str(tmp_path / "p")})
    assert state["baseline"]["index_columns"] == []


def test_the_workflow_declares_its_settings(tmp_path: Path, engine: Engine) -> None:
    declared = engine.workflows.settings("data-quality")
    assert declared == SETTINGS
    assert set(READ_SETTINGS) == {
        "sep",
        "encoding",
        "decimal",
        "header_row",
        "quote",
        "null_values",
    }
    assert set(READ_SETTINGS) <= set(declared) and "iqr_k" in declared
    assert {"source", "output_dir", "rules"} <= set(PATH_KEYS)
    assert {"mode", "rules", "act"} <= set(declared)
    assert "rule_set" not in declared and "rule_set" not in PATH_KEYS
    with pytest.raises(UnknownSettingError) as caught:
        engine.run("data-quality", {"source": "x.csv", "iqr": 3})
    assert "'iqr'" in str(caught.value) and "iqr_k" in str(caught.value)


def test_settings_in_the_state_win_over_node_params(tmp_path: Path, engine: Engine) -> None:
    values = [float(v) for v in range(100)] + [200.0]
    src = _csv(tmp_path, pl.DataFrame({"id": range(101), "v": values}))
    graph = engine.load_spec(
        {
            "name": "dq-params",
            "entry": "load",
            "nodes": {
                "load": {"tool": "dq.load"},
                "profile": {"tool": "dq.profile"},
                "detect": {"tool": "dq.detect", "params": {"iqr_k": 100}},
            },
            "edges": [{"from": "load", "to": "profile"}, {"from": "profile", "to": "detect"}],
        }
    )
    by_param = engine.run(graph, {"source": src, "output_dir": str(tmp_path / "a")})
    assert not [f for f in by_param.state["findings"] if f["kind"] == "outlier"]
    by_state = engine.run(graph, {"source": src, "output_dir": str(tmp_path / "b"), "iqr_k": 1})
    outliers = [f for f in by_state.state["findings"] if f["kind"] == "outlier"]
    assert outliers and outliers[0]["max"] == 125.0
