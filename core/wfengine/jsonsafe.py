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
from datetime import date, datetime, time
from pathlib import PurePath
from typing import Any

MAX_DEPTH = 64
"""Nesting deeper than this (or a cycle) is cut off and shown as text."""

MAX_REPR = 10_000
"""The longest ``repr`` kept for a value JSON cannot carry."""


def jsonable(value: Any, _depth: int = 0) -> Any:
    """``value`` with every part JSON can carry kept, and every other part converted.

    Mappings become objects (keys as strings); lists and tuples arrays; sets sorted arrays
    (when their items sort); enums their value; dates and times ISO text; paths text; bytes
    text (UTF-8, undecodable bytes replaced); objects with ``to_dict()`` and dataclasses their
    fields; non-finite floats and anything else their ``repr`` (cut at :data:`MAX_REPR`).
    """
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        return value if math.isfinite(value) else repr(value)
    if _depth >= MAX_DEPTH:
        return f"<nested deeper than {MAX_DEPTH} levels: {kind.__name__}>"
    if isinstance(value, Mapping):
        return {
            (k if type(k) is str else _key(k)): jsonable(v, _depth + 1) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [jsonable(v, _depth + 1) for v in value]
    if isinstance(value, set | frozenset):
        items = [jsonable(v, _depth + 1) for v in value]
        try:
            return sorted(items)
        except TypeError:
            return items
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
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    if not isinstance(value, type):
        to_dict = getattr(value, "to_dict", None)
        if callable(to_dict):
            try:
                return jsonable(to_dict(), _depth + 1)
            except Exception:
                return _text(value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return jsonable(dataclasses.asdict(value), _depth + 1)
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
