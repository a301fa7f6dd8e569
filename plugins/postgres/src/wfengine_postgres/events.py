"""Run events between processes (the optional :class:`wfengine.storage.EventFeed`
capability), over PostgreSQL's ``LISTEN``/``NOTIFY``.

:meth:`EventFeed.publish_event` sends an event as JSON with ``pg_notify`` on the channel
:data:`CHANNEL` (delivered when its transaction commits: at once, as the store's connections
are in autocommit mode). PostgreSQL refuses payloads of 8,000 bytes or more, so an event
over :data:`MAX_PAYLOAD` bytes goes as ``{run_id, type, step, node, truncated: true}`` and
listeners read the rest from the store. :meth:`EventFeed.listen_events` listens on a
connection of its own, outside the pool (a listening connection must stay open between
calls), opened by the first call.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

import psycopg

from .database import Database, _abandoned, _is_lost, _message

CHANNEL = "wfengine_events"
MAX_PAYLOAD = 7900
"""Bytes of JSON a notification carries at most (PostgreSQL's limit is just under 8,000)."""


def payload(event: Mapping[str, Any]) -> str:
    """The JSON text sent for ``event``: the whole event, or its reference when too large."""
    text = json.dumps(dict(event), separators=(",", ":"), default=str)
    if len(text.encode()) <= MAX_PAYLOAD:
        return text
    reference = {key: event.get(key) for key in ("run_id", "type", "step", "node")}
    reference["truncated"] = True
    return json.dumps(reference, separators=(",", ":"), default=str)


class EventFeed(Database):
    """Publishing and listening (mixed into ``PostgresStore``)."""

    _listener: psycopg.Connection[Any] | None = None
    _listen_lock: threading.Lock

    def publish_event(self, event: Mapping[str, Any]) -> None:
        """Send ``event`` to every listener (in any process, on any machine)."""
        text = payload(event)
        self._run(
            f"publish a {event.get('type')} event of run {event.get('run_id')}",
            lambda conn: conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, text)),
        )

    def listen_events(self, timeout: float) -> list[dict[str, Any]]:
        """The events published since this store's previous call, waiting up to ``timeout``
        seconds for the first; the first call starts listening (and may return none)."""
        with self._listen_guard():
            conn = self._listening()
            try:
                events = [
                    json.loads(n.payload) for n in conn.notifies(timeout=timeout, stop_after=1)
                ]
                if events:  # and whatever else has arrived, without waiting
                    events += [json.loads(n.payload) for n in conn.notifies(timeout=0.001)]
            except psycopg.OperationalError as exc:
                self._drop_listener()
                if _is_lost(exc):
                    return []  # the next call listens again on a new connection
                raise self._error("listen for events", exc) from None
            return events

    def _listen_guard(self) -> threading.Lock:
        try:
            return self._listen_lock
        except AttributeError:
            self._listen_lock = threading.Lock()
            return self._listen_lock

    def _listening(self) -> psycopg.Connection[Any]:
        conn = self._listener
        if conn is not None and not conn.closed:
            return conn
        try:
            conn = psycopg.connect(self.location.conninfo, **self._connect_args)
            conn.execute(f"LISTEN {CHANNEL}")
        except psycopg.Error as exc:
            raise self._error_connecting("listen for events", exc) from None
        self._listener = conn
        return conn

    def _error_connecting(self, what: str, exc: psycopg.Error) -> Exception:
        from wfengine.errors import StoreError

        from .database import CONNECT_HINT

        return StoreError(f"could not {what} on {self.where}: {_message(exc)}; {CONNECT_HINT}")

    def _drop_listener(self) -> None:
        conn, self._listener = self._listener, None
        if conn is not None:
            try:
                conn.close()
            except psycopg.Error:
                pass

    def _forget_connections(self) -> None:
        """In a forked child: the parent's listening connection is not ours either."""
        if self._listener is not None:
            _abandoned.append(self._listener)
            self._listener = None
        self._listen_lock = threading.Lock()
        super()._forget_connections()

    def close(self) -> None:
        """Stop listening, then close the pool."""
        with self._listen_guard():
            self._drop_listener()
        super().close()
