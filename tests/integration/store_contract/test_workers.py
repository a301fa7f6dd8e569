"""``wf worker`` processes sharing one store, on SQLite and on PostgreSQL (``durable_store``):
4 workers x 200 runs each complete exactly once, a killed worker's run is taken over after its
lease, SIGTERM requeues the run after its step, a cancel from another process reaches the
worker, a server's WebSocket follows a run a worker drives (PostgreSQL: through
``LISTEN``/``NOTIFY``; SQLite: by polling), and PostgreSQL restarted under busy workers loses
and repeats nothing. Node side effects are lines appended (O_APPEND) to one file by every
process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from store_suite import StoreUnderTest
from wfengine import Engine, RunStatus

STEPS = """
import os, time

def _line(text):
    fd = os.open(os.environ["WF_SIDE"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, (text + "\\n").encode())
    finally:
        os.close(fd)

def tick(state):
    n = state.get("n", 0) + 1
    _line(f"start {state['tag']} {n}")
    time.sleep(float(state.get("nap", 0)))
    _line(f"end {state['tag']} {n}")
    return {"n": n}
"""


def spec(steps: int) -> dict[str, Any]:
    return {
        "name": f"ticks{steps}",
        "entry": "tick",
        "nodes": {"tick": {"call": "queue_steps:tick"}},
        "edges": [
            {"from": "tick", "to": "tick", "when": f"n < {steps}"},
            {"from": "tick", "to": "END", "default": True},
        ],
    }


@pytest.fixture
def side(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The side-effect file; the node module importable here and in the workers."""
    (tmp_path / "queue_steps.py").write_text(STEPS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), *sys.path]))
    path = tmp_path / "side.txt"
    monkeypatch.setenv("WF_SIDE", str(path))
    return path


@pytest.fixture
def client(durable_store: StoreUnderTest) -> Iterator[Engine]:
    engine = Engine(store=durable_store.open())
    try:
        yield engine
    finally:
        engine.close()


@pytest.fixture
def db_url(durable_store: StoreUnderTest) -> str:
    return durable_store.url


def wf(db_url: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "wfengine", "--store", db_url, *args]


