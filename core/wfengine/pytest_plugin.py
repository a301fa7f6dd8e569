"""The wfengine pytest plugin (entry point ``pytest11``, loaded by pytest when wfengine is
installed): fixtures over :mod:`wfengine.testing`.

* ``assert_replays(path, graph)`` — a recorded ``.wfrun`` run still routes the same way on
  ``graph`` (:func:`wfengine.testing.assert_replays`);
* ``store_contract(open_store)`` — a store keeps the store contract, and the history
  capability when it has it (:func:`~wfengine.testing.check_store_contract`,
  :func:`~wfengine.testing.check_history_contract`).
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
    from .storage import HistoryStore
    from .testing import check_history_contract, check_store_contract

    def check(open_store: Callable[[], Any]) -> None:
        check_store_contract(open_store)
        probe = open_store()
        has_history = isinstance(probe, HistoryStore)
        probe.close()
        if has_history:
            check_history_contract(open_store)

    return check
