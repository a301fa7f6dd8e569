"""Make any value JSON-safe for a response: what JSON cannot carry becomes its ``repr``.

A run's state may hold anything a node returned (a DataFrame, a set, ``nan``); a response
must never fail with a 500 because of it, so such values are shown as text instead.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Mapping
from datetime import date, datetime, time
from pathlib import PurePath
from typing import Any

from starlette.responses import JSONResponse

MAX_DEPTH = 64
"""Nesting deeper than this (or a cycle) is cut off and shown as text."""
MAX_REPR = 10_000
"""The longest ``repr`` kept for a value JSON cannot carry."""


def jsonable(value: Any, _depth: int = 0) -> Any:
    """``value`` with every part JSON can carry kept, and every other part as text.

    Mappings become objects (keys as strings), lists/tuples/sets arrays, non-finite floats
    and unknown objects their ``repr`` (cut at :data:`MAX_REPR` characters).
    """
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        return value if math.isfinite(value) else repr(value)
    if _depth >= MAX_DEPTH:
        return _text(value, f"<nested deeper than {MAX_DEPTH} levels: {kind.__name__}>")
    if isinstance(value, Mapping):
        return {
            (k if type(k) is str else _key(k)): jsonable(v, _depth + 1) for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v, _depth + 1) for v in value]
    if isinstance(value, enum.Enum):
        return jsonable(value.value, _depth + 1)
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else repr(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    return _text(value)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return str(key)
    if isinstance(key, enum.Enum):
        return str(key.value)
    return str(jsonable(key)) if isinstance(key, int | float | bool) else _text(key)


def _text(value: Any, fallback: str | None = None) -> str:
    if fallback is not None:
        return fallback
    try:
        text = repr(value)
    except Exception:
        return f"<unrepresentable {type(value).__name__}>"
    return text if len(text) <= MAX_REPR else text[:MAX_REPR] + "...(cut)"


class SafeJSONResponse(JSONResponse):
    """A JSON response that never fails on its content: plain data is encoded directly (the
    fast path), anything else goes through :func:`jsonable` first."""

    def render(self, content: Any) -> bytes:
        try:
            text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError):
            text = json.dumps(jsonable(content), ensure_ascii=False, separators=(",", ":"))
        return text.encode("utf-8")
