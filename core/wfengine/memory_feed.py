"""An in-process :class:`~wfengine.storage.EventFeed` for the memory store: workers that are
threads of one process publish their runs' events, and the process's server follows them,
as it would through PostgreSQL's ``LISTEN``/``NOTIFY`` across machines."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

KEPT_EVENTS = 10_000
"""Events kept for listeners that fall behind (older ones are dropped)."""


@dataclass
class _Feed:
    cond: threading.Condition = field(default_factory=threading.Condition)
    events: deque[tuple[int, dict[str, Any]]] = field(
        default_factory=lambda: deque(maxlen=KEPT_EVENTS)
    )
    seq: int = 0


class MemoryEventFeed:
    """The ``EventFeed`` capability kept in this process (mixed into
    :class:`~wfengine.storage.MemoryStore`, whose ``_lock`` it uses)."""

    _lock: threading.Lock
    _feed: _Feed
    _feed_cursor: int

    def publish_event(self, event: Mapping[str, Any]) -> None:
        """Hand ``event`` to every listener of this store."""
        feed = self._event_feed()
        with feed.cond:
            feed.events.append((feed.seq, dict(event)))
            feed.seq += 1
            feed.cond.notify_all()

    def listen_events(self, timeout: float) -> list[dict[str, Any]]:
        """The events published since this call last returned (the first call starts
        listening), waiting up to ``timeout`` seconds for one."""
        feed = self._event_feed()
        with feed.cond:
            cursor = getattr(self, "_feed_cursor", None)
            if cursor is None:
                cursor = feed.seq
            feed.cond.wait_for(lambda: feed.seq > cursor, timeout)
            found = [event for seq, event in feed.events if seq >= cursor]
            self._feed_cursor = feed.seq
        return found

    def _event_feed(self) -> _Feed:
        with self._lock:
            try:
                return self._feed
            except AttributeError:
                self._feed = _Feed()
                return self._feed
