"""pytest fixtures for tests that need a PostgreSQL server (entry point ``pytest11``, loaded
by pytest when wfengine-postgres is installed; nothing starts until a test asks).

* ``postgres_url`` — the URL of a fresh, empty database for this test. The server is
  ``$WFENGINE_TEST_POSTGRES_URL`` when set (its user must be allowed to create databases),
  else a private cluster this session starts (:func:`wfengine_postgres.testing.postgres_server`)
  when the PostgreSQL binaries are installed. Without either, the test is skipped with the
  reason, except under CI (the ``CI`` environment variable set), where it fails: CI must run
  these tests.
* ``postgres_server`` — the private cluster itself
  (:class:`~wfengine_postgres.testing.PostgresServer`), for tests that stop or restart the server.

A store plugin's own tests use them like this::

    def test_my_store_on_postgres(postgres_url, store_contract):
        store_contract(lambda: MyStore(postgres_url))
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .testing import PostgresServer


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is needed in CI: {reason}", pytrace=False)
    pytest.skip(f"no PostgreSQL server: {reason}")


@pytest.fixture(scope="session")
def _wfengine_postgres_cluster() -> Iterator[Any]:
    from .testing import PostgresUnavailable, postgres_server

    try:
        manager = postgres_server({"fsync": "off"})  # tests need no crash safety of the OS
        server = manager.__enter__()
    except PostgresUnavailable as exc:
        yield exc
        return
    try:
        yield server
    finally:
        manager.__exit__(None, None, None)


@pytest.fixture
def postgres_server(_wfengine_postgres_cluster: Any) -> PostgresServer:
    """The private PostgreSQL cluster of this test session (to restart or stop it)."""
    from .testing import PostgresUnavailable

    if isinstance(_wfengine_postgres_cluster, PostgresUnavailable):
        _unavailable(str(_wfengine_postgres_cluster))
    server: PostgresServer = _wfengine_postgres_cluster
    return server


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a new empty database, dropped after the test."""
    from .testing import TEST_URL_ENV, create_database, drop_database

    server_url = os.environ.get(TEST_URL_ENV)
    if not server_url:
        cluster = request.getfixturevalue("postgres_server")
        server_url = cluster.url
    name = "wft_" + uuid.uuid4().hex[:16]
    try:
        url = create_database(server_url, name)
    except Exception as exc:  # a server given by URL that is not there
        from .location import mask_password

        _unavailable(f"cannot create a database on {mask_password(server_url)}: {exc}")
    try:
        yield url
    finally:
        try:
            drop_database(server_url, name)
        except Exception:
            pass  # a test that stopped the server; the cluster goes away with the session
