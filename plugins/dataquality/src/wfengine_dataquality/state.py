"""Helpers for reading the workflow state and keeping what tools write JSON-storable."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wfengine.jsonsafe import jsonable as _jsonable

from .errors import DataQualityError

#: Defaults that ``dq.load`` puts in the state so the routing condition can read them.
DEFAULTS: dict[str, Any] = {"threshold": 0, "max_rounds": 3, "round": 0}


def require(state: Mapping[str, Any], key: str, tool: str, hint: str = "") -> Any:
    """Return ``state[key]``, or raise a :class:`DataQualityError` saying it is missing."""
    if state.get(key) is None:
        extra = f"; {hint}" if hint else ""
        raise DataQualityError(f"{tool}: the state has no '{key}'{extra}")
    return state[key]


def number(state: Mapping[str, Any], key: str, tool: str) -> int | float:
    """Return the number at ``state[key]`` (or its default), rejecting other types."""
    value = state.get(key, DEFAULTS.get(key))
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DataQualityError(f"{tool}: '{key}' must be a number, got {value!r}")
    return value


def jsonable(value: Any) -> Any:
    """``value`` as JSON data for the state and the reports: NaN and infinities become
    ``None``, dates ISO text, durations seconds (the engine's
    :func:`wfengine.jsonsafe.jsonable`)."""
    return _jsonable(value, non_finite=None)
