"""dq.load reads the null markers of R, pandas and SQL exports as missing values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from wfengine_dataquality import DataQualityError, load
from wfengine_dataquality.io import read_frame


def _load(tmp_path: Path, text: str, **state: Any) -> tuple[dict[str, Any], pl.DataFrame]:
    src = tmp_path / "in.csv"
    src.write_text(text, encoding="utf-8")
    update = load({"source": str(src), "output_dir": str(tmp_path / "out"), **state})
    return update, read_frame(update["data_path"], "test").drop("_row")


def test_common_markers_are_missing_and_a_numeric_column_stays_numeric(tmp_path: Path) -> None:
    text = 'x,y,note\n1.5,1,a\nNA,N/A,b\nNULL,null,c\nNaN,-,d\n,2,\n4,3,""\n'
    update, frame = _load(tmp_path, text)
    assert update["schema"] == {"x": "Float64", "y": "Int64", "note": "String"}
    assert frame.get_column("x").to_list() == [1.5, None, None, None, None, 4.0]
    assert frame.get_column("y").to_list() == [1, None, None, None, 2, 3]
    assert frame.get_column("note").to_list() == ["a", "b", "c", "d", None, None]
    seen = update["read_info"]["null_values"]
    assert seen["x"] == {"NA": 1, "NULL": 1, "NaN": 1}
    assert seen["y"] == {"N/A": 1, "null": 1, "-": 1}
    assert seen["note"] == {"": 1}  # the quoted empty field; unquoted empties are nulls anyway
    json.dumps(update["read_info"])


def test_a_dash_is_missing_only_as_the_whole_field(tmp_path: Path) -> None:
    update, frame = _load(tmp_path, "n,t\n-5,a-b\n-,-\n3,x\n")
    assert update["schema"] == {"n": "Int64", "t": "String"}
    assert frame.get_column("n").to_list() == [-5, None, 3]
    assert frame.get_column("t").to_list() == ["a-b", None, "x"]


def test_null_values_replaces_the_defaults(tmp_path: Path) -> None:
    text = "x,code\n1,NA\n?,GB\n3,-\n"
    update, frame = _load(tmp_path, text, null_values=["?"])
    assert update["schema"] == {"x": "Int64", "code": "String"}
    assert frame.get_column("x").to_list() == [1, None, 3]
    assert frame.get_column("code").to_list() == ["NA", "GB", "-"]  # no longer markers
    assert update["read_info"]["null_values"] == {"x": {"?": 1}}


def test_null_values_as_a_comma_separated_string_and_none_at_all(tmp_path: Path) -> None:
    _, frame = _load(tmp_path, "x\n1\nmissing\nn.a.\n", null_values="missing, n.a.")
    assert frame.get_column("x").to_list() == [1, None, None]
    update, frame = _load(tmp_path, "x\n1\nNA\n", null_values=[])
    assert update["schema"] == {"x": "String"}
    assert frame.get_column("x").to_list() == ["1", "NA"]


def test_markers_in_rows_and_json_are_missing_too(tmp_path: Path) -> None:
    rows = [{"a": "2024-01-02", "b": "x"}, {"a": "NA", "b": "N/A"}]
    update = load({"rows": rows, "output_dir": str(tmp_path / "rows")})
    assert update["schema"] == {"a": "Date", "b": "String"}
    assert update["read_info"]["null_values"] == {"a": {"NA": 1}, "b": {"N/A": 1}}
    src = tmp_path / "in.ndjson"
    src.write_text('{"a": "x"}\n{"a": "NULL"}\n')
    update = load({"source": str(src), "output_dir": str(tmp_path / "json")})
    assert read_frame(update["data_path"], "t").get_column("a").to_list() == ["x", None]


@pytest.mark.parametrize("bad", [3, ["NA", 1], {"NA": True}])
def test_a_bad_null_values_setting_is_refused(tmp_path: Path, bad: object) -> None:
    with pytest.raises(DataQualityError, match="'null_values' must be a list of strings"):
        _load(tmp_path, "x\n1\n", null_values=bad)
