"""The typed hook facade: every call of a ``wfengine_*`` hook goes through :class:`Hooks`.

One method per hook, with its typed arguments (tox's ``tox/plugin/manager.py`` pattern), so
callers never touch ``pm.hook`` or hook implementations, and pluggy's semantics hold:

* **Wrappers and monitoring.** When a lifecycle hook has a ``wrapper``/``hookwrapper``
  implementation, or hook calls are monitored (``pm.add_hookcall_monitoring``,
  ``pm.enable_tracing``), the facade calls it through ``pm.hook.*``, so the wrapper sees the
  call and the monitor sees every call. Otherwise (plain implementations only, the usual
  case) it calls each implementation directly, which changes nothing observable and costs
  a fraction of pluggy's per-call machinery (:mod:`wfengine.lifecycle`). The choice is made
  again whenever a plugin is registered or unregistered, or monitoring changes, including
  through ``engine.pm`` directly (:class:`PluginManager` tells the facade).
* **Isolation.** Lifecycle hooks are observers: an exception in one implementation is
  logged (once per plugin, hook and exception type, then counted) and the others still run,
  on both paths; on the pluggy path each plain implementation is wrapped to that end.
* **Registration once per plugin.** Registration hooks run for each plugin when it is
  registered (a plugin added later is replayed alone, through pluggy, restricted to it);
  if one raises, everything that plugin registered is withdrawn and it is reported.
* **Misspelt hooks.** A ``@hookimpl`` whose name is no hook specification
  (``wfengine_node_finshed``) makes its plugin fail to load, with the hook named and the
  closest real hook suggested (a warning, or an error with ``WFENGINE_STRICT_PLUGINS=1``).
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import pluggy

from . import hookspecs
from .lifecycle import HookFailures, LifecycleDispatch, lifecycle_table
from .markers import PROJECT
from .run import EventType, WorkflowRun

if TYPE_CHECKING:
    import click

    from .backends import BackendRegistry
    from .registry import (
        ConditionRegistry,
        Registry,
        StoreRegistry,
        ToolRegistry,
        WorkflowRegistry,
    )

LIFECYCLE_HOOKS = (
    "wfengine_run_started",
    "wfengine_node_started",
    "wfengine_node_finished",
    "wfengine_node_failed",
    "wfengine_node_progress",
    "wfengine_run_finished",
)
REGISTRATION_HOOKS = (
    "wfengine_register_stores",
    "wfengine_register_backends",
    "wfengine_register_conditions",
    "wfengine_register_tools",
    "wfengine_register_workflows",
)
_EVENT_OF = {
    "wfengine_run_started": EventType.RUN_STARTED,
    "wfengine_node_started": EventType.NODE_STARTED,
    "wfengine_node_finished": EventType.NODE_FINISHED,
    "wfengine_node_failed": EventType.NODE_FAILED,
    "wfengine_node_progress": EventType.NODE_PROGRESS,
    "wfengine_run_finished": EventType.RUN_FINISHED,
}


class PluginManager(pluggy.PluginManager):
    """A pluggy ``PluginManager`` that tells its listeners when plugins or monitoring change.

    So a plugin registered directly on ``engine.pm`` takes part like one given to the
    engine, and monitoring added later is honoured.
    """

    def __init__(self, project_name: str = PROJECT) -> None:
        super().__init__(project_name)
        self.listeners: list[Callable[[str, str | None], None]] = []
        """Called as ``listener(change, plugin_name)``; change is ``register``,
        ``unregister`` or ``monitoring``."""
        self.monitors = 0
        """How many hook call monitors are active."""

    def register(self, plugin: object, name: str | None = None) -> str | None:
        registered = super().register(plugin, name)
        if registered is not None:
            self._tell("register", registered)
        return registered

    def unregister(self, plugin: object | None = None, name: str | None = None) -> Any:
        if name is None and plugin is not None:
            name = self.get_name(plugin)
        removed = super().unregister(plugin, name)
        if removed is not None:
            self._tell("unregister", name)
        return removed

    def add_hookcall_monitoring(self, before: Any, after: Any) -> Callable[[], None]:
        undo = super().add_hookcall_monitoring(before, after)
        self.monitors += 1
        self._tell("monitoring", None)

        def undo_and_tell() -> None:
            undo()
            self.monitors -= 1
            self._tell("monitoring", None)

        return undo_and_tell

    def _tell(self, change: str, name: str | None) -> None:
        for listener in list(self.listeners):
            listener(change, name)


class Hooks:
    """Calls the ``wfengine_*`` hooks of one plugin manager: the only place that does.

    ``failures`` records plugins whose registration failed (the engine reports them);
    ``dispatch`` is the lifecycle observer the executor calls (``None`` when no plugin
    implements a lifecycle hook: then the executor pays nothing for hooks).
    """

    def __init__(self, pm: PluginManager, on_failure: Callable[[str, BaseException], None]):
        self.pm = pm
        self.on_failure = on_failure
        self.hook_failures = HookFailures()
        self.dispatch: LifecycleDispatch | None = None
        self.refresh()

    # -- lifecycle (observers) ---------------------------------------------------------------

    def run_started(self, run: WorkflowRun) -> None:
        """``wfengine_run_started(run)``."""
        if self.dispatch is not None:
            self.dispatch.run_started(run)

    def node_started(self, run: WorkflowRun, node: str, state: Any, attempt: int) -> None:
        """``wfengine_node_started(run, node, state, attempt)``."""
        if self.dispatch is not None:
            self.dispatch.node_started(run, node, state, attempt)

    def node_finished(
        self, run: WorkflowRun, node: str, update: Any, duration: float, attempt: int
    ) -> None:
        """``wfengine_node_finished(run, node, update, duration, attempt)``."""
        if self.dispatch is not None:
            self.dispatch.node_finished(run, node, update, duration, attempt)

    def node_failed(
        self, run: WorkflowRun, node: str, error: BaseException, attempt: int, will_retry: bool
    ) -> None:
        """``wfengine_node_failed(run, node, error, attempt, will_retry)``."""
        if self.dispatch is not None:
            self.dispatch.node_failed(run, node, error, attempt, will_retry)

    def node_progress(self, run: WorkflowRun, node: str, kind: str, data: Any) -> None:
        """``wfengine_node_progress(run, node, kind, data)``."""
        if self.dispatch is not None:
            self.dispatch.node_progress(run, node, kind, data)

    def run_finished(self, run: WorkflowRun) -> None:
        """``wfengine_run_finished(run)``."""
        if self.dispatch is not None:
            self.dispatch.run_finished(run)

    # -- registration ------------------------------------------------------------------------

    def register_stores(self, registry: StoreRegistry, plugin: str) -> None:
        """``wfengine_register_stores(registry)`` of one plugin."""
        self._register("wfengine_register_stores", plugin, registry=registry)

    def register_backends(self, registry: BackendRegistry, plugin: str) -> None:
        """``wfengine_register_backends(registry)`` of one plugin."""
        self._register("wfengine_register_backends", plugin, registry=registry)

    def register_conditions(self, registry: ConditionRegistry, plugin: str) -> None:
        """``wfengine_register_conditions(registry)`` of one plugin."""
        self._register("wfengine_register_conditions", plugin, registry=registry)

    def register_tools(self, registry: ToolRegistry, plugin: str) -> None:
        """``wfengine_register_tools(registry)`` of one plugin."""
        self._register("wfengine_register_tools", plugin, registry=registry)

    def register_workflows(self, registry: WorkflowRegistry, plugin: str) -> None:
        """``wfengine_register_workflows(registry)`` of one plugin."""
        self._register("wfengine_register_workflows", plugin, registry=registry)

    def register_commands(self, cli: click.Group) -> None:
        """``wfengine_register_commands(cli)``, each plugin isolated."""
        for plugin in self._implementers("wfengine_register_commands"):
            try:
                self._register("wfengine_register_commands", plugin, cli=cli)
            except (Exception, SystemExit) as exc:
                self.on_failure(plugin, exc)

    def register_plugin_entries(
        self, plugin: str, registries: Iterable[tuple[str, Registry[Any]]]
    ) -> bool:
        """Run one plugin's registration hooks into ``registries`` (``(hook, registry)``
        pairs); on a failure withdraw what it registered, report it and return False."""
        done: list[Registry[Any]] = []
        for hook_name, registry in registries:
            done.append(registry)
            registry.current_plugin = plugin
            try:
                self._register(hook_name, plugin, registry=registry)
            except (Exception, SystemExit) as exc:
                for each in done:
                    each.unregister_plugin(plugin)
                self.on_failure(plugin, exc)
                return False
            finally:
                registry.current_plugin = "<direct>"
        return True

    def _register(self, hook_name: str, plugin: str, **kwargs: Any) -> None:
        if plugin not in self._implementers(hook_name):
            return
        others = [p for name, p in self.pm.list_name_plugin() if name != plugin]
        self.pm.subset_hook_caller(hook_name, remove_plugins=others)(**kwargs)

    def _implementers(self, hook_name: str) -> list[str]:
        caller = getattr(self.pm.hook, hook_name)
        return [impl.plugin_name for impl in caller.get_hookimpls()]

    # -- keeping up with the plugin manager --------------------------------------------------

    def unknown_hooks(self, plugin: str) -> list[str]:
        """The hook implementations of ``plugin`` that match no specification, explained."""
        found = []
        obj = self.pm.get_plugin(plugin)
        for caller in self.pm.get_hookcallers(obj) or [] if obj is not None else []:
            if caller.has_spec():
                continue
            for impl in caller.get_hookimpls():
                if impl.plugin_name == plugin and not impl.optionalhook:
                    close = difflib.get_close_matches(caller.name, _SPEC_NAMES, n=1)
                    hint = f"; did you mean '{close[0]}'?" if close else ""
                    found.append(f"'{caller.name}' is not a wfengine hook{hint}")
        return found

    def refresh(self) -> None:
        """Choose each lifecycle hook's path again (plain: direct; else through pluggy)."""
        monitored = self.pm.monitors > 0
        table = lifecycle_table(self.pm)  # the direct callers of plain implementations
        via_pluggy: dict[EventType, Any] = {}
        for hook_name in LIFECYCLE_HOOKS:
            impls = getattr(self.pm.hook, hook_name).get_hookimpls()
            if not impls:
                continue
            if monitored or any(i.wrapper or i.hookwrapper for i in impls):
                for impl in impls:
                    if not (impl.wrapper or impl.hookwrapper):
                        _isolate(impl, hook_name, self.hook_failures)
                via_pluggy[_EVENT_OF[hook_name]] = self._pluggy_caller(hook_name)
        self.dispatch = LifecycleDispatch(table, self.hook_failures, via_pluggy) if table else None

    def _pluggy_caller(self, hook_name: str) -> Callable[..., None]:
        caller = getattr(self.pm.hook, hook_name)
        names = _SPEC_ARGS[hook_name]
        failures = self.hook_failures

        def call(args: tuple[Any, ...]) -> None:
            try:
                caller(**dict(zip(names, args, strict=True)))
            except (Exception, SystemExit) as exc:  # a wrapper failed: still an observer
                failures.record("<wrapper>", hook_name, exc)

        return call


