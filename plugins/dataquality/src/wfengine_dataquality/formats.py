"""Formats inferred for text columns: e-mail addresses, dates and numbers written as text.

A text column has a format when most of its values (``min_share``, default 80%) fit
one; the values that do not fit are then *malformed*. Values must fit exactly: no
surrounding spaces, and in a column of whole numbers, no decimals. Numbers written with
a leading zero (``007``) are codes, not numbers: such a column has no number format.
Inference looks at an evenly spread sample of the column (``SAMPLE`` values) to stay fast
on large files; counting the malformed values always covers every row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from .dtypes import DATE_PATTERNS

__all__ = ["DATE_PATTERNS", "EMAIL_PATTERN", "LEADING_ZERO", "infer_format", "malformed", "parse"]

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"
#: A number written with a leading zero ("007", "01234"): a code to keep as text.
LEADING_ZERO = r"^[+-]?0[0-9]"
SAMPLE = 2000


def _sample(series: pl.Series) -> pl.Series:
    values = series.drop_nulls()
    if values.len() > SAMPLE:
        values = values.gather_every(values.len() // SAMPLE)
    return values


def infer_format(series: pl.Series, min_share: float = 0.8) -> dict[str, Any] | None:
    """Infer the format of a text column; ``None`` when no format fits ``min_share`` of it.

    Returns ``{"format": "email"}``, ``{"format": "date", "pattern": "%Y-%m-%d"}`` or
    ``{"format": "number", "dtype": "Int64" | "Float64"}``.
    """
    if series.dtype != pl.String:
        return None
    values = _sample(series)
    if values.len() == 0:
        return None
    need = min_share * values.len()
    codes = values.str.contains(LEADING_ZERO).any()  # "007" is a code, not the number 7
    if not codes and values.cast(pl.Float64, strict=False).null_count() <= values.len() - need:
        # Whole numbers only if every value that is a number (in the whole column) is one.
        as_int = series.cast(pl.Int64, strict=False).null_count()
        integral = as_int == series.cast(pl.Float64, strict=False).null_count()
        return {"format": "number", "dtype": "Int64" if integral else "Float64"}
    best: tuple[int, str] = (0, "")
    for pattern in DATE_PATTERNS:  # the layout most values fit wins (the first on a tie)
        hits = int(values.str.to_date(pattern, strict=False).is_not_null().sum())
        if hits > best[0]:
            best = (hits, pattern)
    if best[0] >= need:
        return {"format": "date", "pattern": best[1]}
    if values.str.contains(EMAIL_PATTERN).sum() >= need:
        return {"format": "email"}
    return None


def parse(column: str, fmt: Mapping[str, Any]) -> pl.Expr:
    """The column's values in their format's type (null where a value does not fit).

    E-mail addresses stay text, and are null where they do not look like one.
    """
    col = pl.col(column)
    kind = fmt["format"]
    if kind == "number":
        return col.cast(pl.Int64 if fmt.get("dtype") == "Int64" else pl.Float64, strict=False)
    if kind == "date":
        return col.str.to_date(fmt.get("pattern", "%Y-%m-%d"), strict=False)
    if kind == "email":
        return pl.when(col.str.contains(EMAIL_PATTERN)).then(col)
    raise ValueError(f"unknown format {kind!r}")


def malformed(column: str, fmt: Mapping[str, Any]) -> pl.Expr:
    """True where a non-null value does not fit the format."""
    return pl.col(column).is_not_null() & parse(column, fmt).is_null()