def worker(db_url: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        wf(db_url, "worker", "--poll", "0.05", *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def lines(side: Path) -> Counter[str]:
    return Counter(side.read_text().splitlines()) if side.exists() else Counter()


def wait_for(side: Path, line: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while lines(side)[line] == 0:
        assert time.monotonic() < deadline, f"no {line!r} in {side}"
        time.sleep(0.01)


def finish(proc: subprocess.Popen[str], timeout: float = 60.0) -> str:
    _out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return err


def claims(store: StoreUnderTest, run_id: str) -> int:
    """How many times the run was handed to a worker."""
    assert store.scalar is not None and run_id.isalnum()
    return store.scalar(f"SELECT claims FROM runs WHERE run_id = '{run_id}'")


def test_wf_run_queue_prints_the_id_of_a_queued_run(
    side: Path, client: Engine, db_url: str
) -> None:
    path = side.parent / "ticks.json"
    path.write_text(json.dumps(spec(2)))
    done = subprocess.run(
        wf(db_url, "run", str(path), "--queue", "--json", "-s", "tag=q"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["status"] == "queued"
    run = client.store.get_run(body["run_id"])
    assert run is not None and run.status == RunStatus.QUEUED and run.state == {"tag": "q"}
    assert not side.exists(), "nothing ran"
    plain = subprocess.run(
        wf(db_url, "run", str(path), "--queue"), capture_output=True, text=True, timeout=60
    )
    assert plain.returncode == 0 and len(plain.stdout.strip()) == 32, plain.stdout


def test_four_workers_complete_two_hundred_runs_each_exactly_once(
    side: Path, client: Engine, db_url: str, durable_store: StoreUnderTest
) -> None:
    ids = {client.submit(spec(1), {"tag": f"r{i}"}): f"r{i}" for i in range(200)}
    procs = [
        worker(db_url, "--exit-when-idle", "--concurrency", "2", "--name", f"w{i}")
        for i in range(4)
    ]
    errs = [finish(proc) for proc in procs]
    done = lines(side)
    for run_id, tag in ids.items():
        assert done[f"end {tag} 1"] == 1, f"run {tag} ran {done[f'end {tag} 1']} times"
        run = client.store.get_run(run_id)
        assert run is not None and run.status == RunStatus.COMPLETED and run.state["n"] == 1
        assert claims(durable_store, run_id) == 1
    assert sum(e.count(" completed after step 1") for e in errs) == 200
    assert len(done) == 400, "no other node calls"


def test_a_killed_workers_run_is_taken_over_after_its_lease(
    side: Path, client: Engine, db_url: str, durable_store: StoreUnderTest
) -> None:
    run_id = client.submit(spec(3), {"tag": "k", "nap": 0.5})
    first = worker(db_url, "--lease", "1", "--name", "doomed")
    wait_for(side, "start k 2")  # step 1 committed, step 2 in flight
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    taken = time.monotonic()
    second = worker(db_url, "--lease", "1", "--max-runs", "1", "--name", "heir")
    err = finish(second)
    assert "from step 1" in err, err
    run = client.store.get_run(run_id)
    assert run is not None and run.status == RunStatus.COMPLETED and run.state["n"] == 3
    done = lines(side)
    assert [done[f"end k {n}"] for n in (1, 2, 3)] == [1, 1, 1], "no committed step ran twice"
    assert done["start k 2"] == 2, "only the step in flight ran again"
    assert claims(durable_store, run_id) == 2
    assert time.monotonic() - taken < 20


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_a_signal_finishes_the_step_and_requeues_the_run_for_another_worker(
    side: Path, client: Engine, db_url: str, durable_store: StoreUnderTest, signum: int
) -> None:
    run_id = client.submit(spec(3), {"tag": "t", "nap": 0.4})
    first = worker(db_url, "--lease", "5", "--name", "leaving")
    wait_for(side, "start t 2")
    first.send_signal(signum)
    err = finish(first, timeout=20)
    assert f"run {run_id} requeued after step 2" in err, err
    stored = client.store.get_run(run_id)
    assert stored is not None and stored.status == RunStatus.QUEUED and stored.step == 2
    second = worker(db_url, "--max-runs", "1", "--name", "next")
    finish(second)
    run = client.store.get_run(run_id)
    assert run is not None and run.status == RunStatus.COMPLETED and run.state["n"] == 3
    done = lines(side)
    assert all(done[f"{edge} t {n}"] == 1 for edge in ("start", "end") for n in (1, 2, 3)), done
    assert claims(durable_store, run_id) == 2


def test_a_second_signal_exits_at_once(side: Path, client: Engine, db_url: str) -> None:
    client.submit(spec(3), {"tag": "x", "nap": 2.0})
    proc = worker(db_url, "--lease", "5")
    wait_for(side, "start x 1")
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    proc.wait(10)
    assert proc.returncode == 130
    assert lines(side)["end x 1"] == 0, "it did not wait for the step"


def test_a_cancel_from_another_process_stops_the_run_between_steps(
    side: Path, client: Engine, db_url: str
) -> None:
    run_id = client.submit(spec(100), {"tag": "c", "nap": 0.1})
    proc = worker(db_url, "--lease", "0.6", "--max-runs", "1")
    wait_for(side, "end c 2")
    said = subprocess.run(
        wf(db_url, "runs", "cancel", run_id), capture_output=True, text=True, timeout=30
    )
    assert said.returncode == 0, said.stderr
    assert "cancel requested" in said.stdout
    err = finish(proc)
    assert f"run {run_id} cancelled" in err, err
    run = client.store.get_run(run_id)
    assert run is not None and run.status == RunStatus.CANCELLED
    assert run.state["n"] < 50, "stopped long before its end"
    assert lines(side)[f"end c {run.state['n']}"] == 1


@pytest.mark.server
def test_a_servers_websocket_follows_a_run_a_worker_process_drives(
    side: Path, client: Engine, db_url: str, durable_store: StoreUnderTest
) -> None:
    from fastapi.testclient import TestClient
    from wfengine.server import create_app

    run_id = client.submit(spec(3), {"tag": "ws", "nap": 0.4})
    server_engine = Engine(store=durable_store.open())
    proc = None
    with TestClient(create_app(server_engine)) as http:
        with http.websocket_connect(f"/ws/runs/{run_id}") as ws:
            proc = worker(db_url, "--max-runs", "1")
            events = []
            while True:
                event = ws.receive_json()
                events.append(event)
                if event["type"] == "run_finished":
                    break
        finish(proc)
    kinds = [(e["type"], e["step"]) for e in events]
    assert ("run_started", 0) in kinds, kinds
    assert ("step_finished", 1) in kinds and ("step_finished", 2) in kinds, kinds
    assert events[-1]["status"] == "completed" and events[-1]["step"] == 3
    if durable_store.name == "postgres":  # the worker's own events, through NOTIFY
        assert ("node_started", 1) in kinds and not any(e.get("polled") for e in events)
    else:  # SQLite has no event feed: the server polls the store
        assert all(e.get("polled") for e in events[:-1])


@pytest.mark.parametrize("durable_store", ["postgres"], indirect=True)
def test_postgres_restarted_under_busy_workers_loses_and_repeats_nothing(
    side: Path, client: Engine, db_url: str, durable_store: StoreUnderTest, request: Any
) -> None:
    """The server stops mid-run and comes back: workers reconnect (or fail an attempt and
    the run is resumed by a claim), and every run completes with each committed step once."""
    server = request.getfixturevalue("postgres_server")
    ids = {client.submit(spec(4), {"tag": f"p{i}", "nap": 0.05}): f"p{i}" for i in range(12)}
    procs = [
        worker(db_url, "--exit-when-idle", "--lease", "2", "--concurrency", "3", "--name", f"w{i}")
        for i in range(2)
    ]
    wait_for(side, "end p0 2")
    server.restart()
    errs = [finish(proc, timeout=120) for proc in procs]
    done = lines(side)
    for run_id, tag in ids.items():
        run = client.store.get_run(run_id)
        assert run is not None and run.status == RunStatus.COMPLETED, (tag, run, errs)
        assert run.state["n"] == 4
        assert all(done[f"end {tag} {n}"] >= 1 for n in range(1, 5)), done
    again = sum(done.values()) // 2 - 4 * len(ids)
    assert 0 <= again <= 6, f"{again} steps ran again: at most the 6 in flight may"
