"""Declarative graph specs: JSON or YAML data to and from a :class:`~wfengine.graph.Graph`.

A spec names registered tools and gives conditions as data (see :mod:`wfengine.conditions`)::

    name: data-quality
    description: optional text
    entry: load
    max_steps: 200
    interrupt_after: [load]            # pause after these nodes (interrupt_before: before)
    budget: {steps: 500, seconds: 600}  # pause (not fail) when a total is reached
    reducers: {issues: extend}
    nodes:
      load:   {tool: dq.load, params: {sep: ","}, retry: {max_attempts: 3}, timeout: 60}
      report: {tool: dq.report, description: "write the report"}
    edges:
      - {from: load, to: report, when: "anomaly_count > threshold"}
      - {from: load, to: END, default: true}
      - {from: [a, b], to: c}          # a join: c runs once a and b have finished

A node ``{tool: NAME, params: {...}}`` runs ``tool(state, **params)``. :func:`load_spec`
checks everything before a graph exists and raises :class:`~wfengine.errors.SpecError` saying
what is wrong and where (``edges[3].to: unknown node 'reprot'; did you mean 'report'?``,
``spec.yaml: line 7: ...``). :func:`dump_spec` writes a graph back in the same format.
"""

from __future__ import annotations

import copy
import difflib
import functools
import inspect
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from . import settings
from .budget import check_budget
from .cache import CachePolicy
from .compose import MapOver
from .conditions import compile_condition
from .errors import (
    GraphValidationError,
    SpecError,
    SpecLimitError,
    UnknownNameError,
    WorkflowError,
)
from .graph import END, Graph
from .nesting import MAX_DEPTH, check_depth
from .registry import ConditionRegistry, ToolRegistry
from .retry import RetryPolicy
from .state import REDUCERS

TOP_LEVEL_KEYS = (
    "name",
    "description",
    "entry",
    "max_steps",
    "interrupt_before",
    "interrupt_after",
    "budget",
    "reducers",
    "nodes",
    "edges",
)
NODE_KEYS = (
    "tool",
    "call",
    "map",
    "graph",
    "inputs",
    "outputs",
    "params",
    "description",
    "retry",
    "timeout",
    "local",
    "resources",
    "routes",
    "cache",
    "reads",
)
MAP_KEYS = ("over", "as", "node", "max_parallel")
EDGE_KEYS = ("from", "to", "when", "default", "description")
SPEC_SUFFIXES = (".yaml", ".yml", ".json")

SpecSource = Mapping[str, Any] | str | os.PathLike[str]

GraphResolver = Callable[[str], Graph]
"""Finds the graph a spec's ``graph: NAME`` names (a registered workflow or stored graph id);
raises :class:`~wfengine.errors.UnknownNameError` or :class:`SpecError`."""


class ToolCall(functools.partial):  # type: ignore[type-arg]
    """A spec node's function: ``tool(state, **params)``, showing the tool's name in reprs.

    A :class:`functools.partial`, so an async tool stays recognisably async for the executor.
    """

    tool_name: str

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.keywords.items())
        return f"ToolCall({self.tool_name!r}{', ' if args else ''}{args})"


def tool_call(name: str, func: Callable[..., Any], params: Mapping[str, Any]) -> ToolCall:
    """The node function running tool ``name`` (``func``) as ``func(state, **params)``."""
    call = ToolCall(func, **params)
    call.tool_name = name
    return call


# -- reading -------------------------------------------------------------------------------


def read_spec(source: SpecSource) -> tuple[dict[str, Any], str | None]:
    """The spec's data and its file name (``None`` unless read from a file).

    ``source`` is a mapping, a YAML or JSON string, or a path to a ``.yaml``, ``.yml`` or
    ``.json`` file (a string without a newline that ends in one of those is a path).
    """
    if isinstance(source, Mapping):
        return dict(source), None
    if isinstance(source, os.PathLike) or (
        isinstance(source, str) and "\n" not in source and source.strip().endswith(SPEC_SUFFIXES)
    ):
        return _read_file(Path(source)), str(source)
    if not isinstance(source, str):
        raise SpecError(
            f"a spec is a mapping, a YAML/JSON string or a file path, got {type(source).__name__}"
        )
    stripped = source.strip()
    if stripped.startswith("{"):
        try:
            return _as_mapping(_parse_json(stripped, None), None), None
        except SpecError:
            pass  # a YAML flow mapping is not JSON; YAML reports the error then
    data = _parse_yaml(source, None)
    if isinstance(data, str) and "\n" not in stripped and " " not in stripped:
        raise SpecError(
            f"{stripped!r} is neither a spec nor a spec file: a file must end in "
            f"{', '.join(SPEC_SUFFIXES)}"
        )
    return _as_mapping(data, None), None


