"""wfengine-dask: node calls on a Dask cluster (``dask://host:8786``, ``dask://local?workers=N``)."""

from __future__ import annotations

from .runner import DaskRunner, make_dask_runner

__all__ = ["DaskRunner", "make_dask_runner"]
__version__ = "0.1.0"
