"""Per-column chart data, before and after cleaning, for ``report.html``.

:func:`column_charts` turns two frames (the data as loaded and as cleaned) into small
JSON-able summaries, one per column, that :mod:`wfengine_dataquality.html_report` draws:

* numbers: a histogram with the **same bins** before and after; bins cover the bulk of the
  values (0.5th to 99.5th percentile when the extremes lie far outside it, the extremes
  then counted in ``below``/``above``); heavy-tailed positive columns get log-scale bins;
* dates and date-times: a histogram over time (edges in days since 1970-01-01);
* text with few distinct values and booleans: the top categories and ``other``;
* text with many distinct values (names, e-mails, ids): a histogram of their lengths.

A column is charted as the type it has **after** cleaning (a column of numbers that was
text before, because of a few bad values, is a number column); before-values that cannot
be read as that type are counted in ``unreadable``. Nulls are counted on each side.

The cost is a few polars passes over each frame (statistics, then counts), with output
bounded by ``bins``, ``top`` and ``max_columns``, whatever the number of rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, TypedDict

import polars as pl

from .svg import fmt_number, nice_ceiling

ChartKind = Literal["numeric", "date", "categorical", "text_length", "empty"]

#: Default number of bins aimed at (nice bin widths give at most this many, plus under/overflow).
BINS = 24
#: Categories shown before the rest are summed as ``other``.
TOP = 10
#: At most this many columns are charted (the page says how many were left out).
MAX_COLUMNS = 200
#: Text columns with more distinct values than this (or than a fifth of their values) are
#: charted by length, not by value.
MAX_CATEGORIES = 1000
#: Quantiles are taken from every k-th value, at most this many (exact: min and max).
QUANTILE_SAMPLE = 100_000
#: Bins cover these quantiles when the extremes would squash the bulk into a few bins.
ROBUST_QUANTILES = (0.005, 0.995)
#: Positive columns whose max/min ratio reaches this and that are right-skewed use log bins.
LOG_RATIO = 1000.0

_DATE_STEPS_DAYS = (1 / 1440, 5 / 1440, 15 / 1440, 1 / 24, 6 / 24, 0.5, 1.0, 7.0, 14.0)
_MONTH_STEPS = (1, 3, 6, 12, 24, 60, 120, 300, 600, 1200)
#: A value this many bins below an edge counts as on it (rounding of divisions and log10).
_EDGE_TOLERANCE = 1e-9
_EPOCH = datetime(1970, 1, 1)


class SideCounts(TypedDict):
    """One side (before or after) of a column's chart."""

    rows: int
    nulls: int
    unreadable: int
    counts: list[int]
    below: int
    above: int
    other: int


class ColumnCharts(TypedDict):
    """What the page draws for one column; ``before``/``after`` is None when the column
    is missing on that side."""

    kind: ChartKind
    dtype_before: str | None
    dtype_after: str | None
    scale: Literal["linear", "log"]
    edges: list[float]
    edge_labels: list[str]
    integer: bool
    categories: list[str]
    before: SideCounts | None
    after: SideCounts | None


def _integer(kind: ChartKind, dtype: pl.DataType) -> bool:
    return kind == "text_length" or (kind == "numeric" and dtype.is_integer())


def _kind(dtype: pl.DataType) -> ChartKind:
    if dtype.is_numeric():
        return "numeric"
    if isinstance(dtype, pl.Date | pl.Datetime):
        return "date"
    if isinstance(dtype, pl.String | pl.Categorical | pl.Enum | pl.Boolean):
        return "categorical"
    return "empty"  # nested, binary, null: only nulls are counted


def _as_number(name: str, dtype: pl.DataType) -> pl.Expr:
    col = pl.col(name)
    if dtype.is_numeric() or isinstance(dtype, pl.Boolean):
        values = col.cast(pl.Float64)
    elif isinstance(dtype, pl.String):
        values = col.str.strip_chars().cast(pl.Float64, strict=False)
    else:
        return pl.lit(None, dtype=pl.Float64)
    return pl.when(values.is_finite()).then(values)  # NaN and infinities are not drawn