_SPEC_NAMES = [n for n in dir(hookspecs) if n.startswith("wfengine_")]
_SPEC_ARGS = {
    "wfengine_run_started": ("run",),
    "wfengine_node_started": ("run", "node", "state", "attempt"),
    "wfengine_node_finished": ("run", "node", "update", "duration", "attempt"),
    "wfengine_node_failed": ("run", "node", "error", "attempt", "will_retry"),
    "wfengine_node_progress": ("run", "node", "kind", "data"),
    "wfengine_run_finished": ("run",),
}


def _isolate(impl: pluggy.HookImpl, hook_name: str, failures: HookFailures) -> None:
    """Make a plain lifecycle implementation log its exceptions instead of raising them, so
    on pluggy's path one failing observer does not stop the others."""
    function = impl.function
    if getattr(function, "__wfengine_isolated__", False):
        return

    @functools.wraps(function)
    def isolated(*args: Any) -> Any:
        try:
            return function(*args)
        except (Exception, SystemExit) as exc:
            failures.record(impl.plugin_name, hook_name, exc)
            return None

    isolated.__wfengine_isolated__ = True  # type: ignore[attr-defined]
    # HookImpl.function is public but typed Final: pluggy offers no other way to isolate one
    # implementation from the next on its own call path (a wrapper cannot: the first raise
    # ends pluggy's loop over the implementations)
    impl.function = isolated  # type: ignore[misc]
