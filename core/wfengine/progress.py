"""Live output from inside a node: :func:`emit`.

A node calls ``wfengine.emit(kind, data)`` while it runs (tokens of an answer as they come,
``{"done": 40_000, "total": 1_000_000}`` rows read). Each call reaches the run's consumers at
once, from the thread the node runs in: ``node_progress`` events (``engine.stream()``, the
WebSocket, the JSON log) and the ``wfengine_node_progress`` lifecycle hook. ``wf run`` shows
a progress bar for data with ``done`` and ``total``.

With no consumer, :func:`emit` is one context-variable read: nodes may call it in their inner
loops (``benchmarks/bench_emit.py`` measures it).

The driver hands a node its sink through a context variable set around the node's function
(:func:`emitting`), the way :mod:`wfengine.interrupts` hands over answers, so any backend
that runs the function sets it alike; a backend running nodes elsewhere may collect a node's
``(kind, data)`` items in a list instead and give them to the driver after the call.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from .contextual import calling_with

Sink = Callable[[str, Any], None]
"""Receives ``(kind, data)`` of each :func:`emit` of one node attempt."""

_SINK: ContextVar[Sink | None] = ContextVar("wfengine_emit", default=None)
_get = _SINK.get


def emit(kind: str, data: Any = None) -> None:
    """Tell the run's consumers something while the node runs: ``kind`` names it (``"token"``,
    ``"progress"``, ``"cost"``...), ``data`` is JSON-able; ``{"done": n, "total": m}`` draws a
    progress bar in ``wf run``. Does nothing outside a node or when nothing listens."""
    sink = _get()
    if sink is not None:
        sink(kind, data)


def emitting(func: Callable[[Any], Any], sink: Sink) -> Callable[[Any], Any]:
    """``func`` with its :func:`emit` calls going to ``sink``."""
    return calling_with(func, _SINK, lambda: sink, "wfengine_sink", sink)


def collecting_into(emitted: list[tuple[str, Any]]) -> Any:
    """Make :func:`emit` append ``(kind, data)`` to ``emitted`` in this context (a worker
    process runs a remote node call so; the driver replays them). Returns the reset token."""
    return _SINK.set(lambda kind, data: emitted.append((kind, data)))


def stop_collecting(token: Any) -> None:
    """Undo :func:`collecting_into`."""
    _SINK.reset(token)
