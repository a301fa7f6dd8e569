"""dq.load keeps codes as text and reads dates and timestamps in their common layouts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from wfengine_dataquality import load
from wfengine_dataquality.formats import infer_format
from wfengine_dataquality.io import read_frame


def _load(tmp_path: Path, text: str, **state: Any) -> tuple[dict[str, Any], pl.DataFrame]:
    src = tmp_path / "in.csv"
    src.write_text(text, encoding="utf-8")
    update = load({"source": str(src), "output_dir": str(tmp_path / "out"), **state})
    return update, read_frame(update["data_path"], "test").drop("_row")


def test_leading_zero_codes_stay_text(tmp_path: Path) -> None:
    text = "code,zip,n,price\n01,02139,1,0.5\n007,10001,2,1.25\n12,94105,3,0\n"
    update, frame = _load(tmp_path, text)
    assert update["schema"] == {"code": "String", "zip": "String", "n": "Int64", "price": "Float64"}
    assert frame.get_column("code").to_list() == ["01", "007", "12"]
    assert frame.get_column("zip").to_list() == ["02139", "10001", "94105"]
    kept = update["read_info"]["kept_as_text"]
    assert set(kept) == {"code", "zip"}
    assert "leading zeros (e.g. '01')" in kept["code"]


def test_a_leading_zero_far_down_the_file_still_keeps_the_column_text(tmp_path: Path) -> None:
    n = 5000  # beyond the 1,000-row sample
    lines = ["zip"] + [str(10000 + i) for i in range(n)] + ["00501"]
    update, frame = _load(tmp_path, "\n".join(lines) + "\n")
    assert update["schema"] == {"zip": "String"}
    assert frame.get_column("zip")[-1] == "00501"


def test_a_code_column_has_no_number_format() -> None:
    assert infer_format(pl.Series(["01", "02", "10", "11"])) is None
    assert infer_format(pl.Series(["1", "2", "x", "10", "11"]))["format"] == "number"


@pytest.mark.parametrize(
    ("values", "dtype", "first"),
    [
        (["Jan 1 2000", "Feb 29 2000"], "Date", dt.date(2000, 1, 1)),
        (["1 Jan 2000", "29 Feb 2000"], "Date", dt.date(2000, 1, 1)),
        (["January 1, 2000", "March 3, 2001"], "Date", dt.date(2000, 1, 1)),
        (["01-Jan-2000", "15-Aug-1999"], "Date", dt.date(2000, 1, 1)),
        (["2000/01/31", "1999/12/01"], "Date", dt.date(2000, 1, 31)),
        (["31/01/2000", "01/02/2000"], "Date", dt.date(2000, 1, 31)),  # day first: 31 > 12
        (["01/31/2000", "02/01/2000"], "Date", dt.date(2000, 1, 31)),  # month first
        (["31.01.2000", "01.02.2000"], "Date", dt.date(2000, 1, 31)),
        (
            ["2024-01-02 10:11:12", "2024-01-02 10:11:12.5"],
            "Datetime",
            dt.datetime(2024, 1, 2, 10, 11, 12),
        ),
        (["2024-01-02T10:11", "2024-01-03T00:00"], "Datetime", dt.datetime(2024, 1, 2, 10, 11)),
    ],
)
def test_dates_in_common_layouts_are_converted(
    tmp_path: Path, values: list[str], dtype: str, first: object
) -> None:
    update, frame = _load(tmp_path, "when\n" + "\n".join(f'"{v}"' for v in values) + "\n")
    assert update["schema"] == {"when": dtype}
    assert frame.get_column("when")[0] == first
    assert update["read_info"]["conversions"]["when"]["type"] == dtype


def test_iso_timestamps_with_z_and_offsets_become_utc(tmp_path: Path) -> None:
    text = "ts\n2024-01-02T10:11:12Z\n2024-01-02T10:11:12+01:00\n2024-01-02T10:11:12.250-0230\n"
    update, frame = _load(tmp_path, text)
    assert update["schema"]["ts"] == "Datetime(time_unit='us', time_zone='UTC')"
    utc = dt.UTC
    assert frame.get_column("ts").to_list() == [
        dt.datetime(2024, 1, 2, 10, 11, 12, tzinfo=utc),
        dt.datetime(2024, 1, 2, 9, 11, 12, tzinfo=utc),
        dt.datetime(2024, 1, 2, 12, 41, 12, 250000, tzinfo=utc),
    ]
    conversion = update["read_info"]["conversions"]["ts"]
    assert conversion["note"] == "offsets converted to UTC"


def test_dates_that_could_be_day_or_month_first_stay_text(tmp_path: Path) -> None:
    update, frame = _load(tmp_path, "d\n01/02/2000\n03/04/2000\n")
    assert update["schema"] == {"d": "String"}
    assert "%d/%m/%Y and %m/%d/%Y" in update["read_info"]["kept_as_text"]["d"]


def test_a_date_column_with_null_markers_is_a_date_column(tmp_path: Path) -> None:
    update, frame = _load(tmp_path, "d\n2000/01/02\nNA\n\n2000/01/03\n")
    assert update["schema"] == {"d": "Date"}
    assert frame.get_column("d").to_list() == [dt.date(2000, 1, 2), None, None, dt.date(2000, 1, 3)]


def test_one_value_off_layout_keeps_the_column_text(tmp_path: Path) -> None:
    update, frame = _load(tmp_path, "d\n2000/01/02\nyesterday\n")
    assert update["schema"] == {"d": "String"}
    assert frame.get_column("d").to_list() == ["2000/01/02", "yesterday"]
