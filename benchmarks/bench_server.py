"""REST server throughput: ``POST /graph/run`` (``wait: true``, a 3-node graph, in-memory
store) against ``GET /health`` on the same server.

The script starts uvicorn on 127.0.0.1 in a child process and drives it from another child
process: a small asyncio HTTP/1.1 load generator (keep-alive connections, requests sent
back to back), cheap enough that the server, not the client, is what is measured. Health
and run are measured in alternating short rounds; the best rate of each is kept (this is a
shared machine), and the server's CPU time per request is shown as a steadier comparison.
Target: the run endpoint at least 45% of the health endpoint's rate, with every run on the
server's run threads (none on the event loop: hardening F4).

    python benchmarks/bench_server.py [--seconds S] [--connections C] [--repeats R]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import socket
import statistics
import sys
import time
from typing import Any

import httpx

TARGET_RATIO = 0.45

SPEC: dict[str, Any] = {
    "name": "bench3",
    "entry": "a",
    "nodes": {
        "a": {"tool": "bench.inc"},
        "b": {"tool": "bench.double"},
        "c": {"tool": "bench.inc"},
    },
    "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "c"}, {"from": "c", "to": "END"}],
}


def inc(state: dict[str, Any]) -> dict[str, Any]:
    """Add one to ``n``."""
    return {"n": state["n"] + 1}


def double(state: dict[str, Any]) -> dict[str, Any]:
    """Double ``n``."""
    return {"n": state["n"] * 2}


class BenchPlugin:
    """The two tools the benchmark graph runs."""

    from wfengine import hookimpl

    @hookimpl
    def wfengine_register_tools(self, registry: Any) -> None:
        registry.register("bench.inc", inc)
        registry.register("bench.double", double)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def serve(port: int) -> None:
    """The server process: what ``wf serve`` runs, with the benchmark's tools."""
    from wfengine import Engine
    from wfengine.server import serve

    engine = Engine(plugins=[BenchPlugin()], load_entrypoints=False, store="memory://")
    serve(host="127.0.0.1", port=port, engine=engine, log_level="warning", access_log=False)


def request_bytes(method: str, path: str, body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


async def _connection(port: int, request: bytes, stop_at: float, counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop_at:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200") and not head.startswith(b"HTTP/1.1 201"):
                raise RuntimeError(f"unexpected response: {head[:200]!r}")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            counts[0] += 1
    finally:
        writer.close()


class LoadGenerator:
    """A child process sending keep-alive requests on command (so rounds can alternate)."""

    def __init__(self, port: int, connections: int) -> None:
        self._conn, child = mp.Pipe()
        self._proc = mp.Process(target=_load_loop, args=(child, port, connections), daemon=True)
        self._proc.start()

    def rate(self, request: bytes, seconds: float) -> float:
        """Requests per second over ``seconds`` (after a short warm-up)."""
        self._conn.send((request, seconds))
        rate: float = self._conn.recv()
        return rate

    def close(self) -> None:
        self._conn.send(None)
        self._proc.join(10)


def _load_loop(conn: Any, port: int, connections: int) -> None:
    async def burst(request: bytes, seconds: float) -> float:
        warm = [0]
        await asyncio.gather(
            *(
                _connection(port, request, time.perf_counter() + 0.2, warm)
                for _ in range(connections)
            )
        )
        counts = [0]
        start = time.perf_counter()
        await asyncio.gather(
            *(_connection(port, request, start + seconds, counts) for _ in range(connections))
        )
        return counts[0] / (time.perf_counter() - start)

    while (job := conn.recv()) is not None:
        conn.send(asyncio.run(burst(*job)))


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux ``/proc``), or ``None`` elsewhere."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="per round")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=8, help="rounds of each, alternating")
    args = parser.parse_args(argv)

    port = free_port()
    server = mp.Process(target=serve, args=(port,), daemon=True)
    server.start()
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{base}/health", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or not server.is_alive():
                    print("the server did not start", file=sys.stderr)
                    return 1
                time.sleep(0.05)
        gid = httpx.post(f"{base}/graph/create", json=SPEC).json()["graph_id"]
        run_body = json.dumps({"graph_id": gid, "initial_state": {"n": 1}, "wait": True})
        check = httpx.post(
            f"{base}/graph/run", content=run_body, headers={"content-type": "application/json"}
        ).json()
        assert check["status"] == "completed" and check["final_state"] == {"n": 5}, check

        requests = {
            "health": request_bytes("GET", "/health"),
            "run": request_bytes("POST", "/graph/run", run_body.encode()),
        }
        rates: dict[str, list[float]] = {"health": [], "run": []}
        cpu_us: dict[str, list[float]] = {"health": [], "run": []}
        loader = LoadGenerator(port, args.connections)
        try:
            for _ in range(args.repeats):
                for name, request in requests.items():
                    cpu0 = cpu_seconds(server.pid or 0)
                    rate = loader.rate(request, args.seconds)
                    cpu1 = cpu_seconds(server.pid or 0)
                    rates[name].append(rate)
                    if cpu0 is not None and cpu1 is not None:
                        # includes the warm-up requests: an estimate, for comparison only
                        cpu_us[name].append((cpu1 - cpu0) / (rate * (args.seconds + 0.2)) * 1e6)
        finally:
            loader.close()
        paired = sorted(r / h for h, r in zip(rates["health"], rates["run"], strict=True))
        ratio = statistics.median(paired)
        for name, label in (
            ("health", "GET /health              "),
            ("run", "POST /graph/run wait=true"),
        ):
            cpu = f"; ~{min(cpu_us[name]):.0f} us server CPU/request" if cpu_us[name] else ""
            print(
                f"{label} {max(rates[name]):8.0f} req/s best, "
                f"{statistics.median(rates[name]):6.0f} median  (rounds: "
                f"{', '.join(f'{r:.0f}' for r in rates[name])}{cpu})"
            )
        print(f"run/health, best rates     {max(rates['run']) / max(rates['health']):6.2f}")
        verdict = "ok" if ratio >= TARGET_RATIO else "BELOW TARGET"
        print(
            f"run/health, median of rounds {ratio:4.2f}  (each run round over the health round "
            f"just before it; target >= {TARGET_RATIO}: {verdict})"
        )
        return 0 if ratio >= TARGET_RATIO else 1
    finally:
        server.terminate()
        server.join(10)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
