"""Node functions run with a context variable set for the length of each call.

``interrupt()`` finds the answers given so far and ``emit()`` its sink through context
variables, which the engine sets around a node call by wrapping the node's function; sync
and async functions alike, so the variable is set in whichever thread or task runs it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

T = TypeVar("T")


def calling_with(
    func: Callable[[Any], Any], var: ContextVar[T], value: Callable[[], T], mark: str, label: Any
) -> Callable[[Any], Any]:
    """``func`` with ``var`` set to a fresh ``value()`` during each call; the wrapper carries
    ``label`` as its attribute ``mark`` (so the engine can tell what it wrapped)."""
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def awrapped(state: Any) -> Any:
            token = var.set(value())
            try:
                return await func(state)
            finally:
                var.reset(token)

        setattr(awrapped, mark, label)
        return awrapped

    @functools.wraps(func)
    def wrapped(state: Any) -> Any:
        token = var.set(value())
        try:
            return func(state)
        finally:
            var.reset(token)

    setattr(wrapped, mark, label)
    return wrapped
