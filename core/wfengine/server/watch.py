"""How many sockets one client may hold: :class:`SocketQuota` caps the sockets one client
(its API key, or its address without keys) has open at once. Following runs the server does
not drive is :mod:`.follow`'s.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Iterator
from typing import Any


class TooManySockets(Exception):
    """A client already holds as many sockets as it may."""


class SocketQuota:
    """Counts open sockets per client and refuses one beyond ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._open: dict[str, int] = {}

    @contextlib.contextmanager
    def hold(self, client: str) -> Iterator[None]:
        """Count a socket of ``client`` while the block runs; :class:`TooManySockets` when
        it already has ``limit`` open."""
        with self._lock:
            count = self._open.get(client, 0)
            if count >= self.limit:
                raise TooManySockets(client)
            self._open[client] = count + 1
        try:
            yield
        finally:
            with self._lock:
                left = self._open[client] - 1
                if left:
                    self._open[client] = left
                else:
                    del self._open[client]


def client_identity(headers: Any, client: Any) -> str:
    """Who holds a socket: its API key (hashed) when it sent one, else its address."""
    token = headers.get("x-api-key")
    if token is None:
        scheme, _, value = (headers.get("authorization") or "").partition(" ")
        token = value.strip() if scheme.lower() == "bearer" else None
    if token:
        return "key:" + hashlib.sha256(token.encode()).hexdigest()[:16]
    host = getattr(client, "host", None)
    return f"addr:{host or 'unknown'}"
