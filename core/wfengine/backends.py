"""Execution backends: where node calls run, chosen by URL.

A backend is a :class:`~wfengine.runner.NodeRunner` made from a URL by a factory that a
plugin registers with ``wfengine_register_backends(registry)``, as stores are::

    registry.register("dask", make_dask_runner, "Node calls on a Dask cluster")

The engine opens its backend from ``Engine(backend=URL)``, else ``WFENGINE_BACKEND``, else
``threads://`` (see ``docs/backends.md``). Built in:

* ``threads://`` (the default): this process's threads and event loop;
* ``processes://?workers=N``: a pool of worker processes on this machine.

Whatever the backend, the driver keeps routing, merging, retries, checkpoints and lifecycle
hooks: node hooks fire in the driver, so logs, stores and hooks behave the same everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .errors import RegistryError
from .registry import Registry, ToolRegistry
from .runner import NodeRunner

DEFAULT_BACKEND = "threads://"


@dataclass(frozen=True)
class BackendContext:
    """What a backend factory gets from the engine besides the URL."""

    tools: ToolRegistry
    """The engine's tools (a node running one of ``installed_tools`` travels by name)."""
    installed_tools: frozenset[str] = frozenset()
    """Tools that installed (entry-point) plugins provide: a worker with the same plugins
    installed finds them by name, so no code travels for them."""
    max_workers: int = 32
    """The engine's thread count for ``threads://`` (and the driver's own threads)."""
    load_tools: Callable[[], ToolRegistry] | None = None
    """Builds, in a worker process, the tools of the plugins installed there (a picklable
    module-level function; the engine passes its own)."""
    options: dict[str, Any] = field(default_factory=dict)
    """Anything else the engine passes along (reserved)."""


BackendFactory = Callable[[str, BackendContext], NodeRunner]
"""``factory(url, context) -> NodeRunner``."""


class BackendRegistry(Registry[BackendFactory]):
    """Execution backends by URL scheme: ``factory(url, context) -> NodeRunner``."""

    kind = "backend scheme"

    def register(
        self, scheme: str, factory: BackendFactory, description: str | None = None
    ) -> BackendFactory:
        """Register ``factory(url, context)`` for URLs starting ``scheme://``."""
        if not callable(factory):
            raise RegistryError(f"backend scheme '{scheme}' factory is not callable")
        return self._add(scheme, factory, description)

    def create(self, url: str, context: BackendContext) -> NodeRunner:
        """The runner a URL names (``threads://``, ``processes://?workers=4``)."""
        scheme = backend_scheme(url)
        return self.get(scheme)(url, context)


def backend_scheme(url: str) -> str:
    """The scheme of a backend URL; a clear error for one without."""
    scheme, sep, _rest = url.partition("://")
    if not sep or not scheme:
        raise RegistryError(
            f"backend URL {url!r} has no scheme; expected e.g. threads://, "
            "processes://?workers=4 or dask://host:8786"
        )
    return scheme


def url_options(url: str, allowed: dict[str, type]) -> dict[str, Any]:
    """The query options of a backend URL, typed (``?workers=4`` -> ``{"workers": 4}``);
    an unknown option or a bad value is a clear error naming it."""
    parts = urlsplit(url)
    options: dict[str, Any] = {}
    for name, values in parse_qs(parts.query, keep_blank_values=True).items():
        if name not in allowed:
            known = ", ".join(sorted(allowed)) or "none"
            raise RegistryError(f"backend URL {url!r}: unknown option {name!r} (known: {known})")
        kind = allowed[name]
        text = values[-1]
        try:
            value = kind(text)
        except ValueError:
            raise RegistryError(
                f"backend URL {url!r}: option {name}={text!r} is not a {kind.__name__}"
            ) from None
        if kind is int and value < 1:
            raise RegistryError(f"backend URL {url!r}: option {name} must be at least 1")
        options[name] = value
    return options
