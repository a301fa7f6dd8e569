"""Drift: how new data departs from the profile a learn run saved (``profile.json``).

A learn run writes ``profile.json`` next to its ``rules.json``: the profile of its clean
output (what good data looked like). Validate mode profiles the new rows that pass the
saved rules the same way and compares the two, like with like, so a value the rules
already catch is not also reported as drift. Every drift finding is an **observation**:
reported with counts and shares, never acted on. The kinds:

==================== =================================================================
kind                 when
==================== =================================================================
``row_count``        the row count is under half or over twice the saved one
``column_gone``      a saved column is missing (``column_new``: a column not saved)
``dtype``            a column's type changed
``null_share``       a column's share of missing values moved by at least
                     :data:`NULL_SHARE_CHANGE` (5 points)
``range``            numbers or dates outside the saved ``[min, max]``
``median``           the median moved by more than :data:`MEDIAN_SHIFT` of the saved
                     p5..p95 spread; ``count``: the values beyond the saved median on
                     the side it moved to
``new_values``       values of a saved categorical text or boolean column (one with
                     ``top_values``) that were not seen before
``gone_values``      saved categories not seen any more (``count``: their saved rows)
==================== =================================================================
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import polars as pl

from .columns import data_columns
from .dtypes import dtype_name, family
from .io import ROW

#: A column's null share must move by this much (absolute) to be drift.
NULL_SHARE_CHANGE = 0.05
#: The median must move by this share of the saved p5..p95 spread to be drift.
MEDIAN_SHIFT = 0.25
#: The row count must change by this factor (up or down) to be drift.
ROW_COUNT_FACTOR = 2.0
MAX_EXAMPLES = 5


def _percent(share: float) -> str:
    return f"{share * 100:.2f}%"


def _finding(
    kind: str, column: str | None, count: int, share: float | None, message: str, **details: Any
) -> dict[str, Any]:
    return {
        "kind": kind,
        "severity": "observation",
        "column": column,
        "count": count,
        "share": share,
        "message": message,
        **details,
    }


def _text(value: Any) -> str:
    """A saved category value as polars writes it as text (``true``, not ``True``)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _as_value(text: Any, fam: str) -> Any:
    """A saved bound (dates are saved as ISO text) as a value of the column's family."""
    if isinstance(text, str) and fam == "date":
        return dt.date.fromisoformat(text)
    if isinstance(text, str) and fam == "datetime":
        return dt.datetime.fromisoformat(text)
    return text


def _range(name: str, saved: Mapping[str, Any], frame: pl.DataFrame) -> dict[str, Any] | None:
    fam = family(frame.schema[name])
    if fam not in ("int", "float", "date", "datetime") or saved.get("min") is None:
        return None
    try:
        low, high = _as_value(saved["min"], fam), _as_value(saved["max"], fam)
        col = pl.col(name)
        outside = frame.filter((col < low) | (col > high))
    except (ValueError, TypeError, pl.exceptions.PolarsError):
        return None  # saved bounds of another type: the dtype finding says so
    if outside.height == 0:
        return None
    rows = frame.height
    values = outside.get_column(name)
    low_now, high_now = frame.select(pl.col(name).min().alias("lo"), pl.col(name).max()).row(0)
    return _finding(
        "range",
        name,
        outside.height,
        outside.height / rows,
        f"{outside.height} values ({_percent(outside.height / rows)}) lie outside the saved"
        f" range [{saved['min']}, {saved['max']}] (new range {low_now} .. {high_now})",
        before=[saved["min"], saved["max"]],
        after=[low_now, high_now],
        examples=outside.get_column(ROW).head(MAX_EXAMPLES).to_list(),
        example_values=values.head(MAX_EXAMPLES).to_list(),
    )


def _median(name: str, saved: Mapping[str, Any], frame: pl.DataFrame) -> dict[str, Any] | None:
    if family(frame.schema[name]) not in ("int", "float"):
        return None
    keys = ("p05", "p50", "p95")
    if any(not isinstance(saved.get(k), int | float) for k in keys):
        return None
    spread = saved["p95"] - saved["p05"]
    values = frame.get_column(name).drop_nulls()
    if spread <= 0 or values.len() == 0:
        return None
    median = float(values.median())  # type: ignore[arg-type]
    shift = median - saved["p50"]
    if abs(shift) <= MEDIAN_SHIFT * spread:
        return None
    beyond = int((values > saved["p50"]).sum() if shift > 0 else (values < saved["p50"]).sum())
    side = "above" if shift > 0 else "below"
    return _finding(
        "median",
        name,
        beyond,
        beyond / values.len(),
        f"the median moved from {saved['p50']:g} to {median:g}"
        f" ({abs(shift) / spread * 100:.0f}% of the saved p5..p95 spread);"
        f" {_percent(beyond / values.len())} of the values lie {side} the saved median",
        before=saved["p50"],
        after=median,
    )


