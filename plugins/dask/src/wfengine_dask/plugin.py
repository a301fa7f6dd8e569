"""The entry point (``dask = "wfengine_dask.plugin"``): registers the ``dask://`` backend.

Importing it does not import Dask (``wf --help`` stays fast): the factory does.
"""

from __future__ import annotations

from typing import Any

from wfengine import hookimpl


def _make(url: str, context: Any) -> Any:
    from .runner import make_dask_runner

    return make_dask_runner(url, context)


@hookimpl
def wfengine_register_backends(registry: Any) -> None:
    """Register ``dask://host:8786`` (a running scheduler) and ``dask://local?workers=N``."""
    registry.register(
        "dask",
        _make,
        "A Dask cluster: dask://HOST:8786 (a running scheduler) or dask://local?workers=N",
    )
