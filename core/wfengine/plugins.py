"""Plugin discovery: entry points of group ``wfengine``, with per-plugin error isolation.

The entry point's name names the plugin; its value is the module holding the hook
implementations::

    [project.entry-points.wfengine]
    sqlite = "wfengine_sqlite.plugin"

Environment variables choose what loads: ``WFENGINE_LOAD_PLUGINS=a,b`` loads only those
(empty: none), ``WFENGINE_DISABLE_PLUGINS=a,b`` blocks some, ``WFENGINE_STRICT_PLUGINS=1``
turns a broken plugin from a warning into an error (for plugin authors).
"""

from __future__ import annotations

import importlib.metadata as metadata
import warnings
from dataclasses import dataclass, field
from typing import Any

import pluggy

from . import settings
from .errors import PluginLoadError

GROUP = "wfengine"


class PluginWarning(UserWarning):
    """A plugin could not be loaded or registered and was skipped."""


@dataclass(slots=True)
class PluginInfo:
    """A loaded plugin as ``wf plugins`` shows it."""

    name: str
    module: str
    distribution: str | None = None
    version: str | None = None
    hooks: list[str] = field(default_factory=list)
    builtin: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The plugin as JSON data."""
        return {
            "name": self.name,
            "module": self.module,
            "distribution": self.distribution,
            "version": self.version,
            "hooks": list(self.hooks),
            "builtin": self.builtin,
        }


@dataclass(frozen=True, slots=True)
class PluginFailure:
    """A plugin that was skipped: its name and the error."""

    name: str
    error: str
    stage: str
    """``import`` or ``register``."""

    def to_dict(self) -> dict[str, str]:
        """The failure as JSON data."""
        return {"name": self.name, "error": self.error, "stage": self.stage}


def strict() -> bool:
    """True when ``WFENGINE_STRICT_PLUGINS`` asks broken plugins to be errors."""
    return settings.env_flag("WFENGINE_STRICT_PLUGINS")


def report_failure(failure: PluginFailure) -> None:
    """Warn about a skipped plugin, or raise in strict mode."""
    message = f"wfengine plugin '{failure.name}' failed to {failure.stage}: {failure.error}"
    if strict():
        raise PluginLoadError(message)
    warnings.warn(
        message + " (skipped; set WFENGINE_STRICT_PLUGINS=1 to make this an error)",
        PluginWarning,
        stacklevel=3,
    )


def plugin_object(plugin: object) -> object:
    """What to register for ``plugin``: a class is instantiated (with no arguments), once
    per engine, so a plugin with state (an open file, a cache) is never shared between two
    engines; a module or any other object is registered as it is."""
    return plugin() if isinstance(plugin, type) else plugin


def load_entrypoint_plugins(
    pm: pluggy.PluginManager, infos: dict[str, PluginInfo]
) -> list[PluginFailure]:
    """Import and register every selected ``wfengine`` entry point; returns the failures."""
    only = settings.env_list("WFENGINE_LOAD_PLUGINS")
    blocked = set(settings.env_list("WFENGINE_DISABLE_PLUGINS") or [])
    failures: list[PluginFailure] = []
    seen: set[str] = set()
    for ep in metadata.entry_points(group=GROUP):
        if ep.name in seen:  # the same distribution found twice on sys.path
            continue
        seen.add(ep.name)
        if (only is not None and ep.name not in only) or ep.name in blocked:
            continue
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
            continue
        try:
            pm.register(plugin_object(ep.load()), name=ep.name)
        except (Exception, SystemExit) as exc:  # sys.exit() in a plugin must not end `wf`
            failure = PluginFailure(ep.name, f"{type(exc).__name__}: {exc}", "import")
            failures.append(failure)
            report_failure(failure)
            continue
        dist = getattr(ep, "dist", None)
        infos[ep.name] = PluginInfo(
            ep.name,
            ep.value,
            dist.name if dist else None,
            dist.version if dist else None,
        )
    return failures
