"""What every ``wf`` command shares: the engine (created once, lazily) and the store choice.

The engine comes from a factory so tests and embedding code can hand ``wf`` an engine of
their own (``main(engine=...)`` or ``CliRunner().invoke(cli, args, obj=CliContext(engine))``).
Creating an engine imports the entry-point plugins; the store is opened only when a command
needs it, so ``wf --help`` and ``wf tools`` never touch a database.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from wfengine.engine import Engine
    from wfengine.storage import Store

EngineFactory = Callable[[], "Engine"]

NO_PERSISTENT_STORE = (
    "no persistent store: runs are kept only in memory; install wfengine-sqlite or pass --store"
)


def _default_engine() -> Engine:
    from wfengine.engine import Engine

    return Engine()


class CliContext:
    """The ``wf`` command line's shared state, stored as the Click context's ``obj``."""

    def __init__(self, engine: Engine | EngineFactory | None = None) -> None:
        if engine is None:
            self._factory: EngineFactory = _default_engine
            self._engine: Engine | None = None
        elif callable(engine):
            self._factory = engine
            self._engine = None
        else:
            self._factory = _default_engine
            self._engine = engine
        self.store_url: str | None = None
        """``--store`` (or ``WFENGINE_STORE``); ``None`` means the default store."""
        self.debug = False
        """``--debug``: show tracebacks instead of one-line errors."""
        self.backend_url: str | None = None
        """``--backend``: where node calls run (``None``: the engine's default)."""
        self._store_ready = False

    @property
    def engine(self) -> Engine:
        """The engine, created on first use (its store is not opened yet)."""
        if self._engine is None:
            self._engine = self._factory()
        return self._engine

    def resolved_store_url(self) -> str:
        """``--store``, else the per-user store a store plugin offers (``wfengine-sqlite``:
        SQLite in the per-user data directory), else memory."""
        if self.store_url:
            return self.store_url
        return self.engine.stores.default_url() or "memory://"

    @property
    def store(self) -> Store:
        """The engine's store, switched to the chosen URL before its first use."""
        engine = self.engine
        if not self._store_ready:
            url = self.resolved_store_url()
            if engine.store_url != url:
                engine.set_store(url)
            self._store_ready = True
        return engine.store

    def storage_engine(self) -> Engine:
        """The engine with its store chosen (for commands that read or write runs/graphs)."""
        self.store  # noqa: B018 - opens the store at the chosen URL
        engine = self.engine
        if self.backend_url and engine.backend_url != self.backend_url:
            engine.set_backend(self.backend_url)
        return engine

    @property
    def persistent(self) -> bool:
        """True when the store keeps runs after ``wf`` exits."""
        return bool(getattr(self.store, "durable", False))

    def warn_if_not_persistent(self) -> None:
        """Say plainly (on stderr) that runs are not kept, when the store is in memory."""
        if not self.persistent:
            click.echo(f"note: {NO_PERSISTENT_STORE}", err=True)


def get_context() -> CliContext:
    """The :class:`CliContext` of the running command."""
    ctx = click.get_current_context()
    return ctx.ensure_object(CliContext)
