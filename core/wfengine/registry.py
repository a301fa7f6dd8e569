"""Typed registries handed to the registration hooks.

A plugin's ``wfengine_register_*`` hook receives a registry and calls its ``register``; the
registry validates the entry, refuses a name that another plugin already took (naming both
plugins) and records which plugin supplied it (shown by ``wf tools`` and ``wf plugins``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from .errors import RegistryError, UnknownNameError, UnknownSettingError
from .expression import Predicate

T = TypeVar("T")

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]*$")


@dataclass(frozen=True, slots=True)
class RegistryEntry(Generic[T]):
    """One registered item: its name, the value, a description and the plugin it came from."""

    name: str
    value: T
    description: str
    plugin: str
    paths: tuple[str, ...] = ()
    """For tools: the state keys and parameters that hold file paths (see ``wfengine.paths``)."""

    def to_dict(self) -> dict[str, Any]:
        """Name, description and plugin (and declared path keys, if any) as JSON data."""
        data: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "plugin": self.plugin,
        }
        if self.paths:
            data["paths"] = list(self.paths)
        return data


class Registry(Generic[T]):
    """Named entries of one kind (``kind`` appears in error messages: "tool", "store")."""

    kind = "entry"

    def __init__(self) -> None:
        self._entries: dict[str, RegistryEntry[T]] = {}
        self.current_plugin = "<direct>"
        """The plugin whose registration hook is running; set by the engine."""

    def _add(self, name: str, value: T, description: str | None, paths: tuple[str, ...] = ()) -> T:
        if not isinstance(name, str) or not _NAME.match(name):
            raise RegistryError(
                f"{self.kind} name {name!r} from plugin '{self.current_plugin}' is invalid: use "
                "letters, digits, '_', '.', ':' or '-', starting with a letter"
            )
        existing = self._entries.get(name)
        if existing is not None:
            raise RegistryError(
                f"{self.kind} '{name}' is registered twice: by plugin '{existing.plugin}' and by "
                f"plugin '{self.current_plugin}'; disable one (WFENGINE_DISABLE_PLUGINS) or "
                "rename the entry"
            )
        text = description if description is not None else _first_doc_line(value)
        self._entries[name] = RegistryEntry(name, value, text, self.current_plugin, paths)
        return value

    def get(self, name: str) -> T:
        """The value registered as ``name``; an error listing close matches when unknown."""
        try:
            return self._entries[name].value
        except KeyError:
            raise self.unknown(name) from None

    def entry(self, name: str) -> RegistryEntry[T]:
        """The full entry (with description and plugin) registered as ``name``."""
        try:
            return self._entries[name]
        except KeyError:
            raise self.unknown(name) from None

    def unknown(self, name: str) -> UnknownNameError:
        """The error for an unknown ``name``, suggesting close matches."""
        close = difflib.get_close_matches(str(name), list(self._entries), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        known = f" (known: {', '.join(sorted(self._entries)) or 'none'})" if not close else ""
        return UnknownNameError(f"unknown {self.kind} '{name}'{hint}{known}")

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._entries)

    def entries(self) -> list[RegistryEntry[T]]:
        """Registered entries, sorted by name."""
        return [self._entries[n] for n in self.names()]

    def unregister_plugin(self, plugin: str) -> None:
        """Drop every entry one plugin supplied (used when its registration hook fails)."""
        for name in [n for n, e in self._entries.items() if e.plugin == plugin]:
            del self._entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)


class ToolRegistry(Registry[Callable[..., Any]]):
    """Tools: named callables. A tool used as a node is called ``tool(state, **params)``."""

    kind = "tool"

    def register(
        self,
        name: str,
        func: Callable[..., Any],
        description: str | None = None,
        *,
        paths: Iterable[str] = (),
    ) -> Callable[..., Any]:
        """Register ``func`` as tool ``name`` (description defaults to its docstring).

        ``paths`` names the state keys and parameters whose values are file paths the tool
        opens (or lists/mappings of them); an engine with ``path_roots`` confines them.
        """
        if not callable(func):
            raise RegistryError(
                f"tool '{name}' from plugin '{self.current_plugin}' is not callable"
            )
        keys = (paths,) if isinstance(paths, str) else tuple(paths)
        if not all(isinstance(k, str) and k for k in keys):
            raise RegistryError(
                f"tool '{name}' from plugin '{self.current_plugin}': paths must be key names, "
                f"got {paths!r}"
            )
        return self._add(name, func, description, keys)

    def paths(self, name: str) -> tuple[str, ...]:
        """The path keys tool ``name`` declared (empty for an unknown tool)."""
        entry = self._entries.get(name)
        return entry.paths if entry is not None else ()

    def path_keys(self) -> frozenset[str]:
        """Every key some registered tool declared as a path."""
        return frozenset(k for e in self._entries.values() for k in e.paths)

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call tool ``name`` with any arguments."""
        return self.get(name)(*args, **kwargs)


ConditionFactory = Callable[..., Predicate]
"""``factory(spec, compile) -> predicate``: ``spec`` is the condition's mapping, ``compile``
turns a nested condition (for combinators) into a predicate."""


class ConditionRegistry(Registry[ConditionFactory]):
    """Condition strategies: factories turning a condition given as data into a predicate."""

    kind = "condition strategy"

    def register(
        self, name: str, factory: ConditionFactory, description: str | None = None
    ) -> ConditionFactory:
        """Register strategy ``name``: ``factory(spec, compile)`` returns ``predicate(state)``."""
        if not callable(factory):
            raise RegistryError(f"condition strategy '{name}' is not callable")
        return self._add(name, factory, description)


