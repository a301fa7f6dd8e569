"""Built-in behaviour, registered through the same hooks as external plugins."""

from __future__ import annotations

from types import ModuleType


def builtin_plugins() -> list[tuple[str, ModuleType]]:
    """``(name, module)`` of every built-in plugin, in registration order."""
    from . import backends, conditions, stores

    return [
        ("wfengine.stores", stores),
        ("wfengine.conditions", conditions),
        ("wfengine.backends", backends),
    ]
