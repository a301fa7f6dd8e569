"""The run's state: reducers, what an update changes, merging, and the nodes' state view.

Reducers say how a node's update to a key merges into the state.

Without a reducer a key is replaced. With one, ``state[key] = reducer(current, update)``:

========  =============================================================
replace   the update wins (the default)
append    ``current + [update]``: collect one item per update
extend    ``current + list(update)``: concatenate lists
merge     ``{**current, **update}``: shallow dict merge
add       ``current + update``: sum numbers (or concatenate strings)
========  =============================================================

A missing key counts as empty (``[]``, ``{}`` or ``0``). Custom reducers are any callable
``(current, update) -> new``. Reducers never mutate ``current``, so a node that kept a
reference to an earlier value does not see it change.

A node is handed a :class:`StateView` (a ``dict``), not a copy of the state: it costs what
the node writes, not what the state holds. :func:`changes` keeps the keys an update really
changes, :func:`merge_parallel` checks the updates of one step's nodes against each other and
:func:`apply_changes` merges them through the reducers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from .errors import StateConflictError, WorkflowError

Reducer = Callable[[Any, Any], Any]

MISSING: Any = object()
"""Stands for a key that is not in the state (reducers count it as empty)."""
_MISSING = MISSING


def replace(current: Any, update: Any) -> Any:
    """The update replaces the current value."""
    return update


def append(current: Any, update: Any) -> list[Any]:
    """Append the update as one item."""
    return [*([] if current is _MISSING or current is None else current), update]


def extend(current: Any, update: Any) -> list[Any]:
    """Concatenate the update (any iterable) to the current list."""
    return [*([] if current is _MISSING or current is None else current), *update]


def merge(current: Any, update: Any) -> dict[Any, Any]:
    """Shallow-merge the update mapping into the current mapping."""
    return {**({} if current is _MISSING or current is None else current), **update}


def add(current: Any, update: Any) -> Any:
    """Add the update to the current value (0 when missing)."""
    return update if current is _MISSING or current is None else current + update


REDUCERS: dict[str, Reducer] = {
    "replace": replace,
    "append": append,
    "extend": extend,
    "merge": merge,
    "add": add,
}


def resolve_reducer(reducer: str | Reducer) -> Reducer:
    """A reducer by name, or the callable itself."""
    if callable(reducer):
        return reducer
    try:
        return REDUCERS[reducer]
    except KeyError:
        raise ValueError(
            f"unknown reducer {reducer!r}; expected one of {', '.join(REDUCERS)} or a callable"
        ) from None


# -- the nodes' view of the state ---------------------------------------------------------


class StateView(dict[str, Any]):
    """The state as a node (and ``node_started``) sees it: a ``dict`` that costs what the
    node writes, not what the state holds.

    Reads are plain ``dict`` reads of a mirror of the committed state that the driver keeps
    in step (every C-level consumer, ``json.dumps``, ``==``, ``dict(view)``, ``**view``, sees
    the whole state). The first write of each key through the ``dict`` methods is logged in
    the node's own layer (:meth:`written`), so the driver merges only what changed and then
    undoes the node's writes (:meth:`undo`); a node's writes never reach the committed state
    unless it returns them (``return state`` works: it returns what it wrote).

    As with a copy, nested objects are shared with the committed state: a node that mutates
    a list or dict *inside* the state in place mutates the run's state (return a new value
    instead). A node must not keep its view after it returns: the view follows the state.
    """

    __slots__ = ("_layer",)

    def __init__(self, state: Mapping[str, Any] = ()) -> None:  # type: ignore[assignment]
        super().__init__(state)
        self._layer: dict[str, Any] = {}

    # the node's own layer ------------------------------------------------------------------

    def written(self) -> dict[str, Any]:
        """The keys the node wrote, with their values now (deleted keys left out)."""
        return {k: dict.__getitem__(self, k) for k in self._layer if dict.__contains__(self, k)}

    def undo(self) -> None:
        """Put back every key the node wrote, as it was before; empty the layer."""
        layer = self._layer
        for key, old in layer.items():
            if old is MISSING:
                dict.pop(self, key, None)
            else:
                dict.__setitem__(self, key, old)
        layer.clear()

    def sync(self, state: Mapping[str, Any], keys: Iterable[str]) -> None:
        """Take ``keys`` from the committed ``state`` (the driver, after a merge)."""
        for key in keys:
            value = state.get(key, MISSING)
            if value is MISSING:
                dict.pop(self, key, None)
            else:
                dict.__setitem__(self, key, value)

    def _log(self, key: str) -> None:
        if key not in self._layer:
            self._layer[key] = dict.get(self, key, MISSING)

    # writes: logged, then done -------------------------------------------------------------

    def __setitem__(self, key: str, value: Any) -> None:
        if key not in self._layer:
            self._layer[key] = dict.get(self, key, MISSING)
        dict.__setitem__(self, key, value)

    def __delitem__(self, key: str) -> None:
        if not dict.__contains__(self, key):
            raise KeyError(key)
        self._log(key)
        dict.__delitem__(self, key)

    def pop(self, key: str, *default: Any) -> Any:  # type: ignore[override]
        if dict.__contains__(self, key):
            self._log(key)
        return dict.pop(self, key, *default)

    def popitem(self) -> tuple[str, Any]:
        if dict.__len__(self):
            self._log(next(reversed(self.keys())))
        return dict.popitem(self)

    def setdefault(self, key: str, default: Any = None) -> Any:
        if not dict.__contains__(self, key):
            self._log(key)
        return dict.setdefault(self, key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def clear(self) -> None:
        for key in list(dict.keys(self)):
            self._log(key)
        dict.clear(self)

    def __ior__(self, other: Any) -> StateView:  # type: ignore[override,misc]
        self.update(other)
        return self

    # copies are plain dicts ----------------------------------------------------------------

    def copy(self) -> dict[str, Any]:
        """A plain ``dict`` copy of the state as this node sees it."""
        return dict(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (dict(self),))

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        import copy

        return copy.deepcopy(dict(self), memo)

    def __repr__(self) -> str:
        return dict.__repr__(self)


# -- what an update changes, and merging ---------------------------------------------------


def changes(
    update: Mapping[str, Any] | None, state: Mapping[str, Any], reducers: Mapping[str, Any]
) -> dict[str, Any]:
    """The keys ``update`` really changes in ``state``: a node may return (some of) the values
    it was given; those are not updates. Raises :class:`WorkflowError` for a non-mapping."""
    if not update:
        return {}
    if type(update) is dict and not reducers:
        found = {}
        get = state.get
        for key, value in update.items():  # a loop: cheaper than a comprehension for a few
            if value is not get(key, MISSING):
                found[key] = value
        return found
    if not isinstance(update, Mapping):
        raise WorkflowError(
            f"a node must return a mapping of changed keys or None, got {type(update).__name__}"
        )
    return {k: v for k, v in update.items() if _changes(k, v, state.get(k, MISSING), reducers)}


def _changes(key: str, value: Any, current: Any, reducers: Mapping[str, Any]) -> bool:
    """Whether ``value`` returned for ``key`` is an update: not the very object the node was
    given. For a reducer key only containers count as given back (the whole state returned);
    an equal number or string is a real update (``add`` of ``1``)."""
    return value is not current or (key in reducers and not isinstance(value, _CONTAINERS))


_CONTAINERS = (list, dict, set)

NodeUpdate = tuple[str, Mapping[str, Any] | None]
"""``(node name, update)`` of one node of a step."""


def merge_parallel(
    updates: Sequence[NodeUpdate], state: Mapping[str, Any], reducers: Mapping[str, Any]
) -> dict[str, Any]:
    """The merged changes of one step's nodes; they must agree on every key without a
    reducer (:class:`StateConflictError` otherwise). Reducer keys are marked, and reduced by
    :func:`apply_changes`."""
    merged: dict[str, Any] = {}
    writers: dict[str, str] = {}
    for name, update in updates:
        try:
            found = changes(update, state, reducers)
        except WorkflowError as exc:
            raise WorkflowError(f"node '{name}': {exc}") from None
        for key, value in found.items():
            if key in reducers:
                merged.setdefault(key, None)
                continue
            if key in writers and not _same(merged[key], value):
                raise StateConflictError(
                    f"nodes '{writers[key]}' and '{name}' both wrote key '{key}' in the same "
                    f"step with different values; give '{key}' a reducer (e.g. append, extend, "
                    "merge, add) or let one node own it"
                )
            writers.setdefault(key, name)
            merged[key] = value
    return merged


def _same(first: Any, second: Any) -> bool:
    """Whether two nodes wrote the same value (values whose ``==`` is not a plain truth value,
    like arrays, count as different)."""
    if first is second:
        return True
    try:
        return bool(first == second)
    except Exception:
        return False


def apply_changes(
    state: dict[str, Any],
    merged: dict[str, Any],
    reducers: Mapping[str, Any],
    updates: Sequence[NodeUpdate] = (),
    view: StateView | None = None,
) -> None:
    """Merge ``merged`` into ``state`` through the reducers, and into the nodes' ``view`` of
    it. With the ``updates`` of a parallel step, each node's value of a reducer key is
    reduced in node order. Afterwards ``merged`` holds the reduced values (what a store
    checkpoints)."""
    if not reducers:
        state.update(merged)
        if view is not None:
            dict.update(view, merged)
        return
    for key, value in merged.items():
        reducer = reducers.get(key)
        if reducer is None:
            state[key] = value
        elif not updates:
            state[key] = reducer(state.get(key, MISSING), value)
        else:
            before = state.get(key, MISSING)
            values = [
                update[key]
                for _name, update in updates
                if update and key in update and _changes(key, update[key], before, reducers)
            ]
            if reducer is extend:  # one concatenation, not one per node (a map's copies)
                state[key] = extend(before, [item for value in values for item in value])
            elif reducer is append:
                state[key] = extend(before, values)
            else:
                for value in values:
                    state[key] = reducer(state.get(key, MISSING), value)
    for key in merged:
        if key in reducers:
            merged[key] = state[key]
    if view is not None:
        dict.update(view, merged)


def merge_update(
    state: dict[str, Any],
    update: Mapping[str, Any] | None,
    reducers: Mapping[str, Any],
    view: StateView | None = None,
) -> dict[str, Any]:
    """:func:`changes` then :func:`apply_changes` for one node's update; returns the merged
    changes (reduced values for reducer keys): ``update`` itself when it changes every key
    it names (the caller must not change it afterwards)."""
    if type(update) is dict and not reducers:  # the common case, in one call
        get = state.get
        for key, value in update.items():
            if value is get(key, MISSING):
                break
        else:  # every value is new: the update is the change, no copy
            state.update(update)
            if view is not None:
                dict.update(view, update)
            return update
        merged = {}
        for key, value in update.items():
            if value is not get(key, MISSING):
                merged[key] = value
        if merged:
            state.update(merged)
            if view is not None:
                dict.update(view, merged)
        return merged
    merged = changes(update, state, reducers)
    if merged:
        apply_changes(state, merged, reducers, (), view)
    return merged
