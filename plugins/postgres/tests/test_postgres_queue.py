"""Queued runs claimed by worker processes at once: every run goes to exactly one of them
(``SELECT ... FOR UPDATE SKIP LOCKED``), and leases follow the server's clock."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

from wfengine import RunStatus, WorkflowRun

from wfengine_postgres import PostgresStore

CLAIMER = """
import sys
from wfengine_postgres import PostgresStore

with PostgresStore(sys.argv[1]) as store:
    print("ready", flush=True)
    sys.stdin.readline()  # every worker connected: go
    while (run_id := store.claim_run(sys.argv[2], 30.0)) is not None:
        print(run_id, flush=True)
"""


def test_four_processes_claim_200_runs_each_exactly_once(postgres_url: str) -> None:
    with PostgresStore(postgres_url) as store:
        queued = set()
        for i in range(200):
            run = WorkflowRun(graph_id="q", state={"i": i}, status=RunStatus.QUEUED)
            run.created = 1000.0 + i
            store.save_run(run)
            queued.add(run.run_id)
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", CLAIMER, postgres_url, f"w{n}"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for n in range(4)
        ]
        for worker in workers:  # all connected before any claims
            assert worker.stdout is not None and worker.stdout.readline() == "ready\n"
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        claimed: Counter[str] = Counter()
        per_worker = []
        for worker in workers:
            out, _ = worker.communicate(timeout=120)  # (closes stdin)
            assert worker.returncode == 0
            ids = out.split()
            per_worker.append(len(ids))
            claimed.update(ids)
        assert set(claimed) == queued, "every queued run claimed"
        assert max(claimed.values()) == 1, "no run claimed twice"
        assert sum(per_worker) == 200
        assert sum(1 for n in per_worker if n) >= 2, f"the workers took turns: {per_worker}"
        running, _ = store.list_runs(status="running", limit=500)
        assert len(running) == 200


def test_leases_are_measured_on_the_servers_clock(postgres_url: str) -> None:
    with PostgresStore(postgres_url) as store:
        run = WorkflowRun(graph_id="q", status=RunStatus.QUEUED)
        store.save_run(run)
        assert store.claim_run("w", 60.0) == run.run_id
        left = store._run(
            "read the lease",
            lambda c: c.execute(
                "SELECT extract(epoch FROM lease_until - now()) FROM runs WHERE run_id = %s",
                (run.run_id,),
            ).fetchone()[0],
        )
        assert 55 < float(left) <= 60