StoreFactory = Callable[[str], Any]


class StoreRegistry(Registry[StoreFactory]):
    """Storage backends by URL scheme: ``factory(url) -> Store``."""

    kind = "store scheme"

    def __init__(self) -> None:
        super().__init__()
        self._defaults: dict[str, Callable[[], str]] = {}

    def register(
        self,
        scheme: str,
        factory: StoreFactory,
        description: str | None = None,
        *,
        default_url: Callable[[], str] | None = None,
    ) -> StoreFactory:
        """Register ``factory(url)`` for URLs starting ``scheme://`` (or ``scheme:``).

        ``default_url``: for a durable store, a function giving the URL of a per-user store
        (``wf`` uses the first one registered when no ``--store`` is given).
        """
        if not callable(factory):
            raise RegistryError(f"store scheme '{scheme}' factory is not callable")
        if default_url is not None and not callable(default_url):
            raise RegistryError(f"store scheme '{scheme}': default_url must be callable")
        added = self._add(scheme, factory, description)
        if default_url is not None:
            self._defaults[scheme] = default_url
        return added

    def default_url(self) -> str | None:
        """The per-user store URL of the first store offering one, or ``None``."""
        for scheme, make in self._defaults.items():
            if scheme in self:
                return make()
        return None

    def unregister_plugin(self, plugin: str) -> None:
        for name in [n for n, e in self._entries.items() if e.plugin == plugin]:
            self._defaults.pop(name, None)
        super().unregister_plugin(plugin)

    def open(self, url: str) -> Any:
        """Open the store a URL names (``memory://``, ``sqlite:///runs.db``)."""
        scheme, sep, _rest = url.partition(":")
        if not sep or not scheme:
            raise RegistryError(
                f"store URL {url!r} has no scheme; expected e.g. memory:// or sqlite:///path.db"
            )
        return self.get(scheme)(url)


@runtime_checkable
class GraphLike(Protocol):
    """What the workflow registry takes for a graph (a :class:`wfengine.Graph`), checked by
    its shape: the registry sits below the graph module and does not import it."""

    name: str
    nodes: Mapping[str, Any]
    edges: Any
    entry_point: str | None

    def validate(self) -> list[str]:
        """Check the graph; the warnings."""
        ...


class WorkflowRegistry(Registry[Any]):
    """Ready-made graphs by name: a :class:`~wfengine.Graph` or a zero-argument factory.

    A workflow may declare the state keys it accepts (``settings``: key -> description);
    the initial state and resume patches of its runs may then hold only those keys (see
    :meth:`check_settings`). Without a declaration any key is accepted.
    """

    kind = "workflow"

    def __init__(self) -> None:
        super().__init__()
        self._settings: dict[str, dict[str, str]] = {}

    def register(
        self,
        name: str,
        graph: Any,
        description: str | None = None,
        *,
        settings: Mapping[str, str] | None = None,
    ) -> Any:
        """Register ``graph`` (a Graph, or a callable returning one) as workflow ``name``.

        ``settings`` declares the state keys a run of it accepts, each with a description.
        """
        if not isinstance(graph, GraphLike) and not callable(graph):
            raise RegistryError(f"workflow '{name}' must be a Graph or a callable returning one")
        if settings is not None and (
            not isinstance(settings, Mapping) or not all(isinstance(k, str) for k in settings)
        ):
            raise RegistryError(f"workflow '{name}': settings must map state keys to descriptions")
        value = self._add(name, graph, description)
        if settings is not None:
            self._settings[name] = {k: str(v) for k, v in settings.items()}
        return value

    def settings(self, name: str) -> dict[str, str] | None:
        """The state keys workflow ``name`` declares (key -> description), or None."""
        found = self._settings.get(name)
        return dict(found) if found is not None and name in self._entries else None

    def check_settings(self, name: str, state: Mapping[str, Any] | None, what: str) -> None:
        """Refuse keys of ``state`` that workflow ``name`` does not declare.

        Does nothing for a name that is not a workflow with declared settings. ``what``
        names the state in the message (``initial state``, ``state patch``).
        """
        declared = self.settings(name)
        if declared is None or not state:
            return
        unknown = [str(k) for k in state if k not in declared]
        if unknown:
            keys = ", ".join(repr(k) for k in unknown)
            noun = "setting" if len(unknown) == 1 else "settings"
            raise UnknownSettingError(
                f"workflow '{name}' does not accept {noun} {keys} in the {what}; "
                f"valid settings: {', '.join(sorted(declared))}",
                workflow=name,
                unknown=unknown,
                valid=sorted(declared),
            )

    def unregister_plugin(self, plugin: str) -> None:
        """Drop every entry one plugin supplied, with its settings."""
        super().unregister_plugin(plugin)
        for name in [n for n in self._settings if n not in self._entries]:
            del self._settings[name]

    def build(self, name: str) -> Any:
        """The workflow's graph (built by its factory when one was registered)."""
        value = self.get(name)
        graph = value if isinstance(value, GraphLike) else value()
        if not isinstance(graph, GraphLike):
            raise RegistryError(
                f"workflow '{name}' factory returned {type(graph).__name__}, not a Graph"
            )
        return graph


def _first_doc_line(value: Any) -> str:
    doc = getattr(value, "__doc__", None) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""
