"""Reducers: how a node's update to a key merges into the state.

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
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Reducer = Callable[[Any, Any], Any]

_MISSING: Any = object()


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


def apply_update(
    state: dict[str, Any], update: Mapping[str, Any], reducers: Mapping[str, Reducer]
) -> None:
    """Merge one node's ``update`` into ``state`` in place, through the keys' reducers."""
    if not reducers:
        state.update(update)
        return
    for key, value in update.items():
        reducer = reducers.get(key)
        state[key] = value if reducer is None else reducer(state.get(key, _MISSING), value)
