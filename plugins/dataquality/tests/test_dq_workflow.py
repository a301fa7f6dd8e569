"""The data-quality workflow end to end: exact results, the report, the engine, the YAML twin."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from dq_helpers import REPO, planted_quarantine
from wfengine import Engine

from wfengine_dataquality import create_data_quality_pipeline
from wfengine_dataquality.plugin import DataQualityPlugin

Workflow = Callable[..., dict[str, Any]]
SPEC = REPO / "examples" / "specs" / "data-quality.yaml"
#: sha256 of clean.csv for the sample customers (3,000 rows, seed 7), default settings.
CLEAN_CSV_SHA256 = "cc2a85c1bbde4148000c9752fd41f42624b415eb772e64b5a3d3b252ecaa35d7"


def _sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_customers_are_cleaned_exactly(
    tmp_path: Path, customers: tuple[Path, dict[str, Any]], workflow: Workflow
) -> None:
    path, manifest = customers
    state = workflow({"source": str(path), "output_dir": str(tmp_path)})
    assert state["round"] == 1 and state["anomaly_count"] == 0
    acc = state["accounting"]
    assert (acc["input_rows"], acc["output_rows"]) == (3000, 2860)
    assert (acc["quarantined_rows"], acc["duplicates_removed"]) == (100, 40)
    assert acc["balanced"] is True and acc["imputed_values"] == 0
    out = state["outputs"]
    clean = pl.read_parquet(out["clean_parquet"])
    assert clean.height == 2860 and "_row" not in clean.columns
    assert dict(clean.schema) == {
        "customer_id": pl.Int64,
        "name": pl.String,
        "email": pl.String,
        "age": pl.Int64,
        "country": pl.String,
        "signup_date": pl.Date,
        "income": pl.Float64,
        "plan": pl.String,
        "orders": pl.Int64,
        "active": pl.Boolean,
    }
    # Exactly the source rows that are neither violations nor later duplicates, unchanged.
    quarantined = planted_quarantine(path, manifest)
    dropped = quarantined | set(manifest["rows_by_problem"]["duplicate_row"])
    source = pl.read_csv(path).with_row_index("_row", offset=1)
    kept = source.filter(~pl.col("_row").is_in(sorted(dropped)))
    assert clean.get_column("customer_id").to_list() == kept.get_column("customer_id").to_list()
    assert clean.get_column("age").to_list() == kept.get_column("age").cast(pl.Int64).to_list()
    for column in ("name", "income", "plan", "orders"):  # missing stays missing
        assert clean.get_column(column).to_list() == kept.get_column(column).to_list(), column
    nulls = {c: clean.get_column(c).null_count() for c in ("name", "income", "plan", "orders")}
    assert nulls == {"name": 25, "income": 35, "plan": 30, "orders": 20}
    assert _sha256(out["clean_csv"]) == CLEAN_CSV_SHA256
    assert pl.read_csv(out["clean_csv"]).height == 2860

    quarantine = pl.read_parquet(out["quarantine_parquet"])
    assert set(quarantine.get_column("_row").to_list()) == quarantined
    assert quarantine.columns[-2:] == ["_round", "_reason"]
    assert pl.read_csv(out["quarantine_csv"]).height == 100
    json.dumps(state)
    assert json.loads(json.dumps(state)) == state  # only JSON types


def test_report_files(
    tmp_path: Path, customers: tuple[Path, dict[str, Any]], workflow: Workflow
) -> None:
    state = workflow(
        {"source": str(customers[0]), "output_dir": str(tmp_path)}, report={"title": "Customers"}
    )
    out = state["outputs"]
    assert set(out) == {
        "profile_json",
        "clean_parquet",
        "clean_csv",
        "quarantine_parquet",
        "quarantine_csv",
        "rules_json",
        "report_json",
        "report_md",
        "report_html",
    }
    page = Path(out["report_html"]).read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and "<svg" in page
    assert "2,860" in page and "Frnace" in page
    report = json.loads(Path(out["report_json"]).read_text())
    assert report["accounting"]["check"] == (
        "3000 input rows = 2860 output + 100 quarantined + 40 duplicates removed;"
        " each source row number appears once"
    )
    assert report["profile_before"]["columns"]["age"]["dtype"] == "String"
    assert report["profile_after"]["columns"]["age"]["dtype"] == "Int64"
    assert list(report["findings_by_round"]) == ["0", "1"]
    assert len(report["findings_by_round"]["0"]) == 13
    assert all(f["severity"] == "observation" for f in report["findings_by_round"]["1"])
    assert len(report["rules_by_round"]["1"]) == 7
    assert report["stop_reason"] == "no finding to act on was left after 1 round(s)"
    assert report["guard"]["passed"] is True and report["guard"]["quarantine_share"] == 0.033333
    assert report["baseline"]["columns"]["age"]["extreme"] == {
        "min": -177,
        "max": 285,
        "scale": "linear",
    }
    markdown = Path(out["report_md"]).read_text()
    assert markdown.startswith("# Customers\n")
    assert "| 3000 | 2860 | 100 | 40 | yes |" in markdown
    assert "Stopped because no finding to act on was left after 1 round(s)." in markdown
    assert "## Violations (acted on)" in markdown and "## Observations" in markdown
    assert "| outlier | age | 11 | 0.37% | no |" in markdown
    assert "## Profile before" in markdown and "### Round 1: rules applied" in markdown
    rules = json.loads(Path(out["rules_json"]).read_text())
    assert [r["round"] for r in rules] == [1] * 7


def test_saved_rules_reapply_to_the_source(
    tmp_path: Path, customers: tuple[Path, dict[str, Any]], workflow: Workflow
) -> None:
    first = workflow({"source": str(customers[0]), "output_dir": str(tmp_path / "a")})
    again = workflow(
        {"source": str(customers[0]), "output_dir": str(tmp_path / "b"), "max_rounds": 0}
    )
    from wfengine_dataquality import apply_rules, report

    again.update(apply_rules(again, rules=first["outputs"]["rules_json"]))
    again.update(report(again))
    assert _sha256(again["outputs"]["clean_csv"]) == CLEAN_CSV_SHA256


def test_threshold_and_max_rounds(
    tmp_path: Path, customers: tuple[Path, dict[str, Any]], workflow: Workflow
) -> None:
    lenient = workflow(
        {"source": str(customers[0]), "output_dir": str(tmp_path / "a"), "threshold": 1000}
    )
    assert lenient["round"] == 0 and lenient["accounting"]["output_rows"] == 3000
    assert lenient["accounting"]["balanced"]
    none = workflow(
        {"source": str(customers[0]), "output_dir": str(tmp_path / "b"), "max_rounds": 0}
    )
    assert none["round"] == 0 and none["anomaly_count"] == 140


EXPECTED = {
    "customer_id": "int",
    "name": "string",
    "email": "string",
    "age": "int",
    "country": "string",
    "signup_date": "date",
    "income": "float",
    "plan": "string",
    "orders": "int",
    "active": "bool",
}


def test_expected_schema_takes_two_rounds_to_the_same_result(
    tmp_path: Path, customers: tuple[Path, dict[str, Any]], workflow: Workflow
) -> None:
    state = workflow(
        {"source": str(customers[0]), "output_dir": str(tmp_path), "expected_schema": EXPECTED}
    )
    kinds = [(f["round"], f["kind"], f["column"]) for f in state["issues"]]
    assert (0, "type_mismatch", "age") in kinds and (0, "type_mismatch", "signup_date") in kinds
    acted = [(f["round"], f["kind"], f["column"]) for f in state["issues"] if f["actionable"]]
    assert [k for k in acted if k[0] == 1] == [(1, "extreme", "age")]
    assert state["round"] == 2 and state["anomaly_count"] == 0
    assert _sha256(state["outputs"]["clean_csv"]) == CLEAN_CSV_SHA256
    quarantine = pl.read_parquet(state["outputs"]["quarantine_parquet"])
    assert quarantine.group_by("_round").len().sort("_round").rows() == [(1, 96), (2, 4)]

    stopped = workflow(
        {
            "source": str(customers[0]),
            "output_dir": str(tmp_path / "stopped"),
            "expected_schema": EXPECTED,
            "max_rounds": 1,
        }
    )
    assert stopped["round"] == 1 and stopped["anomaly_count"] == 4
    assert stopped["accounting"]["balanced"]


def test_small_rows_over_the_api(tmp_path: Path, workflow: Workflow) -> None:
    rows = [
        {"id": i, "score": float(i % 7), "tier": "gold" if i % 2 else "silver"}
        for i in range(1, 201)
    ]
    rows[10]["score"] = None
    rows[20]["tier"] = "goldd"
    rows.append(dict(rows[0]))
    state = workflow({"rows": rows, "output_dir": str(tmp_path)})
    acc = state["accounting"]
    assert (acc["input_rows"], acc["output_rows"], acc["quarantined_rows"]) == (201, 199, 1)
    assert acc["duplicates_removed"] == 1
    clean = pl.read_parquet(state["outputs"]["clean_parquet"])
    assert clean.filter(pl.col("id") == 11).get_column("score").item() is None  # kept


# -- through the engine -------------------------------------------------------------------


def _comparable(state: dict[str, Any], root: Path) -> Any:
    text = json.dumps(state, sort_keys=True).replace(str(root), "<out>")
    return json.loads(text)


def test_python_graph_and_yaml_spec_give_the_same_result(
    tmp_path: Path, customers: tuple[Path, dict[str, Any]], engine: Engine
) -> None:
    if not SPEC.exists():
        pytest.skip("examples/ is not there (not a checkout)")
    results = {}
    for name, graph in (
        ("python", create_data_quality_pipeline()),
        ("yaml", engine.load_spec(SPEC)),
    ):
        run = engine.run(graph, {"source": str(customers[0]), "output_dir": str(tmp_path / name)})
        assert run.status == "completed", run.error
        results[name] = run
    python, yaml = results["python"], results["yaml"]
    assert python.visited_nodes == yaml.visited_nodes == [
        "load", "profile", "detect", "rules", "apply", "profile", "detect", "report",
    ]  # fmt: skip
    assert _comparable(python.state, tmp_path / "python") == _comparable(
        yaml.state, tmp_path / "yaml"
    )
    for key in ("clean_csv", "quarantine_csv", "rules_json"):
        assert (
            Path(python.state["outputs"][key]).read_bytes()
            == Path(yaml.state["outputs"][key]).read_bytes()
        )


def test_python_graph_and_yaml_spec_route_validate_mode_alike(
    tmp_path: Path, customers: tuple[Path, dict[str, Any]], engine: Engine
) -> None:
    if not SPEC.exists():
        pytest.skip("examples/ is not there (not a checkout)")
    rules = REPO / "examples" / "data" / "customers.rules.yaml"
    reports = {}
    for name, graph in (
        ("python", create_data_quality_pipeline()),
        ("yaml", engine.load_spec(SPEC)),
    ):
        state = {
            "source": str(customers[0]),
            "output_dir": str(tmp_path / name),
            "mode": "validate",
            "rules": str(rules),
        }
        run = engine.run(graph, state)
        assert run.status == "completed", run.error
        assert run.visited_nodes == ["load", "profile", "validate", "report"]
        reports[name] = json.loads(Path(run.state["outputs"]["report_json"]).read_text())
    assert reports["python"]["rule_results"] == reports["yaml"]["rule_results"]
    assert len(reports["python"]["rule_results"]) == 15


def test_registered_workflow_and_tools(engine: Engine, tmp_path: Path) -> None:
    for name in ("dq.load", "dq.profile", "dq.detect", "dq.generate_rules", "dq.apply_rules"):
        assert name in engine.tools
    assert "dq.report" in engine.tools and "dq.validate" in engine.tools
    assert "data-quality" in engine.workflows
    src = tmp_path / "a.csv"
    src.write_text("a,b\n1,x\n1,x\n2,y\n")
    run = engine.run("data-quality", {"source": str(src), "output_dir": str(tmp_path / "o")})
    assert run.status == "completed"
    assert run.state["accounting"]["duplicates_removed"] == 1


def test_entry_point_is_declared() -> None:
    found = [e for e in entry_points(group="wfengine") if e.name == "dataquality"]
    if not found:
        pytest.skip("wfengine-dataquality is not installed as a distribution")
    assert found[0].value == "wfengine_dataquality.plugin:DataQualityPlugin"
    assert found[0].load() is DataQualityPlugin


def test_a_bad_source_fails_the_run_with_a_clear_error(engine: Engine, tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    run = engine.run("data-quality", {"source": str(missing)})
    assert run.status == "failed"
    assert f"dq.load: source '{missing}' does not exist" in json.dumps(run.error)


def test_a_failed_run_resumes_where_it_stopped(
    engine: Engine, tmp_path: Path, customers: tuple[Path, dict[str, Any]]
) -> None:
    graph = create_data_quality_pipeline()
    node = graph.nodes["report"]
    real, calls = node.func, []

    def crash_once(state: Any, **params: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("disk full")
        return real(state, **params)

    node.func = crash_once
    run = engine.run(graph, {"source": str(customers[0]), "output_dir": str(tmp_path)})
    assert run.status == "failed"
    resumed = engine.resume(run.run_id, graph=graph)
    assert resumed.status == "completed"
    assert resumed.visited_nodes[-2:] == ["detect", "report"]
    assert _sha256(resumed.state["outputs"]["clean_csv"]) == CLEAN_CSV_SHA256


def test_report_and_rules_are_rerunnable(
    tmp_path: Path, customers: tuple[Path, dict[str, Any]], workflow: Workflow
) -> None:
    from wfengine_dataquality import generate_rules, report

    state = workflow({"source": str(customers[0]), "output_dir": str(tmp_path)})
    files = {k: Path(v).read_bytes() for k, v in state["outputs"].items()}
    assert report(state) == {"outputs": state["outputs"], "accounting": state["accounting"]}
    assert {k: Path(v).read_bytes() for k, v in state["outputs"].items()} == files
    assert generate_rules(state) == generate_rules(state)


def test_resume_from_a_sqlite_checkpoint_in_a_new_engine(
    tmp_path: Path, customers: tuple[Path, dict[str, Any]]
) -> None:
    sqlite_plugin = pytest.importorskip("wfengine_sqlite.plugin")
    store = f"sqlite:///{tmp_path / 'runs.db'}"
    graph = create_data_quality_pipeline()
    real = graph.nodes["apply"].func

    def crash(state: Any, **params: Any) -> Any:
        raise OSError("the machine went down")

    graph.nodes["apply"].func = crash
    first = Engine(load_entrypoints=False, plugins=[DataQualityPlugin, sqlite_plugin], store=store)
    run = first.run(graph, {"source": str(customers[0]), "output_dir": str(tmp_path / "out")})
    assert run.status == "failed"
    first.close()

    graph.nodes["apply"].func = real
    second = Engine(load_entrypoints=False, plugins=[DataQualityPlugin, sqlite_plugin], store=store)
    try:
        resumed = second.resume(run.run_id, graph=graph)
    finally:
        second.close()
    assert resumed.status == "completed", resumed.error
    assert resumed.visited_nodes.count("apply") == 1
    assert _sha256(resumed.state["outputs"]["clean_csv"]) == CLEAN_CSV_SHA256


def test_each_engine_keeps_its_own_frames(
    tmp_path: Path, customers: tuple[Path, dict[str, Any]]
) -> None:
    # issue 13: no module-level frame cache; two engines never share one
    from wfengine.versions import graph_version

    first = Engine(load_entrypoints=False, plugins=[DataQualityPlugin], store="memory://")
    second = Engine(load_entrypoints=False, plugins=[DataQualityPlugin], store="memory://")
    mine = first.pm.get_plugin("DataQualityPlugin")
    theirs = second.pm.get_plugin("DataQualityPlugin")
    assert mine.frames is not theirs.frames
    run = first.run("data-quality", {"source": str(customers[0]), "output_dir": str(tmp_path)})
    assert run.status == "completed", run.error
    assert len(mine.frames) > 0  # the frames its nodes wrote, kept for the next node
    assert len(theirs.frames) == 0
    # the engine's graph wraps each tool with its frames; its version still follows the
    # tools' own code, as the plain graph's does
    built = first.workflows.build("data-quality")
    assert graph_version(built).version == graph_version(create_data_quality_pipeline()).version
