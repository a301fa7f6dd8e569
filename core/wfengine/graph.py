"""Graphs: nodes (functions over the state), edges (with optional conditions), END.

A graph is built fluently and validated before it runs::

    graph = (
        Graph("example")
        .add_node("double", lambda s: {"value": s["value"] * 2})
        .add_node("add", lambda s: {"value": s["value"] + 5})
        .add_edge("double", "add")
        .add_edge("add", END)
        .set_entry_point("double")
    )
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .cache import CachePolicy
from .conditions import builtin_registry, compile_condition
from .errors import GraphValidationError
from .retry import RetryPolicy
from .state import Reducer, resolve_reducer

END = "END"
"""The target that finishes a branch: ``graph.add_edge("last", END)``."""

NodeFunc = Callable[..., Any]
Condition = Callable[[Mapping[str, Any]], Any]


@dataclass(slots=True, eq=False)
class Node:
    """A named step: ``func(state)`` returns the keys it changes (or ``None``)."""

    name: str
    func: NodeFunc
    description: str | None = None
    retry: RetryPolicy | None = None
    timeout: float | None = None
    tool: str | None = None
    """The registered tool this node runs, when it came from a spec."""
    params: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments the tool is called with, when it came from a spec."""
    call: str | None = None
    """The import path (``pkg.mod:func`` or ``/abs/file.py:func``) a spec's ``call:`` node
    runs, instead of a registered tool."""
    is_async: bool = False
    cache: CachePolicy | None = None
    """How the node's results are cached (``None``: not cached); see :mod:`wfengine.cache`."""

    def __post_init__(self) -> None:
        self.is_async = _is_async_callable(self.func)

    def to_dict(self) -> dict[str, Any]:
        """The node as JSON data (the function by its tool name or qualified name)."""
        data: dict[str, Any] = {"name": self.name}
        if self.tool is not None or self.call is not None:
            if self.tool is not None:
                data["tool"] = self.tool
            else:
                data["call"] = self.call
            if self.params:
                data["params"] = dict(self.params)
        else:
            data["func"] = _qualname(self.func)
        if self.description:
            data["description"] = self.description
        if self.retry is not None:
            data["retry"] = self.retry.to_dict()
        if self.timeout is not None:
            data["timeout"] = self.timeout
        if self.cache is not None:
            data["cache"] = {"ttl": self.cache.ttl, "reads": self.cache.reads}
        return data


@dataclass(slots=True, eq=False)
class Edge:
    """From one node (or, for a join, several) to a target, maybe under a condition.

    ``condition`` may be replaced after the edge is added (``edge.condition = lambda s: ...``).
    A ``default`` edge is followed only when no conditional edge of its source fired.
    """

    sources: tuple[str, ...]
    target: str
    condition: Condition | None = None
    default: bool = False
    description: str | None = None
    condition_spec: Any = None
    """The condition as data (from a spec), kept so the graph can be written back."""
    _owner: Graph | None = field(default=None, repr=False)

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        # the owner caches routes; an edge changed after it was added must not route stale
        if name in _ROUTING_FIELDS:
            owner = getattr(self, "_owner", None)
            if owner is not None:
                owner._routes = None

    @property
    def source(self) -> str:
        """The first (for a plain edge, the only) source."""
        return self.sources[0]

    @property
    def is_join(self) -> bool:
        """True for an edge with several sources: its target waits for all of them."""
        return len(self.sources) > 1

    @property
    def label(self) -> str | None:
        """A short human label: the description, the condition as data, or its function."""
        if self.description:
            return self.description
        if self.condition_spec is not None:
            spec = self.condition_spec
            return spec if isinstance(spec, str) else _compact(spec)
        if self.condition is not None:
            return _qualname(self.condition)
        return "default" if self.default else None

    def to_dict(self) -> dict[str, Any]:
        """The edge as JSON data, in the spec's shape (``from``, ``to``, ``when``, ``default``)."""
        data: dict[str, Any] = {
            "from": list(self.sources) if self.is_join else self.source,
            "to": self.target,
        }
        if self.condition_spec is not None:
            data["when"] = self.condition_spec
        elif self.condition is not None:
            data["condition"] = _qualname(self.condition)
        if self.default:
            data["default"] = True
        if self.description:
            data["description"] = self.description
        return data


