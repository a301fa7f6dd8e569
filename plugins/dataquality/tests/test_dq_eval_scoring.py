"""The evaluation benchmark's planting and scoring (benchmarks/dq_eval_*.py), on small frames.

No data-set package is needed: the frames are built here, the workflow's outputs faked.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import polars as pl
import pytest

BENCHMARKS = Path(__file__).resolve().parents[3] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from dq_eval_plant import (  # noqa: E402
    MALFORMED_TOKENS,
    ROW,
    classify,
    header_line,
    plant,
    typo,
    write_like,
)
from dq_eval_score import Outputs, read_outputs, same_value, score  # noqa: E402

N = 200


def source_frame() -> pl.DataFrame:
    """A text table as a CSV reader gives it: an R row-name column, codes, NA, dates."""
    return pl.DataFrame(
        {
            "": [str(i) for i in range(1, N + 1)],
            "code": [f"0{i % 9 + 1}" for i in range(N)],
            "count": [str(10 + i % 7) for i in range(N)],
            "delta": ["NA" if i % 50 == 0 else str(-(i % 13) - 0.5) for i in range(N)],
            "comma": [f"{i % 5},5" for i in range(N)],
            "colour": ["red", "green", "blue", "green"] * (N // 4),
            "day": [f"2000/01/{i % 28 + 1:02d}" for i in range(N)],
            "at": [f"2013-01-01T{i % 24:02d}:00:00Z" for i in range(N)],
        }
    )


def test_classify_finds_the_index_numbers_and_categories() -> None:
    cols = classify(source_frame())
    assert cols.index == ("",)
    assert set(cols.numeric) == {"code", "count", "delta", "comma"}
    assert set(cols.integer) == {"", "code", "count"}
    assert cols.decimal_comma == ("comma",)
    assert cols.categorical == ("colour",)


def test_plant_puts_each_kind_on_one_percent_of_disjoint_rows() -> None:
    raw = source_frame()
    planted = plant(raw, seed=3)
    errors = planted.errors
    assert errors.group_by("kind").len().sort("kind").rows() == [
        ("duplicate", 2),
        ("garbage", 2),
        ("magnitude", 2),
        ("malformed", 2),
    ]
    assert errors.get_column(ROW).n_unique() == errors.height  # disjoint rows
    assert planted.frame.height == N + 2 and planted.source_rows == N
    frame = planted.frame
    for row, kind, column, text, original, _ in errors.rows():
        if kind == "duplicate":
            continue
        assert frame.get_column(column)[row - 1] == text
        assert raw.get_column(column)[row - 1] == original != text
        if kind == "malformed":
            assert text in MALFORMED_TOKENS and column in ("code", "count", "delta", "comma")
        elif kind == "magnitude":
            value = float(text.replace(",", "."))
            assert ("," in text) == (column == "comma")
            median = {"code": 5, "count": 13, "delta": 6.5, "comma": 2.5}[column]
            assert abs(value) in (pytest.approx(median * 1e4), pytest.approx(median * 1e6))
            assert (value < 0) == (column == "delta")  # the sign of the column is kept
        else:
            assert column == "colour" and text not in {"red", "green", "blue"}
    # untouched rows are unchanged; the copies repeat their source but for the running index
    planted_rows = set(errors.filter(pl.col(ROW) <= N).get_column(ROW))
    untouched = [i for i in range(N) if i + 1 not in planted_rows]
    assert frame[untouched].equals(raw[untouched])
    copies = errors.filter(pl.col("kind") == "duplicate")
    for row, source in copies.select(ROW, "source_row").rows():
        assert frame.row(row - 1)[1:] == raw.row(source - 1)[1:]
        assert frame.get_column("")[row - 1] == str(row)
    assert plant(raw, seed=3).errors.equals(errors)  # same seed, same plants


def test_plant_skips_rows_that_already_repeat_an_earlier_row() -> None:
    raw = pl.DataFrame({"a": [str(i % 20) for i in range(200)], "b": ["x", "y"] * 100})
    planted = plant(raw, seed=1)
    assert planted.natural_duplicates == list(range(21, 201))
    assert set(planted.errors.filter(pl.col(ROW) <= 200).get_column(ROW)) <= set(range(1, 21))
    with pytest.raises(ValueError, match="200 rows are too few to plant 8 errors"):
        plant(raw.with_columns(pl.col("a").str.replace(r"\d+", "1")))


def test_typo_is_one_off_and_new() -> None:
    import random

    rng = random.Random(0)
    taken = {"France", "FR", "DE"}
    spelled = [typo("France", rng, taken) for _ in range(20)]
    assert len(set(spelled)) == 20 and "France" not in spelled
    assert all(s in taken for s in spelled)


def perfect_clean(raw: pl.DataFrame, drop: set[int]) -> pl.DataFrame:
    """What a right workflow keeps: the rows not in ``drop``, converted to their types."""
    return (
        raw.with_row_index(ROW, offset=1)
        .with_columns(pl.col(ROW).cast(pl.Int64))
        .filter(~pl.col(ROW).is_in(sorted(drop)))
        .select(
            ROW,
            pl.col("").cast(pl.Int64),
            "code",
            pl.col("count").cast(pl.Int64),
            pl.col("delta").replace("NA", None).cast(pl.Float64),
            pl.col("comma").str.replace(",", ".").cast(pl.Float64),
            "colour",
            pl.col("day").str.to_date("%Y/%m/%d"),
            pl.col("at")
            .str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_unit="us")
            .dt.replace_time_zone("UTC"),
        )
    )


def test_a_right_output_scores_full_marks() -> None:
    raw = source_frame()
    planted = plant(raw, seed=3)
    errors = planted.errors
    result = score(raw, Outputs(perfect_clean(raw, set(errors.get_column(ROW)))), errors, ("",))
    assert result["untouched_removed"] == 0
    assert result["caught"] == result["planted"] == 8 and result["caught_share"] == 1.0
    assert result["changed_cells"] == 0, result["examples"]
    assert result["verdicts"] == {"untouched_removed": True, "caught": True, "changed_cells": True}


def test_removed_rows_missed_errors_and_unmarked_changes_are_counted() -> None:
    raw = source_frame()
    errors = plant(raw, seed=3).errors
    cells = errors.filter(pl.col("kind") != "duplicate")
    (kept_row, kept_col), (marked_row, marked_col) = cells.select(ROW, "column").rows()[:2]
    # planted cells kept: one unmarked (missed), one nulled with a marker (caught); the
    # other planted rows and a duplicate copy are removed, one copy is kept (missed)
    copies = errors.filter(pl.col("kind") == "duplicate").get_column(ROW).to_list()
    drop = set(errors.get_column(ROW)) - {kept_row, marked_row, copies[0]}
    untouched = [r for r in range(1, N + 1) if r not in set(errors.get_column(ROW))]
    drop |= set(untouched[:3])  # three good rows quarantined
    clean = perfect_clean(pl.concat([raw, raw[[copies[0] - N - 1]]]), drop)
    clean = clean.with_columns(
        pl.when(pl.col(ROW) == marked_row)
        .then(None)
        .otherwise(pl.col(marked_col))
        .alias(marked_col)
    )
    # unmarked changes in untouched rows: a code that lost its leading zero, a filled-in NA,
    # a time of day lost; one marked fill that is no change
    na_rows = [r for r in untouched if r not in drop and raw.get_column("delta")[r - 1] == "NA"]
    changed_row = untouched[5]
    clean = clean.with_columns(
        pl.col("code").cast(pl.Int64),
        pl.when(pl.col(ROW).is_in(na_rows)).then(-6.5).otherwise(pl.col("delta")).alias("delta"),
        pl.when(pl.col(ROW) == changed_row)
        .then(pl.col("at").dt.truncate("1d"))
        .otherwise(pl.col("at"))
        .alias("at"),
    )
    marked = pl.DataFrame(
        {ROW: [marked_row, na_rows[0]], "column": [marked_col, "delta"]},
        schema={ROW: pl.Int64, "column": pl.String},
    )
    result = score(raw, Outputs(clean, marked), errors, ("",))

    assert result["untouched_removed"] == 3
    assert result["untouched_removed_share"] == pytest.approx(3 / len(untouched))
    assert result["caught"] == 6 and result["planted"] == 8
    assert {m[ROW] for m in result["missed_examples"]} == {kept_row, copies[0]}
    kept_untouched = len(untouched) - 3
    changed_at = 0 if raw.get_column("at")[changed_row - 1].endswith("T00:00:00Z") else 1
    assert result["changed_by_column"] == {
        "code": kept_untouched,  # every code had a leading zero
        "delta": len(na_rows) - 1,  # the filled NAs but the marked one
        **({"at": 1} if changed_at else {}),
    }
    assert result["verdicts"] == {
        "untouched_removed": False,
        "caught": False,
        "changed_cells": False,
    }


def test_missing_columns_change_every_cell_but_a_dropped_index_does_not() -> None:
    raw = source_frame()
    clean = perfect_clean(raw, set()).drop("", "colour")
    result = score(raw, Outputs(clean), None, ("",))
    assert result["changed_by_column"] == {"colour": N}
    assert result["missing_columns"] == ["colour"]
    assert result["dropped_index_columns"] == [""]
    assert result["caught_share"] is None and result["verdicts"]["caught"] is None


@pytest.mark.parametrize(
    ("text", "value", "dtype", "same"),
    [
        ("01", "01", pl.String, True),
        ("01", 1, pl.Int64, False),
        ("1", 1, pl.Int64, True),
        ("NA", None, pl.Int64, True),
        ("NA", "NA", pl.String, True),
        ("NA", 0, pl.Int64, False),
        ("7", None, pl.Int64, False),
        ("1,5", 1.5, pl.Float64, True),
        ("1.5", 1.4, pl.Float64, False),
        ("TRUE", True, pl.Boolean, True),
        ("no", True, pl.Boolean, False),
        ("Jan 1 2000", dt.date(2000, 1, 1), pl.Date, True),
        ("2000/01/02", dt.date(2000, 1, 2), pl.Date, True),
        ("2000-01-02", dt.date(2000, 2, 1), pl.Date, False),
        ("2013-01-01T06:00:00Z", dt.datetime(2013, 1, 1, 6), pl.Datetime("us"), True),
        ("2013-01-01T07:00:00+01:00", dt.datetime(2013, 1, 1, 6), pl.Datetime("us"), True),
        ("2013-01-01T06:00:00Z", dt.datetime(2013, 1, 1), pl.Datetime("us"), False),
    ],
)
def test_same_value_is_type_aware(text: str, value: object, dtype: pl.DataType, same: bool) -> None:
    frame = pl.DataFrame({"orig": [text], "out": [value]}, schema={"orig": pl.String, "out": dtype})
    assert frame.select(same_value("orig", "out", dtype)).item() is same


def test_same_value_compares_utc_and_zoned_datetimes() -> None:
    frame = pl.DataFrame({"orig": ["2013-01-01T06:00:00Z"]}).with_columns(
        pl.lit(dt.datetime(2013, 1, 1, 6)).dt.replace_time_zone("UTC").alias("out")
    )
    assert frame.select(same_value("orig", "out", frame.schema["out"])).item() is True


def test_read_outputs_takes_the_rows_and_markers_the_workflow_wrote(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    data = pl.DataFrame({ROW: [1, 3], "a": [1.0, None], "_imputed": [[], ["a"]]})
    pl.DataFrame({ROW: [1, 2, 3], "a": [1.0, 2.0, None]}).write_parquet(work / "data-r0.parquet")
    data.write_parquet(work / "data-r10.parquet")
    data.drop(ROW).write_parquet(tmp_path / "clean.parquet")  # the clean file has no _row
    pl.DataFrame({ROW: ["2"], "a": ["x"]}).write_parquet(tmp_path / "quarantine.parquet")
    out = read_outputs(tmp_path, ["a"])
    assert out.clean.get_column(ROW).to_list() == [1, 3]  # the last round, not r0
    assert out.marked.rows() == [(3, "a")]
    assert out.quarantined == 1

    # a clean file with _row wins; markers as comma text or indicator columns
    pl.DataFrame(
        {ROW: [1, 3], "a": [1.0, 2.0], "b": [1, 2], "_imputed": ["", "a, b"], "b_imputed": [1, 0]}
    ).with_columns(pl.col("b_imputed").cast(pl.Boolean)).write_parquet(tmp_path / "clean.parquet")
    out = read_outputs(tmp_path, ["a", "b"])
    assert out.clean.get_column("a").to_list() == [1.0, 2.0]
    assert sorted(out.marked.rows()) == [(1, "b"), (3, "a"), (3, "b")]


def test_read_outputs_refuses_outputs_it_does_not_understand(tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    pl.DataFrame({ROW: [1, 2]}).write_parquet(tmp_path / "work" / "data-r1.parquet")
    pl.DataFrame({"a": [1]}).write_parquet(tmp_path / "clean.parquet")
    with pytest.raises(RuntimeError, match="read_outputs needs adapting"):
        read_outputs(tmp_path, ["a"])


def test_read_outputs_of_a_run_that_wrote_nothing_keeps_no_row(tmp_path: Path) -> None:
    out = read_outputs(tmp_path, ["a"])
    assert out.clean.height == 0 and out.note == "no clean output"


def test_the_planted_copy_keeps_the_source_header_line(tmp_path: Path) -> None:
    source = tmp_path / "s.csv"
    source.write_text("'a'\t'b'\n1\tx\n2\ty\n")
    raw = pl.read_csv(source, separator="\t", quote_char="'", infer_schema=False)
    copy = tmp_path / "c.csv"
    write_like(raw, header_line(str(source)), str(copy), "\t", "'")
    assert copy.read_text() == source.read_text()


def test_rows_repeating_an_earlier_row_are_not_scored_as_untouched() -> None:
    raw = source_frame()
    result = score(raw, Outputs(perfect_clean(raw, {5, 6})), None, ("",), natural_duplicates=[5])
    assert result["untouched_rows"] == N - 1 and result["natural_duplicates"] == 1
    assert result["untouched_removed"] == 1 and result["untouched_removed_examples"] == [6]
