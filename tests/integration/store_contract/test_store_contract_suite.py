"""The store contract and every optional capability's check (``wfengine.testing``), run
against memory, SQLite and PostgreSQL from one parametrised suite (issue 19)."""

from __future__ import annotations

from store_suite import StoreUnderTest
from wfengine.testing import (
    check_history_contract,
    check_list_filters,
    check_queue_contract,
    check_store_contract,
)


def test_keeps_the_store_contract(any_store: StoreUnderTest) -> None:
    check_store_contract(any_store.open)


def test_list_filters(any_store: StoreUnderTest) -> None:
    check_list_filters(any_store.open())


def test_history(any_store: StoreUnderTest) -> None:
    check_history_contract(any_store.open)


def test_queue(any_store: StoreUnderTest) -> None:
    check_queue_contract(any_store.open)
