"""What a step added to its growing keys, so a durable store can keep only that.

A key reduced by ``append`` or ``extend`` only grows at its end, and one reduced by ``merge``
only gains or replaces entries. A store that wrote the whole reduced value at every step would
keep ``O(N^2)`` bytes for a list that grows by one item per step (a chat transcript). The
executor therefore hands :meth:`~wfengine.storage.Store.save_step` a :class:`StepUpdate`: the
same mapping of reduced values every store gets, plus :attr:`StepUpdate.grown`, which says for
such keys what the step added. A store may keep just that and rebuild the value with
:func:`regrow`; a store that ignores it sees an ordinary ``dict``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .state import MISSING, append, extend, merge

TAIL = "tail"
"""``grown[key] == ("tail", n)``: the value is the previous value (``n`` items) plus
``value[n:]``."""

MERGE = "merge"
"""``grown[key] == ("merge", keys)``: the value is the previous mapping with the entries
``keys`` of the value set (added or replaced); none are removed."""

Growth = tuple[str, Any]


class StepUpdate(dict[str, Any]):
    """A step's merged update (reduced values), with :attr:`grown` for its growing keys."""

    __slots__ = ("grown",)

    def __init__(self, merged: Mapping[str, Any], grown: dict[str, Growth]) -> None:
        super().__init__(merged)
        self.grown = grown
        """key -> ``(TAIL, previous length)`` or ``(MERGE, changed entry keys)``."""


def growing_keys(reducers: Mapping[str, Any]) -> dict[str, str]:
    """The keys whose reducer only grows the value: key -> :data:`TAIL` or :data:`MERGE`."""
    kinds: dict[str, str] = {}
    for key, reducer in reducers.items():
        if reducer is append or reducer is extend:
            kinds[key] = TAIL
        elif reducer is merge:
            kinds[key] = MERGE
    return kinds


def growth_of(kind: str, old: Any, new: Any) -> Growth | None:
    """How a key of ``kind`` (:data:`TAIL` or :data:`MERGE`) grew from ``old`` (its value
    before the step, :data:`~wfengine.state.MISSING` when it had none) to ``new``; ``None``
    when it did not only grow (a node's value replaced it)."""
    if kind == TAIL:
        if old is MISSING or old is None:
            return (TAIL, 0)
        if type(old) is list and type(new) is list and len(new) >= len(old):
            return (TAIL, len(old))
        return None
    if type(new) is dict and (old is MISSING or old is None or type(old) is dict):
        if old is MISSING or old is None:
            old = {}
        changed = [k for k, v in new.items() if k not in old or old[k] is not v]
        if len(old) + sum(k not in old for k in changed) == len(new):
            return (MERGE, changed)
    return None


def step_update(
    merged: dict[str, Any], before: Mapping[str, Any], kinds: Mapping[str, str]
) -> dict[str, Any]:
    """``merged`` (reduced values) as a :class:`StepUpdate` when some of its keys grew from
    their value ``before`` the step; ``merged`` itself otherwise."""
    grown: dict[str, Growth] = {}
    for key, kind in kinds.items():
        if key in merged:
            growth = growth_of(kind, before.get(key, MISSING), merged[key])
            if growth is not None:
                grown[key] = growth
    return StepUpdate(merged, grown) if grown else merged


def split_growth(
    merged: Mapping[str, Any], before: Mapping[str, Any], kinds: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, tuple[str, Any]]]:
    """``merged`` split in one pass into the new values of replaced keys and, for keys that
    only grew, ``{key: (kind, what the step added)}``."""
    replaced: dict[str, Any] = {}
    gained: dict[str, tuple[str, Any]] = {}
    for key, value in merged.items():
        kind = kinds.get(key)
        if kind is not None:
            growth = growth_of(kind, before.get(key, MISSING), value)
            if growth is not None:
                gained[key] = (kind, added(value, growth))
                continue
        replaced[key] = value
    return replaced, gained


def added(value: Any, growth: Growth) -> Any:
    """What a step added to ``value`` (the reduced value), given its ``growth``."""
    kind, arg = growth
    if kind == TAIL:
        return value[arg:]
    return {k: value[k] for k in arg}


def regrow(previous: Any, kind: str, part: Any) -> Any:
    """The value rebuilt from the ``previous`` value and what the step added (``part``)."""
    if kind == TAIL:
        return [*([] if previous is MISSING or previous is None else previous), *part]
    if kind == MERGE:
        return {**({} if previous is MISSING or previous is None else previous), **part}
    raise ValueError(f"unknown kind of growth {kind!r}; expected {TAIL!r} or {MERGE!r}")


def regrow_into(state: dict[str, Any], key: str, kind: str, part: Any) -> None:
    """Rebuild ``state[key]`` from what a step added, in place: for a reader replaying many
    steps onto values it owns (a new list per step would cost ``O(N^2)``)."""
    current = state.get(key, MISSING)
    if kind == TAIL and type(current) is list:
        current.extend(part)
    elif kind == MERGE and type(current) is dict:
        current.update(part)
    else:
        state[key] = regrow(current, kind, part)
