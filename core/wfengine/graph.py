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

import copy
import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .cache import CachePolicy
from .compose import MapOver, Router, RouterSends
from .conditions import builtin_registry, compile_condition
from .errors import GraphValidationError, SpecError
from .retry import RetryPolicy
from .state import REDUCERS, Reducer, resolve_reducer

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
    local: bool = False
    """On a remote backend (processes, Dask), run this node in the driver anyway."""
    resources: dict[str, Any] = field(default_factory=dict)
    """What a call of this node needs on a worker (Dask worker resources, e.g.
    ``{"GPU": 1}``); the threads and processes backends ignore it."""
    routes: tuple[str, ...] = ()
    """Where the node may send the run itself (:class:`~wfengine.compose.Command` targets
    and :class:`~wfengine.compose.Send` nodes); validated and drawn."""
    route_map: dict[str, str] | None = None
    """Inside a subgraph: the node's route names as its own graph knows them -> node paths."""
    subgraph: Subgraph | None = None
    """On a subgraph's exit node (named as the subgraph): the graph it runs and its mapping."""
    max_parallel: int | None = None
    """At most this many of the node's :class:`~wfengine.compose.Send` copies run at once
    (``None``: as many as the runner's workers)."""
    cache: CachePolicy | None = None
    """How the node's results are cached (``None``: not cached); see :mod:`wfengine.cache`."""
    router: Router | None = None
    """The routing function on the node's way out (:meth:`Graph.add_router`), if any."""

    def __post_init__(self) -> None:
        self.is_async = _is_async_callable(self.func)

    def to_dict(self, *, strict: bool = False) -> dict[str, Any]:
        """The node as spec data (see :meth:`Graph.to_dict`): a subgraph (``graph``: its
        workflow or graph id, else its spec inline; ``inputs``, ``outputs``), a map node
        (``map``), or its tool or ``call`` with params; then description, retry (only what
        differs from the defaults), timeout, routes and the backend options. A node running a
        Python function is ``{"func": "module.qualname"}``, or a :class:`SpecError` when
        ``strict``."""
        data: dict[str, Any]
        if self.subgraph is not None:
            sub = self.subgraph
            data = {"graph": sub.ref or sub.graph.to_dict(strict=strict)}
            if sub.inputs:
                data["inputs"] = dict(sub.inputs)
            if sub.outputs:
                data["outputs"] = dict(sub.outputs)
            if self.description:
                data["description"] = self.description
            return data
        if isinstance(self.func, MapOver):
            data = {"map": self.func.to_dict()}
            if self.max_parallel is not None:
                data["map"]["max_parallel"] = self.max_parallel
        elif self.tool is None and self.call is None:
            if strict:
                raise SpecError(
                    f"node '{self.name}' runs a Python function, not a registered tool; only "
                    "graphs of tool nodes can be written as a spec",
                    f"nodes.{self.name}",
                )
            data = {"func": _qualname(self.func)}
        else:
            data = {"tool": self.tool} if self.tool is not None else {"call": self.call}
            if self.params:
                data["params"] = copy.deepcopy(self.params)
        if self.description:
            data["description"] = self.description
        if self.retry is not None:
            data["retry"] = self.retry.changed_fields()
        if self.timeout is not None:
            data["timeout"] = self.timeout
        if self.routes and not isinstance(self.func, MapOver):
            data["routes"] = list(self.routes)
        if self.router is not None:
            if strict:
                raise SpecError(
                    f"node '{self.name}' has a Python router ({self.router.name}); a spec "
                    "routes with edge conditions or a node's Command instead",
                    f"nodes.{self.name}",
                )
            data["router"] = {"func": _qualname(self.router.func)}
            data["router"]["targets"] = list(self.router.targets)
            if self.router.max_parallel is not None:
                data["router"]["max_parallel"] = self.router.max_parallel
        if self.local:
            data["local"] = True
        if self.resources:
            data["resources"] = dict(self.resources)
        if self.cache is not None:
            cache: dict[str, Any] = {}
            if self.cache.ttl is not None:
                cache["ttl"] = self.cache.ttl
            if self.cache.reads is not None:
                cache["reads"] = list(self.cache.reads)
            data["cache"] = cache or True
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

    def to_dict(self, index: int = 0, *, strict: bool = False) -> dict[str, Any]:
        """The edge as spec data (``from``, ``to``, ``when``, ``default``, ``description``);
        a Python condition is ``"condition": "module.qualname"``, or a :class:`SpecError`
        (at ``edges[index]``) when ``strict``."""
        if self.condition is not None and self.condition_spec is None and strict:
            raise SpecError(
                f"the edge {'+'.join(self.sources)} -> {self.target} has a Python condition, "
                "not one given as data; only data conditions can be written as a spec",
                f"edges[{index}]",
            )
        data: dict[str, Any] = {
            "from": list(self.sources) if self.is_join else self.source,
            "to": self.target,
        }
        if self.condition_spec is not None:
            data["when"] = copy.deepcopy(self.condition_spec)
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
    fixed: tuple[str, ...] | None = None
    """Without conditional edges: the next step's nodes, always the same (no ``END``, no
    repeats)."""
    router: Router | None = None
    """The node's router (:meth:`Graph.add_router`): its names add to the edges' targets."""
    dispatch: Router | None = None
    """On a router's dispatch node (``source@send``): the router whose sends it runs."""


