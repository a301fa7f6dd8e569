"""wfengine-postgres: a PostgreSQL store for wfengine, shared by many machines, with a
checkpoint after every step.

Installed, it registers the ``postgresql`` (and ``postgres``) store scheme::

    from wfengine import Engine

    engine = Engine(store="postgresql://wf@db.example/wf")
    run = engine.run("my-workflow", {"n": 3})

Same contract and behaviour as wfengine-sqlite (history, graph versions, pending writes,
caches), plus queued runs for workers (``claim_run``, ...) and an event feed
(``LISTEN``/``NOTIFY``). The names below load on first use, so importing the package (as
``wf --help`` does) stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .errors import InvalidQueryError, SchemaVersionError, StoreURLError
    from .location import mask_password, parse_url
    from .store import PostgresStore

__version__ = "0.1.0"

_LAZY = {
    "PostgresStore": ".store",
    "parse_url": ".location",
    "mask_password": ".location",
    "InvalidQueryError": ".errors",
    "SchemaVersionError": ".errors",
    "StoreURLError": ".errors",
}

__all__ = [
    "InvalidQueryError",
    "PostgresStore",
    "SchemaVersionError",
    "StoreURLError",
    "__version__",
    "mask_password",
    "parse_url",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'wfengine_postgres' has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value
