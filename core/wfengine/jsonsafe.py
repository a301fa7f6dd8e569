"""Make any value JSON-safe for showing it: what JSON cannot carry becomes text.

A run's state may hold anything a node returned (a DataFrame, a set, ``nan``); the CLI's
``--json`` output and the REST API's responses must never fail because of it. This is for
*showing* values; a store that must keep them faithfully encodes them itself and refuses what
it cannot keep.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import PurePath
from typing import Any

MAX_DEPTH = 64
"""Nesting deeper than this (or a cycle) is cut off and shown as text."""

MAX_REPR = 10_000
"""The longest ``repr`` kept for a value JSON cannot carry."""


_REPR: Any = object()


def jsonable(value: Any, *, non_finite: Any = _REPR) -> Any:
    """``value`` with every part JSON can carry kept, and every other part converted.

    Mappings become objects (keys as strings); lists and tuples arrays; sets sorted arrays
    (when their items sort); enums their value; dates and times ISO text; durations seconds;
    decimals text; paths text; bytes text (UTF-8, undecodable bytes replaced); objects with
    ``to_dict()`` and dataclasses their fields; anything else its ``repr`` (cut at
    :data:`MAX_REPR`). Non-finite floats become their ``repr`` (``"nan"``: for showing
    values), or ``non_finite`` when given (``None``: for data, as plugins store it).
    """
    return _convert(value, 0, non_finite)


def _convert(value: Any, depth: int, non_finite: Any) -> Any:
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        if math.isfinite(value):
            return value
        return repr(value) if non_finite is _REPR else non_finite
    if depth >= MAX_DEPTH:
        return f"<nested deeper than {MAX_DEPTH} levels: {kind.__name__}>"
    if isinstance(value, Mapping):
        return {
            (k if type(k) is str else _key(k)): _convert(v, depth + 1, non_finite)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_convert(v, depth + 1, non_finite) for v in value]
    if isinstance(value, set | frozenset):
        items = [_convert(v, depth + 1, non_finite) for v in value]
        try:
            return sorted(items)
        except TypeError:
            return items
    if isinstance(value, enum.Enum):
        return _convert(value.value, depth + 1, non_finite)
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return _convert(float(value), depth, non_finite)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    if not isinstance(value, type):
        to_dict = getattr(value, "to_dict", None)
        if callable(to_dict):
            try:
                return _convert(to_dict(), depth + 1, non_finite)
            except Exception:
                return _text(value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return _convert(dataclasses.asdict(value), depth + 1, non_finite)
    return _text(value)


def utf8_safe(text: str) -> str:
    """``text`` with each lone surrogate (``"\\ud800"``, which UTF-8 cannot carry) written as
    its ``\\uXXXX`` escape: in JSON text that is the same string, escaped as JSON allows."""
    if text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _key(key: Any) -> str:
    if isinstance(key, str):
        return str(key)
    if isinstance(key, enum.Enum):
        return str(key.value)
    return str(jsonable(key)) if isinstance(key, int | float | bool) else _text(key)


def _text(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:
        return f"<unrepresentable {type(value).__name__}>"
    return text if len(text) <= MAX_REPR else text[:MAX_REPR] + "...(cut)"
