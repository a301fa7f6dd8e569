"""Showing any state value as JSON: what JSON cannot carry becomes text, nothing fails."""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from datetime import date, datetime
from pathlib import Path

from wfengine.jsonsafe import MAX_DEPTH, jsonable


class Colour(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int
    y: int


def test_json_values_pass_unchanged_and_others_are_converted() -> None:
    value = {
        "n": 1,
        "s": "x",
        "b": True,
        "none": None,
        "f": 1.5,
        "nan": math.nan,
        "set": {3, 1, 2},
        "tuple": (1, 2),
        "when": datetime(2026, 1, 2, 3, 4, 5),
        "day": date(2026, 1, 2),
        "path": Path("/tmp/x"),
        "colour": Colour.RED,
        "point": Point(1, 2),
        "bytes": b"ab\xff",
        7: "int key",
        "obj": object(),
    }
    out = jsonable(value)
    json.dumps(out, allow_nan=False)  # always encodable
    assert out["n"] == 1 and out["f"] == 1.5 and out["nan"] == "nan"
    assert out["set"] == [1, 2, 3] and out["tuple"] == [1, 2]
    assert out["when"] == "2026-01-02T03:04:05" and out["day"] == "2026-01-02"
    assert out["path"] == "/tmp/x" and out["colour"] == "red"
    assert out["point"] == {"x": 1, "y": 2} and out["bytes"] == "ab\ufffd"
    assert out["7"] == "int key" and out["obj"].startswith("<object object")


def test_cycles_and_deep_nesting_are_cut_off() -> None:
    loop: list[object] = []
    loop.append(loop)
    out = jsonable(loop)
    depth = 0
    while isinstance(out, list):
        out, depth = out[0], depth + 1
    assert depth == MAX_DEPTH and "nested deeper" in out


def test_data_mode_writes_non_finite_floats_as_null_and_durations_as_seconds() -> None:
    import datetime as dt
    from decimal import Decimal

    value = {"nan": math.nan, "inf": [math.inf], "d": dt.timedelta(minutes=2), "x": Decimal("1.5")}
    assert jsonable(value, non_finite=None) == {"nan": None, "inf": [None], "d": 120.0, "x": "1.5"}
    assert jsonable(value)["nan"] == "nan"  # for showing, the default
