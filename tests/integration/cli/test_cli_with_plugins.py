"""``wf`` with the real plugins: data-quality on the sample data into SQLite, runs seen by a
second process, Ctrl-C and pauses resumed from another process."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "examples" / "data" / "customers.csv"
LAUNCHER = ROOT / "tests" / "cli" / "wf_fixture.py"
WF = [sys.executable, "-m", "wfengine"]


def _wf(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [*WF, *args], capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})}
    )


def _fixture(*args: str) -> list[str]:
    return [sys.executable, str(LAUNCHER), *args]


@pytest.fixture
def store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path.resolve().as_posix()}/runs.db"


def _run_id(text: str) -> str:
    match = re.search(r"run ([0-9a-f]{32})", text)
    assert match, text
    return match.group(1)


def test_data_quality_run_then_list_and_show_in_another_process(tmp_path: Path, store: str) -> None:
    out_dir = tmp_path / "out"
    result = _wf(
        "--store",
        store,
        "run",
        "data-quality",
        "-s",
        f"source={SAMPLE}",
        "-s",
        f"output_dir={out_dir}",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "completed: run " in result.stdout
    assert f"output_dir: {out_dir}" in result.stdout
    assert any(
        line.split()[3] == "report"
        for line in result.stdout.splitlines()
        if line.startswith("  ok")
    )
    run_id = _run_id(result.stdout)
    assert any(out_dir.iterdir())

    listed = _wf("runs", "list", "--json", "--store", store)
    assert listed.returncode == 0, listed.stderr
    assert listed.stderr == ""  # a persistent store: no "kept only in memory" note
    runs = json.loads(listed.stdout)
    assert [(r["run_id"], r["graph_id"], r["status"]) for r in runs] == [
        (run_id, "data-quality", "completed")
    ]

    shown = _wf("--store", store, "runs", "show", run_id, "--logs")
    assert shown.returncode == 0, shown.stderr
    assert "status:   completed" in shown.stdout
    assert re.search(r"^1\s+load\s+1\s+completed", shown.stdout, re.M)


def test_default_store_is_the_per_user_sqlite_database() -> None:
    first = _wf(
        "run",
        "data-quality",
        "--json",
        "-s",
        f"source={SAMPLE}",
        "-s",
        "output_dir=ignored-by-test",
        "--max-steps",
        "1",
    )
    run_id = json.loads(first.stdout)["run_id"]
    listed = _wf("runs", "list", "--json")
    assert listed.returncode == 0 and listed.stderr == ""
    assert run_id in [r["run_id"] for r in json.loads(listed.stdout)]


def test_ctrl_c_saves_a_cancelled_run_that_another_process_resumes(store: str) -> None:
    import os

    env = {**os.environ, "WF_FIXTURE_ENTRYPOINTS": "1"}
    process = subprocess.Popen(
        _fixture("--store", store, "run", "fx-slow", "-s", "seconds=0.3", "-s", "limit=1000"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    assert "tick" in process.stdout.readline()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 130, out + err
    run_id = _run_id(out)
    assert f"resume:  wf --store {store} runs resume {run_id}" in out

    shown = subprocess.run(
        _fixture("--store", store, "runs", "show", run_id, "--json"),
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    data = json.loads(shown.stdout)
    assert data["status"] == "cancelled"
    ticks = data["state"]["ticks"]
    resumed = subprocess.run(
        _fixture(
            "--store",
            store,
            "runs",
            "resume",
            run_id,
            "-s",
            f"limit={ticks + 2}",
            "-s",
            "seconds=0",
        ),
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"completed: run {run_id}" in resumed.stdout
    final = subprocess.run(
        _fixture("--store", store, "runs", "show", run_id, "--json"),
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert json.loads(final.stdout)["state"]["ticks"] == ticks + 2


def test_pause_in_one_process_resume_in_another(store: str) -> None:
    import os

    env = {**os.environ, "WF_FIXTURE_ENTRYPOINTS": "1"}
    paused = subprocess.run(
        _fixture("--store", store, "run", "fx-review", "--interrupt-before", "review"),
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert paused.returncode == 3, paused.stdout + paused.stderr
    run_id = _run_id(paused.stdout)
    assert f"inspect: wf --store {store} runs show {run_id} --state" in paused.stdout
    resumed = subprocess.run(
        _fixture("--store", store, "runs", "resume", run_id, "-s", "approve=true", "--json"),
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["state"]["published"] is True


def test_graphs_stored_in_sqlite_are_seen_by_another_process(store: str) -> None:
    spec = ROOT / "examples" / "specs" / "data-quality.yaml"
    created = _wf("--store", store, "graphs", "create", str(spec))
    assert created.returncode == 0, created.stderr
    graph_id = created.stdout.strip()
    listed = _wf("--store", store, "graphs", "list", "--json")
    assert [g["graph_id"] for g in json.loads(listed.stdout)] == [graph_id]
    drawn = _wf("--store", store, "graphs", "draw", graph_id)
    assert drawn.returncode == 0 and drawn.stdout.startswith("flowchart TD")


def test_plugins_lists_the_installed_plugins_with_versions() -> None:
    result = _wf("plugins", "--json")
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)["plugins"]}
    for name in ("sqlite", "dataquality", "jsonlog"):
        assert plugins[name]["version"], name
    assert "wfengine_register_workflows" in plugins["dataquality"]["hooks"]


def test_a_spec_file_run_killed_mid_run_resumes_without_the_file(
    tmp_path: Path, store: str
) -> None:
    """Hardening F7: the run records its graph version (the spec, kept in the store by its
    hash), so ``wf runs resume`` needs neither the file nor a stored graph."""
    import os

    spec = tmp_path / "pipeline.yaml"
    spec.write_text(
        "name: pipeline\n"
        "entry: a\n"
        "nodes:\n"
        "  a: {tool: fx.add}\n"
        "  b: {tool: fx.nap, params: {seconds: 2}}\n"
        "  c: {tool: fx.add, params: {by: 10}}\n"
        "edges:\n"
        "  - {from: a, to: b}\n"
        "  - {from: b, to: c}\n"
        "  - {from: c, to: END}\n"
    )
    env = {**os.environ, "WF_FIXTURE_ENTRYPOINTS": "1"}
    process = subprocess.Popen(
        _fixture("--store", store, "run", str(spec), "-s", "n=1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    process.stdout.readline()  # node a finished; b naps
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    spec.unlink()
    listed = subprocess.run(
        _fixture("--store", store, "runs", "list", "--json"),
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    [run] = json.loads(listed.stdout)
    assert run["status"] == "running"  # as the crash left it
    resumed = subprocess.run(
        _fixture("--store", store, "runs", "resume", run["run_id"], "--json"),
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    final = json.loads(resumed.stdout)
    assert final["state"]["n"] == 12 and final["state"]["ticks"] == 1
    assert final["graph_version"] == run["graph_version"]
