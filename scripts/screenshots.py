"""Write docs/images/studio-*.png: each studio page as users see it, from a live server.

Starts ``wf serve``'s app (in process, memory store, an API key) with a few example runs of a
graph with a subgraph, a map and a question (completed ones, a failed one, one paused on
its question), then drives Debian's Chromium through
Playwright (its ``executable_path``; Playwright's own browser download is not used).

    python scripts/screenshots.py [--out docs/images] [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import threading
import time
from pathlib import Path
from typing import Any

KEY = "screenshots"


def _tools() -> Any:
    import wfengine
    from wfengine import hookimpl

    def fetch(state: dict[str, Any]) -> dict[str, Any]:
        """Read the orders for the day."""
        return {"rows": 120, "regions": ["north", "south", "east", "west"]}

    def count(state: dict[str, Any]) -> dict[str, Any]:
        """Refuse a day with too few rows."""
        if state.get("rows", 0) < state.get("min_rows", 0):
            raise ValueError(f"only {state['rows']} rows, need {state['min_rows']}")
        return {"checked": True}

    def schema(state: dict[str, Any]) -> dict[str, Any]:
        """Check the columns."""
        return {"schema_ok": True}

    def summarise(state: dict[str, Any]) -> dict[str, Any]:
        """Sum one region's orders."""
        return {"totals": {state["region"]: 30}}

    def approve(state: dict[str, Any]) -> dict[str, Any]:
        """Ask a person before publishing."""
        answer = wfengine.interrupt(
            {"question": "Publish the daily report?", "totals": state.get("totals")}
        )
        return {"approved": answer is True}

    def publish(state: dict[str, Any]) -> dict[str, Any]:
        """Publish the report."""
        return {"published": state.get("approved", True)}

    class Tools:
        @hookimpl
        def wfengine_register_tools(self, registry: Any) -> None:
            for name, func in (("orders.fetch", fetch), ("orders.count", count),
                               ("orders.schema", schema), ("orders.summarise", summarise),
                               ("orders.approve", approve),
                               ("orders.publish", publish)):  # fmt: skip
                registry.register(name, func)

    return Tools()


CHECKS = {
    "name": "checks",
    "entry": "count",
    "nodes": {"count": {"tool": "orders.count"}, "schema": {"tool": "orders.schema"}},
    "edges": [{"from": "count", "to": "schema"}, {"from": "schema", "to": "END"}],
}  # fmt: skip
SPEC = {
    "name": "daily-orders",
    "entry": "fetch",
    "reducers": {"totals": "merge"},
    "nodes": {
        "fetch": {"tool": "orders.fetch"},
        "checks": {"graph": CHECKS},
        "regions": {"map": {"over": "regions", "as": "region", "node": "summarise"}},
        "summarise": {"tool": "orders.summarise"},
        "approve": {"tool": "orders.approve"},
        "publish": {"tool": "orders.publish"},
    },
    "edges": [{"from": "fetch", "to": "checks"}, {"from": "checks", "to": "regions"},
              {"from": "regions", "to": "approve"}, {"from": "approve", "to": "publish"},
              {"from": "publish", "to": "END"}],
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args()

    import uvicorn
    from fastapi.testclient import TestClient
    from playwright.sync_api import sync_playwright
    from wfengine import Engine
    from wfengine.server import create_app

    engine = Engine(plugins=[_tools()], load_entrypoints=False, store="memory://?history=on")
    app = create_app(engine, api_keys=[KEY])
    api = TestClient(app, headers={"X-API-Key": KEY})
    gid = api.post("/graph/create", json=SPEC, params={"graph_id": "daily-orders"}).json()[
        "graph_id"
    ]
    for state in ({"min_rows": 100}, {"min_rows": 500}, {"min_rows": 10}):
        run = api.post("/graph/run", json={"graph_id": gid, "initial_state": state}).json()
        if run["status"] == "paused":  # approved: publish
            api.post(f"/runs/{run['run_id']}/resume", json={"answer": True, "wait": True})
    paused = api.post(
        "/graph/run", json={"graph_id": gid, "initial_state": {"min_rows": 1}, "wait": True}
    ).json()  # paused by approve's question

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}/ui/"
    args.out.mkdir(parents=True, exist_ok=True)
    shots = {
        "studio-runs.png": ("#/runs", "#runs-body tr"),
        "studio-run.png": (f"#/run/{paused['run_id']}", "#questions .question"),
        "studio-graphs.png": ("#/graphs", "#graphs"),
        "studio-graph.png": (f"#/graph/{gid}", "#spec"),
        "studio-builder.png": ("#/builder", "#builder-ok"),
    }
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium,
                                                 args=["--no-sandbox"])  # fmt: skip
            for viewport, suffix in (({"width": 1280, "height": 800}, ""),
                                     ({"width": 390, "height": 844}, "-phone")):  # fmt: skip
                page = browser.new_page(viewport=viewport)
                page.goto(base)
                page.fill("#api-key", KEY)
                page.click("#key-prompt button[type=submit]")
                page.wait_for_selector("#runs")
                for name, (hash_, ready) in shots.items():
                    if suffix and name != "studio-runs.png":
                        continue
                    page.goto(base + hash_)
                    page.wait_for_selector(ready)
                    path = args.out / name.replace(".png", f"{suffix}.png")
                    page.screenshot(path=str(path), full_page=True)
                    print(f"wrote {path}")
                page.close()
            browser.close()
    finally:
        server.should_exit = True
        engine.close()


if __name__ == "__main__":
    main()
