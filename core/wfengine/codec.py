"""Tagged JSON: state values to JSON text and back, exactly (the codec of the SQLite store
and of exported runs, ``.wfrun``).

Plain JSON types are stored as themselves. Every other supported type becomes an object with
the tag key ``"$t"``::

    datetime   {"$t": "datetime", "v": "2026-01-02T03:04:05.000006+01:00"}
               (+ "tz": "Europe/Paris" for a zoneinfo zone, "tzn" for a named fixed offset,
               "fold": 1 when set)
    date       {"$t": "date", "v": "2026-01-02"}
    time       {"$t": "time", "v": "03:04:05.000006"}     (same tz fields as datetime)
    timedelta  {"$t": "timedelta", "v": [days, seconds, microseconds]}
    Decimal    {"$t": "decimal", "v": "1.10"}
    UUID       {"$t": "uuid", "v": "..."}
    bytes      {"$t": "bytes", "v": "<base64>"}       (and "bytearray")
    tuple      {"$t": "tuple", "v": [...]}            (and "set", "frozenset")
    paths      {"$t": "path", "k": "PurePosixPath", "v": "a/b"}
    NaN, ±inf  {"$t": "float", "v": "nan"}
    dict       {"$t": "dict", "v": [[key, value], ...]}

The last form keeps a dict whose keys are not all strings (``{1: "a", (2, 3): "b"}``), and
escapes a user's dict that happens to have a ``"$t"`` key, so decoding is never ambiguous.

Types are matched exactly (a ``str`` subclass such as an enum member is refused, not stored as
a plain ``str``): a value either comes back equal and of the same type, or is refused with
:class:`~wfengine.errors.UnstorableValueError` naming where it is.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import pathlib
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from .errors import StoreError, UnstorableValueError

TAG = "$t"


def _make_dumps() -> Callable[[Any], str]:
    """Compact JSON text of JSON data; one C encoder reused (``json.dumps`` builds one per
    call, which costs more than encoding a small update)."""
    from json import encoder

    c_make_encoder = getattr(encoder, "c_make_encoder", None)
    if c_make_encoder is None:  # pragma: no cover - CPython always has the C encoder
        return json.JSONEncoder(separators=(",", ":"), allow_nan=False, check_circular=False).encode
    make = c_make_encoder(
        None, None, encoder.encode_basestring_ascii, None, ":", ",", False, False, False
    )

    def dumps(value: Any) -> str:
        return "".join(make(value, 0))

    return dumps


_dumps = _make_dumps()


class _Unstorable(Exception):
    """Raised deep in the walk; each container on the way up adds its part of the path."""

    def __init__(self, value_type: type, what: str = "") -> None:
        self.value_type = value_type
        self.what = what
        self.parts: list[str] = []


def encode(value: Any, root: str = "state") -> str:
    """``value`` as tagged JSON text; ``root`` names it in errors (``state["key"]...``)."""
    try:
        if _plain(value):  # nothing to tag: the C encoder writes it as it is
            return _dumps(value)
        return _dumps(to_data(value))
    except _Unstorable as exc:
        raise UnstorableValueError(
            root + "".join(reversed(exc.parts)), exc.value_type, exc.what
        ) from None
    except RecursionError:
        raise StoreError(
            f"{root}: nested too deeply (or contains itself); cannot store it"
        ) from None
    except ValueError as exc:  # an int beyond Python's int-to-str digit limit
        raise StoreError(f"{root}: cannot store a value: {exc}") from None


def decode(text: str) -> Any:
    """The value :func:`encode` stored as ``text``."""
    return json.loads(text, object_hook=_object_hook)


def _plain(value: Any) -> bool:
    """Whether ``value`` is JSON data that :func:`to_data` would return as it is: exactly
    ``str``, ``int``, ``bool``, ``None``, finite ``float``, and lists and dicts of them (dict
    keys ``str``, none of them the tag). A walk that builds nothing, so :func:`encode` of a
    plain update (the usual step) costs about a fifth less."""
    t = type(value)
    if t is str or t is int or t is bool or value is None:
        return True
    if t is float:
        return bool(value - value == 0.0)
    if t is dict:
        for key, item in value.items():
            if type(key) is not str or key == TAG:
                return False
            t = type(item)
            if not (t is str or t is int or t is bool or item is None or _plain(item)):
                return False
        return True
    if t is list:
        for item in value:
            t = type(item)
            if not (t is str or t is int or t is bool or item is None or _plain(item)):
                return False
        return True
    return False


def to_data(value: Any) -> Any:
    """``value`` as JSON data (raises :class:`_Unstorable` for a type it cannot keep)."""
    t = type(value)
    if t is str or t is int or t is bool or value is None:
        return value
    if t is float:
        # NaN and the infinities are not JSON: v - v is NaN exactly for those
        return value if value - value == 0.0 else {TAG: "float", "v": repr(value)}
    if t is dict:
        for key in value:
            if type(key) is not str or key == TAG:
                return _pairs(value)
        out = {}
        for key, item in value.items():
            try:
                out[key] = to_data(item)
            except _Unstorable as exc:
                exc.parts.append(f"[{_quote(key)}]")
                raise
        return out
    if t is list:
        return _items(value)
    encoder = _ENCODERS.get(t)
    if encoder is None:
        raise _Unstorable(t)
    return encoder(value)


def _items(values: Any) -> list[Any]:
    out = []
    for index, item in enumerate(values):
        try:
            out.append(to_data(item))
        except _Unstorable as exc:
            exc.parts.append(f"[{index}]")
            raise
    return out


def _members(values: Any) -> list[Any]:
    out = []
    for item in values:
        try:
            out.append(to_data(item))
        except _Unstorable as exc:
            exc.parts.append("{...}")  # a set member has no key; its repr could be huge
            raise
    return out


def _pairs(value: dict[Any, Any]) -> dict[str, Any]:
    pairs = []
    for key, item in value.items():
        try:
            k = to_data(key)
        except _Unstorable as exc:
            raise _Unstorable(exc.value_type, "a dict key") from None
        try:
            pairs.append([k, to_data(item)])
        except _Unstorable as exc:
            exc.parts.append(f"[{_quote(key)}]")
            raise
    return {TAG: "dict", "v": pairs}


def _quote(key: Any) -> str:
    return json.dumps(key, ensure_ascii=False) if type(key) is str else repr(key)


def _timelike(value: dt.datetime | dt.time) -> dict[str, Any]:
    """isoformat() plus what it does not keep about a tzinfo; refuse tzinfos we cannot rebuild
    (a zoneinfo zone is kept by its key, a fixed offset by the offset and its name)."""
    data: dict[str, Any] = {TAG: type(value).__name__}
    tz = value.tzinfo
    if tz is None or type(tz) is dt.timezone:
        data["v"] = value.isoformat()
        if tz is not None and tz.tzname(None) != dt.timezone(tz.utcoffset(None)).tzname(None):
            data["tzn"] = tz.tzname(None)
    elif type(tz).__name__ == "ZoneInfo" and isinstance(getattr(tz, "key", None), str):
        data["v"] = value.replace(tzinfo=None).isoformat()
        data["tz"] = tz.key  # type: ignore[attr-defined]
    else:
        raise _Unstorable(type(tz), f"a {type(value).__name__} with a tzinfo")
    if value.fold:
        data["fold"] = 1
    return data


def _path(value: pathlib.PurePath) -> dict[str, Any]:
    return {TAG: "path", "k": type(value).__name__, "v": str(value)}


_ENCODERS: dict[type, Callable[[Any], Any]] = {
    dt.datetime: _timelike,
    dt.date: lambda v: {TAG: "date", "v": v.isoformat()},
    dt.time: _timelike,
    dt.timedelta: lambda v: {TAG: "timedelta", "v": [v.days, v.seconds, v.microseconds]},
    Decimal: lambda v: {TAG: "decimal", "v": str(v)},
    uuid.UUID: lambda v: {TAG: "uuid", "v": str(v)},
    bytes: lambda v: {TAG: "bytes", "v": base64.b64encode(v).decode("ascii")},
    bytearray: lambda v: {TAG: "bytearray", "v": base64.b64encode(v).decode("ascii")},
    tuple: lambda v: {TAG: "tuple", "v": _items(v)},
    set: lambda v: {TAG: "set", "v": _members(v)},
    frozenset: lambda v: {TAG: "frozenset", "v": _members(v)},
    pathlib.PurePosixPath: _path,
    pathlib.PureWindowsPath: _path,
    pathlib.PosixPath: _path,
    pathlib.WindowsPath: _path,
}


# -- decoding ----------------------------------------------------------------------------


def _with_tz(value: Any, data: dict[str, Any]) -> Any:
    if "tz" in data:
        from zoneinfo import ZoneInfo

        value = value.replace(tzinfo=ZoneInfo(data["tz"]))
    elif "tzn" in data:
        value = value.replace(tzinfo=dt.timezone(value.utcoffset(), data["tzn"]))
    if data.get("fold"):
        value = value.replace(fold=1)
    return value


def _decode_path(data: dict[str, Any]) -> pathlib.PurePath:
    cls: type[pathlib.PurePath] = _PATHS.get(data.get("k", ""), pathlib.PurePath)
    try:
        return cls(data["v"])
    except NotImplementedError:  # a WindowsPath read on POSIX (or the reverse)
        return (pathlib.PureWindowsPath if cls is pathlib.WindowsPath else pathlib.PurePosixPath)(
            data["v"]
        )


_PATHS: dict[str, type[pathlib.PurePath]] = {
    "PurePosixPath": pathlib.PurePosixPath,
    "PureWindowsPath": pathlib.PureWindowsPath,
    "PosixPath": pathlib.PosixPath,
    "WindowsPath": pathlib.WindowsPath,
}

_DECODERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "datetime": lambda d: _with_tz(dt.datetime.fromisoformat(d["v"]), d),
    "date": lambda d: dt.date.fromisoformat(d["v"]),
    "time": lambda d: _with_tz(dt.time.fromisoformat(d["v"]), d),
    "timedelta": lambda d: dt.timedelta(*d["v"]),
    "decimal": lambda d: Decimal(d["v"]),
    "uuid": lambda d: uuid.UUID(d["v"]),
    "bytes": lambda d: base64.b64decode(d["v"]),
    "bytearray": lambda d: bytearray(base64.b64decode(d["v"])),
    "tuple": lambda d: tuple(d["v"]),
    "set": lambda d: set(d["v"]),
    "frozenset": lambda d: frozenset(d["v"]),
    "path": _decode_path,
    "float": lambda d: float(d["v"]),
    "dict": lambda d: {k: v for k, v in d["v"]},
}


def _object_hook(data: dict[str, Any]) -> Any:
    tag = data.get(TAG)
    if tag is None:
        return data
    decoder = _DECODERS.get(tag)
    if decoder is None:
        raise StoreError(
            f"stored value has unknown type tag {tag!r}; was it written by a newer wfengine-sqlite?"
        )
    return decoder(data)
