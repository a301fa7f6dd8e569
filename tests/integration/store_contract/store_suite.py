"""The stores of the shared suite (see conftest.py): :class:`StoreUnderTest` and how each
store is opened. A module of its own (not conftest) so the tests can import it by a name no
other test directory uses."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest


@dataclass
class StoreUnderTest:
    """One store of the suite: how to open it and read its database."""

    name: str
    opener: Callable[[], Any]
    durable: bool
    scalar: Callable[[str], int] | None = None
    """``scalar(sql)``: the one number a query returns, read from the store's database."""
    url: str = ""
    """The store's URL (for ``wf`` subprocesses)."""
    opened: list[Any] = field(default_factory=list)

    def open(self) -> Any:
        """Open the store (again: a durable store's data is shared); closed after the test."""
        store = self.opener()
        self.opened.append(store)
        return store


def _memory(history: bool) -> StoreUnderTest:
    from wfengine import MemoryStore

    url = "memory://?history=on" if history else "memory://"
    return StoreUnderTest("memory", lambda: MemoryStore(url), durable=False, url=url)


def _sqlite(path: Path) -> StoreUnderTest:
    import sqlite3

    from wfengine_sqlite import SQLiteStore

    def scalar(sql: str) -> int:
        with sqlite3.connect(path) as conn:
            return int(conn.execute(sql).fetchone()[0] or 0)

    url = f"sqlite:///{path}"
    return StoreUnderTest("sqlite", lambda: SQLiteStore(url), True, scalar, url)


def _postgres(url: str) -> StoreUnderTest:
    import psycopg
    from wfengine_postgres import PostgresStore

    def scalar(sql: str) -> int:
        with psycopg.connect(url) as conn:
            row = conn.execute(sql).fetchone()
        return int(row[0] or 0) if row else 0

    return StoreUnderTest("postgres", lambda: PostgresStore(url), True, scalar, url)


def make(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> StoreUnderTest:
    if name == "memory":
        return _memory(history=True)
    if name == "sqlite":
        return _sqlite(tmp_path / "runs.db")
    return _postgres(request.getfixturevalue("postgres_url"))


def closing(kind: StoreUnderTest) -> Iterator[StoreUnderTest]:
    try:
        yield kind
    finally:
        for store in kind.opened:
            store.close()
