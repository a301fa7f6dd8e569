"""Helpers of the wfengine-dask tests (a module name of their own: no clash with other
test directories' conftest modules)."""

from __future__ import annotations

import warnings

from wfengine import Engine
from wfengine.engine import RemoteMemoryStoreWarning


def make_engine(backend: str, **options: object) -> Engine:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RemoteMemoryStoreWarning)
        engine = Engine(backend=backend, **options)  # type: ignore[arg-type]
        engine.runner  # noqa: B018 - start the cluster now
    return engine
