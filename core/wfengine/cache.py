"""Caching of node results that explains itself: ``cache=True`` or a :class:`CachePolicy`.

A node with a cache policy is looked up before it runs. Its key is built from

* ``code``: the function's identity (tool name or qualified name), its distribution's
  version for a tool, and a hash of its code object (so an editable install whose code
  changed never gives a wrong hit);
* ``params``: the node's parameters;
* ``reads``: the values of the state keys it declares (``reads=[...]``), else the whole
  input state;
* ``key``: what the policy's ``key`` function returns for the state, when it has one.

Every lookup is logged on the run (``run.cache_log``) with its reason: ``hit``,
``miss: reads.threshold 3 -> 4``, ``miss: code 1a2b3c4d -> 5e6f7a8b``, ``miss: expired``,
``miss: first call``, ``not cacheable: state key "conn" cannot be hashed``. A value that
cannot be hashed (or an update that cannot be stored) turns the cache off for that call: it
never gives a wrong hit. Entries live in the run store when it has the optional
:class:`~wfengine.storage.CacheStore` capability (memory and SQLite do), so with SQLite a
cache survives restarts.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from types import CodeType
from typing import Any

from .errors import WorkflowError


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """How a node's results are cached: ``ttl`` (seconds an entry is good for; ``None``:
    until the key changes), ``reads`` (the state keys the node depends on; ``None``: the
    whole input state), ``key`` (a function of the state whose value joins the key)."""

    ttl: float | None = None
    reads: tuple[str, ...] | None = None
    key: Callable[[Mapping[str, Any]], Any] | None = None

    @classmethod
    def coerce(cls, value: Any, reads: Sequence[str] | None = None) -> CachePolicy | None:
        """``True``, a mapping (``ttl``, ``reads``), a policy, or ``None``/``False``."""
        if value is None or value is False:
            return None
        if value is True:
            return cls(reads=tuple(reads) if reads is not None else None)
        if isinstance(value, CachePolicy):
            return value
        if isinstance(value, Mapping):
            unknown = set(value) - {"ttl", "reads", "key"}
            if unknown:
                raise WorkflowError(
                    f"cache: unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
                    "the keys are ttl, reads, key"
                )
            ttl = value.get("ttl")
            if ttl is not None and (
                isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl <= 0
            ):
                raise WorkflowError(f"cache.ttl must be a positive number of seconds, got {ttl!r}")
            given = value.get("reads", reads)
            return cls(
                ttl=float(ttl) if ttl is not None else None,
                reads=tuple(given) if given is not None else None,
                key=value.get("key"),
            )
        raise WorkflowError(f"cache must be true, a mapping or a CachePolicy, got {value!r}")


class Unhashable(Exception):
    """A part of a cache key has no stable hash; the message says which."""


def _canonical(value: Any, where: str) -> str:
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        raise Unhashable(f"{where} cannot be hashed") from None


def code_hash(func: Callable[..., Any]) -> str:
    """A hash of ``func``'s code (bytecode, constants, names, nested code objects)."""
    target = inspect.unwrap(func)
    code = getattr(target, "__code__", None)
    if code is None:
        code = getattr(vars(type(target)).get("__call__"), "__code__", None)  # an instance
    digest = hashlib.sha256()

    def feed(obj: CodeType) -> None:
        digest.update(obj.co_code)
        digest.update(repr(obj.co_names).encode())
        for const in obj.co_consts:
            if isinstance(const, CodeType):
                feed(const)
            else:
                digest.update(repr(const).encode())

    if code is None:
        digest.update(repr(target).encode())
    else:
        feed(code)
    return digest.hexdigest()[:16]


@functools.lru_cache(maxsize=256)
def _dist_version(module: str) -> str | None:
    top = module.split(".")[0]
    for dist in metadata.packages_distributions().get(top, []):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def code_identity(node: Any) -> dict[str, Any]:
    """``name``, ``version`` (a tool's distribution version) and ``hash`` of a node's code."""
    func = inspect.unwrap(node.func)
    while isinstance(func, functools.partial):  # a spec's tool call: the tool itself
        func = inspect.unwrap(func.func)
    module = getattr(func, "__module__", "") or ""
    name = node.tool or node.call or f"{module}.{getattr(func, '__qualname__', repr(func))}"
    return {
        "name": name,
        "version": _dist_version(module) if node.tool else None,
        "hash": code_hash(func),
    }


