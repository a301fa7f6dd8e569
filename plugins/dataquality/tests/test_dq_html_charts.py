"""Chart data for report.html: same bins before and after, every value counted once."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from wfengine_dataquality.chart_data import ColumnCharts, SideCounts, column_charts


def _accounted(side: SideCounts) -> int:
    """Every row of a side lands in exactly one place: a bar, under/overflow, other, null
    or unreadable."""
    return (
        sum(side["counts"])
        + side["below"]
        + side["above"]
        + side["other"]
        + side["nulls"]
        + side["unreadable"]
    )


def _both(chart: ColumnCharts) -> tuple[SideCounts, SideCounts]:
    assert chart["before"] is not None and chart["after"] is not None
    return chart["before"], chart["after"]


def test_numbers_share_bins_and_every_row_is_counted() -> None:
    before = pl.DataFrame({"_row": range(1, 1001), "x": [float(i % 100) for i in range(1000)]})
    after = before.filter(pl.col("x") < 50)
    charts = column_charts(before, after)
    assert list(charts) == ["x"]  # _row is not charted
    chart = charts["x"]
    b, a = _both(chart)
    assert chart["kind"] == "numeric" and chart["scale"] == "linear"
    assert len(chart["edges"]) == len(b["counts"]) + 1 == len(a["counts"]) + 1
    assert chart["edges"][0] <= 0 and chart["edges"][-1] > 99
    assert _accounted(b) == 1000 and _accounted(a) == 500
    # the bins that hold 50..99 are empty after
    upper = [i for i, e in enumerate(chart["edges"][:-1]) if e >= 50]
    assert upper and all(a["counts"][i] == 0 for i in upper)
    assert sum(b["counts"][i] for i in upper) == 500


def test_text_that_becomes_numbers_counts_the_unreadable_values() -> None:
    before = pl.DataFrame({"age": ["30", "41", "forty-two", None, " 55 ", "n.a."]})
    after = pl.DataFrame({"age": [30, 41, 55]})
    chart = column_charts(before, after)["age"]
    b, a = _both(chart)
    assert chart["kind"] == "numeric"
    assert (chart["dtype_before"], chart["dtype_after"]) == ("String", "Int64")
    assert (b["nulls"], b["unreadable"], sum(b["counts"])) == (1, 2, 3)
    assert (a["nulls"], a["unreadable"], sum(a["counts"])) == (0, 0, 3)


def test_far_outliers_go_to_overflow_and_do_not_squash_the_bulk() -> None:
    values = [float(50_000 + 100 * i) for i in range(1000)] + [9_999_999.99, -75_000.0]
    before = pl.DataFrame({"income": values})
    after = pl.DataFrame({"income": values[:1000]})
    chart = column_charts(before, after)["income"]
    b, a = _both(chart)
    assert (b["below"], b["above"]) == (1, 1)
    assert (a["below"], a["above"]) == (0, 0)
    assert len(b["counts"]) >= 10
    assert max(b["counts"]) < 200  # the bulk is spread over the bins, not in one
    assert _accounted(b) == 1002


def test_heavy_tailed_positive_numbers_get_log_bins() -> None:
    values = [10.0 ** (i / 200) for i in range(1200)]  # 1 .. ~1e6, most of them small
    frame = pl.DataFrame({"size": values})
    chart = column_charts(frame, frame)["size"]
    assert chart["scale"] == "log"
    assert chart["edges"][0] <= 1 and chart["edges"][-1] >= values[-1]
    assert sum(_both(chart)[0]["counts"]) == 1200


def test_small_integer_ranges_get_one_bin_per_value() -> None:
    frame = pl.DataFrame({"orders": [0, 1, 1, 2, 2, 2, 5]})
    chart = column_charts(frame, frame)["orders"]
    assert chart["integer"]
    assert chart["edge_labels"][:6] == ["0", "1", "2", "3", "4", "5"]
    assert _both(chart)[0]["counts"][:6] == [1, 2, 3, 0, 0, 1]


def test_categories_top_n_and_other() -> None:
    values = ["US"] * 50 + ["DE"] * 30 + ["FR"] * 10 + ["Frnace"] * 2 + ["uk", None]
    before = pl.DataFrame({"country": values})
    after = pl.DataFrame({"country": ["US"] * 50 + ["DE"] * 30 + ["FR"] * 10})
    chart = column_charts(before, after, top=3)["country"]
    b, a = _both(chart)
    assert chart["kind"] == "categorical"
    assert chart["categories"] == ["US", "DE", "FR"]
    assert b["counts"] == [50, 30, 10] and b["other"] == 3 and b["nulls"] == 1
    assert a["counts"] == [50, 30, 10] and a["other"] == 0


def test_booleans_are_categories() -> None:
    frame = pl.DataFrame({"active": [True, True, False, None]})
    chart = column_charts(frame, frame)["active"]
    assert chart["kind"] == "categorical"
    assert dict(zip(chart["categories"], _both(chart)[0]["counts"], strict=True)) == {
        "true": 2,
        "false": 1,
    }


def test_text_with_many_distinct_values_is_charted_by_length() -> None:
    frame = pl.DataFrame({"email": [f"user{i}@example.org" for i in range(500)]})
    chart = column_charts(frame, frame)["email"]
    assert chart["kind"] == "text_length"
    assert sum(_both(chart)[0]["counts"]) == 500
    assert chart["categories"] == []


def test_dates_and_date_text_are_binned_over_time() -> None:
    days = [date(2018, 1, 1) + timedelta(days=i) for i in range(0, 2000, 3)]
    before = pl.DataFrame({"d": [d.isoformat() for d in days] + ["yesterday", "2021-13-45"]})
    after = pl.DataFrame({"d": days})
    chart = column_charts(before, after)["d"]
    b, a = _both(chart)
    assert chart["kind"] == "date"
    assert chart["edge_labels"][0].startswith("2018")
    assert b["unreadable"] == 2
    assert sum(b["counts"]) + b["below"] + b["above"] == len(days) == sum(a["counts"])
    assert b["counts"] == a["counts"]


def test_datetimes_within_a_day() -> None:
    from datetime import datetime

    stamps = [datetime(2024, 5, 1, 8) + timedelta(minutes=7 * i) for i in range(100)]
    frame = pl.DataFrame({"t": stamps})
    chart = column_charts(frame, frame)["t"]
    assert chart["kind"] == "date"
    assert ":" in chart["edge_labels"][0]  # labelled with the time of day
    assert sum(_both(chart)[0]["counts"]) == 100


def test_empty_and_one_sided_columns() -> None:
    before = pl.DataFrame({"gone": [1, 2, 3], "blank": [None, None, None]}).with_columns(
        pl.col("blank").cast(pl.String)
    )
    after = pl.DataFrame({"blank": [None, None]}, schema={"blank": pl.String}).with_columns(
        flag=pl.lit(True)
    )
    charts = column_charts(before, after)
    assert list(charts) == ["gone", "blank", "flag"]
    assert charts["gone"]["after"] is None and charts["gone"]["before"] is not None
    assert charts["flag"]["before"] is None
    blank = charts["blank"]
    assert blank["kind"] == "empty"
    assert _both(blank)[0]["nulls"] == 3 and _both(blank)[1]["nulls"] == 2


def test_no_rows_after_cleaning() -> None:
    before = pl.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]})
    charts = column_charts(before, before.clear())
    for chart in charts.values():
        b, a = _both(chart)
        assert _accounted(b) == 3 and _accounted(a) == 0 and a["rows"] == 0


def test_output_is_bounded() -> None:
    frame = pl.DataFrame({f"c{i}": [float(j) for j in range(50)] for i in range(30)})
    charts = column_charts(frame, frame, max_columns=7, bins=10)
    assert len(charts) == 7
    assert all(len(c["edges"]) <= 12 for c in charts.values())


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nan_and_infinity_are_unreadable_not_a_crash(bad: float) -> None:
    frame = pl.DataFrame({"x": [1.0, 2.0, bad]})
    b, _ = _both(column_charts(frame, frame)["x"])
    assert (b["unreadable"], sum(b["counts"])) == (1, 2)
