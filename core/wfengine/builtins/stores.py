"""The built-in ``memory://`` store."""

from __future__ import annotations

from ..markers import hookimpl
from ..registry import StoreRegistry
from ..storage import MemoryStore


@hookimpl
def wfengine_register_stores(registry: StoreRegistry) -> None:
    """Register ``memory://``: runs kept in this process only."""
    registry.register("memory", MemoryStore, "In-process store; nothing survives the process")