def key_parts(node: Any, policy: CachePolicy, state: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a call's cache key, each checked to hash (:class:`Unhashable` if not)."""
    if policy.reads is None:
        reads = dict(state)
    else:
        reads = {k: state.get(k) for k in policy.reads}
    for key, value in reads.items():
        _canonical(value, f'state key "{key}"')
    parts: dict[str, Any] = {
        "code": code_identity(node),
        "params": dict(node.params),
        "reads": reads,
    }
    _canonical(parts["params"], "params")
    if policy.key is not None:
        parts["key"] = policy.key(state)
        _canonical(parts["key"], "the key function's value")
    return parts


def digest(graph_id: str, node: str, parts: Mapping[str, Any]) -> str:
    """The cache key: a hash of the graph id, node name and key parts."""
    text = _canonical({"graph": graph_id, "node": node, "parts": parts}, "key")
    return hashlib.sha256(text.encode()).hexdigest()


def explain(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> str:
    """Why ``new`` misses where ``old`` (the node's latest entry) was: the first difference."""
    if old is None:
        return "miss: first call"
    old_code, new_code = old.get("code", {}), new["code"]
    if old_code.get("version") != new_code.get("version"):
        return f"miss: {new_code['name']} {old_code.get('version')} -> {new_code.get('version')}"
    if old_code.get("hash") != new_code.get("hash"):
        return f"miss: code {str(old_code.get('hash'))[:8]} -> {str(new_code['hash'])[:8]}"
    for section in ("params", "reads"):
        before, after = old.get(section) or {}, new.get(section) or {}
        for key in sorted(set(before) | set(after), key=str):
            if before.get(key) != after.get(key):
                return (
                    f"miss: {section}.{key} {_short(before.get(key))} -> {_short(after.get(key))}"
                )
    if old.get("key") != new.get("key"):
        return f"miss: key {_short(old.get('key'))} -> {_short(new.get('key'))}"
    return "miss: key changed"


def _short(value: Any) -> str:
    text = json.dumps(value, default=repr)
    return text if len(text) <= 40 else text[:37] + "..."


def cached(
    node: Any,
    policy: CachePolicy,
    store: Any,
    graph_id: str,
    record: Callable[[dict[str, Any]], None],
) -> Callable[[Any], Any]:
    """``node.func`` looked up in ``store`` (a ``CacheStore``) first; ``record`` gets each
    lookup's ``{node, result, reason}``."""
    func = node.func
    name = node.name
    lock = threading.Lock()

    def lookup(state: Any) -> tuple[Any, str | None, dict[str, Any] | None]:
        try:
            parts = key_parts(node, policy, state)
            key = digest(graph_id, name, parts)
        except Unhashable as exc:
            record({"node": name, "result": "not cacheable", "reason": f"not cacheable: {exc}"})
            return None, None, None
        entry = store.get_cache_entry(key)
        now = time.time()
        if entry is not None:
            ttl = entry.get("ttl")
            if ttl is None or now - entry["created"] <= ttl:
                record({"node": name, "result": "hit", "reason": "hit", "key": key[:12]})
                return entry, key, parts
            record({"node": name, "result": "miss", "reason": "miss: expired", "key": key[:12]})
            return None, key, parts
        latest = store.latest_cache_entry(graph_id, name)
        reason = explain(latest["parts"] if latest else None, parts)
        record({"node": name, "result": "miss", "reason": reason, "key": key[:12]})
        return None, key, parts

    def save(key: str, parts: dict[str, Any], update: Any) -> None:
        try:
            _canonical(update, "the update")
        except Unhashable:
            record(
                {
                    "node": name,
                    "result": "not stored",
                    "reason": "not cacheable: the update cannot be stored as JSON",
                }
            )
            return
        with lock:
            store.put_cache_entry(
                {
                    "key": key,
                    "graph_id": graph_id,
                    "node": name,
                    "parts": parts,
                    "update": update,
                    "created": time.time(),
                    "ttl": policy.ttl,
                }
            )

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def awrapped(state: Any) -> Any:
            entry, key, parts = lookup(state)
            if entry is not None:
                return entry["update"]
            update = await func(state)
            if key is not None and parts is not None:
                save(key, parts, update)
            return update

        awrapped.wfengine_cached = True  # type: ignore[attr-defined]
        return awrapped

    @functools.wraps(func)
    def wrapped(state: Any) -> Any:
        entry, key, parts = lookup(state)
        if entry is not None:
            return entry["update"]
        update = func(state)
        if key is not None and parts is not None:
            save(key, parts, update)
        return update

    wrapped.wfengine_cached = True  # type: ignore[attr-defined]
    return wrapped
