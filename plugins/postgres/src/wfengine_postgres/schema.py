"""The database schema, its version (table ``wfengine_schema``) and the migrations between
versions.

The layout is the SQLite store's (:mod:`wfengine_sqlite.schema`), in PostgreSQL types:

* ``runs`` — one row per run: ids, status, times, error, options, and the queue's claim
  (``claimed_by``, ``lease_until`` on the server's clock, ``cancel_requested``, ``claims``).
* ``snapshots`` — the whole position (state, next nodes, join progress, visited nodes) where
  ``save_run`` was called (start, resume, end) and every so often during a long run.
* ``steps`` — one row per committed step: the merged update (only what changed; what keys
  that only grow added goes in ``grown``), the position after it and its log entries.
* ``attempts`` — log entries that belong to no committed step (a step that failed).
* ``run_people`` — questions, answers, budget, ... of a run (a row only when it has any).
* ``node_cache``, ``pending_writes``, ``graph_versions``, ``graphs``.

Values are the engine's tagged JSON (:mod:`wfengine.codec`) in ``text`` columns, not
``jsonb``: ``jsonb`` reorders object keys and folds duplicate ones, and a state must come back
exactly as it went in. Times are epoch seconds (``double precision``), as the engine keeps
them; only leases use ``timestamptz`` (the server's ``now()``).

To change the schema: bump :data:`SCHEMA_VERSION` and add ``MIGRATIONS[old]``, the statements
taking a database from version ``old`` to ``old + 1``. Migrations run in one transaction
under an advisory lock (two stores opening a new database at once do not both migrate it). A
database from a newer version is refused rather than misread.
"""

from __future__ import annotations

from typing import Any

from .errors import SchemaVersionError

SCHEMA_VERSION = 1

LOCK_KEY = 0x77666E67
"""The advisory lock migrations hold (``pg_advisory_xact_lock``)."""

_V1 = [
    """
    CREATE TABLE graphs (
        graph_id    text PRIMARY KEY,
        name        text NOT NULL,
        version     text NOT NULL,
        spec        text NOT NULL,
        created     double precision NOT NULL
    )
    """,
    "CREATE INDEX graphs_by_created ON graphs (created)",
    """
    CREATE TABLE runs (
        pk               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        run_id           text NOT NULL UNIQUE,
        graph_id         text NOT NULL,
        status           text NOT NULL,
        created          double precision NOT NULL,
        finished         double precision,
        error            text,
        max_steps        integer,
        interrupt_before text NOT NULL,
        parent_run_id    text,
        parent_step      integer,
        graph_version    text,
        claimed_by       text,
        lease_until      timestamptz,
        cancel_requested boolean NOT NULL DEFAULT false,
        claims           integer NOT NULL DEFAULT 0
    )
    """,
    "CREATE INDEX runs_by_created ON runs (created, run_id)",
    "CREATE INDEX runs_by_graph ON runs (graph_id, created, run_id)",
    "CREATE INDEX runs_by_status ON runs (status, created, run_id)",
    """
    CREATE TABLE snapshots (
        run_pk        bigint NOT NULL REFERENCES runs (pk) ON DELETE CASCADE,
        step          integer NOT NULL,
        state         text NOT NULL,
        next_nodes    text NOT NULL,
        join_progress text,
        visited       text NOT NULL,
        PRIMARY KEY (run_pk, step)
    )
    """,
    """
    CREATE TABLE steps (
        run_pk        bigint NOT NULL REFERENCES runs (pk) ON DELETE CASCADE,
        step          integer NOT NULL,
        nodes         text NOT NULL,
        next_nodes    text NOT NULL,
        join_progress text,
        changes       text NOT NULL,
        log_seq       bigint NOT NULL,
        log_count     integer NOT NULL,
        logs          text NOT NULL,
        grown         text,
        PRIMARY KEY (run_pk, step)
    )
    """,
    """
    CREATE TABLE attempts (
        run_pk  bigint NOT NULL REFERENCES runs (pk) ON DELETE CASCADE,
        seq     bigint NOT NULL,
        entry   text NOT NULL,
        PRIMARY KEY (run_pk, seq)
    )
    """,
    """
    CREATE TABLE run_people (
        run_pk  bigint PRIMARY KEY REFERENCES runs (pk) ON DELETE CASCADE,
        data    text NOT NULL
    )
    """,
    """
    CREATE TABLE node_cache (
        key       text PRIMARY KEY,
        graph_id  text NOT NULL,
        node      text NOT NULL,
        parts     text NOT NULL,
        value     text NOT NULL,
        created   double precision NOT NULL,
        ttl       double precision
    )
    """,
    "CREATE INDEX node_cache_by_node ON node_cache (graph_id, node, created)",
    """
    CREATE TABLE pending_writes (
        run_pk  bigint NOT NULL REFERENCES runs (pk) ON DELETE CASCADE,
        step    integer NOT NULL,
        task    text NOT NULL,
        data    text NOT NULL,
        PRIMARY KEY (run_pk, step, task)
    )
    """,
    """
    CREATE TABLE graph_versions (
        version     text PRIMARY KEY,
        name        text NOT NULL,
        kind        text NOT NULL,
        spec        text,
        created     double precision NOT NULL
    )
    """,
    # the queue: runs waiting or leased, oldest first
    "CREATE INDEX runs_to_claim ON runs (created, run_id) WHERE status IN ('queued', 'running')",
]

