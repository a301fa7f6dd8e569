"""``list_runs`` filters (creation time, text search) on the SQLite store."""

from __future__ import annotations

from pathlib import Path

from wfengine.testing import check_list_filters

from wfengine_sqlite import SQLiteStore


def test_sqlite_store_list_filters(tmp_path: Path) -> None:
    store = SQLiteStore(f"sqlite:///{tmp_path}/runs.db")
    try:
        check_list_filters(store)
    finally:
        store.close()
