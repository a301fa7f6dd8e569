"""The plugin module (entry point ``sqlite = "wfengine_sqlite.plugin"``): registers the
``sqlite`` store scheme.

``wf --help`` imports this module, so it imports nothing but the hook marker: the store and
``sqlite3`` load when a ``sqlite:`` URL is first opened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wfengine.markers import hookimpl

if TYPE_CHECKING:
    from wfengine.registry import StoreRegistry

    from .store import SQLiteStore


def open_store(url: str) -> SQLiteStore:
    """Open the :class:`~wfengine_sqlite.store.SQLiteStore` a ``sqlite:`` URL names."""
    from .store import SQLiteStore

    return SQLiteStore(url)


@hookimpl
def wfengine_register_stores(registry: StoreRegistry) -> None:
    """Register ``sqlite:///path.db``: graphs and runs in a file, a checkpoint per step."""
    registry.register(
        "sqlite",
        open_store,
        "SQLite file (sqlite:///path.db): graphs, runs, a checkpoint after every step",
        default_url=_default_url,
    )


def _default_url() -> str:
    """The per-user database ``wf`` uses when no ``--store`` is given."""
    from .location import default_url

    return default_url()
