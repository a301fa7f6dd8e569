"""The tagged JSON codec: every supported type comes back equal and of the same type; every
other type is refused with the key path."""

from __future__ import annotations

import datetime as dt
import enum
import json
import math
import pathlib
import uuid
from collections import OrderedDict
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wfengine.codec import TAG, decode, encode
from wfengine.errors import StoreError, UnstorableValueError


def roundtrip(value: Any) -> Any:
    return decode(encode({"v": value}))["v"]


def same(a: Any, b: Any) -> bool:
    """Equal, of the same type all the way down (NaN equal to NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(v, b[k]) for k, v in a.items())
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dt.datetime | dt.time):
        return (
            a == b
            and a.tzinfo == b.tzinfo
            and a.fold == b.fold
            and (a.tzname() == b.tzname())
            and type(a.tzinfo) is type(b.tzinfo)
        )
    return bool(a == b)


class Color(enum.StrEnum):
    RED = "red"


class Foo:
    pass


SUPPORTED = [
    pytest.param("text ✓ \ud800", id="str-with-lone-surrogate"),
    pytest.param(2**100, id="big-int"),
    pytest.param(-0.0, id="negative-zero"),
    pytest.param(0.1 + 0.2, id="float"),
    pytest.param(float("inf"), id="inf"),
    pytest.param(float("-inf"), id="-inf"),
    pytest.param(float("nan"), id="nan"),
    pytest.param(True, id="bool"),
    pytest.param(None, id="none"),
    pytest.param([1, [2, [3]]], id="list"),
    pytest.param({"a": {"b": 1}}, id="dict"),
    pytest.param(dt.datetime(2026, 1, 2, 3, 4, 5, 6), id="naive-datetime"),
    pytest.param(dt.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC), id="utc-datetime"),
    pytest.param(
        dt.datetime(2026, 1, 2, tzinfo=dt.timezone(dt.timedelta(hours=-3, minutes=-30))),
        id="offset-datetime",
    ),
    pytest.param(
        dt.datetime(2026, 1, 2, tzinfo=dt.timezone(dt.timedelta(hours=1), "CET")),
        id="named-offset-datetime",
    ),
    pytest.param(dt.datetime(2026, 7, 1, 12, tzinfo=ZoneInfo("Europe/Paris")), id="zoneinfo"),
    pytest.param(
        dt.datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Paris")),
        id="zoneinfo-fold",
    ),
    pytest.param(dt.date(2026, 2, 28), id="date"),
    pytest.param(dt.time(23, 59, 59, 999999), id="time"),
    pytest.param(dt.time(1, 2, tzinfo=dt.timezone(dt.timedelta(hours=5))), id="aware-time"),
    pytest.param(dt.timedelta(days=-1, seconds=5, microseconds=7), id="timedelta"),
    pytest.param(Decimal("1.10"), id="decimal"),
    pytest.param(Decimal("-0E+3"), id="decimal-exponent"),
    pytest.param(Decimal("NaN"), id="decimal-nan"),
    pytest.param(uuid.UUID("12345678-1234-5678-1234-567812345678"), id="uuid"),
    pytest.param(b"\x00\xffbytes", id="bytes"),
    pytest.param(bytearray(b"abc"), id="bytearray"),
    pytest.param((1, (2, "x")), id="tuple"),
    pytest.param(set(), id="empty-set"),
    pytest.param({1, "a", (2, 3)}, id="set"),
    pytest.param(frozenset({1, frozenset({2})}), id="frozenset"),
    pytest.param(pathlib.PurePosixPath("a/b.txt"), id="pureposixpath"),
    pytest.param(pathlib.Path("/tmp/x"), id="path"),
    pytest.param(pathlib.PureWindowsPath(r"C:\data\x.csv"), id="purewindowspath"),
    pytest.param({1: "a", (2, 3): "b", None: "c"}, id="non-str-keys"),
    pytest.param({TAG: "datetime", "v": "not a date"}, id="user-dict-with-tag-key"),
    pytest.param({"x": {TAG: {TAG: 1}}}, id="nested-tag-keys"),
]


@pytest.mark.parametrize("value", SUPPORTED)
def test_supported_values_round_trip_exactly(value: Any) -> None:
    back = roundtrip(value)
    if isinstance(value, Decimal) and value.is_nan():
        assert isinstance(back, Decimal) and back.is_nan()
    else:
        assert same(value, back), (value, back)


def test_stored_text_is_standard_json() -> None:
    text = encode({"n": float("nan"), "i": float("inf"), "d": dt.date(2026, 1, 1)})
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON {c}"))
    assert data["n"] == {TAG: "float", "v": "nan"}


@pytest.mark.parametrize(
    ("state", "path", "kind"),
    [
        ({"rows": [{}, {}, {}, {"created": Foo()}]}, 'state["rows"][3]["created"]', Foo),
        ({"color": Color.RED}, 'state["color"]', Color),
        ({"od": OrderedDict(a=1)}, 'state["od"]', OrderedDict),
        ({"t": (1, [2, object()])}, 'state["t"][1][1]', object),
        ({"s": {1, Foo()}}, 'state["s"]{...}', Foo),
        ({"d": {Foo(): 1}}, 'state["d"]', Foo),
        ({"d": {1: {"deep": 1j}}}, 'state["d"][1]["deep"]', complex),
        (
            {"when": dt.datetime(2026, 1, 1, tzinfo=type("TZ", (dt.tzinfo,), {})())},
            'state["when"]',
            None,
        ),
    ],
)
def test_other_types_are_refused_with_the_key_path(state: Any, path: str, kind: Any) -> None:
    with pytest.raises(UnstorableValueError) as info:
        encode(state)
    assert str(info.value).startswith(f"{path}: cannot store ")
    assert info.value.path == path
    if kind is not None:
        assert info.value.value_type is kind
    assert isinstance(info.value, StoreError)


def test_a_circular_value_is_refused_not_crashed() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(StoreError, match="nested too deeply"):
        encode({"loop": loop})


def test_an_unknown_tag_is_an_error_not_a_silent_dict() -> None:
    with pytest.raises(StoreError, match="unknown type tag 'mystery'"):
        decode('{"$t": "mystery", "v": 1}')


# -- property test -------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(),
    st.binary(),
    st.decimals(allow_nan=False),
    st.uuids(),
    st.dates(),
    st.times(),
    st.datetimes(),
    st.datetimes(timezones=st.timezones()),
    st.timedeltas(),
    st.builds(pathlib.PurePosixPath, st.text(alphabet="abc/._", min_size=1)),
)
hashables = st.recursive(
    scalars.filter(lambda v: not (isinstance(v, float) and math.isnan(v))),
    lambda inner: st.one_of(st.tuples(inner, inner), st.frozensets(inner, max_size=3)),
    max_leaves=5,
)
values = st.recursive(
    st.one_of(scalars, hashables),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(), st.just(TAG)), inner, max_size=4),
        st.dictionaries(hashables, inner, max_size=3),
        st.tuples(inner, inner),
        st.sets(hashables, max_size=3),
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(), values, max_size=5))
def test_property_any_supported_state_round_trips(state: dict[str, Any]) -> None:
    assert same(state, decode(encode(state)))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(), values, max_size=5))
def test_property_the_plain_fast_path_writes_what_the_tagging_walk_writes(
    state: dict[str, Any],
) -> None:
    from wfengine.codec import _dumps, _plain, to_data

    walked = _dumps(to_data(state))
    assert encode(state) == walked
    if _plain(state):
        assert _dumps(state) == walked  # nothing to tag
    else:
        assert f'"{TAG}"' in walked  # something was tagged


def test_the_plain_fast_path_still_refuses_what_json_cannot_keep() -> None:
    with pytest.raises(StoreError, match="nested too deeply"):
        deep: list[Any] = []
        deep.append(deep)
        encode({"v": deep})
    with pytest.raises(StoreError, match="cannot store a value"):
        encode({"v": 10**5000})  # beyond Python's int-to-str digit limit
    assert decode(encode({"v": [1.5, float("inf")]})) == {"v": [1.5, float("inf")]}
    assert decode(encode({"v": {TAG: 1}})) == {"v": {TAG: 1}}