SEP = "/"
"""Joins a subgraph's name and its nodes' names into node paths (``review/score``)."""
INPUTS = "@in"
"""The node (``review/@in``) that copies a subgraph's ``inputs`` in, when it has some."""


@dataclass(slots=True, eq=False)
class Subgraph:
    """A graph used as a node: ``graph`` (as it was when added), ``ref`` (the workflow or
    stored graph id it was named by, if any), ``inputs`` (``{child key: parent key}``) and
    ``outputs`` (``{parent key: child key}``), and ``entry``: the path of its first node."""

    graph: Graph
    ref: str | None
    inputs: dict[str, str]
    outputs: dict[str, str]
    entry: str


class _CopyKeys:
    """A subgraph's ``inputs`` (at ``name/@in``) or ``outputs`` (at its exit node) as a node
    function: ``{destination: state[source]}``."""

    __slots__ = ("mapping", "__name__", "__qualname__")

    def __init__(self, mapping: Mapping[str, str], what: str) -> None:
        self.mapping = dict(mapping)
        self.__name__ = self.__qualname__ = what

    def __call__(self, state: Mapping[str, Any]) -> dict[str, Any] | None:
        if not self.mapping:
            return None
        return {dest: state[src] for dest, src in self.mapping.items() if src in state}


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
        self._aliases: dict[str, str] = {}  # subgraph name -> the path of its first node
        # the graphs added as subgraphs, nested ones too (objects, not ids: an id is reused
        # once its graph is gone)
        self._contains: list[Graph] = []
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
        routes: Sequence[str] | None = None,
        max_parallel: int | None = None,
        local: bool = False,
        resources: Mapping[str, Any] | None = None,
        cache: bool | Mapping[str, Any] | CachePolicy | None = None,
        reads: Sequence[str] | None = None,
    ) -> Graph:
        """Add node ``name`` running ``func(state)``; ``retry`` and ``timeout`` are per node.

        ``routes``: the nodes (or ``END``) the node may choose itself, by returning a
        :class:`~wfengine.compose.Command` or :class:`~wfengine.compose.Send` objects;
        ``max_parallel`` bounds how many of its ``Send`` copies run at once.
        ``local=True`` keeps the node in the driver on a remote backend; ``resources`` are
        what its calls need on a worker (Dask worker resources; ignored by threads and
        processes). See ``docs/backends.md``.
        ``cache`` (``True``, ``{ttl, reads, key}`` or a :class:`~wfengine.cache.CachePolicy`)
        caches its results, keyed by the state keys it ``reads`` (default: the whole state).
        """
        if not isinstance(name, str) or not name:
            raise GraphValidationError(
                self.name, [f"node name must be a non-empty string: {name!r}"]
            )
        if name == END:
            raise GraphValidationError(self.name, [f"node name '{END}' is reserved for the end"])
        if SEP in name:
            raise GraphValidationError(
                self.name,
                [f"node name '{name}': '{SEP}' is reserved for subgraph node paths (review/score)"],
            )
        if name in self.nodes:
            raise GraphValidationError(self.name, [f"duplicate node name '{name}'"])
        if isinstance(func, Graph):
            return self.add_subgraph(name, func, description=description)
        if not callable(func):
            raise GraphValidationError(self.name, [f"node '{name}': {func!r} is not callable"])
        if timeout is not None and timeout <= 0:
            raise GraphValidationError(self.name, [f"node '{name}': timeout must be > 0"])
        if isinstance(routes, str):
            routes = [routes]
        if max_parallel is not None and (
            isinstance(max_parallel, bool) or not isinstance(max_parallel, int) or max_parallel < 1
        ):
            raise GraphValidationError(
                self.name, [f"node '{name}': max_parallel must be a positive integer"]
            )
        if isinstance(func, MapOver) and func.node not in (routes or ()):
            routes = [*(routes or ()), func.node]
        self.nodes[name] = Node(
            name,
            func,
            description=description,
            retry=RetryPolicy.coerce(retry),
            timeout=timeout,
            tool=tool,
            params=dict(params or {}),
            call=call,
            local=bool(local),
            resources=dict(resources or {}),
            routes=tuple(routes or ()),
            max_parallel=max_parallel,
            cache=CachePolicy.coerce(cache, reads),
        )
        self._routes = None
        self._cached = None
        return self

    def add_subgraph(
        self,
        name: str,
        graph: Graph,
        *,
        inputs: Mapping[str, str] | None = None,
        outputs: Mapping[str, str] | None = None,
        ref: str | None = None,
        description: str | None = None,
    ) -> Graph:
        """Add ``graph`` as node ``name``: a run reaching ``name`` runs ``graph``'s nodes as
        part of this run (node paths ``name/node``, this run's steps, limits, store and
        hooks), then follows ``name``'s edges.

        The child shares this run's state: by default it sees the parent's keys and its
        writes land in the parent's state. ``inputs`` (``{child key: parent key}``) copies
        keys in first; ``outputs`` (``{parent key: child key}``) copies keys back at the end.
        The graph is copied when added (later changes to it are not seen); ``ref`` records
        the workflow or stored graph id it was named by. See ``docs/composition.md``.
        """
        if not isinstance(name, str) or not name or SEP in name or name == END:
            raise GraphValidationError(
                self.name, [f"subgraph name must be a node name without '{SEP}': {name!r}"]
            )
        if name in self.nodes:
            raise GraphValidationError(self.name, [f"duplicate node name '{name}'"])
        if graph is self or any(inner is self for inner in graph._contains):
            raise GraphValidationError(
                self.name,
                [f"subgraph '{name}': graph '{graph.name}' contains '{self.name}' itself"],
            )
        try:
            graph.validate()
        except GraphValidationError as exc:
            raise GraphValidationError(
                self.name, [f"subgraph '{name}': {p}" for p in exc.problems]
            ) from None
        for what, mapping in (("inputs", inputs), ("outputs", outputs)):
            if mapping is not None and not (
                isinstance(mapping, Mapping)
                and all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items())
            ):
                raise GraphValidationError(
                    self.name, [f"subgraph '{name}': {what} must map state keys to state keys"]
                )
        for key, reducer in graph.reducers.items():
            if key in self.reducers and self.reducers[key] is not reducer:
                raise GraphValidationError(
                    self.name,
                    [
                        f"subgraph '{name}': key '{key}' has reducer "
                        f"{graph.reducer_names[key]} there and {self.reducer_names[key]} here"
                    ],
                )
        prefix = name + SEP

        def path(target: str) -> str:
            return name if target == END else prefix + target

        for key, reducer in graph.reducers.items():
            self.reducers[key] = reducer
            self.reducer_names[key] = graph.reducer_names[key]
        for child in graph.nodes.values():
            routes = {
                local: path(graph.resolve(r) if child.route_map is None else r)
                for local, r in (child.route_map or {r: r for r in child.routes}).items()
            }
            inner = child.subgraph
            # every other setting of the node (retry, cache, local, resources...) comes along
            self.nodes[prefix + child.name] = replace(
                child,
                name=prefix + child.name,
                routes=tuple(routes.values()),
                route_map=routes,
                router=None
                if child.router is None
                else Router(
                    prefix + child.name,
                    child.router.func,
                    child.router.targets,
                    child.router.max_parallel,
                ),
                subgraph=None
                if inner is None
                else Subgraph(
                    inner.graph, inner.ref, inner.inputs, inner.outputs, prefix + inner.entry
                ),
            )
        for edge in graph.edges:
            self.add_edge(
                [prefix + s for s in edge.sources],
                path(edge.target),
                condition=edge.condition,
                default=edge.default,
                description=edge.description,
                condition_spec=edge.condition_spec,
            )
        for alias, entry in graph._aliases.items():
            self._aliases[prefix + alias] = prefix + entry
        assert graph.entry_point is not None  # validated
        entry = prefix + graph._aliases.get(graph.entry_point, graph.entry_point)
        if inputs:
            first = prefix + INPUTS
            self.nodes[first] = Node(first, _CopyKeys(inputs, f"inputs of {name}"))
            self.add_edge(first, entry)
            entry = first
        self._aliases[name] = entry
        self.nodes[name] = Node(
            name,
            _CopyKeys(outputs or {}, f"outputs of {name}"),
            description=description,
            subgraph=Subgraph(graph, ref, dict(inputs or {}), dict(outputs or {}), entry),
        )
        self._contains.extend([graph, *graph._contains])
        self._routes = None
        return self

    def resolve(self, name: str) -> str:
        """The node a run goes to for ``name``: a subgraph's first node, else ``name``."""
        return self._aliases.get(name, name)

    def _edge_target(self, edge: Edge) -> str:
        """Where ``edge`` leads: into a subgraph (its first node) from outside it; to its
        exit node (named as the subgraph) from inside it."""
        target = edge.target
        entry = self._aliases.get(target)
        if entry is None or edge.sources[0].startswith(target + SEP):
            return target
        return entry

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

    def add_router(
        self,
        source: str,
        router: Callable[[Mapping[str, Any]], Any],
        targets: Sequence[str],
        *,
        max_parallel: int | None = None,
    ) -> Graph:
        """Route from ``source`` with a function (LangGraph's ``add_conditional_edges``).

        After ``source``'s step, ``router(state)`` returns a node name (or ``END``), a
        :class:`~wfengine.compose.Send`, or a list mixing them. Names join ``source``'s other
        next nodes (its edges still fire). Sends fan out: in the next step, the dispatch node
        ``source@send`` runs one copy of each send's node (state overlaid with its item, at
        most ``max_parallel`` at a time, updates merged in input order), and then the copies'
        own edges fire once, as the join; an empty list is a map over zero items (the join
        fires). ``targets`` declares every node the router may name or send to (validated,
        drawn); anything else fails the run naming the node and the target. A node has at
        most one router. See ``docs/composition.md``.
        """
        if source not in self.nodes:
            raise GraphValidationError(
                self.name, [f"router on '{source}': add the node before its router"]
            )
        node = self.nodes[source]
        if node.router is not None:
            raise GraphValidationError(
                self.name, [f"node '{source}' already has a router ({node.router.name})"]
            )
        if not callable(router):
            raise GraphValidationError(
                self.name, [f"router on '{source}': {router!r} is not callable"]
            )
        if isinstance(targets, str):
            targets = [targets]
        if not targets or not all(isinstance(t, str) and t for t in targets):
            raise GraphValidationError(
                self.name,
                [f"router on '{source}': targets must list the nodes (or END) it may choose"],
            )
        if max_parallel is not None and (
            isinstance(max_parallel, bool) or not isinstance(max_parallel, int) or max_parallel < 1
        ):
            raise GraphValidationError(
                self.name, [f"router on '{source}': max_parallel must be a positive integer"]
            )
        made = Router(source, router, targets, max_parallel)
        if made.dispatch in self.nodes:
            raise GraphValidationError(
                self.name,
                [f"router on '{source}': its dispatch node '{made.dispatch}' is taken by a node"],
            )
        node.router = made
        self.nodes[made.dispatch] = Node(
            made.dispatch,
            RouterSends(made),
            description=f"runs the sends of {made.name}",
            routes=made.targets,
            max_parallel=max_parallel,
            local=True,  # routing code: the driver runs it, a remote backend the copies
        )
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
        ``default`` edges only when no conditional edge fired; then the names the node's
        router returns, and its dispatch node (``node@send``) when the router sends.
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
        router = routes.router
        if router is not None:
            names, sends = router.decide(state)
            mapped = self.nodes[router.dispatch].route_map
            targets.extend(mapped.get(n, n) if mapped else self.resolve(n) for n in names)
            if sends is not None:
                targets.append(router.dispatch)
        return targets

    def _route_table(self) -> dict[str, _Routes]:
        if self._routes is None:
            table: dict[str, _Routes] = {}
            for edge in self.edges:
                if edge.is_join:
                    continue
                routes = table.setdefault(edge.source, _Routes([], [], []))
                target = self._edge_target(edge)
                if edge.default:
                    routes.default.append(target)
                elif edge.condition is not None:
                    routes.conditional.append(_aimed(edge, target))
                else:
                    routes.always.append(target)
            for node in self.nodes.values():
                if node.router is not None:
                    table.setdefault(node.name, _Routes([], [], [])).router = node.router
                    table[node.router.dispatch] = _Routes([], [], [], (), None, node.router)
            for routes in table.values():
                if not routes.conditional and routes.router is None and routes.dispatch is None:
                    targets = (*routes.always, *routes.default)
                    routes.fixed = tuple(dict.fromkeys(t for t in targets if t != END))
            self._joins = [
                (str(i), _aimed(e, self._edge_target(e)))
                for i, e in enumerate(self.edges)
                if e.is_join
            ]
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
        for name, node in self.nodes.items():
            if node.router is not None and node.route_map is None:
                for target in node.router.targets:
                    if target != END and target not in self.nodes:
                        errors.append(
                            f"router {node.router.name} on '{name}': unknown target "
                            f"'{target}'{self._hint(target)}"
                        )
            if isinstance(node.func, RouterSends):
                continue  # its routes are its router's targets, checked above
            for target in node.routes:
                if target != END and target not in self.nodes:
                    errors.append(
                        f"node '{name}': unknown route target '{target}'{self._hint(target)}"
                    )
        if errors:
            raise GraphValidationError(self.name, errors)
        return self._warnings()

    def _warnings(self) -> list[str]:
        warnings: list[str] = []
        forward: dict[str, set[str]] = {n: set() for n in self.nodes}
        backward: dict[str, set[str]] = {n: set() for n in [*self.nodes, END]}
        for edge in self.edges:
            target = self._edge_target(edge)
            for src in edge.sources:
                forward[src].add(target)
                backward[target].add(src)
        sources = {s for e in self.edges for s in e.sources}
        for name, node in self.nodes.items():
            if isinstance(node.func, RouterSends):
                # the copies' own edges are the join: no way back to the dispatch node
                for target in node.routes:
                    target = self.resolve(target) if node.route_map is None else target
                    if target in forward:
                        forward[name].add(target)
                        backward[target].add(name)
                continue
            if node.router is not None:  # the source reaches its dispatch node and targets
                forward[name].add(node.router.dispatch)
                backward[node.router.dispatch].add(name)
                for target in self.nodes[node.router.dispatch].routes:
                    target = self.resolve(target) if node.route_map is None else target
                    if target in forward or target == END:
                        forward[name].add(target)
                        backward[target].add(name)
            for target in node.routes:
                if node.route_map is None:
                    target = self.resolve(target)
                if target in forward or target == END:
                    forward[name].add(target)
                    backward[target].add(name)
                    if target not in sources and target != END:
                        # a Send target without edges of its own returns to its sender
                        backward[name].add(target)
        reached = _closure({self.resolve(self.entry_point)} if self.entry_point else set(), forward)
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

    def to_dict(self, *, strict: bool = False) -> dict[str, Any]:
        """The graph as data in the spec's shape (what :func:`~wfengine.spec.load_spec`
        reads): the one way a graph becomes data, for specs, the REST API and the CLI.

        Python parts are written by qualified name (a node's ``func``, an edge's
        ``condition``, a callable reducer), which no spec can load back; ``strict=True``
        (:func:`~wfengine.spec.dump_spec`) refuses them with a :class:`SpecError` naming the
        node, edge or key.
        """
        data: dict[str, Any] = {"name": self.name}
        if self.description:
            data["description"] = self.description
        if self.entry_point is not None:
            data["entry"] = self.entry_point
        if self.max_steps is not None:
            data["max_steps"] = self.max_steps
        if self.interrupt_before:
            data["interrupt_before"] = list(self.interrupt_before)
        if self.interrupt_after:
            data["interrupt_after"] = list(self.interrupt_after)
        if self.budget:
            data["budget"] = dict(self.budget)
        if self.reducer_names:
            if strict:
                for key, name in self.reducer_names.items():
                    if name not in REDUCERS:
                        raise SpecError(
                            f"reducer {name} is a Python callable, not a named reducer; only "
                            f"{', '.join(REDUCERS)} can be written to a spec",
                            f"reducers.{key}",
                        )
            data["reducers"] = dict(self.reducer_names)
        # a subgraph is written as its node: its flattened nodes (``name/child``) are not
        data["nodes"] = {
            name: node.to_dict(strict=strict)
            for name, node in self.nodes.items()
            if SEP not in name and not isinstance(node.func, RouterSends)
        }
        data["edges"] = [
            edge.to_dict(i, strict=strict)
            for i, edge in enumerate(self.edges)
            if SEP not in edge.sources[0]
        ]
        return data

    def to_mermaid(self, *, direction: str = "TD") -> str:
        """Mermaid flowchart text of the graph; conditional edges carry their condition."""
        ids = {name: f"n{i}" for i, name in enumerate(self.nodes)}
        ids[END] = "END_"
        lines = [f"flowchart {direction}", "    START_([start])"]
        self._mermaid_nodes("", ids, lines, "    ")
        lines.append("    END_([end])")
        if self.entry_point in ids:
            lines.append(f"    START_ --> {ids[self.resolve(self.entry_point)]}")
        for edge in self.edges:
            label = edge.label
            arrow = "-.->" if edge.default else "-->"
            text = f'|"{_escape(label)}"|' if label else ""
            target = self._edge_target(edge)
            for src in edge.sources:
                if src in ids and target in ids:
                    lines.append(f"    {ids[src]} {arrow}{text} {ids[target]}")
        for name, node in self.nodes.items():
            if isinstance(node.func, RouterSends):  # drawn as its router's arrows
                continue
            if node.router is not None:
                dispatch = self.nodes[node.router.dispatch]
                label = _escape(node.router.name)
                for target in node.router.targets:
                    if dispatch.route_map is not None:
                        target = dispatch.route_map.get(target, target)
                    else:
                        target = self.resolve(target)
                    if target in ids:
                        lines.append(f'    {ids[name]} -.->|"{label}"| {ids[target]}')
            kind = "map" if isinstance(node.func, MapOver) else "route"
            for target in node.routes:
                if node.route_map is None:
                    target = self.resolve(target)
                if target in ids:
                    lines.append(f'    {ids[name]} -.->|"{kind}"| {ids[target]}')
        return "\n".join(lines) + "\n"

    def _mermaid_nodes(
        self, prefix: str, ids: Mapping[str, str], lines: list[str], indent: str
    ) -> None:
        """Declare the nodes directly under ``prefix``; a subgraph as a ``subgraph`` block
        holding its nodes, its exit node (``name: done``) last."""
        for name, node in self.nodes.items():
            if not name.startswith(prefix) or SEP in name[len(prefix) :]:
                continue
            if isinstance(node.func, RouterSends):
                continue
            if node.subgraph is None:
                lines.append(f'{indent}{ids[name]}["{_escape(name[len(prefix) :])}"]')
                continue
            local = name[len(prefix) :]
            lines.append(f'{indent}subgraph {ids[name]}_sg["{_escape(local)}"]')
            self._mermaid_nodes(name + SEP, ids, lines, indent + "    ")
            lines.append(f'{indent}    {ids[name]}(["{_escape(local)}: done"])')
            lines.append(f"{indent}end")

    def __repr__(self) -> str:
        return f"Graph({self.name!r}, nodes={list(self.nodes)}, edges={len(self.edges)})"


def _aimed(edge: Edge, target: str) -> Edge:
    """``edge``, or a routing copy of it going to ``target`` (a subgraph's first node)."""
    if target == edge.target:
        return edge
    return Edge(edge.sources, target, edge.condition, edge.default, edge.description)


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