def _categories(name: str, saved: Mapping[str, Any], frame: pl.DataFrame) -> list[dict[str, Any]]:
    top = saved.get("top_values")
    if not top or family(frame.schema[name]) not in ("string", "bool"):
        return []  # numbers and dates: range and median say how they moved
    known = {_text(t["value"]) for t in top}
    text = frame.get_column(name).cast(pl.String)
    new = frame.filter(text.is_not_null() & ~text.is_in(sorted(known)))
    found = []
    if new.height:
        counts = new.get_column(name).cast(pl.String).value_counts(sort=True, name="n")
        values = counts.get_column(name).to_list()
        found.append(
            _finding(
                "new_values",
                name,
                new.height,
                new.height / frame.height,
                f"{new.height} rows ({_percent(new.height / frame.height)}) hold"
                f" {len(values)} values not seen before: {', '.join(values[:MAX_EXAMPLES])}",
                values=values,
                examples=new.get_column(ROW).head(MAX_EXAMPLES).to_list(),
                example_values=values[:MAX_EXAMPLES],
            )
        )
    seen = set(text.drop_nulls().unique().to_list())
    gone = [t for t in top if _text(t["value"]) not in seen]
    if gone:
        saved_rows = int(saved.get("rows") or 0) or 1
        count = sum(int(t["count"]) for t in gone)
        values = [_text(t["value"]) for t in gone]
        found.append(
            _finding(
                "gone_values",
                name,
                count,
                count / saved_rows,
                f"{len(values)} saved values ({_percent(count / saved_rows)} of the saved rows)"
                f" are not seen any more: {', '.join(values[:MAX_EXAMPLES])}",
                values=values,
            )
        )
    return found


def compare(saved: Mapping[str, Any], frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Drift findings of ``frame`` (new data, with ``_row``) against the ``saved`` profile."""
    findings: list[dict[str, Any]] = []
    rows = frame.height
    saved_rows = int(saved.get("rows") or 0)
    if saved_rows and (
        rows * ROW_COUNT_FACTOR < saved_rows or rows > saved_rows * ROW_COUNT_FACTOR
    ):
        findings.append(
            _finding(
                "row_count",
                None,
                rows,
                None,
                f"{rows} rows, against {saved_rows} saved ({(rows / saved_rows - 1) * 100:+.0f}%)",
                before=saved_rows,
                after=rows,
            )
        )
    columns: Mapping[str, Any] = saved.get("columns") or {}
    present = data_columns(frame.columns)
    for name in columns:
        if name not in frame.columns:
            findings.append(_finding("column_gone", name, 1, None, f"column '{name}' is missing"))
    for name in present:
        if name not in columns:
            findings.append(
                _finding("column_new", name, 1, None, f"column '{name}' was not in the saved data")
            )
            continue
        info = columns[name]
        dtype = dtype_name(frame.schema[name])
        if info.get("dtype") and info["dtype"] != dtype:
            findings.append(
                _finding(
                    "dtype",
                    name,
                    1,
                    None,
                    f"column '{name}' holds {dtype} values, saved {info['dtype']}",
                    before=info["dtype"],
                    after=dtype,
                )
            )
        nulls = frame.get_column(name).null_count()
        share = nulls / rows if rows else 0.0
        before = (info.get("nulls") or 0) / (info.get("rows") or saved_rows or 1)
        if abs(share - before) >= NULL_SHARE_CHANGE:
            findings.append(
                _finding(
                    "null_share",
                    name,
                    nulls,
                    share,
                    f"{_percent(share)} of the values are missing, saved {_percent(before)}",
                    before=before,
                    after=share,
                )
            )
        for found in (_range(name, info, frame), _median(name, info, frame)):
            if found is not None:
                findings.append(found)
        findings.extend(_categories(name, info, frame))
    return findings
