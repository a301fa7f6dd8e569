"""``dq.profile``: per-column statistics of the current data.

For every column: ``dtype``, ``family``, ``rows``, ``nulls``, ``distinct`` (non-null distinct
values; exact up to 10,000, above that a HyperLogLog estimate, within about 1%). Numbers
and dates add ``min``, ``max``, ``mean``, ``std``, ``p25``, ``p50``, ``p75`` (dates as ISO
strings, their ``std`` in days). Text adds ``min_length``, ``max_length`` and ``format``
(inferred, see :mod:`.formats`); text in a number or date format also gets the
number/date statistics of the values that parse. Low-cardinality columns (at most
``max_categories`` distinct values, each seen twice on average) add ``top_values``: every
value with its count, most frequent first. A text column with more distinct values is still
low-cardinality when at most ``max_categories`` values repeat (are seen more than
:data:`ONE_OFF` times) and the others, seen once or twice, make up at most
``1 - CATEGORY_COVER`` (2%) of its values: one-off typos in a big categorical column. Its
``top_values`` are the repeating values and ``other_values`` sums up the rest
(``distinct``, ``count``: rows, ``max_count``). Numbers also get ``p05`` and ``p95``, which
:mod:`.baseline` uses to judge extreme values. The marker columns (``_imputed``,
``_clipped``) are not profiled.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import polars as pl

from .columns import data_columns
from .dtypes import dtype_name, family
from .formats import infer_format, parse
from .io import read_frame
from .settings import positive, setting
from .state import jsonable, require

TOOL = "dq.profile"
MAX_CATEGORIES = 50
#: Distinct counts up to this many (as estimated) are counted exactly.
EXACT_DISTINCT = 10_000
#: A value seen at most this often is a one-off (a typo candidate), not a repeating value.
ONE_OFF = 2
#: The repeating values of a low-cardinality column cover at least this share of its values.
CATEGORY_COVER = 0.98
_QUANTILES = {"p05": 0.05, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 0.95}
_DATE_STATS = ("min", "max", "mean", "std", *_QUANTILES)
_EPOCH = dt.datetime(1970, 1, 1)


def _stat_exprs(
    schema: Mapping[str, pl.DataType],
    formats: Mapping[str, Mapping[str, Any] | None],
    exact_distinct: bool,
) -> list[pl.Expr]:
    """The statistics of every column as a few multi-column expressions (one per statistic
    and kind of column, not one per column: a table of 20,000 columns is planned quickly).

    Each result is named ``<column>\x00<statistic>``; text in a number or date format uses
    the parsed column ``\x00<name>``, text lengths the column ``\x00len:<name>`` (both
    computed once by :func:`profile_frame`).
    """
    names = list(schema)
    distinct = pl.col(names).drop_nulls()
    exprs = [
        pl.col(names).null_count().name.suffix("\x00nulls"),
        (distinct.n_unique() if exact_distinct else distinct.approx_n_unique()).name.suffix(
            "\x00distinct"
        ),
    ]
    texts = [f"\x00len:{n}" for n, dtype in schema.items() if family(dtype) == "string"]
    if texts:
        exprs += [
            pl.col(texts).min().name.suffix("\x00min_length"),
            pl.col(texts).max().name.suffix("\x00max_length"),
        ]
    numbers = [n for n, dtype in schema.items() if family(dtype) in ("int", "float")]
    dates = [n for n, dtype in schema.items() if family(dtype) in ("date", "datetime")]
    for name, fmt in formats.items():
        if fmt and fmt["format"] in ("number", "date"):  # statistics of the parsed values
            (numbers if fmt["format"] == "number" else dates).append(f"\x00{name}")
    groups = [pl.col(numbers)] if numbers else []
    if dates:
        groups.append(pl.col(dates).to_physical().cast(pl.Float64))
    for values in groups:
        exprs += [
            values.min().name.suffix("\x00min"),
            values.max().name.suffix("\x00max"),
            values.mean().name.suffix("\x00mean"),
            values.std().name.suffix("\x00std"),
            values.quantile(list(_QUANTILES.values()), interpolation="linear").name.suffix(
                "\x00quantiles"
            ),
        ]
    return exprs


def _column_of(key: str) -> tuple[str, str]:
    """``(column, statistic)`` of a result named by :func:`_stat_exprs`."""
    column, _, stat = key.rpartition("\x00")
    if column.startswith("\x00len:"):
        return column[5:], stat
    return column.removeprefix("\x00"), stat


def _from_physical(value: Any, dtype: pl.DataType, key: str) -> Any:
    """Turn a date/datetime statistic computed on the physical integers back into ISO text."""
    if value is None:
        return None
    if isinstance(dtype, pl.Datetime):
        per_day = {"us": 86_400e6, "ns": 86_400e9, "ms": 86_400e3}[dtype.time_unit or "us"]
        if key == "std":
            return value / per_day
        return (_EPOCH + dt.timedelta(days=value / per_day)).isoformat()
    if key == "std":
        return value
    return (_EPOCH + dt.timedelta(days=round(value))).date().isoformat()


def _top_values(series: pl.Series) -> list[dict[str, Any]]:
    counts = (
        series.drop_nulls()
        .value_counts(name="count")
        .sort(["count", series.name], descending=[True, False])
    )
    return [{"value": v, "count": c} for v, c in counts.iter_rows()]


def _repeating_values(series: pl.Series, max_categories: int) -> dict[str, Any] | None:
    """``top_values`` (the repeating values) and ``other_values`` (the one-offs, summed up) of a
    text column whose repeating values number at most ``max_categories`` and cover at least
    :data:`CATEGORY_COVER` of its values; None for another column (free text, long tails)."""
    counts = series.drop_nulls().value_counts(name="count")
    repeating = counts.filter(pl.col("count") > ONE_OFF)
    if not 0 < repeating.height <= max_categories:
        return None
    rest = counts.filter(pl.col("count") <= ONE_OFF).get_column("count")
    total = int(counts.get_column("count").sum())
    if rest.sum() > (1 - CATEGORY_COVER) * total:
        return None
    top = repeating.sort(["count", series.name], descending=[True, False])
    return {
        "top_values": [{"value": v, "count": c} for v, c in top.iter_rows()],
        "other_values": {
            "distinct": rest.len(),
            "count": int(rest.sum()),
            "max_count": int(rest.max() or 0),  # type: ignore[arg-type]
        },
    }


def profile_frame(frame: pl.DataFrame, max_categories: int = MAX_CATEGORIES) -> dict[str, Any]:
    """Profile every data column of ``frame`` (not ``_row``, not the markers); JSON data."""
    full = frame.schema
    by_name = dict(zip(frame.columns, frame.get_columns(), strict=True))
    schema = {name: full[name] for name in data_columns(full)}
    formats = {name: infer_format(by_name[name]) for name in schema}
    derived = [
        parse(name, fmt).alias(f"\x00{name}")
        for name, fmt in formats.items()
        if fmt and fmt["format"] in ("number", "date")
    ]
    derived += [
        pl.col(name).str.len_chars().alias(f"\x00len:{name}")
        for name, dtype in schema.items()
        if family(dtype) == "string"
    ]
    work = frame.with_columns(derived) if derived else frame  # once, not once per statistic
    exact = frame.height <= EXACT_DISTINCT  # then no column has more distinct values
    raw: dict[str, dict[str, Any]] = {name: {} for name in schema}
    row = work.select(_stat_exprs(schema, formats, exact)).row(0, named=True) if schema else {}
    for key, value in row.items():
        name, stat = _column_of(key)
        if stat == "quantiles":
            raw[name].update(zip(_QUANTILES, value or [None] * len(_QUANTILES), strict=True))
        elif stat in ("mean", "std") and isinstance(value, float):
            # sums over chunks add up in chunk order: keep 12 significant digits, so a frame
            # read back from its file profiles exactly as the one a node kept in memory
            raw[name][stat] = float(f"{value:.12g}")
        else:
            raw[name][stat] = value
    small = [name for name in schema if raw[name]["distinct"] <= EXACT_DISTINCT]
    if small and not exact:  # estimated (HyperLogLog) first, counted exactly when small
        counts = frame.select(pl.col(small).drop_nulls().n_unique()).row(0)
        for name, count in zip(small, counts, strict=True):
            raw[name]["distinct"] = count
    columns: dict[str, dict[str, Any]] = {}
    for name, dtype in schema.items():
        kind, fmt = family(dtype), formats[name]
        info: dict[str, Any] = {"dtype": dtype_name(dtype), "family": kind, "rows": frame.height}
        as_date: pl.DataType | None = dtype if kind in ("date", "datetime") else None
        if fmt and fmt["format"] == "date":
            as_date = pl.Date()
        for stat, value in raw[name].items():
            if as_date is not None and stat in _DATE_STATS:
                value = _from_physical(value, as_date, stat)
            info[stat] = value
        non_null = frame.height - info["nulls"]
        if 0 < info["distinct"] <= max_categories and non_null >= 2 * info["distinct"]:
            info["top_values"] = _top_values(by_name[name])
        elif (
            kind == "string"
            and not fmt
            and info["distinct"] <= max_categories + (1 - CATEGORY_COVER) * non_null
        ):  # a categorical column with one-off values? (most columns are ruled out above)
            info.update(_repeating_values(by_name[name], max_categories) or {})
        if kind == "string":
            info["format"] = fmt
        columns[name] = info
    result: dict[str, Any] = jsonable({"rows": frame.height, "columns": columns})
    return result


def profile(state: Mapping[str, Any], **params: Any) -> dict[str, Any]:
    """Profile the data at ``data_path``; returns ``profile`` (and ``profile_before`` in round 0).

    Setting (state, or node param): ``max_categories`` (default 50), the most distinct
    values a column may have to count as low-cardinality.
    """
    path = require(state, "data_path", TOOL, "run dq.load first")
    frame = read_frame(path, TOOL)
    limit = setting(state, params, "max_categories", MAX_CATEGORIES)
    result = profile_frame(frame, int(positive(limit, "max_categories", TOOL)))
    result.update(data_path=path, round=state.get("round", 0))
    update: dict[str, Any] = {"profile": result}
    if not state.get("round"):
        update["profile_before"] = result
    return update
