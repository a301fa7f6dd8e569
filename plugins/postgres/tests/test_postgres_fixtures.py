"""The pytest fixtures wfengine-postgres ships: without a PostgreSQL a test that needs one
is skipped with the reason, but fails under CI; with one, each test gets its own empty
database."""

from __future__ import annotations

import psycopg
import pytest

from wfengine_postgres.testing import TEST_URL_ENV, find_binaries

NEEDS_ONE = """
def test_needs_postgres(postgres_url):
    assert postgres_url.startswith("postgresql://")
"""


@pytest.fixture
def no_postgres(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("WFENGINE_POSTGRES_BIN", str(pytester.path / "no-binaries-here"))
    monkeypatch.delenv(TEST_URL_ENV, raising=False)
    monkeypatch.delenv("CI", raising=False)
    pytester.makepyfile(NEEDS_ONE)
    return pytester


def test_without_a_server_the_test_is_skipped_with_the_reason(no_postgres: pytest.Pytester) -> None:
    result = no_postgres.runpytest_subprocess("-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*no PostgreSQL server: no PostgreSQL server binaries*"])


def test_without_a_server_the_test_fails_under_ci(
    no_postgres: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    result = no_postgres.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*PostgreSQL is needed in CI: no PostgreSQL server binaries*"])


def test_a_server_given_by_url_is_used(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, postgres_url: str
) -> None:
    monkeypatch.setenv(TEST_URL_ENV, postgres_url)
    monkeypatch.setenv("WFENGINE_POSTGRES_BIN", str(pytester.path / "no-binaries-here"))
    monkeypatch.setenv("CI", "true")  # no private cluster needed: nothing to skip or fail
    pytester.makepyfile(
        """
        import psycopg

        def test_one(postgres_url):
            with psycopg.connect(postgres_url) as conn:
                conn.execute("CREATE TABLE mine (x int)")

        def test_two(postgres_url):  # a database of its own: no table from test_one
            with psycopg.connect(postgres_url) as conn:
                assert conn.execute("SELECT to_regclass('mine')").fetchone() == (None,)
        """
    )
    before = databases(postgres_url)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert databases(postgres_url) == before, "each test's database is dropped afterwards"


def databases(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {name for (name,) in conn.execute("SELECT datname FROM pg_database")}


def test_the_binaries_env_var_is_the_only_place_looked_when_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from wfengine_postgres.testing import PostgresUnavailable

    monkeypatch.setenv("WFENGINE_POSTGRES_BIN", "/nowhere")
    with pytest.raises(PostgresUnavailable, match="found in /nowhere; install PostgreSQL"):
        find_binaries()