MIGRATIONS: dict[int, list[str]] = {0: _V1}
"""``MIGRATIONS[v]``: the statements taking a database from schema version ``v`` to ``v + 1``."""

# statements the store runs, next to the tables they name
RUN_COLUMNS = (
    "pk, run_id, graph_id, status, created, finished, error, max_steps, interrupt_before, "
    "graph_version"
)
INSERT_STEP = (
    "INSERT INTO steps (run_pk, step, nodes, next_nodes, join_progress, changes, "
    "log_seq, log_count, logs, grown) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
UPSERT_RUN = """
INSERT INTO runs (run_id, graph_id, status, created, finished, error, max_steps,
                  interrupt_before, graph_version)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (run_id) DO UPDATE SET
    graph_id = excluded.graph_id, status = excluded.status, created = excluded.created,
    finished = excluded.finished, error = excluded.error, max_steps = excluded.max_steps,
    interrupt_before = excluded.interrupt_before, graph_version = excluded.graph_version
RETURNING pk
"""
INSERT_SNAPSHOT = (
    "INSERT INTO snapshots (run_pk, step, state, next_nodes, join_progress, "
    "visited) VALUES (%s, %s, %s, %s, %s, %s)"
)


def schema_version(conn: Any) -> int:
    """The database's schema version (0 for a database without the ``wfengine_schema``
    table)."""
    found = conn.execute("SELECT to_regclass('wfengine_schema') IS NOT NULL").fetchone()[0]
    if not found:
        return 0
    row = conn.execute("SELECT version FROM wfengine_schema").fetchone()
    return int(row[0]) if row else 0


def check_version(version: int, where: str) -> None:
    """Refuse a database written by a newer wfengine-postgres."""
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{where} has schema version {version}, newer than this wfengine-postgres "
            f"supports ({SCHEMA_VERSION}); upgrade wfengine-postgres, or use another database"
        )


def migrate(conn: Any, where: str) -> int:
    """Bring the schema up to :data:`SCHEMA_VERSION` in one transaction on ``conn`` (an
    autocommit connection); returns the version the database had."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        found = version = schema_version(conn)
        check_version(version, where)
        if version == SCHEMA_VERSION:
            return found
        conn.execute("CREATE TABLE IF NOT EXISTS wfengine_schema (version integer NOT NULL)")
        while version < SCHEMA_VERSION:
            statements = MIGRATIONS.get(version)
            if statements is None:
                raise SchemaVersionError(f"{where}: no migration from schema version {version}")
            for statement in statements:
                conn.execute(statement)
            version += 1
        conn.execute("DELETE FROM wfengine_schema")
        conn.execute("INSERT INTO wfengine_schema (version) VALUES (%s)", (version,))
    return found
