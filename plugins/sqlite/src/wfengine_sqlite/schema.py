"""The database schema, its version (``PRAGMA user_version``) and the migrations between versions.

A run is kept as:

* ``runs`` — one row: ids, status, times, error, options. Written by ``save_run`` (when a run
  starts, resumes and stops), never per step.
* ``snapshots`` — the whole position (state, next nodes, join progress, visited nodes) at the
  steps where ``save_run`` was called: the start, each resume, the end.
* ``steps`` — one row per completed step: the merged update (only what changed), the position
  after it and the step's log entries. The per-step checkpoint is this one row, so a long run
  costs storage in proportion to what changed. A key that only grows (reducer ``append``,
  ``extend`` or ``merge``, see :mod:`wfengine.growth`) keeps in ``grown`` only what the step
  added (the new items, the changed entries), not its whole value (schema version 3).
* ``snapshots`` also get a full position every so often during a long run (see
  :data:`wfengine.rows.SNAPSHOT_EVERY`), so that rebuilding the state replays a bounded
  part of it.
* ``attempts`` — log entries that belong to no committed step (a step that failed).
* ``run_people`` — a run's ``interrupt_after``, pending ``interrupt()`` questions, the
  answers given so far, its budget and what it spent (a row only when it has any); written
  by ``save_run``.
* ``node_cache`` — cached node results (the ``CacheStore`` capability, docs/caching.md).
* ``pending_writes`` — the finished calls of a step that has not committed yet (the
  ``PendingWritesStore`` capability, schema version 5).
* ``runs.claimed_by``, ``lease_until``, ``cancel_requested``, ``claims`` — the claim of a
  queued run by a worker (the ``QueueStore`` capability, schema version 6).
* ``graph_versions`` — every graph version a run recorded (``runs.graph_version``), once per
  content hash: the spec of spec graphs, so a run resumes on the graph it ran.

The current state is the latest snapshot plus the updates of the steps after it; the state at
any earlier step is the latest snapshot at or before it plus the updates up to it.

To change the schema: bump :data:`SCHEMA_VERSION` and add ``MIGRATIONS[old] = function``
taking a connection inside a write transaction from version ``old`` to ``old + 1``. A database
from a newer version is refused rather than misread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from .errors import SchemaVersionError

SCHEMA_VERSION = 6

_V1 = """
CREATE TABLE graphs (
    graph_id    TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    version     TEXT NOT NULL,          -- tagged JSON
    spec        TEXT NOT NULL,          -- tagged JSON
    created     REAL NOT NULL
);
CREATE INDEX graphs_by_created ON graphs (created);

CREATE TABLE runs (
    pk               INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: stale ids cannot alias
    run_id           TEXT NOT NULL UNIQUE,
    graph_id         TEXT NOT NULL,
    status           TEXT NOT NULL,
    created          REAL NOT NULL,
    finished         REAL,
    error            TEXT,              -- tagged JSON
    max_steps        INTEGER,
    interrupt_before TEXT NOT NULL,     -- JSON list
    parent_run_id    TEXT,              -- set on a fork: the run and step it started from
    parent_step      INTEGER
);
CREATE INDEX runs_by_created ON runs (created, run_id);
CREATE INDEX runs_by_graph ON runs (graph_id, created, run_id);
CREATE INDEX runs_by_status ON runs (status, created, run_id);

CREATE TABLE snapshots (
    run_pk        INTEGER NOT NULL REFERENCES runs (pk) ON DELETE CASCADE,
    step          INTEGER NOT NULL,
    state         TEXT NOT NULL,        -- tagged JSON
    next_nodes    TEXT NOT NULL,        -- JSON list
    join_progress TEXT,                 -- JSON object, NULL when empty
    visited       TEXT NOT NULL,        -- JSON list
    UNIQUE (run_pk, step)
);

CREATE TABLE steps (
    run_pk        INTEGER NOT NULL REFERENCES runs (pk) ON DELETE CASCADE,
    step          INTEGER NOT NULL,
    nodes         TEXT NOT NULL,        -- JSON list: the nodes this step ran
    next_nodes    TEXT NOT NULL,        -- JSON list: the position after it
    join_progress TEXT,                 -- JSON object, NULL when empty
    changes       TEXT NOT NULL,        -- tagged JSON: the merged update
    log_seq       INTEGER NOT NULL,     -- index in run.logs of this step's first entry
    logs          TEXT NOT NULL,        -- JSON list of entries (see store.py)
    PRIMARY KEY (run_pk, step)
) WITHOUT ROWID;