_ROUTING_FIELDS = frozenset({"sources", "target", "condition", "default"})


@dataclass(slots=True)
class _Routes:
    """A node's outgoing single-source edges, split once for fast routing."""

    conditional: list[Edge]
    always: list[str]
    default: list[str]


class Graph:
    """A directed graph of nodes over a shared state dict."""

    def __init__(
        self,
        name: str = "graph",
        *,
        reducers: Mapping[str, str | Reducer] | None = None,
        max_steps: int | None = None,
        description: str | None = None,
        interrupt_before: Sequence[str] = (),
        interrupt_after: Sequence[str] = (),
    ) -> None:
        self.name = name
        self.interrupt_before = list(interrupt_before)
        """Nodes every run of this graph pauses before (besides the run's own)."""
        self.interrupt_after = list(interrupt_after)
        """Nodes after whose step every run of this graph pauses (besides the run's own)."""
        self.budget: dict[str, float] = {}
        """The budget of every run of this graph (a run's own keys win); see
        :mod:`wfengine.budget`."""
        self.description = description
        self.nodes: dict[str, Node] = {}
        self.edges: list[Edge] = []
        self.entry_point: str | None = None
        self.reducers: dict[str, Reducer] = {}
        self.reducer_names: dict[str, str] = {}
        self.max_steps = max_steps
        self._routes: dict[str, _Routes] | None = None
        self._cached: bool | None = None  # has_cached_nodes(), until a node is added
        self._joins: list[tuple[str, Edge]] = []
        self._has_async = False
        for key, reducer in (reducers or {}).items():
            self.set_reducer(key, reducer)

    def has_cached_nodes(self) -> bool:
        """Whether some node has a cache policy (kept until a node is added)."""
        if self._cached is None:
            self._cached = any(node.cache is not None for node in self.nodes.values())
        return self._cached

    # -- building ------------------------------------------------------------------------

    def add_node(
        self,
        name: str,
        func: NodeFunc,
        *,
        description: str | None = None,
        retry: RetryPolicy | int | Mapping[str, Any] | None = None,
        timeout: float | None = None,
        tool: str | None = None,
        params: Mapping[str, Any] | None = None,
        call: str | None = None,
        cache: bool | Mapping[str, Any] | CachePolicy | None = None,
        reads: Sequence[str] | None = None,
    ) -> Graph:
        """Add node ``name`` running ``func(state)``; ``retry`` and ``timeout`` are per node;
        ``cache`` (``True``, ``{ttl, reads, key}`` or a :class:`~wfengine.cache.CachePolicy`)
        caches its results, keyed by the state keys it ``reads`` (default: the whole state)."""
        if not isinstance(name, str) or not name:
            raise GraphValidationError(
                self.name, [f"node name must be a non-empty string: {name!r}"]
            )
        if name == END:
            raise GraphValidationError(self.name, [f"node name '{END}' is reserved for the end"])
        if name in self.nodes:
            raise GraphValidationError(self.name, [f"duplicate node name '{name}'"])
        if not callable(func):
            raise GraphValidationError(self.name, [f"node '{name}': {func!r} is not callable"])
        if timeout is not None and timeout <= 0:
            raise GraphValidationError(self.name, [f"node '{name}': timeout must be > 0"])
        self.nodes[name] = Node(
            name,
            func,
            description=description,
            retry=RetryPolicy.coerce(retry),
            timeout=timeout,
            tool=tool,
            params=dict(params or {}),
            call=call,
            cache=CachePolicy.coerce(cache, reads),
        )
        self._routes = None
        self._cached = None
        return self

    def add_edge(
        self,
        source: str | Sequence[str],
        target: str,
        *,
        condition: Condition | None = None,
        default: bool = False,
        description: str | None = None,
        when: Any = None,
        condition_spec: Any = None,
    ) -> Graph:
        """Add an edge; a list of sources makes a join that waits for all of them.

        The condition is a callable ``condition(state)``, or ``when``: a condition as data, as
        in a spec (``"count > 3"``, ``{key: count, op: ">", value: 3}``, ``{all: [...]}``),
        compiled with the built-in strategies (a plugin's strategy needs a spec loaded through
        an engine). ``condition_spec`` records the data form of a callable ``condition``.
        """
        sources = (source,) if isinstance(source, str) else tuple(source)
        if not sources:
            raise GraphValidationError(self.name, ["an edge needs at least one source"])
        if when is not None:
            if condition is not None:
                raise GraphValidationError(
                    self.name, [f"edge {'+'.join(sources)} -> {target}: give condition or when"]
                )
            where = f"edges[{len(self.edges)}].when"
            condition = compile_condition(when, builtin_registry(), where=where)
            condition_spec = when
        edge = Edge(sources, target, condition, default, description, condition_spec)
        edge._owner = self
        self.edges.append(edge)
        self._routes = None
        return self

    def set_entry_point(self, name: str) -> Graph:
        """Name the node the run starts at."""
        self.entry_point = name
        return self

    def set_reducer(self, key: str, reducer: str | Reducer) -> Graph:
        """Merge updates of ``key`` with ``reducer`` (a name like ``"append"`` or a callable)."""
        self.reducers[key] = resolve_reducer(reducer)
        self.reducer_names[key] = reducer if isinstance(reducer, str) else _qualname(reducer)
        return self

    # -- reading -------------------------------------------------------------------------

    def edges_from(self, node: str) -> list[Edge]:
        """Every edge with ``node`` among its sources, in the order they were added."""
        return [e for e in self.edges if node in e.sources]

    def get_next_nodes(self, node: str, state: Mapping[str, Any]) -> list[str]:
        """The targets reached from ``node`` given ``state`` (joins excluded; END included).

        Every unconditional edge and every conditional edge whose condition holds is followed;
        ``default`` edges only when no conditional edge fired.
        """
        routes = self._route_table().get(node)
        if routes is None:
            return []
        targets = list(routes.always)
        fired = False
        for edge in routes.conditional:
            if edge.condition is not None and edge.condition(state):
                targets.append(edge.target)
                fired = True
        if not fired and routes.default:
            targets.extend(routes.default)
        return targets

    def _route_table(self) -> dict[str, _Routes]:
        if self._routes is None:
            table: dict[str, _Routes] = {}
            for edge in self.edges:
                if edge.is_join:
                    continue
                routes = table.setdefault(edge.source, _Routes([], [], []))
                if edge.default:
                    routes.default.append(edge.target)
                elif edge.condition is not None:
                    routes.conditional.append(edge)
                else:
                    routes.always.append(edge.target)
            self._joins = [(str(i), e) for i, e in enumerate(self.edges) if e.is_join]
            self._has_async = any(node.is_async for node in self.nodes.values())
            self._routes = table
        return self._routes

    def join_edges(self) -> list[tuple[str, Edge]]:
        """The join edges with their index as text (cached with the routes)."""
        self._route_table()
        return self._joins

    def has_async_nodes(self) -> bool:
        """Whether some node is async (cached with the routes)."""
        self._route_table()
        return self._has_async

    # -- checking ------------------------------------------------------------------------

    def validate(self) -> list[str]:
        """Raise :class:`GraphValidationError` listing every error; return the warnings.

        Errors: no or unknown entry point, an edge naming an unknown node, an edge from
        ``END``, a default edge with a condition. Warnings: nodes the entry point never
        reaches, nodes that can never reach ``END``.
        """
        errors: list[str] = []
        if self.entry_point is None:
            errors.append("no entry point: call set_entry_point(name)")
        elif self.entry_point not in self.nodes:
            errors.append(
                f"entry point '{self.entry_point}' is not a node{self._hint(self.entry_point)}"
            )
        for i, edge in enumerate(self.edges):
            where = f"edge {i} ({'+'.join(edge.sources)} -> {edge.target})"
            for src in edge.sources:
                if src == END:
                    errors.append(f"{where}: an edge cannot start at {END}")
                elif src not in self.nodes:
                    errors.append(f"{where}: unknown source node '{src}'{self._hint(src)}")
            if edge.target != END and edge.target not in self.nodes:
                errors.append(
                    f"{where}: unknown target node '{edge.target}'{self._hint(edge.target)}"
                )
            if edge.default and edge.condition is not None:
                errors.append(f"{where}: a default edge cannot also have a condition")
            if edge.is_join and len(set(edge.sources)) != len(edge.sources):
                errors.append(f"{where}: a join names a source twice")
        if errors:
            raise GraphValidationError(self.name, errors)
        return self._warnings()

    def _warnings(self) -> list[str]:
        warnings: list[str] = []
        forward: dict[str, set[str]] = {n: set() for n in self.nodes}
        backward: dict[str, set[str]] = {n: set() for n in [*self.nodes, END]}
        for edge in self.edges:
            for src in edge.sources:
                forward[src].add(edge.target)
                backward[edge.target].add(src)
        reached = _closure({self.entry_point} if self.entry_point else set(), forward)
        for name in self.nodes:
            if name not in reached:
                warnings.append(f"node '{name}' is unreachable from the entry point")
        finishing = _closure({END}, backward)
        for name in self.nodes:
            if name in reached and name not in finishing:
                warnings.append(f"node '{name}' can never reach {END}")
        return warnings

    def _hint(self, name: str) -> str:
        import difflib

        close = difflib.get_close_matches(name, list(self.nodes), n=3)
        return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""

    # -- exporting -----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The graph as JSON data: name, entry point, nodes, edges, reducers, step limit."""
        data: dict[str, Any] = {
            "name": self.name,
            "entry_point": self.entry_point,
            "nodes": [node.to_dict() for node in self.nodes.values()],
            "edges": [edge.to_dict() for edge in self.edges],
        }
        if self.description:
            data["description"] = self.description
        if self.reducer_names:
            data["reducers"] = dict(self.reducer_names)
        if self.max_steps is not None:
            data["max_steps"] = self.max_steps
        if self.interrupt_before:
            data["interrupt_before"] = list(self.interrupt_before)
        if self.interrupt_after:
            data["interrupt_after"] = list(self.interrupt_after)
        if self.budget:
            data["budget"] = dict(self.budget)
        return data

    def to_mermaid(self, *, direction: str = "TD") -> str:
        """Mermaid flowchart text of the graph; conditional edges carry their condition."""
        ids = {name: f"n{i}" for i, name in enumerate(self.nodes)}
        ids[END] = "END_"
        lines = [f"flowchart {direction}", "    START_([start])"]
        for name, node_id in ids.items():
            if name != END:
                lines.append(f'    {node_id}["{_escape(name)}"]')
        lines.append("    END_([end])")
        if self.entry_point in ids:
            lines.append(f"    START_ --> {ids[self.entry_point]}")
        for edge in self.edges:
            label = edge.label
            arrow = "-.->" if edge.default else "-->"
            text = f'|"{_escape(label)}"|' if label else ""
            for src in edge.sources:
                if src in ids and edge.target in ids:
                    lines.append(f"    {ids[src]} {arrow}{text} {ids[edge.target]}")
        return "\n".join(lines) + "\n"

    def __repr__(self) -> str:
        return f"Graph({self.name!r}, nodes={list(self.nodes)}, edges={len(self.edges)})"


def _closure(start: set[str], links: Mapping[str, set[str]]) -> set[str]:
    seen = set(start)
    todo = list(start)
    while todo:
        for nxt in links.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _is_async_callable(func: Any) -> bool:
    while hasattr(func, "func") and not inspect.isfunction(func):  # functools.partial
        func = func.func
    return inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
        getattr(func, "__call__", None)  # noqa: B004
    )


def _qualname(obj: Any) -> str:
    name = getattr(obj, "__qualname__", None) or type(obj).__qualname__
    module = getattr(obj, "__module__", None)
    return f"{module}.{name}" if module and module != "builtins" else str(name)


def _compact(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"), default=str)


_MERMAID_UNSAFE = re.compile(r'["<>]')


def _escape(text: str) -> str:
    return _MERMAID_UNSAFE.sub(lambda m: f"#{ord(m.group())};", text)