def _read_file(path: Path) -> dict[str, Any]:
    name = str(path)
    suffix = path.suffix.lower()
    if suffix not in SPEC_SUFFIXES:
        raise SpecError(
            f"unsupported spec file extension {suffix or '(none)'!r}; "
            f"use {', '.join(SPEC_SUFFIXES)}",
            source=name,
        )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError("spec file not found", source=name) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read the spec file: {exc}", source=name) from None
    data = _parse_json(text, name) if suffix == ".json" else _parse_yaml(text, name)
    return _as_mapping(data, name)


def _as_mapping(data: Any, source: str | None) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        kind = "empty" if data is None else type(data).__name__
        raise SpecError(
            f"a spec must be a mapping with 'nodes' and 'entry', got {kind}", None, source
        )
    return dict(data)


def _parse_yaml(text: str, source: str | None) -> Any:
    from .spec_yaml import parse_yaml  # PyYAML loads only when a YAML spec is read

    return parse_yaml(text, source)


def _parse_json(text: str, source: str | None) -> Any:
    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for key, value in pairs:
            if key in data:
                raise ValueError(f"duplicate key {key!r}")
            data[key] = value
        return data

    try:
        data = json.loads(text, object_pairs_hook=unique)
    except json.JSONDecodeError as exc:
        raise SpecError(
            f"JSON syntax error: {exc.msg} (column {exc.colno})", f"line {exc.lineno}", source
        ) from None
    except ValueError as exc:
        raise SpecError(f"JSON error: {exc}", None, source) from None
    except RecursionError:
        raise SpecError(f"JSON nested more than {MAX_DEPTH} levels deep", None, source) from None
    return check_depth(data, source)


# -- loading -------------------------------------------------------------------------------


def load_spec(
    source: SpecSource,
    *,
    tools: ToolRegistry,
    conditions: ConditionRegistry,
    max_nodes: int | None = None,
    max_edges: int | None = None,
    allow_calls: bool = True,
    graphs: GraphResolver | None = None,
) -> Graph:
    """Build a validated :class:`~wfengine.graph.Graph` from a spec.

    ``source``: a mapping, a YAML/JSON string, or a path to a ``.yaml``/``.yml``/``.json``
    file. Tools and condition strategies are looked up in the registries. ``max_nodes`` and
    ``max_edges`` cap the spec's size (for specs from untrusted callers, like the REST API);
    ``allow_calls=False`` refuses ``call:`` nodes (import paths: code the spec chooses).
    ``graphs`` resolves the names of ``graph: NAME`` subgraph nodes (an engine passes its
    workflows and stored graphs). Raises :class:`~wfengine.errors.SpecError` saying what is
    wrong and where.
    """
    data, source_name = read_spec(source)
    loader = _SpecLoader(data, source_name, tools, conditions, allow_calls, graphs)
    return loader.load(max_nodes, max_edges)


def check_spec_size(
    data: Mapping[str, Any],
    *,
    max_nodes: int | None = None,
    max_edges: int | None = None,
    source: str | None = None,
) -> None:
    """Refuse a spec with more nodes or edges than allowed: the one size check, used by
    :func:`load_spec` and the REST server alike. Raises :class:`SpecLimitError` (``where``
    ``nodes`` or ``edges``, with ``limit`` and ``actual``). Parts of the wrong shape count
    as empty here; the loader reports their shape."""
    for key, limit in (("nodes", max_nodes), ("edges", max_edges)):
        items = data.get(key)
        count = len(items) if isinstance(items, Mapping | list) else 0
        if limit is not None and count > limit:
            raise SpecLimitError(
                f"the spec has {count} {key}; the limit is {limit}",
                key,
                source,
                limit=limit,
                actual=count,
            )


