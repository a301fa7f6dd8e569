"""Pieces of a JSON line, built fast: timestamps, strings, key lists, values, errors.

Lines are assembled from pre-encoded pieces rather than ``json.dumps`` of a dict, because a
node event is on the engine's hot path (the budget is a few microseconds per event).
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Iterable, Mapping
from typing import Any

encode_str = json.encoder.encode_basestring_ascii
"""A ``str`` as a JSON string literal (quotes included, ASCII only)."""

_COMPACT = (",", ":")

DEFAULT_MAX_VALUE_BYTES = 1024
"""A value whose JSON is longer than this is cut and listed under ``truncated``."""

CLOCK: list[tuple[int, str]] = [(-1, "")]
"""The last whole second seen and its ``YYYY-MM-DDTHH:MM:SS`` text, replaced as one tuple so
threads never see a second with another second's text. The hot hooks read it directly."""


def tick(whole: int) -> tuple[int, str]:
    """Format the whole second ``whole`` (epoch) and remember it in :data:`CLOCK`."""
    second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    CLOCK[0] = second
    return second


def timestamp(now: float | None = None) -> str:
    """``now`` (default: the current time) as ISO-8601 UTC with microseconds and ``Z``."""
    if now is None:
        now = time.time()
    whole = int(now)
    second = CLOCK[0]
    if second[0] != whole:
        second = tick(whole)
    return f"{second[1]}.{int((now - whole) * 1e6):06d}Z"


def text(value: Any) -> str:
    """Any value as a JSON string literal (through ``str`` when it is not a string)."""
    return encode_str(value if type(value) is str else str(value))


def key_list(keys: Iterable[Any]) -> str:
    """A JSON array of key names."""
    return "[" + ",".join([text(k) for k in keys]) + "]"


def changed_keys(update: Any, state: Mapping[str, Any]) -> list[Any] | None:
    """The keys of ``update`` whose value is not the very object already in ``state``.

    A node may return the whole state it was given; like the engine, count only what
    changed. ``None`` when ``update`` is not a mapping.
    """
    if update is None:
        return []
    if type(update) is not dict and not isinstance(update, Mapping):
        return None
    get = state.get
    missing = _MISSING
    keys = []
    for key, value in update.items():
        if get(key, missing) is not value:
            keys.append(key)
    return keys


_MISSING = object()


def value_json(value: Any, limit: int) -> tuple[str, bool]:
    """``value`` as JSON text of at most ``limit`` bytes, and whether it was cut.

    Values JSON cannot hold (objects, NaN, non-string keys, cycles) are logged as their
    ``repr`` string. A cut value becomes a JSON string holding the first ``limit`` characters
    of its JSON text.
    """
    try:
        encoded = json.dumps(value, default=repr, allow_nan=False, separators=_COMPACT)
    except Exception:
        encoded = encode_str(_safe_repr(value))
    if len(encoded) <= limit:
        return encoded, False
    return encode_str(encoded[:limit]), True


def values_fields(update: Mapping[str, Any], keys: list[Any], limit: int) -> str:
    """``,"values":{...}`` (and ``,"truncated":[...]`` when some were cut) for ``keys``."""
    parts = []
    cut = []
    for key in keys:
        encoded, truncated = value_json(update[key], limit)
        parts.append(f"{text(key)}:{encoded}")
        if truncated:
            cut.append(key)
    fields = ',"values":{' + ",".join(parts) + "}"
    if cut:
        fields += ',"truncated":' + key_list(cut)
    return fields


def error_from_exception(error: BaseException) -> str:
    """A JSON object with the exception's ``type``, ``message`` and ``traceback``."""
    try:
        message = str(error)
    except Exception:
        message = _safe_repr(error)
    try:
        trace = "".join(traceback.format_exception(error))
    except Exception:
        trace = ""
    return json.dumps(
        {"type": type(error).__name__, "message": message, "traceback": trace}, separators=_COMPACT
    )


def error_from_info(info: Mapping[str, Any]) -> str:
    """A run's ``error`` mapping (``type``, ``message``, ``traceback``, ...) as a JSON object."""
    try:
        return json.dumps(dict(info), default=repr, allow_nan=False, separators=_COMPACT)
    except Exception:
        return json.dumps(
            {"type": "Error", "message": _safe_repr(info), "traceback": ""}, separators=_COMPACT
        )


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception:
        return f"<unrepresentable {type(value).__name__}>"