def _days(values: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    if isinstance(dtype, pl.Datetime):
        return values.dt.epoch("ms").cast(pl.Float64) / 86_400_000
    return values.cast(pl.Int32).cast(pl.Float64)


def _parse_date(text: pl.Series) -> pl.Series:
    return text.str.to_date(strict=False)  # the format is inferred from the values


def _parse_datetime(text: pl.Series) -> pl.Series:
    return text.str.to_datetime(strict=False)


def _as_days(name: str, dtype: pl.DataType, frame: pl.DataFrame) -> pl.Expr:
    col = pl.col(name)
    if isinstance(dtype, pl.Date | pl.Datetime):
        return _days(col, dtype)
    if isinstance(dtype, pl.String):
        # Dates written as text repeat: parse each distinct text once, then map.
        distinct = frame.get_column(name).drop_nulls().unique()
        for parse in (_parse_date, _parse_datetime):
            try:
                parsed = parse(distinct)
            except pl.exceptions.PolarsError:
                continue
            days = pl.DataFrame({"d": parsed}).select(_days(pl.col("d"), parsed.dtype)).to_series()
            return col.replace_strict(distinct, days, default=None, return_dtype=pl.Float64)
    return pl.lit(None, dtype=pl.Float64)


def _as_text(name: str, dtype: pl.DataType) -> pl.Expr:
    if isinstance(dtype, pl.String | pl.Categorical | pl.Enum | pl.Boolean) or dtype.is_numeric():
        return pl.col(name).cast(pl.String)
    if isinstance(dtype, pl.Date | pl.Datetime):
        return pl.col(name).cast(pl.String)
    return pl.lit(None, dtype=pl.String)


def _values(name: str, kind: ChartKind, frame: pl.DataFrame) -> pl.Expr:
    """The column of ``frame`` as the chart's value type (nulls where unreadable)."""
    dtype = frame.schema[name]
    if kind == "numeric":
        return _as_number(name, dtype)
    if kind == "date":
        return _as_days(name, dtype, frame)
    if kind == "text_length":
        return _as_text(name, dtype).str.len_chars().cast(pl.Float64)
    return _as_text(name, dtype)


def _convert(frame: pl.DataFrame, plans: dict[str, ChartKind]) -> pl.DataFrame:
    """``frame``'s columns as their charts' value types, converted once (parsing text is
    the dearest step): numbers and dates (in days) as Float64, categories as String."""
    return frame.select(
        _values(name, "categorical" if kind == "text_length" else kind, frame).alias(name)
        for name, kind in plans.items()
        if name in frame.schema
    )


def _chart_values(name: str, kind: ChartKind) -> pl.Expr:
    """The values to chart from a column of :func:`_convert`'s frame."""
    if kind == "text_length":
        return pl.col(name).str.len_chars().cast(pl.Float64)
    return pl.col(name)


def _stats(
    frame: pl.DataFrame, converted: pl.DataFrame, plans: dict[str, ChartKind]
) -> dict[str, dict[str, Any]]:
    """Nulls, readable values and range statistics per column, in one pass over
    ``converted``; quantiles from every k-th value (at most :data:`QUANTILE_SAMPLE`)."""
    exprs: list[pl.Expr] = []
    names = [n for n in plans if n in converted.schema]
    stride = max(1, converted.height // QUANTILE_SAMPLE)
    for i, name in enumerate(names):
        kind = plans[name]
        values = _chart_values(name, kind)
        exprs.append(values.count().alias(f"{i}:readable"))
        if kind == "categorical":
            exprs.append(values.approx_n_unique().alias(f"{i}:distinct"))
        elif kind != "empty":
            sample = values.gather_every(stride)
            exprs += [
                values.min().alias(f"{i}:min"),
                values.max().alias(f"{i}:max"),
                sample.quantile(ROBUST_QUANTILES[0]).alias(f"{i}:qlo"),
                sample.quantile(0.5).alias(f"{i}:q50"),
                sample.quantile(ROBUST_QUANTILES[1]).alias(f"{i}:qhi"),
            ]
    row = converted.select(exprs).row(0, named=True) if exprs else {}
    nulls = frame.select(pl.col(names).null_count()).row(0, named=True) if names else {}
    out: dict[str, dict[str, Any]] = {}
    for i, name in enumerate(names):
        prefix = f"{i}:"
        out[name] = {k[len(prefix) :]: v for k, v in row.items() if k.startswith(prefix)}
        out[name]["rows"] = frame.height
        out[name]["nulls"] = nulls[name]
    return out


class _Bins:
    """Bin edges ``start + k * step``, in the unit of the values, log10 of them (``log``)
    or, for dates binned by month, months since 1970-01 (``months``)."""

    def __init__(self, start: float, step: float, count: int, scale: str) -> None:
        self.start, self.step, self.count, self.scale = start, step, count, scale

    def edges(self) -> list[float]:
        """The edges in the unit of the values (days since 1970-01-01 for dates)."""
        raw = [self.start + k * self.step for k in range(self.count + 1)]
        if self.scale == "log":
            return [10**e for e in raw]
        if self.scale == "months":
            return [float((_month_start(int(round(m))) - _EPOCH).days) for m in raw]
        return raw

    def index(self, values: pl.Expr) -> pl.Expr:
        """Bin number per value: -1 below the first edge, ``count`` above the last."""
        if self.scale == "log":
            values = pl.when(values > 0).then(values.log10()).otherwise(-math.inf)
        elif self.scale == "months":
            day = values.floor().cast(pl.Int32).cast(pl.Date)
            values = (
                (day.dt.year().cast(pl.Float64) - 1970) * 12
                + day.dt.month().cast(pl.Float64)
                - 1
                + (day.dt.day().cast(pl.Float64) - 1) / 31
            )
        k = ((values - self.start) / self.step + _EDGE_TOLERANCE).floor()
        return k.clip(-1, self.count).cast(pl.Int32)


def _month_start(months: int) -> datetime:
    return datetime(1970 + months // 12, months % 12 + 1, 1)


def _months(days: float) -> float:
    moment = _EPOCH + timedelta(days=days)
    return (moment.year - 1970) * 12 + moment.month - 1 + (moment.day - 1) / 31


def _bin_count(first: float, last_value: float, step: float) -> int:
    """Bins from ``first`` needed to hold ``last_value`` (computed as :meth:`_Bins.index` does)."""
    return math.floor((last_value - first) / step + _EDGE_TOLERANCE) + 1


def _bulk_range(sides: list[dict[str, Any]]) -> tuple[float, float]:
    """The range the bins cover: every value, unless some lie far outside the bulk (the
    0.5th to 99.5th percentile); those then fall in the under/overflow bins."""
    qlo = min(s["qlo"] for s in sides)
    qhi = max(s["qhi"] for s in sides)
    margin = (qhi - qlo) / 2
    lo = min([s["min"] for s in sides if s["min"] >= qlo - margin] + [qlo])
    hi = max([s["max"] for s in sides if s["max"] <= qhi + margin] + [qhi])
    return lo, hi


def _choose_bins(
    kind: ChartKind, stats: Iterable[dict[str, Any]], integer: bool, bins: int
) -> _Bins | None:
    """The bins for one column from both sides' statistics, or None when nothing to bin."""
    sides = [s for s in stats if s.get("readable")]
    if not sides:
        return None
    lo = min(s["min"] for s in sides)
    hi = max(s["max"] for s in sides)
    qlo = min(s["qlo"] for s in sides)
    qhi = max(s["qhi"] for s in sides)
    q50 = sides[0]["q50"]
    if kind == "numeric" and lo > 0 and hi / lo >= LOG_RATIO and (q50 - qlo) * 5 < (qhi - q50):
        start, end = math.log10(lo), math.log10(hi)
        step = nice_ceiling(max(end - start, 1e-9) / bins)
        first = math.floor(start / step) * step
        return _Bins(first, step, _bin_count(first, end, step), "log")
    lo, hi = _bulk_range(sides)
    span = max(hi - lo, 1e-9)
    if kind == "date" and span / bins >= 28:
        lo_m, hi_m = _months(lo), _months(hi)
        step = float(next((m for m in _MONTH_STEPS if m >= (hi_m - lo_m) / bins), 1200))
        first = math.floor(lo_m / step) * step
        return _Bins(first, step, _bin_count(first, hi_m, step), "months")
    if kind == "date":
        step = next((s for s in _DATE_STEPS_DAYS if s >= span / bins), 28.0)
    else:
        step = nice_ceiling(span / bins)
        if integer:
            step = max(1.0, math.ceil(step))
    first = math.floor(lo / step) * step
    return _Bins(first, step, _bin_count(first, hi, step), "linear")


def _edge_label(kind: ChartKind, value: float, bins: _Bins) -> str:
    if kind == "date":
        moment = _EPOCH + timedelta(days=value)
        if bins.scale == "months":
            return str(moment.year) if bins.step % 12 == 0 else moment.strftime("%Y-%m")
        if bins.step >= 1:
            return moment.date().isoformat()
        return moment.strftime("%Y-%m-%d %H:%M")
    if abs(value - round(value)) < 1e-9 * max(1.0, abs(value)):
        value = float(round(value))
    return fmt_number(value)


def _count_bins(
    frame: pl.DataFrame, plans: dict[str, ChartKind], bins: dict[str, _Bins]
) -> dict[str, dict[int, int]]:
    exprs = [
        bins[name]
        .index(_chart_values(name, plans[name]))
        .drop_nulls()
        .alias("v")
        .value_counts()
        .implode()
        .alias(name)
        for name in bins
        if name in frame.schema
    ]
    if not exprs:
        return {}
    row = frame.select(exprs).row(0, named=True)
    out: dict[str, dict[int, int]] = {}
    for name, pairs in row.items():
        out[name] = {int(p["v"]): int(p["count"]) for p in pairs}
    return out


def _count_values(frame: pl.DataFrame, plans: dict[str, ChartKind], names: Sequence[str]):
    exprs = [
        _chart_values(name, plans[name])
        .drop_nulls()
        .alias("v")
        .value_counts()
        .implode()
        .alias(name)
        for name in names
        if name in frame.schema
    ]
    if not exprs:
        return {}
    row = frame.select(exprs).row(0, named=True)
    return {name: {p["v"]: int(p["count"]) for p in pairs} for name, pairs in row.items()}


def _empty_side(frame: pl.DataFrame, stats: dict[str, Any]) -> SideCounts:
    readable = int(stats.get("readable", 0))
    nulls = int(stats.get("nulls", 0))
    return {
        "rows": frame.height,
        "nulls": nulls,
        "unreadable": frame.height - nulls - readable,
        "counts": [],
        "below": 0,
        "above": 0,
        "other": 0,
    }


def column_charts(
    before: pl.DataFrame,
    after: pl.DataFrame,
    *,
    bins: int = BINS,
    top: int = TOP,
    max_columns: int = MAX_COLUMNS,
    exclude: Sequence[str] = ("_row",),
) -> dict[str, ColumnCharts]:
    """Chart data for each column (the loaded order, then columns only in ``after``).

    ``before`` is the data as loaded, ``after`` as cleaned; either may lack a column (its
    side is then None). At most ``max_columns`` columns; ``exclude`` names columns to skip
    (the source row number ``_row`` by default).
    """
    names = [n for n in before.columns if n not in exclude]
    names += [n for n in after.columns if n not in exclude and n not in before.schema]
    names = names[:max_columns]
    frames = {"before": before, "after": after}
    plans: dict[str, ChartKind] = {}
    for name in names:
        source = after if name in after.schema else before
        plans[name] = _kind(source.schema[name])
    converted = {side: _convert(frame, plans) for side, frame in frames.items()}
    stats = {side: _stats(frames[side], conv, plans) for side, conv in converted.items()}

    # Text with many distinct values is charted by length: top values would say nothing.
    for name, kind in plans.items():
        if kind != "categorical" or isinstance(
            (after if name in after.schema else before).schema[name], pl.Boolean
        ):
            continue
        distinct = max(int(s[name].get("distinct") or 0) for s in stats.values() if name in s)
        readable = max(int(s[name].get("readable") or 0) for s in stats.values() if name in s)
        if distinct > MAX_CATEGORIES or (distinct > 50 and distinct * 5 > readable):
            plans[name] = "text_length"
    relooked = [n for n, k in plans.items() if k == "text_length"]
    if relooked:
        sub = {n: plans[n] for n in relooked}
        for side, conv in converted.items():
            stats[side].update(_stats(frames[side], conv, sub))

    binned: dict[str, _Bins] = {}
    for name, kind in plans.items():
        if kind in ("numeric", "date", "text_length"):
            source = after if name in after.schema else before
            sides = [stats[s][name] for s in frames if name in stats[s]]
            chosen = _choose_bins(kind, sides, _integer(kind, source.schema[name]), bins)
            if chosen is not None:
                binned[name] = chosen
    categorical = [n for n, k in plans.items() if k == "categorical"]
    bin_counts = {side: _count_bins(conv, plans, binned) for side, conv in converted.items()}
    value_counts = {
        side: _count_values(conv, plans, categorical) for side, conv in converted.items()
    }

    out: dict[str, ColumnCharts] = {}
    for name in names:
        kind = plans[name]
        chart: ColumnCharts = {
            "kind": kind,
            "dtype_before": str(before.schema[name]) if name in before.schema else None,
            "dtype_after": str(after.schema[name]) if name in after.schema else None,
            "scale": "linear",
            "edges": [],
            "edge_labels": [],
            "integer": False,
            "categories": [],
            "before": None,
            "after": None,
        }
        sides: dict[str, SideCounts] = {
            side: _empty_side(frame, stats[side][name])
            for side, frame in frames.items()
            if name in frame.schema
        }
        if name in binned:
            b = binned[name]
            integer = _integer(kind, (after if name in after.schema else before).schema[name])
            edges = b.edges()
            chart["scale"] = "log" if b.scale == "log" else "linear"
            chart["edges"] = edges
            chart["edge_labels"] = [_edge_label(kind, e, b) for e in edges]
            chart["integer"] = b.scale == "linear" and b.step == 1 and kind != "date" and integer
            for side, counts in sides.items():
                hist = bin_counts[side].get(name, {})
                counts["counts"] = [hist.get(k, 0) for k in range(b.count)]
                counts["below"] = hist.get(-1, 0)
                counts["above"] = hist.get(b.count, 0)
        elif kind == "categorical" and any(value_counts[side].get(name) for side in sides):
            total: dict[str, int] = {}
            for side in sides:
                for value, n in value_counts[side].get(name, {}).items():
                    total[value] = total.get(value, 0) + n
            chosen = sorted(total, key=lambda v: (-total[v], v))[:top]
            chart["categories"] = chosen
            for side, counts in sides.items():
                found = value_counts[side].get(name, {})
                counts["counts"] = [found.get(v, 0) for v in chosen]
                counts["other"] = sum(found.values()) - sum(counts["counts"])
        elif kind != "empty":
            chart["kind"] = "empty"  # no readable value on either side
        chart["before"] = sides.get("before")
        chart["after"] = sides.get("after")
        out[name] = chart
    return out
