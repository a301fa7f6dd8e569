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
from .conditions import compile_condition
from .errors import GraphValidationError, SpecError, UnknownNameError, WorkflowError
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
NODE_KEYS = ("tool", "call", "params", "description", "retry", "timeout", "cache", "reads")
EDGE_KEYS = ("from", "to", "when", "default", "description")
SPEC_SUFFIXES = (".yaml", ".yml", ".json")

SpecSource = Mapping[str, Any] | str | os.PathLike[str]


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
) -> Graph:
    """Build a validated :class:`~wfengine.graph.Graph` from a spec.

    ``source``: a mapping, a YAML/JSON string, or a path to a ``.yaml``/``.yml``/``.json``
    file. Tools and condition strategies are looked up in the registries. ``max_nodes`` and
    ``max_edges`` cap the spec's size (for specs from untrusted callers, like the REST API);
    ``allow_calls=False`` refuses ``call:`` nodes (import paths: code the spec chooses).
    Raises :class:`~wfengine.errors.SpecError` saying what is wrong and where.
    """
    data, source_name = read_spec(source)
    loader = _SpecLoader(data, source_name, tools, conditions, allow_calls)
    return loader.load(max_nodes, max_edges)


class _SpecLoader:
    """Checks one spec's parts in order, building the graph as it goes."""

    def __init__(
        self,
        data: dict[str, Any],
        source: str | None,
        tools: ToolRegistry,
        conditions: ConditionRegistry,
        allow_calls: bool = True,
    ) -> None:
        self.data = data
        self.source = source
        self.tools = tools
        self.conditions = conditions
        self.allow_calls = allow_calls

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
        if max_nodes is not None and len(nodes) > max_nodes:
            raise self.error(f"the spec has {len(nodes)} nodes; the limit is {max_nodes}", "nodes")
        if max_edges is not None and len(edges) > max_edges:
            raise self.error(f"the spec has {len(edges)} edges; the limit is {max_edges}", "edges")

        graph = Graph(
            self._name(),
            max_steps=self._max_steps(),
            description=self._text(data.get("description"), "description"),
        )
        self._add_reducers(graph, data.get("reducers"))
        for name, node in nodes.items():
            self._add_node(graph, name, node)
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
        if not isinstance(node, Mapping):
            raise self.error(
                f"a node must be a mapping like {{tool: NAME}}, got {type(node).__name__}", where
            )
        _refuse_unknown_keys(node, NODE_KEYS, where, "node", self.error)
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
        try:
            cache = CachePolicy.coerce(node.get("cache"), node.get("reads"))
        except WorkflowError as exc:
            raise self.error(str(exc), f"{where}.cache") from None
        if cache is not None and cache.key is not None:
            raise self.error("a spec cannot give a key function", f"{where}.cache.key")
        graph.add_node(
            name,
            tool_call(label, func, params),
            cache=cache,
            tool=tool_name if call is None else None,
            call=call,
            params=params,
            retry=retry,
            timeout=timeout,
            description=self._text(node.get("description"), f"{where}.description"),
        )

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
    """The graph as spec data (the format :func:`load_spec` reads).

    Only graphs whose nodes all run registered tools, whose conditions are data and whose
    reducers are named can be written; otherwise :class:`~wfengine.errors.SpecError` names
    the node, edge or key.
    """
    data: dict[str, Any] = {"name": graph.name}
    if graph.description:
        data["description"] = graph.description
    if graph.entry_point is not None:
        data["entry"] = graph.entry_point
    if graph.max_steps is not None:
        data["max_steps"] = graph.max_steps
    if graph.interrupt_before:
        data["interrupt_before"] = list(graph.interrupt_before)
    if graph.interrupt_after:
        data["interrupt_after"] = list(graph.interrupt_after)
    if graph.budget:
        data["budget"] = dict(graph.budget)
    if graph.reducer_names:
        reducers = {}
        for key, name in graph.reducer_names.items():
            if name not in REDUCERS:
                raise SpecError(
                    f"reducer {name} is a Python callable, not a named reducer; only "
                    f"{', '.join(REDUCERS)} can be written to a spec",
                    f"reducers.{key}",
                )
            reducers[key] = name
        data["reducers"] = reducers
    data["nodes"] = {name: _dump_node(node) for name, node in graph.nodes.items()}
    data["edges"] = [_dump_edge(i, edge) for i, edge in enumerate(graph.edges)]
    return data


def _dump_node(node: Any) -> dict[str, Any]:
    if node.tool is None and node.call is None:
        raise SpecError(
            f"node '{node.name}' runs a Python function, not a registered tool; only graphs "
            "of tool nodes can be written as a spec",
            f"nodes.{node.name}",
        )
    data: dict[str, Any] = {"tool": node.tool} if node.tool is not None else {"call": node.call}
    if node.params:
        data["params"] = copy.deepcopy(node.params)
    if node.description:
        data["description"] = node.description
    if node.retry is not None:
        data["retry"] = _dump_retry(node.retry)
    if node.timeout is not None:
        data["timeout"] = node.timeout
    if node.cache is not None:
        cache: dict[str, Any] = {}
        if node.cache.ttl is not None:
            cache["ttl"] = node.cache.ttl
        if node.cache.reads is not None:
            cache["reads"] = list(node.cache.reads)
        data["cache"] = cache or True
    return data


def _dump_retry(policy: RetryPolicy) -> dict[str, Any]:
    """Only the fields that differ from the defaults, so a loaded spec dumps as written."""
    full, defaults = policy.to_dict(), RetryPolicy().to_dict()
    changed = {k: v for k, v in full.items() if v != defaults[k]}
    return changed or {"max_attempts": policy.max_attempts}


def _dump_edge(index: int, edge: Any) -> dict[str, Any]:
    if edge.condition is not None and edge.condition_spec is None:
        raise SpecError(
            f"the edge {'+'.join(edge.sources)} -> {edge.target} has a Python condition, not "
            "one given as data; only data conditions can be written as a spec",
            f"edges[{index}]",
        )
    data: dict[str, Any] = {
        "from": list(edge.sources) if edge.is_join else edge.source,
        "to": edge.target,
    }
    if edge.condition_spec is not None:
        data["when"] = copy.deepcopy(edge.condition_spec)
    if edge.default:
        data["default"] = True
    if edge.description:
        data["description"] = edge.description
    return data
