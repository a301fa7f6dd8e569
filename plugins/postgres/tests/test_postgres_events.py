"""The event feed (``EventFeed``) over LISTEN/NOTIFY: events published by one store object
reach every other listening one, in order; an event too large for a notification goes as a
reference to the run."""

from __future__ import annotations

import time
from typing import Any

from wfengine.storage import EventFeed

from wfengine_postgres import PostgresStore
from wfengine_postgres.events import MAX_PAYLOAD


def collect(store: PostgresStore, count: int, within: float = 5.0) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + within
    while len(got) < count and time.monotonic() < deadline:
        got += store.listen_events(0.5)
    return got


def test_events_reach_every_listener_in_order(postgres_url: str) -> None:
    with (
        PostgresStore(postgres_url) as worker,
        PostgresStore(postgres_url) as server_a,
        PostgresStore(postgres_url) as server_b,
    ):
        assert isinstance(worker, EventFeed)
        assert server_a.listen_events(0.05) == [] and server_b.listen_events(0.05) == []
        sent = [{"run_id": "r1", "type": "node_finished", "step": i, "node": "a"} for i in range(5)]
        for event in sent:
            worker.publish_event(event)
        assert collect(server_a, 5) == sent
        assert collect(server_b, 5) == sent
        assert server_a.listen_events(0.05) == [], "each event once"


def test_listen_waits_for_the_first_event_up_to_the_timeout(postgres_url: str) -> None:
    with PostgresStore(postgres_url) as store:
        store.listen_events(0.01)
        started = time.monotonic()
        assert store.listen_events(0.3) == []
        assert time.monotonic() - started >= 0.25


def test_a_large_event_goes_as_a_reference(postgres_url: str) -> None:
    with PostgresStore(postgres_url) as worker, PostgresStore(postgres_url) as server:
        server.listen_events(0.01)
        big = {"run_id": "r2", "type": "step", "step": 3, "node": "n", "state": "x" * MAX_PAYLOAD}
        small = {"run_id": "r2", "type": "step", "step": 4, "node": "n", "state": "x" * 100}
        worker.publish_event(big)
        worker.publish_event(small)
        got = collect(server, 2)
        assert got == [
            {"run_id": "r2", "type": "step", "step": 3, "node": "n", "truncated": True},
            small,
        ]
