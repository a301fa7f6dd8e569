"""Listing runs from a big SQLite store: one page of ``GET /runs`` with each filter.

Fills a fresh SQLite store with N runs (default 100,000: several graphs, a mix of statuses,
one in ten failed with an error message, creation times spread over 100 days), then times,
through the REST API (FastAPI's TestClient, in process), the first page (50 runs) and a
page deep into the listing (by cursor) for: no filter, ``status``, ``graph_id``, a
``created_after``/``created_before`` window, and ``q`` text search (run id / error; a scan).
The target (issue 18): every page under 1 s. Prints the median of R repeats per query.
With ``--browser`` it also serves the studio (uvicorn on loopback) and times, in Chromium
(Playwright, ``executable_path``), from following a filter link to its rows on screen.

    python benchmarks/bench_runs_list.py [--runs N] [--repeats R] [--db PATH] [--browser]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC
from pathlib import Path
from typing import Any


def fill(store: Any, count: int) -> None:
    """``count`` runs, saved in batches of one transaction each."""
    from wfengine.run import RunStatus, WorkflowRun

    start = time.time() - 100 * 86400
    statuses = [RunStatus.COMPLETED] * 7 + [RunStatus.FAILED, RunStatus.PAUSED, RunStatus.CANCELLED]
    for i in range(count):
        run = WorkflowRun(
            graph_id=f"graph-{i % 20}",
            state={"i": i},
            status=statuses[i % len(statuses)],
            created=start + i * (100 * 86400 / count),
        )
        if run.status == RunStatus.FAILED:
            run.error = {"type": "ValueError", "message": f"row {i} out of range", "traceback": ""}
        store.save_run(run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--db", type=Path, help="reuse (or create) this database file")
    parser.add_argument("--browser", action="store_true", help="also time the studio's page")
    args = parser.parse_args()

    from fastapi.testclient import TestClient
    from wfengine import Engine
    from wfengine.server import create_app

    db = args.db or Path(tempfile.mkdtemp()) / "runs.db"
    fresh = not db.exists()
    from wfengine_sqlite import SQLiteStore

    engine = Engine(load_entrypoints=False, store=SQLiteStore(f"sqlite:///{db}"))
    if fresh:
        began = time.perf_counter()
        fill(engine.store, args.runs)
        print(f"filled {args.runs:,} runs in {time.perf_counter() - began:.1f} s ({db})")
    client = TestClient(create_app(engine, api_keys=[]))
    now = time.time()
    queries: dict[str, dict[str, Any]] = {
        "no filter": {},
        "status=paused": {"status": "paused"},
        "graph_id=graph-7": {"graph_id": "graph-7"},
        "created window (10 days)": {
            "created_after": _iso(now - 60 * 86400),
            "created_before": _iso(now - 50 * 86400),
        },
        "status=failed & q=range": {"status": "failed", "q": "range"},
        "q=out of range (scan)": {"q": "out of range"},
        "q=no such text (full scan)": {"q": "no such text"},
    }
    print(f"{'query':32} {'first page':>12} {'page 20':>12}")
    for name, params in queries.items():
        first = _median(client, params, args.repeats, deep=False)
        deep = _median(client, params, args.repeats, deep=True)
        print(f"{name:32} {first * 1000:9.1f} ms {deep * 1000:9.1f} ms")
    _feed_read(engine, args.repeats)
    if args.browser:
        _browser(client.app, queries, args.repeats)
    engine.close()


def _feed_read(engine: Any, repeats: int) -> None:
    """Median time of one read of the runs feed's store reader (``WS /ws/runs``: the newest
    runs, the running ones), made once a second while anyone listens."""
    from wfengine.server.feed import RunFeed

    feed = RunFeed(engine)
    times = []
    for _ in range(max(repeats, 5)):
        began = time.perf_counter()
        feed.poll(publish=False)
        times.append(time.perf_counter() - began)
    print(f"{'runs feed: one store read':32} {statistics.median(times) * 1000:9.1f} ms")


def _browser(app: Any, queries: dict[str, dict[str, Any]], repeats: int) -> None:
    """Median time from a filter link to the runs table showing its first page, in Chromium."""
    import shutil
    import socket
    import threading
    from urllib.parse import urlencode

    import uvicorn
    from playwright.sync_api import sync_playwright

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}/ui/"
    print(f"{'in the browser (studio)':32} {'first page':>12}")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium"), args=["--no-sandbox"]
            )
            page = browser.new_page()
            page.goto(base)
            page.wait_for_selector("#runs")
            for name, params in queries.items():
                times = []
                for _ in range(repeats):
                    page.goto("about:blank")
                    began = time.perf_counter()
                    page.goto(f"{base}#/runs?{urlencode(params)}")
                    page.wait_for_selector("#runs-info:not(:empty)")
                    times.append(time.perf_counter() - began)
                print(f"{name:32} {statistics.median(times) * 1000:9.1f} ms")
            browser.close()
    finally:
        server.should_exit = True


def _iso(epoch: float) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _median(client: Any, params: dict[str, Any], repeats: int, *, deep: bool) -> float:
    cursor = None
    if deep:  # the cursor of page 20 (the time of a page does not grow with its depth)
        for _ in range(19):
            body = client.get("/runs", params={**params, "limit": 50, "cursor": cursor}).json()
            cursor = body["next_cursor"]
            if cursor is None:
                return float("nan")
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        response = client.get("/runs", params={**params, "limit": 50, "cursor": cursor})
        times.append(time.perf_counter() - began)
        assert response.status_code == 200, response.text
    return statistics.median(times)


if __name__ == "__main__":
    main()
