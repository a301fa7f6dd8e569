"""``dq.profile``: per-column statistics of the current data.

For every column: ``dtype``, ``family``, ``rows``, ``nulls``, ``distinct`` (non-null distinct
values). Numbers and dates add ``min``, ``max``, ``mean``, ``std``, ``p25``, ``p50``, ``p75``
(dates as ISO strings, their ``std`` in days). Text adds ``min_length``, ``max_length`` and
``format`` (inferred, see :mod:`.formats`). Low-cardinality columns (at most
``max_categories`` distinct values, each seen twice on average) add ``top_values``: every
value with its count, most frequent first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import polars as pl

from .dtypes import dtype_name, family
from .formats import infer_format
from .io import ROW, read_frame
from .state import jsonable, require

TOOL = "dq.profile"
MAX_CATEGORIES = 20
_QUANTILES = {"p25": 0.25, "p50": 0.5, "p75": 0.75}
_EPOCH = dt.datetime(1970, 1, 1)


def _stat_exprs(name: str, dtype: pl.DataType) -> dict[str, pl.Expr]:
    col = pl.col(name)
    exprs = {"nulls": col.null_count(), "distinct": col.drop_nulls().n_unique()}
    kind = family(dtype)
    if kind in ("int", "float", "date", "datetime"):
        values = col.to_physical().cast(pl.Float64) if kind in ("date", "datetime") else col
        exprs.update(min=values.min(), max=values.max(), mean=values.mean(), std=values.std())
        for key, q in _QUANTILES.items():
            exprs[key] = values.quantile(q, interpolation="linear")
    elif kind == "string":
        lengths = col.str.len_chars()
        exprs.update(min_length=lengths.min(), max_length=lengths.max())
    return exprs


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


def profile_frame(frame: pl.DataFrame, max_categories: int = MAX_CATEGORIES) -> dict[str, Any]:
    """Profile every column of ``frame`` but ``_row``; returns JSON-storable data."""
    schema = {name: dtype for name, dtype in frame.schema.items() if name != ROW}
    exprs: list[pl.Expr] = []
    for name, dtype in schema.items():
        exprs += [e.alias(f"{name}\x00{k}") for k, e in _stat_exprs(name, dtype).items()]
    stats = frame.select(exprs).row(0, named=True) if exprs else {}
    columns: dict[str, dict[str, Any]] = {}
    for name, dtype in schema.items():
        kind = family(dtype)
        info: dict[str, Any] = {"dtype": dtype_name(dtype), "family": kind, "rows": frame.height}
        for key, value in stats.items():
            col, _, stat = key.partition("\x00")
            if col == name:
                if kind in ("date", "datetime") and stat not in ("nulls", "distinct"):
                    value = _from_physical(value, dtype, stat)
                info[stat] = value
        non_null = frame.height - info["nulls"]
        if 0 < info["distinct"] <= max_categories and non_null >= 2 * info["distinct"]:
            counts = (
                frame.get_column(name)
                .drop_nulls()
                .value_counts(name="count")
                .sort(["count", name], descending=[True, False])
            )
            info["top_values"] = [
                {"value": v, "count": c} for v, c in counts.iter_rows()
            ]
        if kind == "string":
            info["format"] = infer_format(frame.get_column(name))
        columns[name] = info
    return jsonable({"rows": frame.height, "columns": columns})


def profile(state: Mapping[str, Any], **params: Any) -> dict[str, Any]:
    """Profile the data at ``data_path``; returns ``profile`` (and ``profile_before`` in round 0).

    Params: ``max_categories`` (default 20), the most distinct values a column may have
    to count as low-cardinality.
    """
    path = require(state, "data_path", TOOL, "run dq.load first")
    frame = read_frame(path, TOOL)
    result = profile_frame(frame, int(params.get("max_categories", MAX_CATEGORIES)))
    result.update(data_path=path, round=state.get("round", 0))
    update: dict[str, Any] = {"profile": result}
    if not state.get("round"):
        update["profile_before"] = result
    return update
