"""wfengine-sqlite: a SQLite store for wfengine, with a checkpoint after every step.

Installed, it registers the ``sqlite`` store scheme::

    from wfengine import Engine

    engine = Engine(store="sqlite:///runs.db")
    run = engine.run("my-workflow", {"n": 3})

A run killed at any moment resumes from its last completed step (``engine.resume(run_id)``);
:meth:`SQLiteStore.state_at` and :meth:`SQLiteStore.fork_run` read and restart history. The
names below load on first use, so importing the package (as ``wf --help`` does) stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .errors import (
        InvalidQueryError,
        SchemaVersionError,
        StoreURLError,
        UnstorableValueError,
    )
    from .location import default_url, parse_url
    from .store import SQLiteStore

__version__ = "0.1.0"

_LAZY = {
    "SQLiteStore": ".store",
    "default_url": ".location",
    "parse_url": ".location",
    "InvalidQueryError": ".errors",
    "SchemaVersionError": ".errors",
    "StoreURLError": ".errors",
    "UnstorableValueError": ".errors",
}

__all__ = [
    "InvalidQueryError",
    "SQLiteStore",
    "SchemaVersionError",
    "StoreURLError",
    "UnstorableValueError",
    "__version__",
    "default_url",
    "parse_url",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'wfengine_sqlite' has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value
