"""The stores the shared contract suite runs against: memory, SQLite and PostgreSQL.

``any_store`` is parametrised over the three, ``durable_store`` over the two that keep runs
(SQLite, PostgreSQL). Each gives a :class:`StoreUnderTest`: ``open()`` opens the store (for a
durable one, a new store object on the same data, as a second process would), ``scalar(sql)``
reads one number from its database (to measure what it stored). PostgreSQL comes from the
``postgres_url`` fixture of wfengine-postgres (``docs/stores.md``, "Checking a store"): a
fresh database per test; without a server the postgres cases skip, in CI they fail.

Plugins are imported inside the fixtures: ``tox -e bare`` collects this directory without
them (and deselects it: it is under ``tests/integration``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from store_suite import StoreUnderTest, closing, make


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreUnderTest]:
    """Each store in turn (memory with history on)."""
    yield from closing(make(request.param, request, tmp_path))


@pytest.fixture(params=["sqlite", "postgres"])
def durable_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreUnderTest]:
    """Each durable store in turn."""
    yield from closing(make(request.param, request, tmp_path))
