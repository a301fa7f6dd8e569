"""The wfengine pytest plugin (entry point ``pytest11``, loaded by pytest when wfengine is
installed): fixtures over :mod:`wfengine.testing`.

* ``assert_replays(path, graph)`` — a recorded ``.wfrun`` run still routes the same way on
  ``graph`` (:func:`wfengine.testing.assert_replays`);
* ``store_contract(open_store)`` — a store keeps the store contract, and the history and
  queue capabilities when it has them (:func:`~wfengine.testing.check_store_contract`,
  :func:`~wfengine.testing.check_history_contract`,
  :func:`~wfengine.testing.check_queue_contract`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture
def assert_replays() -> Callable[[Any, Any], None]:
    """:func:`wfengine.testing.assert_replays`."""
    from .testing import assert_replays as check

    return check


@pytest.fixture
def store_contract() -> Callable[[Callable[[], Any]], None]:
    """Check a store (given a function opening it) against the contract in docs/stores.md."""
    from .storage import HistoryStore, QueueStore
    from .testing import check_history_contract, check_queue_contract, check_store_contract

    def check(open_store: Callable[[], Any]) -> None:
        check_store_contract(open_store)
        probe = open_store()
        has_history, has_queue = isinstance(probe, HistoryStore), isinstance(probe, QueueStore)
        probe.close()
        if has_history:
            check_history_contract(open_store)
        if has_queue:
            check_queue_contract(open_store)

    return check
