"""Read a data-quality run's outputs and score them against what was planted.

:func:`read_outputs` is the one place that knows the workflow's output files; adapt it
when they change. :func:`score` computes the three measures of the evaluation:

* ``untouched_removed``: share of the untouched rows (not planted, not repeating an earlier
  row of the source) missing from the clean output (quarantined or dropped); target <= 1%;
* ``caught``: share of the planted errors whose row is not in the clean output, or whose
  cell is marked as fixed; target >= 90%;
* ``changed_cells``: cells of untouched rows kept in the clean output whose value differs
  from the source without a marker; target 0. The comparison is type-aware: a null marker
  read as null, a decimal comma read as a number, a date text read as a date are the same
  value; ``"01"`` read as ``1``, a filled-in missing value, a lost time of day are changes.
  A source column missing from the clean output changes all its cells (except an index
  column, which is reported as dropped).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from dq_eval_plant import ROW, as_number, is_null_like

TARGET_REMOVED = 0.01
TARGET_CAUGHT = 0.90
TARGET_CHANGED = 0
MARKER = "_imputed"
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%d/%m/%Y", "%m/%d/%Y", "%b %d %Y", "%d %b %Y", "%d.%m.%Y")
DATETIME_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.fZ",
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
)
TRUE_TEXT = ("true", "t", "yes", "y", "1")
FALSE_TEXT = ("false", "f", "no", "n", "0")


@dataclass
class Outputs:
    """What a run left: the clean rows with their source row number, and the marked cells."""

    clean: pl.DataFrame  # has ROW
    marked: pl.DataFrame = field(  # ROW, column: cells the workflow says it filled or fixed
        default_factory=lambda: pl.DataFrame(schema={ROW: pl.Int64, "column": pl.String})
    )
    quarantined: int | None = None  # rows in the quarantine file, if there is one
    note: str = ""


def _markers(clean: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Cells marked as filled/fixed: a ``_imputed`` list (or comma text) of column names per
    row, or a boolean indicator column ``<column>_imputed`` / ``_imputed_<column>``."""
    parts = [pl.DataFrame(schema={ROW: pl.Int64, "column": pl.String})]
    if MARKER in clean.columns:
        listed = clean.select(ROW, pl.col(MARKER).alias("column"))
        if listed.schema["column"] == pl.String:
            listed = listed.with_columns(pl.col("column").str.split(","))
        listed = listed.explode("column").with_columns(pl.col("column").str.strip_chars())
        listed = listed.drop_nulls().filter(pl.col("column") != "")
        parts.append(listed.cast({ROW: pl.Int64, "column": pl.String}))
    for name in columns:
        for flag in (f"{name}{MARKER}", f"{MARKER}_{name}"):
            if flag in clean.columns and clean.schema[flag] == pl.Boolean:
                rows = clean.filter(pl.col(flag)).select(pl.col(ROW).cast(pl.Int64))
                parts.append(rows.with_columns(pl.lit(name).alias("column")))
    return pl.concat(parts).unique()


def read_outputs(output_dir: Path, columns: list[str]) -> Outputs:
    """The clean rows (with ``_row``), the marked cells and the quarantine size of a run.

    ``clean.parquet`` is used if it has ``_row``; the workflow as of this writing drops it
    there, so the last round's ``work/data-r<N>.parquet`` (the same rows, with ``_row``) is
    read instead. A run that wrote neither kept no row. ``columns`` are the source's column
    names (for indicator columns).
    """
    clean_path = output_dir / "clean.parquet"
    clean = None
    note = ""
    if clean_path.is_file() and ROW in pl.read_parquet_schema(clean_path):
        clean = pl.read_parquet(clean_path)
    else:
        rounds = sorted(
            (output_dir / "work").glob("data-r*.parquet"),
            key=lambda p: int(re.sub(r"\D", "", p.stem) or 0),
        )
        if rounds:
            clean = pl.read_parquet(rounds[-1])
            note = f"clean rows from work/{rounds[-1].name}"
            if clean_path.is_file():
                height = pl.scan_parquet(clean_path).select(pl.len()).collect().item()
                if height != clean.height:
                    raise RuntimeError(
                        f"{clean_path} has {height} rows but {rounds[-1]} has {clean.height}:"
                        " read_outputs needs adapting to the workflow's outputs"
                    )
    if clean is None:
        clean = pl.DataFrame(schema={ROW: pl.Int64})
        note = "no clean output"
    clean = clean.with_columns(pl.col(ROW).cast(pl.Int64))
    quarantine_path = output_dir / "quarantine.parquet"
    quarantined = None
    if quarantine_path.is_file():
        quarantined = pl.scan_parquet(quarantine_path).select(pl.len()).collect().item()
    return Outputs(clean, _markers(clean, columns), quarantined, note)