CREATE TABLE attempts (
    run_pk  INTEGER NOT NULL REFERENCES runs (pk) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,           -- index in run.logs
    entry   TEXT NOT NULL,              -- one log entry, as in steps.logs
    PRIMARY KEY (run_pk, seq)
) WITHOUT ROWID;
"""


_V2 = """
ALTER TABLE runs ADD COLUMN graph_version TEXT;
CREATE TABLE graph_versions (
    version     TEXT PRIMARY KEY,       -- sha256 hex of the canonical spec or fingerprint
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,          -- 'spec' or 'python'
    spec        TEXT,                   -- tagged JSON, NULL for a Python graph's fingerprint
    created     REAL NOT NULL
) WITHOUT ROWID;
"""

_V4_PEOPLE = """
CREATE TABLE run_people (
    run_pk  INTEGER PRIMARY KEY REFERENCES runs (pk) ON DELETE CASCADE,
    data    TEXT NOT NULL               -- tagged JSON: see wfengine.rows.PEOPLE_FIELDS
);
CREATE TABLE node_cache (
    key       TEXT PRIMARY KEY,         -- sha256 hex of graph, node and key parts
    graph_id  TEXT NOT NULL,
    node      TEXT NOT NULL,
    parts     TEXT NOT NULL,            -- tagged JSON: what the result depends on
    value     TEXT NOT NULL,            -- tagged JSON: the node's update
    created   REAL NOT NULL,
    ttl       REAL                      -- seconds, NULL: until the key changes
) WITHOUT ROWID;
CREATE INDEX node_cache_by_node ON node_cache (graph_id, node, created);
"""
"""People in the loop: a run's ``interrupt_after``, its pending ``interrupt()`` questions,
the answers given so far, its budget, what it spent and why it paused (a row only for runs
that have any); and cached node results."""

_V5_PENDING = """
CREATE TABLE IF NOT EXISTS pending_writes (
    run_pk  INTEGER NOT NULL REFERENCES runs (pk) ON DELETE CASCADE,
    step    INTEGER NOT NULL,
    task    TEXT NOT NULL,                -- the node, or a map copy: sender[index]>node
    data    TEXT NOT NULL,                -- tagged JSON: the call's update
    PRIMARY KEY (run_pk, step, task)
) WITHOUT ROWID
"""
"""Pending writes: the finished calls of a step that has not committed yet (``pending.py``).
``IF NOT EXISTS``: wfengine-sqlite 0.x before schema 5 created the table on first use."""


_V6_QUEUE = """
ALTER TABLE runs ADD COLUMN claimed_by TEXT;
ALTER TABLE runs ADD COLUMN lease_until REAL;
ALTER TABLE runs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN claims INTEGER NOT NULL DEFAULT 0;
CREATE INDEX runs_by_lease ON runs (lease_until) WHERE claimed_by IS NOT NULL
"""
"""Queued runs (the ``QueueStore`` capability, ``queue.py``): which worker holds a run
(``claimed_by``), until when (``lease_until``, epoch seconds), whether someone asked to cancel
it, and how many times it was claimed. ``save_run`` never writes these columns. Queued runs are
found through ``runs_by_status``; expired claims through ``runs_by_lease``."""


# steps.grown: tagged JSON {key: [kind, what the step added]}, NULL when no key grew (no
# comment inside the statement: SQLite copies it into the table's CREATE text)
_V3 = """
ALTER TABLE steps ADD COLUMN grown TEXT
"""


# statements the store runs, next to the tables they name
RUN_COLUMNS = (
    "pk, run_id, graph_id, status, created, finished, error, max_steps, interrupt_before, "
    "graph_version"
)
INSERT_STEP = (
    "INSERT INTO steps (run_pk, step, nodes, next_nodes, join_progress, changes, "
    "log_seq, logs, grown) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
UPSERT_RUN = """
INSERT INTO runs (run_id, graph_id, status, created, finished, error, max_steps,
                  interrupt_before, graph_version)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (run_id) DO UPDATE SET
    graph_id = excluded.graph_id, status = excluded.status, created = excluded.created,
    finished = excluded.finished, error = excluded.error, max_steps = excluded.max_steps,
    interrupt_before = excluded.interrupt_before, graph_version = excluded.graph_version
RETURNING pk
"""
INSERT_SNAPSHOT = (
    "INSERT INTO snapshots (run_pk, step, state, next_nodes, join_progress, "
    "visited) VALUES (?, ?, ?, ?, ?, ?)"
)


def _script(script: str) -> Callable[[sqlite3.Connection], None]:
    def migrate(conn: sqlite3.Connection) -> None:
        for statement in script.split(";"):
            if statement.strip():
                conn.execute(statement)

    return migrate


MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    0: _script(_V1),
    1: _script(_V2),
    2: _script(_V3),
    3: _script(_V4_PEOPLE),
    4: _script(_V5_PENDING),
    5: _script(_V6_QUEUE),
}
"""``MIGRATIONS[v]`` takes a database from schema version ``v`` to ``v + 1``."""


def schema_version(conn: sqlite3.Connection) -> int:
    """The database's schema version (0 for a new, empty database)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def check_version(version: int, where: str) -> None:
    """Refuse a database written by a newer wfengine-sqlite."""
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{where} has schema version {version}, newer than this wfengine-sqlite supports "
            f"({SCHEMA_VERSION}); upgrade wfengine-sqlite, or use another database file"
        )


def migrate(conn: sqlite3.Connection, where: str) -> int:
    """Bring the schema up to :data:`SCHEMA_VERSION`; call inside ``BEGIN IMMEDIATE``.

    Returns the version the database had (so callers can tell whether anything ran).
    """
    found = version = schema_version(conn)
    check_version(version, where)
    while version < SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise SchemaVersionError(f"{where}: no migration from schema version {version}")
        step(conn)
        version += 1
        conn.execute(f"PRAGMA user_version = {version}")
    return found
