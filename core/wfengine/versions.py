"""Graph versions: the exact graph a run ran, recorded so that it resumes on that graph.

Every run records ``graph_version``, a sha256 hex digest:

* of the canonical JSON of the graph's **spec** (sorted keys, no whitespace, UTF-8) when the
  graph can be written as one (spec files, stored graphs, registered workflows of tool
  nodes): the store keeps the spec under its hash, once however many runs use it, and a run
  resumes on it with no file at hand and whatever was stored under its graph id since;
* of a canonical **fingerprint** of a Python graph (its structure, conditions as data where
  known, node functions' qualified names and code hashes) otherwise: such a run resumes on
  the graph its id names today, and only when that graph has the same fingerprint.

Shown as ``NAME@`` plus the first 12 hex digits (:func:`short`).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import json
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .compose import Router
from .errors import SpecError, WorkflowError
from .graph import Graph

SPEC = "spec"
PYTHON = "python"


class GraphChangedError(WorkflowError):
    """A run cannot resume: the graph it ran is gone or has changed since."""


@dataclass(frozen=True, slots=True)
class GraphVersion:
    """One version of a graph: its hash, name, kind (``spec`` or ``python``) and spec."""

    version: str
    name: str
    kind: str
    spec: dict[str, Any] | None = None
    """The spec (``kind == "spec"``); ``None`` for a Python graph's fingerprint."""

    @property
    def label(self) -> str:
        """``NAME@`` and the first 12 hex digits."""
        return short(self.name, self.version)

    def to_dict(self) -> dict[str, Any]:
        """As stored: ``version``, ``name``, ``kind``, ``spec``."""
        return {"version": self.version, "name": self.name, "kind": self.kind, "spec": self.spec}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GraphVersion:
        """The inverse of :meth:`to_dict`."""
        spec = data.get("spec")
        return cls(str(data["version"]), str(data["name"]), str(data["kind"]), spec)


def short(name: str, version: str) -> str:
    """How a version is shown: ``NAME@0123456789ab``."""
    return f"{name}@{version[:12]}"


def canonical_json(data: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the bytes a version hashes."""
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=repr
    ).encode()


def spec_version(spec: Mapping[str, Any]) -> str:
    """The version (sha256 hex) of a spec."""
    return hashlib.sha256(canonical_json(spec)).hexdigest()


def graph_version(graph: Graph) -> GraphVersion:
    """The version of ``graph``: of its spec when it can be written as one, else of its
    Python fingerprint."""
    from .spec import dump_spec

    try:
        spec = dump_spec(graph)
    except SpecError:
        fingerprint = python_fingerprint(graph)
        return GraphVersion(spec_version(fingerprint), graph.name, PYTHON)
    named = {
        name: graph_version(node.subgraph.graph).version
        for name, node in graph.nodes.items()
        if node.subgraph is not None and node.subgraph.ref is not None
    }
    if named:  # a subgraph named by id or workflow: its content is part of this version
        return GraphVersion(
            spec_version({**spec, "subgraph_versions": named}), graph.name, SPEC, spec
        )
    return GraphVersion(spec_version(spec), graph.name, SPEC, spec)


def python_fingerprint(graph: Graph) -> dict[str, Any]:
    """The structure of a Python graph with its functions by qualified name and code hash."""
    return {
        "name": graph.name,
        "entry": graph.entry_point,
        "max_steps": graph.max_steps,
        "reducers": {k: _callable_id(v) for k, v in sorted(graph.reducers.items())},
        "nodes": {
            name: {
                "func": _callable_id(node.func),
                "tool": node.tool,
                "params": node.params,
                "retry": node.retry.to_dict() if node.retry is not None else None,
                "timeout": node.timeout,
                # only when set, so graphs without them keep their versions
                **({"routes": list(node.routes)} if node.routes else {}),
                **({"max_parallel": node.max_parallel} if node.max_parallel else {}),
                **({"router": _router_id(node.router)} if node.router is not None else {}),
            }
            for name, node in graph.nodes.items()
        },
        "edges": [
            {
                "from": list(edge.sources),
                "to": edge.target,
                "default": edge.default,
                "when": edge.condition_spec
                if edge.condition_spec is not None
                else _callable_id(edge.condition)
                if edge.condition is not None
                else None,
            }
            for edge in graph.edges
        ],
    }


def _router_id(router: Router) -> dict[str, Any]:
    """A router as fingerprint data: its function, targets and ``max_parallel``."""
    return {
        "func": _callable_id(router.func),
        "targets": list(router.targets),
        "max_parallel": router.max_parallel,
    }


def _callable_id(func: Callable[..., Any] | Any) -> str:
    """``module:qualname#codehash`` of a function (through partials, bound methods and
    decorators that set ``__wrapped__``, as :func:`functools.wraps` does)."""
    while isinstance(func, functools.partial):
        func = func.func
    func = getattr(func, "__func__", func)
    with contextlib.suppress(ValueError):  # a __wrapped__ cycle: take the function as is
        func = inspect.unwrap(func)
    qualname = getattr(func, "__qualname__", type(func).__qualname__)
    name = f"{getattr(func, '__module__', '?')}:{qualname}"
    code = getattr(func, "__code__", None)
    if code is None:  # a callable object: its class's __call__
        code = getattr(type(func).__dict__.get("__call__"), "__code__", None)
    if not isinstance(code, types.CodeType):
        return name
    return f"{name}#{_code_digest(code)[:16]}"


def _code_digest(code: types.CodeType) -> str:
    """A digest of a function's bytecode and constants, nested functions included (their
    ``repr`` holds a memory address, so they are hashed, not printed)."""
    digest = hashlib.sha256(code.co_code)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            digest.update(_code_digest(const).encode())
        else:
            digest.update(repr(const).encode())
    return digest.hexdigest()