def same_value(orig: str, out: str, dtype: pl.DataType) -> pl.Expr:
    """True where the output cell holds the source's text cell (type-aware, see the module)."""
    o, v = pl.col(orig), pl.col(out)
    text = o.str.strip_chars()
    missing = is_null_like(orig)
    if dtype == pl.String:
        equal = o == v
    elif dtype.is_integer() or dtype.is_float():
        number = as_number(orig)
        tolerance = pl.max_horizontal(pl.lit(1.0), v.cast(pl.Float64).abs()) * 1e-9
        close = (number - v.cast(pl.Float64)).abs() <= tolerance
        lost_zero = text.str.contains(r"^[+-]?0\d")  # "01" read as 1 lost its leading zero
        equal = close & ~lost_zero
    elif dtype == pl.Boolean:
        lower = text.str.to_lowercase()
        equal = (lower.is_in(TRUE_TEXT) & v) | (lower.is_in(FALSE_TEXT) & ~v)
    elif dtype == pl.Date:
        equal = pl.any_horizontal(text.str.to_date(f, strict=False) == v for f in DATE_FORMATS)
    elif isinstance(dtype, pl.Datetime):
        naive = v.dt.convert_time_zone("UTC").dt.replace_time_zone(None) if dtype.time_zone else v
        naive = naive.dt.cast_time_unit("us")
        parsed = [text.str.to_datetime(f, time_unit="us", strict=False) for f in DATETIME_FORMATS]
        with_offset = (
            text.str.to_datetime("%Y-%m-%dT%H:%M:%S%z", time_unit="us", strict=False)
            .dt.convert_time_zone("UTC")
            .dt.replace_time_zone(None)
        )
        equal = pl.any_horizontal(*(p == naive for p in parsed), with_offset == naive)
    else:
        equal = o == v.cast(pl.String)
    return pl.when(v.is_null()).then(missing).otherwise(equal.fill_null(False))


