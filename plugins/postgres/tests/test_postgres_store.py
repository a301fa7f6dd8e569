"""What is particular to the PostgreSQL store: URLs and the pool, connection errors with the
password masked, schema versions, durability settings, the schemes it registers. Everything
it shares with the other stores is in tests/integration/store_contract (run from the root)."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest
from wfengine import Engine, WorkflowRun
from wfengine.errors import StoreError
from wfengine.testing import check_store_contract

import wfengine_postgres.plugin
from wfengine_postgres import PostgresStore, mask_password, parse_url, schema
from wfengine_postgres.errors import SchemaVersionError, StoreURLError
from wfengine_postgres.testing import free_port


def sql(url: str, statement: str) -> Any:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(statement)
        return cur.fetchone() if cur.description else None


def test_keeps_the_store_contract_through_the_pytest_fixture(
    postgres_url: str, store_contract: Any
) -> None:
    store_contract(lambda: PostgresStore(postgres_url))


def test_keeps_the_store_contract(postgres_url: str) -> None:
    check_store_contract(lambda: PostgresStore(postgres_url))


# -- URLs ----------------------------------------------------------------------------------


def test_urls_split_the_store_options_from_libpq_ones() -> None:
    loc = parse_url("postgresql://u:secret@db.example:6543/wf?pool_max=3&sslmode=require")
    assert (loc.pool_min, loc.pool_max, loc.timeout) == (1, 3, 30.0)
    assert loc.conninfo == "postgresql://u:secret@db.example:6543/wf?sslmode=require"
    assert loc.masked == "postgresql://u:***@db.example:6543/wf?pool_max=3&sslmode=require"
    alias = parse_url("postgres://u@h/db?pool_min=2&timeout=1.5")
    assert (alias.conninfo, alias.pool_min, alias.pool_max, alias.timeout) == (
        "postgresql://u@h/db",
        2,
        10,
        1.5,
    )
    spaced = parse_url("postgresql://h/db?options=-c%20synchronous_commit%3Doff&pool_max=2")
    assert spaced.conninfo == "postgresql://h/db?options=-c%20synchronous_commit%3Doff"
    assert mask_password("postgresql://h/db?password=hunter2&x=1") == (
        "postgresql://h/db?password=***&x=1"
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u@h/db", "not a PostgreSQL store URL"),
        ("postgresql:db", "not a PostgreSQL store URL"),
        ("postgresql://h/db?pool_max=0", "pool_max must be at least 1"),
        ("postgresql://h/db?pool_min=5&pool_max=2", "at least pool_min"),
        ("postgresql://h/db?pool_max=many", "pool_max must be a whole number"),
        ("postgresql://h/db?timeout=-1", "timeout must be a number of seconds > 0"),
    ],
)
def test_bad_urls_are_explained(url: str, message: str) -> None:
    with pytest.raises(StoreURLError, match=message):
        PostgresStore(url)


def test_a_bad_url_does_not_show_its_password() -> None:
    with pytest.raises(StoreURLError) as caught:
        parse_url("mysql://u:hunter2@h/db")
    assert "hunter2" not in str(caught.value) and "u:***@h" in str(caught.value)


def test_an_unreachable_server_is_explained_with_the_password_masked() -> None:
    url = f"postgresql://wf:hunter2@127.0.0.1:{free_port()}/wf?timeout=2"
    with pytest.raises(StoreError) as caught:
        PostgresStore(url)
    message = str(caught.value)
    assert "hunter2" not in message
    assert f"cannot connect to PostgreSQL store {mask_password(url)}" in message
    assert "check that the server is running" in message


def test_a_missing_database_is_named(postgres_url: str) -> None:
    url = postgres_url.rsplit("/", 1)[0] + "/no_such_db"
    with pytest.raises(StoreError, match='database "no_such_db" does not exist'):
        PostgresStore(url)


def test_the_pool_size_comes_from_the_url(postgres_url: str) -> None:
    with PostgresStore(postgres_url + "?pool_max=2") as store:
        assert store._pool.max_size == 2
        errors: list[BaseException] = []

        def work(i: int) -> None:
            try:
                for j in range(10):
                    store.save_run(WorkflowRun(graph_id=f"g{i}", run_id=f"r{i}-{j}"))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        assert len(store.list_runs()[0]) == 80


def test_libpq_options_reach_the_server(postgres_url: str) -> None:
    url = postgres_url + "?options=-c%20synchronous_commit%3Doff&pool_max=2"
    with PostgresStore(url) as store:
        shown = store._run("read", lambda c: c.execute("SHOW synchronous_commit").fetchone())
        assert shown == ("off",)


@pytest.mark.parametrize("error", ["SerializationFailure", "DeadlockDetected"])
def test_a_transaction_that_lost_a_race_is_run_again(store: PostgresStore, error: str) -> None:
    from psycopg import errors as pg_errors

    calls: list[int] = []

    def work(conn: Any) -> int:
        calls.append(1)
        if len(calls) < 3:
            raise getattr(pg_errors, error)("could not serialize access")
        return int(conn.execute("SELECT 7").fetchone()[0])

    assert store._run("race", work) == 7 and len(calls) == 3


def test_a_closed_store_says_so(postgres_url: str) -> None:
    store = PostgresStore(postgres_url)
    store.close()
    with pytest.raises(StoreError, match="is closed"):
        store.get_run("x")
    store.close()  # twice is fine


# -- durability and schema -------------------------------------------------------------------


def test_commits_wait_for_the_wal_flush(store: PostgresStore) -> None:
    setting = store._run(
        "read a setting", lambda c: c.execute("SHOW synchronous_commit").fetchone()
    )
    assert setting == ("on",)
    # values are text (tagged JSON), not jsonb: key order and duplicate-looking keys survive
    kinds = store._run(
        "read the column types",
        lambda c: c.execute(
            "SELECT DISTINCT data_type FROM information_schema.columns "
            "WHERE table_name IN ('steps', 'snapshots') AND column_name IN ('changes', 'state')"
        ).fetchall(),
    )
    assert kinds == [("text",)]


def test_a_new_database_gets_the_current_schema(postgres_url: str) -> None:
    PostgresStore(postgres_url).close()
    assert sql(postgres_url, "SELECT version FROM wfengine_schema") == (schema.SCHEMA_VERSION,)
    PostgresStore(postgres_url).close()  # opening again migrates nothing
    assert sql(postgres_url, "SELECT count(*) FROM wfengine_schema") == (1,)


def test_stores_opening_a_new_database_at_once_migrate_it_once(postgres_url: str) -> None:
    errors: list[BaseException] = []
    stores: list[PostgresStore] = []

    def open_one() -> None:
        try:
            stores.append(PostgresStore(postgres_url))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for opened in stores:
        opened.close()
    assert not errors and len(stores) == 4


def test_a_newer_schema_is_refused(postgres_url: str) -> None:
    PostgresStore(postgres_url).close()
    sql(postgres_url, f"UPDATE wfengine_schema SET version = {schema.SCHEMA_VERSION + 1}")
    with pytest.raises(SchemaVersionError, match="newer than this wfengine-postgres supports"):
        PostgresStore(postgres_url)


def test_an_older_schema_is_migrated_keeping_its_data(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with PostgresStore(postgres_url) as old:
        old.save_run(WorkflowRun(graph_id="g", run_id="kept", state={"x": (1, 2)}))
    nxt = schema.SCHEMA_VERSION + 1
    monkeypatch.setattr(schema, "SCHEMA_VERSION", nxt)
    monkeypatch.setitem(schema.MIGRATIONS, nxt - 1, ["ALTER TABLE runs ADD COLUMN extra text"])
    with PostgresStore(postgres_url) as new:
        kept = new.get_run("kept")
        assert kept is not None and kept.state == {"x": (1, 2)}
    assert sql(postgres_url, "SELECT version FROM wfengine_schema") == (nxt,)
    assert sql(postgres_url, "SELECT count(extra) FROM runs") == (0,)


def test_a_failed_migration_leaves_the_database_untouched(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = [*schema.MIGRATIONS[0], "CREATE TABLE graphs (oops int)"]
    monkeypatch.setitem(schema.MIGRATIONS, 0, broken)
    with pytest.raises(StoreError, match='relation "graphs" already exists'):
        PostgresStore(postgres_url)
    assert sql(postgres_url, "SELECT to_regclass('runs') IS NULL") == (True,)
    monkeypatch.undo()
    PostgresStore(postgres_url).close()


# -- the schemes ------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_the_plugin_registers_the_schemes(postgres_url: str, scheme: str) -> None:
    url = scheme + postgres_url.removeprefix("postgresql")
    with Engine(load_entrypoints=False, plugins=[wfengine_postgres.plugin], store=url) as engine:
        assert isinstance(engine.store, PostgresStore)
        run = engine.run(_one_node(), {"n": 1})
        assert engine.get_run(run.run_id).state == {"n": 2}  # type: ignore[union-attr]


def test_the_scheme_is_found_through_the_entry_point(postgres_url: str) -> None:
    with Engine(store=postgres_url) as engine:
        assert isinstance(engine.store, PostgresStore)


def _one_node() -> Any:
    from wfengine import END, Graph

    graph = Graph("one").add_node("a", lambda s: {"n": s["n"] + 1})
    return graph.add_edge("a", END).set_entry_point("a")


def test_a_forked_child_opens_its_own_connections(postgres_url: str) -> None:
    import os

    def backend(store: PostgresStore) -> int:
        return int(store._run("ask", lambda c: c.execute("SELECT pg_backend_pid()").fetchone()[0]))

    with PostgresStore(postgres_url + "?pool_max=1") as store:
        store.save_run(WorkflowRun(graph_id="g", run_id="before"))
        parents = backend(store)
        pid = os.fork()
        if pid == 0:  # the child: uses the store, then leaves without finalizers
            code = 1
            try:
                store.save_run(WorkflowRun(graph_id="g", run_id="child"))
                code = 0 if backend(store) != parents else 3  # 3: it used the parent's session
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        # the parent's connection was left alone: it is the same session, and works
        assert backend(store) == parents
        assert {r.run_id for r in store.list_runs()[0]} == {"before", "child"}
