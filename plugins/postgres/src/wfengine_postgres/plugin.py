"""The plugin module (entry point ``postgres = "wfengine_postgres.plugin"``): registers the
``postgresql`` and ``postgres`` store schemes.

``wf --help`` imports this module, so it imports nothing but the hook marker: the store and
psycopg load when a ``postgresql:`` URL is first opened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wfengine.markers import hookimpl

if TYPE_CHECKING:
    from wfengine.registry import StoreRegistry

    from .store import PostgresStore


def open_store(url: str) -> PostgresStore:
    """Open the :class:`~wfengine_postgres.store.PostgresStore` a ``postgresql:`` URL names."""
    from .store import PostgresStore

    return PostgresStore(url)


@hookimpl
def wfengine_register_stores(registry: StoreRegistry) -> None:
    """Register ``postgresql://user@host/db`` (and ``postgres://``): a store every machine
    reaching the server shares, with a checkpoint per step, queued runs and an event feed."""
    description = (
        "PostgreSQL database (postgresql://user@host/db): graphs, runs, a checkpoint after "
        "every step, shared by many machines; queued runs for wf worker"
    )
    registry.register("postgresql", open_store, description)
    registry.register("postgres", open_store, description + " (same as postgresql://)")