def changed_cells(
    source: pl.DataFrame, outputs: Outputs, rows: pl.Series, index: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Cells of the source ``rows`` (1-based) kept in the clean output that changed unmarked.

    ``source`` is the text table as the file has it. Returns the count, the count per
    column, up to five examples, and the source columns the output lacks.
    """
    clean = outputs.clean
    kept = clean.filter(pl.col(ROW).is_in(rows.implode()))
    src = (
        source.with_row_index(ROW, offset=1)
        .with_columns(pl.col(ROW).cast(pl.Int64))
        .filter(pl.col(ROW).is_in(kept.get_column(ROW).implode()))
    )
    prefix = "\x00source:"
    joined = src.rename({c: prefix + c for c in source.columns}).join(kept, on=ROW, how="inner")
    marked = outputs.marked
    per_column: dict[str, int] = {}
    examples: list[dict[str, Any]] = []
    missing = [c for c in source.columns if c not in clean.columns]
    for name in source.columns:
        if name in missing:
            if name not in index:
                per_column[name] = joined.height
            continue
        flag = "\x00marked"
        cells = joined.select(ROW, prefix + name, name).join(
            marked.filter(pl.col("column") == name).select(ROW, pl.lit(True).alias(flag)),
            on=ROW,
            how="left",
        )
        diff = cells.filter(
            ~same_value(prefix + name, name, clean.schema[name]) & pl.col(flag).is_null()
        )
        if diff.height:
            per_column[name] = diff.height
            room = max(0, 5 - len(examples))
            for row, before, after in diff.head(room).select(ROW, prefix + name, name).rows():
                examples.append({"row": row, "column": name, "source": before, "output": after})
    return {
        "changed_cells": sum(per_column.values()),
        "changed_by_column": per_column,
        "examples": [{k: _plain(v) for k, v in e.items()} for e in examples],
        "missing_columns": [c for c in missing if c not in index],
        "dropped_index_columns": [c for c in missing if c in index],
    }


def _plain(value: Any) -> Any:
    return value if value is None or isinstance(value, int | float | str | bool) else str(value)


def score(
    source: pl.DataFrame,
    outputs: Outputs,
    errors: pl.DataFrame | None = None,
    index: tuple[str, ...] = (),
    natural_duplicates: list[int] | tuple[int, ...] = (),
) -> dict[str, Any]:
    """The evaluation's measures for one run.

    ``source`` is the unplanted text table (rows 1..n); ``errors`` what was planted (``_row``,
    ``kind``, ``column``), None for a run on the original. Rows in ``natural_duplicates``
    (repeating an earlier source row) are neither untouched nor planted.
    """
    n = source.height
    if errors is None:
        errors = pl.DataFrame(schema={ROW: pl.Int64, "kind": pl.String, "column": pl.String})
    kept = outputs.clean.get_column(ROW)
    planted_rows = errors.get_column(ROW).filter(errors.get_column(ROW) <= n)
    untouched = pl.Series(ROW, range(1, n + 1), dtype=pl.Int64)
    untouched = untouched.filter(
        ~untouched.is_in(planted_rows.implode())
        & ~untouched.is_in(pl.Series(list(natural_duplicates), dtype=pl.Int64).implode())
    )
    removed = untouched.filter(~untouched.is_in(kept.implode()))

    marked = outputs.marked.with_columns(pl.lit(True).alias("marked"))
    judged = (
        errors.select(ROW, "kind", "column")
        .join(marked, on=[ROW, "column"], how="left", nulls_equal=False)
        .with_columns(
            (~pl.col(ROW).is_in(kept.implode()) | pl.col("marked").fill_null(False)).alias("caught")
        )
    )
    by_kind = {
        kind: {"planted": planted, "caught": caught}
        for kind, planted, caught in judged.group_by("kind")
        .agg(pl.len().alias("planted"), pl.col("caught").sum().alias("caught"))
        .sort("kind")
        .rows()
    }
    total = judged.height
    caught = int(judged.get_column("caught").sum()) if total else 0
    result: dict[str, Any] = {
        "source_rows": n,
        "rows_in": n + int((errors.get_column(ROW) > n).sum()),
        "rows_kept": outputs.clean.height,
        "quarantined": outputs.quarantined,
        "untouched_rows": untouched.len(),
        "untouched_removed": removed.len(),
        "untouched_removed_share": removed.len() / untouched.len() if untouched.len() else 0.0,
        "untouched_removed_examples": removed.head(5).to_list(),
        "natural_duplicates": len(natural_duplicates),
        "planted": total,
        "caught": caught,
        "caught_share": caught / total if total else None,
        "caught_by_kind": by_kind,
        "missed_examples": judged.filter(~pl.col("caught")).head(5).drop("marked").to_dicts(),
    }
    result.update(changed_cells(source, outputs, untouched, index))
    result["verdicts"] = verdicts(result)
    return result


def verdicts(result: dict[str, Any]) -> dict[str, bool | None]:
    """PASS (True) / FAIL (False) per target; None where there is nothing to judge."""
    caught = result.get("caught_share")
    return {
        "untouched_removed": result["untouched_removed_share"] <= TARGET_REMOVED,
        "caught": None if caught is None else caught >= TARGET_CAUGHT,
        "changed_cells": result["changed_cells"] <= TARGET_CHANGED,
    }
