"""Connection bounds of ``serve`` (issue 11, F11), against a real uvicorn on 127.0.0.1:
at most ``limit_concurrency`` connections and requests at once, idle keep-alive connections
closed after ``timeout_keep_alive``."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn
from wfengine import Engine
from wfengine.cli.serve import serve_command
from wfengine.server import create_app
from wfengine.server.errors import ServerConfigError
from wfengine.server.serve import LIMIT_CONCURRENCY, TIMEOUT_KEEP_ALIVE, uvicorn_config


@contextmanager
def live(engine: Engine, **options: Any) -> Iterator[int]:
    """``serve``'s uvicorn configuration, running in a thread on a free port."""
    config = uvicorn_config(
        create_app(engine), host="127.0.0.1", port=0, log_level="warning", **options
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(10)


def _get(port: int, path: str = "/health") -> tuple[int, socket.socket]:
    """One GET on a new keep-alive connection: its status and the open socket."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, "closed before answering"
        head += chunk
    return int(head.split(b" ", 2)[1]), sock


def test_connections_beyond_the_limit_get_503(server_engine: Engine) -> None:
    with live(server_engine, limit_concurrency=3) as port:
        held = []
        for _ in range(3):  # idle connections count: a slow client holds one each
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # headers never finished
            held.append(sock)
        time.sleep(0.2)
        status, sock = _get(port)
        sock.close()
        assert status == 503
        for sock in held:
            sock.close()
        deadline = time.monotonic() + 5
        while True:  # the server notices the closed connections, then answers again
            status, sock = _get(port)
            sock.close()
            if status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert status == 200


def test_an_idle_keep_alive_connection_is_closed(server_engine: Engine) -> None:
    with live(server_engine, timeout_keep_alive=1) as port:
        status, sock = _get(port)
        assert status == 200
        sock.settimeout(5)
        started = time.monotonic()
        while sock.recv(4096):  # the rest of the body, then the server's close
            pass
        assert 0.8 < time.monotonic() - started < 4
        sock.close()


def test_the_bounds_have_defaults_and_refuse_nonsense(server_engine: Engine) -> None:
    config = uvicorn_config(create_app(server_engine))
    assert (config.limit_concurrency, config.timeout_keep_alive) == (1024, 5)
    assert (LIMIT_CONCURRENCY, TIMEOUT_KEEP_ALIVE) == (1024, 5)
    defaults = {p.name: p.default for p in serve_command.params}
    assert defaults["limit_concurrency"] == LIMIT_CONCURRENCY
    assert defaults["timeout_keep_alive"] == TIMEOUT_KEEP_ALIVE
    for bad in (0, -1, True, 1.5):
        with pytest.raises(ServerConfigError, match="limit_concurrency must be"):
            uvicorn_config(create_app(server_engine), limit_concurrency=bad)