class _SpecLoader:
    """Checks one spec's parts in order, building the graph as it goes."""

    def __init__(
        self,
        data: dict[str, Any],
        source: str | None,
        tools: ToolRegistry,
        conditions: ConditionRegistry,
        allow_calls: bool = True,
        graphs: GraphResolver | None = None,
    ) -> None:
        self.data = data
        self.source = source
        self.tools = tools
        self.conditions = conditions
        self.allow_calls = allow_calls
        self.graphs = graphs
        self.max_nodes: int | None = None

    def error(self, message: str, where: str | None = None) -> SpecError:
        return SpecError(message, where, self.source)

    def load(self, max_nodes: int | None, max_edges: int | None) -> Graph:
        data = self.data
        _refuse_unknown_keys(data, TOP_LEVEL_KEYS, None, "spec", self.error)
        if "nodes" not in data:
            raise self.error("a spec needs 'nodes': a mapping of node names to {tool: NAME}")
        if "entry" not in data:
            raise self.error("a spec needs 'entry': the name of the node the run starts at")
        nodes = data["nodes"]
        if not isinstance(nodes, Mapping) or not nodes:
            raise self.error("'nodes' must be a non-empty mapping of names to nodes", "nodes")
        edges = data.get("edges") or []
        if not isinstance(edges, list):
            raise self.error("'edges' must be a list of {from, to} mappings", "edges")
        check_spec_size(data, max_nodes=max_nodes, max_edges=max_edges, source=self.source)
        self.max_nodes = max_nodes  # subgraphs' nodes count too

        graph = Graph(
            self._name(),
            max_steps=self._max_steps(),
            description=self._text(data.get("description"), "description"),
        )
        self._add_reducers(graph, data.get("reducers"))
        for name, node in nodes.items():
            self._add_node(graph, name, node)
        self._check_routes(graph, nodes)
        for index, edge in enumerate(edges):
            self._add_edge(graph, index, edge)
        self._set_entry(graph, data["entry"])
        graph.interrupt_before = self._pauses(graph, "interrupt_before")
        graph.interrupt_after = self._pauses(graph, "interrupt_after")
        try:
            graph.budget = check_budget(data.get("budget"), "budget")
        except WorkflowError as exc:
            raise self.error(str(exc), "budget") from None
        try:
            graph.validate()
        except GraphValidationError as exc:
            raise self.error(
                f"graph '{graph.name}' is invalid: {'; '.join(exc.problems)}"
            ) from None
        return graph

    def _name(self) -> str:
        name = self.data.get("name")
        if name is None:
            return Path(self.source).stem if self.source else "graph"
        if not isinstance(name, str) or not name:
            raise self.error(f"'name' must be a non-empty string, got {name!r}", "name")
        return name

    def _text(self, value: Any, where: str) -> str | None:
        if value is not None and not isinstance(value, str):
            raise self.error(f"must be a string, got {type(value).__name__}", where)
        return value

    def _pauses(self, graph: Graph, key: str) -> list[str]:
        """``interrupt_before``/``interrupt_after``: a list of the graph's node names."""
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
            raise self.error(f"must be a list of node names, got {value!r}", key)
        for index, name in enumerate(value):
            if name not in graph.nodes:
                close = difflib.get_close_matches(name, list(graph.nodes), n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                raise self.error(f"unknown node '{name}'{hint}", f"{key}[{index}]")
        return list(value)

    def _max_steps(self) -> int | None:
        value = self.data.get("max_steps")
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.error(f"must be a positive integer, got {value!r}", "max_steps")
        if value > settings.MAX_STEPS_CEILING:
            raise self.error(
                f"must be at most {settings.MAX_STEPS_CEILING}, got {value}", "max_steps"
            )
        return value

    def _add_reducers(self, graph: Graph, reducers: Any) -> None:
        if reducers is None:
            return
        if not isinstance(reducers, Mapping):
            raise self.error("'reducers' must map state keys to reducer names", "reducers")
        for key, name in reducers.items():
            where = f"reducers.{key}"
            if name not in REDUCERS:
                raise self.error(_unknown("reducer", name, REDUCERS), where)
            graph.set_reducer(str(key), name)

    def _add_node(self, graph: Graph, name: Any, node: Any) -> None:
        where = f"nodes.{name}"
        if not isinstance(name, str) or not name:
            raise self.error(f"node names must be non-empty strings, got {name!r}", "nodes")
        if name == END:
            raise self.error(f"'{END}' is reserved for the end of a branch; rename the node", where)
        if "/" in name:
            raise self.error("'/' is reserved for subgraph node paths (review/score)", where)
        if not isinstance(node, Mapping):
            raise self.error(
                f"a node must be a mapping like {{tool: NAME}}, got {type(node).__name__}", where
            )
        _refuse_unknown_keys(node, NODE_KEYS, where, "node", self.error)
        if "map" in node:
            self._add_map(graph, name, node, where)
            return
        if "graph" in node:
            self._add_subgraph(graph, name, node, where)
            return
        for key in ("inputs", "outputs"):
            if key in node:
                raise self.error(f"'{key}' belongs to a subgraph node ({{graph: NAME}})", where)
        tool_name = node.get("tool")
        call = node.get("call")
        if call is not None:
            if tool_name is not None:
                raise self.error("a node has 'tool' or 'call', not both", where)
            func, call = self._call(call, f"{where}.call")
            label = call
        else:
            if not isinstance(tool_name, str) or not tool_name:
                raise self.error(
                    "a node needs 'tool': the name of a registered tool (or 'call': an "
                    "import path, for specs run by wf or embedded)",
                    where,
                )
            try:
                func = self.tools.get(tool_name)
            except UnknownNameError as exc:
                raise self.error(str(exc), f"{where}.tool") from None
            label = tool_name
        params = node.get("params") or {}
        if not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params):
            raise self.error("'params' must map argument names to values", f"{where}.params")
        params = copy.deepcopy(dict(params))
        self._check_params(label, func, params, f"{where}.params")
        try:
            retry = RetryPolicy.coerce(node.get("retry"))
        except SpecError as exc:
            raise self.error(exc.message, f"{where}.retry") from None
        except (TypeError, ValueError) as exc:  # retry: 0
            raise self.error(f"invalid retry policy: {exc}", f"{where}.retry") from None
        timeout = node.get("timeout")
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
        ):
            raise self.error(
                f"must be a positive number of seconds, got {timeout!r}", f"{where}.timeout"
            )
        local = node.get("local", False)
        if not isinstance(local, bool):
            raise self.error(f"must be true or false, got {local!r}", f"{where}.local")
        resources = node.get("resources") or {}
        if not isinstance(resources, Mapping) or not all(
            isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool) and v > 0
            for k, v in resources.items()
        ):
            raise self.error(
                "must map resource names to positive amounts, e.g. {GPU: 1}",
                f"{where}.resources",
            )
        try:
            cache = CachePolicy.coerce(node.get("cache"), node.get("reads"))
        except WorkflowError as exc:
            raise self.error(str(exc), f"{where}.cache") from None
        if cache is not None and cache.key is not None:
            raise self.error("a spec cannot give a key function", f"{where}.cache.key")
        graph.add_node(
            name,
            tool_call(label, func, params),
            local=local,
            resources=resources,
            cache=cache,
            tool=tool_name if call is None else None,
            call=call,
            params=params,
            retry=retry,
            timeout=timeout,
            description=self._text(node.get("description"), f"{where}.description"),
            routes=self._routes(node.get("routes"), f"{where}.routes"),
        )

    def _routes(self, routes: Any, where: str) -> list[str]:
        if routes is None:
            return []
        if not isinstance(routes, list) or not all(isinstance(r, str) and r for r in routes):
            raise self.error("'routes' must be a list of node names (or END)", where)
        return list(routes)

    def _add_map(self, graph: Graph, name: str, node: Mapping[str, Any], where: str) -> None:
        """A map node: ``{map: {over: KEY, as: KEY, node: NAME, max_parallel: N}}``."""
        for key in ("tool", "call", "params", "routes", "timeout"):
            if key in node:
                raise self.error(f"a map node has no '{key}' (its work is map.node's)", where)
        spec = node["map"]
        where = f"{where}.map"
        if not isinstance(spec, Mapping):
            raise self.error("must be a mapping like {over: docs, as: doc, node: summarise}", where)
        _refuse_unknown_keys(spec, MAP_KEYS, where, "map", self.error)
        for key in ("over", "as", "node"):
            value = spec.get(key)
            if not isinstance(value, str) or not value:
                what = "the node each item runs" if key == "node" else "a state key"
                raise self.error(f"'{key}' must be {what} (a non-empty string)", f"{where}.{key}")
        limit = spec.get("max_parallel")
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 1
        ):
            raise self.error(f"must be a positive integer, got {limit!r}", f"{where}.max_parallel")
        try:
            retry = RetryPolicy.coerce(node.get("retry"))
        except (SpecError, TypeError, ValueError) as exc:
            raise self.error(f"invalid retry policy: {exc}", f"{where}.retry") from None
        graph.add_node(
            name,
            MapOver(spec["over"], spec["as"], spec["node"]),
            retry=retry,
            max_parallel=limit,
            description=self._text(node.get("description"), f"{where}.description"),
        )

    def _add_subgraph(self, graph: Graph, name: str, node: Mapping[str, Any], where: str) -> None:
        """A subgraph node: ``{graph: NAME or {inline spec}, inputs: {...}, outputs: {...}}``."""
        for key in ("tool", "call", "params", "routes", "timeout", "retry", "map"):
            if key in node:
                raise self.error(f"a subgraph node has no '{key}' (its work is its graph's)", where)
        ref = node["graph"]
        if isinstance(ref, str) and ref:
            if self.graphs is None:
                raise self.error(
                    "a subgraph by name needs an engine to find it (load the spec with "
                    "engine.load_spec); give the graph inline instead",
                    f"{where}.graph",
                )
            try:
                child = self.graphs(ref)
            except SpecError as exc:
                raise self.error(exc.message, f"{where}.graph") from None
            except (UnknownNameError, GraphValidationError) as exc:
                raise self.error(str(exc), f"{where}.graph") from None
            name_ref: str | None = ref
        elif isinstance(ref, Mapping):
            inner = _SpecLoader(
                dict(ref), self.source, self.tools, self.conditions, self.allow_calls, self.graphs
            )
            try:
                child = inner.load(self.max_nodes, None)
            except SpecError as exc:
                inside = f"{where}.graph" + (f".{exc.where}" if exc.where else "")
                raise self.error(exc.message, inside) from None
            name_ref = None
        else:
            raise self.error(
                "must be the name of a workflow or stored graph, or an inline spec",
                f"{where}.graph",
            )
        limit = self.max_nodes
        if limit is not None and len(graph.nodes) + len(child.nodes) + 2 > limit:
            raise self.error(
                f"with its subgraphs' nodes the spec has more than {limit} nodes (the limit)",
                f"{where}.graph",
            )
        mappings = {}
        for key in ("inputs", "outputs"):
            value = node.get(key)
            if value is not None and not (
                isinstance(value, Mapping)
                and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
            ):
                raise self.error(
                    "must map state keys to state keys ({destination: source})",
                    f"{where}.{key}",
                )
            mappings[key] = value
        try:
            graph.add_subgraph(
                name,
                child,
                inputs=mappings["inputs"],
                outputs=mappings["outputs"],
                ref=name_ref,
                description=self._text(node.get("description"), f"{where}.description"),
            )
        except GraphValidationError as exc:
            raise self.error("; ".join(exc.problems), where) from None

    def _check_routes(self, graph: Graph, nodes: Mapping[str, Any]) -> None:
        """Every route and map target names a node; a map's node is not a map itself."""
        for name, node in graph.nodes.items():
            if node.route_map is not None:
                continue  # a subgraph's node: its own spec was checked
            is_map = isinstance(node.func, MapOver)
            for target in node.routes:
                where = f"nodes.{name}.map.node" if is_map else f"nodes.{name}.routes"
                if target == END and not is_map:
                    continue
                if target not in graph.nodes:
                    raise self.error(_unknown("node", target, graph.nodes), where)
                if is_map and isinstance(graph.nodes[target].func, MapOver):
                    raise self.error("a map's node cannot be a map node itself", where)
                if is_map and graph.nodes[target].subgraph is not None:
                    raise self.error("a map's node cannot be a subgraph", where)

    def _call(self, ref: Any, where: str) -> tuple[Callable[..., Any], str]:
        """The function a ``call:`` node names, and its reference as the graph keeps it."""
        from .imports import CallImportError, import_call

        if not self.allow_calls:
            raise self.error(
                "'call:' import paths are not allowed here: this server runs registered "
                "tools only (its operator can allow import paths with `wf serve "
                "--allow-import-paths`)",
                where,
            )
        base = Path(self.source).resolve().parent if self.source else None
        try:
            return import_call(ref, base)
        except CallImportError as exc:
            raise self.error(str(exc), where) from None

    def _check_params(
        self, tool_name: str, func: Callable[..., Any], params: dict[str, Any], where: str
    ) -> None:
        try:
            signature = inspect.signature(func)
        except (TypeError, ValueError):
            return  # some callables have no signature; the call itself will tell
        try:
            signature.bind({}, **params)
        except TypeError as exc:
            raise self.error(
                f"tool '{tool_name}' cannot be called as tool(state, **params): {exc}", where
            ) from None

    def _add_edge(self, graph: Graph, index: int, edge: Any) -> None:
        where = f"edges[{index}]"
        if not isinstance(edge, Mapping):
            raise self.error(
                f"an edge must be a mapping like {{from: a, to: b}}, got {type(edge).__name__}",
                where,
            )
        _refuse_unknown_keys(edge, EDGE_KEYS, where, "edge", self.error)
        if "from" not in edge or "to" not in edge:
            raise self.error("an edge needs 'from' and 'to'", where)
        sources = edge["from"]
        if isinstance(sources, list):
            if not sources:
                raise self.error("a join needs at least one source node", f"{where}.from")
            for i, src in enumerate(sources):
                self._check_node_ref(graph, src, f"{where}.from[{i}]", source=True)
            if len(set(sources)) != len(sources):
                raise self.error("a join names a source twice", f"{where}.from")
        else:
            self._check_node_ref(graph, sources, f"{where}.from", source=True)
        self._check_node_ref(graph, edge["to"], f"{where}.to", source=False)
        default = edge.get("default", False)
        if not isinstance(default, bool):
            raise self.error(f"must be true or false, got {default!r}", f"{where}.default")
        condition = None
        when = edge.get("when")
        if "when" in edge:
            if default:
                raise self.error(
                    "a default edge is followed when no condition fired; it cannot have 'when'",
                    where,
                )
            condition = compile_condition(when, self.conditions, where=f"{where}.when")
        graph.add_edge(
            sources if isinstance(sources, str) else list(sources),
            edge["to"],
            condition=condition,
            default=default,
            condition_spec=copy.deepcopy(when) if "when" in edge else None,
            description=self._text(edge.get("description"), f"{where}.description"),
        )

    def _check_node_ref(self, graph: Graph, name: Any, where: str, *, source: bool) -> None:
        if not isinstance(name, str):
            raise self.error(f"must be a node name, got {name!r}", where)
        if name == END:
            if source:
                raise self.error(f"an edge cannot start at {END}", where)
            return
        if name not in graph.nodes:
            raise self.error(_unknown("node", name, graph.nodes), where)

    def _set_entry(self, graph: Graph, entry: Any) -> None:
        if not isinstance(entry, str) or entry not in graph.nodes:
            raise self.error(_unknown("node", entry, graph.nodes), "entry")
        graph.set_entry_point(entry)


def _unknown(kind: str, name: Any, known: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(str(name), list(known), n=3)
    if close:
        return f"unknown {kind} {str(name)!r}; did you mean {', '.join(repr(c) for c in close)}?"
    return f"unknown {kind} {str(name)!r} (known: {', '.join(known) or 'none'})"


def _refuse_unknown_keys(
    data: Mapping[str, Any],
    allowed: tuple[str, ...],
    where: str | None,
    what: str,
    error: Callable[[str, str | None], SpecError],
) -> None:
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f" (expected {', '.join(allowed)})"
            raise error(f"unknown {what} key {str(key)!r}{hint}", where)


# -- writing -------------------------------------------------------------------------------


def dump_spec(graph: Graph) -> dict[str, Any]:
    """The graph as spec data (the format :func:`load_spec` reads): ``graph.to_dict(strict=True)``.

    Only graphs whose nodes all run registered tools, whose conditions are data and whose
    reducers are named can be written; otherwise :class:`~wfengine.errors.SpecError` names
    the node, edge or key.
    """
    return graph.to_dict(strict=True)
