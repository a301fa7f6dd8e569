"""The frames a run's tools keep between nodes: a small cache owned by each engine's plugin.

:class:`FrameCache` holds the last few Parquet frames by file identity (path, size,
modification time, inode). The engine's
:class:`~wfengine_dataquality.plugin.DataQualityPlugin` owns one and makes it current while
one of its tools runs (:func:`using_cache`); :func:`~wfengine_dataquality.io.read_frame` and
:func:`~wfengine_dataquality.io.write_frame` use the current one, if any. Two engines never
share one. This module does not import polars (the plugin makes its cache at engine start).
"""

from __future__ import annotations

import functools
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

CACHE_SIZE = 3


class FrameCache:
    """The last few frames by file identity; thread-safe."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._frames: OrderedDict[str, tuple[tuple[int, int, int], Any]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(path: Path) -> tuple[int, int, int]:
        st = path.stat()
        return (st.st_size, st.st_mtime_ns, st.st_ino)

    def get(self, path: Path) -> Any | None:
        """The frame kept for ``path`` when the file is unchanged since, else ``None``."""
        if os.environ.get("WFENGINE_DQ_CACHE") == "0":
            return None
        with self._lock:
            hit = self._frames.get(str(path))
            if hit is None or hit[0] != self._key(path):
                return None
            self._frames.move_to_end(str(path))
            return hit[1]

    def put(self, path: Path, frame: Any) -> None:
        """Keep ``frame`` as the content of ``path`` (as the file is now)."""
        if os.environ.get("WFENGINE_DQ_CACHE") == "0":
            return
        with self._lock:
            self._frames[str(path)] = (self._key(path), frame)
            self._frames.move_to_end(str(path))
            while len(self._frames) > self.size:
                self._frames.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._frames)

    def clear(self) -> None:
        """Forget every frame (as a new process would start)."""
        with self._lock:
            self._frames.clear()


_current: ContextVar[FrameCache | None] = ContextVar("wfengine_dq_frames", default=None)


@contextmanager
def using_cache(cache: FrameCache | None) -> Iterator[None]:
    """Make ``cache`` the one ``read_frame`` and ``write_frame`` use in this context (a tool
    call)."""
    token = _current.set(cache)
    try:
        yield
    finally:
        _current.reset(token)


def with_cache(func: Callable[..., Any], cache: FrameCache) -> Callable[..., Any]:
    """``func`` running with ``cache`` current (``__wrapped__`` names ``func``, so a graph
    version still fingerprints the tool's own code)."""

    @functools.wraps(func)
    def call(state: Any, **params: Any) -> Any:
        with using_cache(cache):
            return func(state, **params)

    return call


def current_cache() -> FrameCache | None:
    """The cache of the tool call running in this context, or ``None``."""
    return _current.get()
