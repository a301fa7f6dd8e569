"""Text read as what it is: null markers as missing, and column types over every value.

A text column becomes an int, float, bool, date or date-time column only if *every*
non-null value is one (after null markers such as ``NA`` became missing), so nothing is
lost in the conversion. Numbers written with a leading zero (``007``, ``01234``) are
codes and keep a column text; a decimal comma (``1,5``) is read when the source's
``decimal`` is ``,``; ISO-8601 date-times with ``Z`` or an offset become UTC date-times;
a column whose dates fit both ``%d/%m/%Y`` and ``%m/%d/%Y`` stays text (it is ambiguous).

What was found is returned as the ``read_info`` parts ``null_values`` (markers seen, per
column, with counts), ``conversions`` (columns converted from a layout: date formats,
decimal comma, UTC) and ``kept_as_text`` (columns left text, and why).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from .dtypes import DATE_PATTERNS, DATETIME_PATTERNS, ZONED_DATETIME_PATTERNS
from .formats import LEADING_ZERO

_SAMPLE = 1000
#: Layouts that read the same text two ways: a column fitting both stays text.
_TWINS = {"date %d/%m/%Y": "date %m/%d/%Y"}
_COMMA_NUMBER = r"^[+-]?(\d+|\d{1,3}(\.\d{3})+)(,\d+)?$"
_DIGITS = r"^[+-]?\d+$"


def mark_nulls(
    frame: pl.DataFrame, null_values: tuple[str, ...]
) -> tuple[pl.DataFrame, dict[str, dict[str, int]]]:
    """Make every text value that is one of ``null_values`` missing.

    Returns the frame and, per column where some were found, each marker's count.
    """
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    if not text or not null_values:
        return frame, {}
    markers = list(null_values)
    hits = frame.select(pl.col(c).is_in(markers).sum() for c in text).row(0, named=True)
    seen: dict[str, dict[str, int]] = {}
    replace: list[pl.Expr] = []
    for name, count in hits.items():
        if not count:
            continue
        column = frame.get_column(name)
        counts = column.filter(column.is_in(markers)).value_counts(sort=True)
        seen[name] = {str(value): int(n) for value, n in counts.iter_rows()}
        is_marker = pl.col(name).is_in(markers)
        kept = pl.when(is_marker).then(pl.lit(None, pl.String)).otherwise(pl.col(name))
        replace.append(kept.alias(name))
    return frame.with_columns(replace), seen


def _candidates(name: str, numbers: bool, decimal: str) -> dict[str, pl.Expr]:
    """The conversions a text column may take, most specific first."""
    col = pl.col(name)
    found: dict[str, pl.Expr] = {}
    if numbers:
        plain = ~col.str.contains(LEADING_ZERO)
        lower = col.str.to_lowercase()
        found["int"] = pl.when(plain).then(col.cast(pl.Int64, strict=False))
        if decimal == ",":
            as_dot = col.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True)
            comma = col.str.contains(_COMMA_NUMBER)
            found["float"] = pl.when(plain & comma).then(as_dot.cast(pl.Float64, strict=False))
        else:
            found["float"] = pl.when(plain).then(col.cast(pl.Float64, strict=False))
        found["bool"] = pl.when(lower == "true").then(True).when(lower == "false").then(False)
    for pattern in DATE_PATTERNS:
        found[f"date {pattern}"] = col.str.to_date(pattern, strict=False)
    for pattern in DATETIME_PATTERNS:
        found[f"datetime {pattern}"] = col.str.to_datetime(pattern, time_unit="us", strict=False)
    for pattern in ZONED_DATETIME_PATTERNS:
        found[f"utc {pattern}"] = col.str.to_datetime(
            pattern, time_unit="us", time_zone="UTC", strict=False
        )
    return found


def _fits(frame: pl.DataFrame, tries: dict[str, dict[str, pl.Expr]]) -> dict[str, list[str]]:
    """Per column, the conversions under which no non-null value of ``frame`` becomes null.

    A column with no values fits every conversion.
    """
    exprs = [pl.col(name).null_count().alias(f"{name}\x00") for name in tries]
    for name, found in tries.items():
        exprs += [expr.null_count().alias(f"{name}\x00{kind}") for kind, expr in found.items()]
    counts = frame.select(exprs).row(0, named=True)
    return {
        name: [k for k in found if counts[f"{name}\x00{k}"] == counts[f"{name}\x00"]]
        for name, found in tries.items()
    }


def _conversion(kind: str, decimal: str) -> dict[str, str] | None:
    """What ``read_info.conversions`` says of a column converted by ``kind``."""
    if kind == "float" and decimal == ",":
        return {"type": "Float64", "decimal": ","}
    family, _, pattern = kind.partition(" ")
    if family == "date":
        return {"type": "Date", "format": pattern}
    if family == "datetime":
        return {"type": "Datetime", "format": pattern}
    if family == "utc":
        return {"type": "Datetime (UTC)", "format": pattern, "note": "offsets converted to UTC"}
    return None


def _codes(frame: pl.DataFrame, sample: pl.DataFrame, names: list[str]) -> dict[str, str]:
    """Text columns of whole numbers some of which have a leading zero, and an example."""
    found: dict[str, str] = {}
    for name in names:
        if not sample.get_column(name).drop_nulls().str.contains(_DIGITS).all():
            continue
        values = frame.get_column(name).drop_nulls()
        zeros = values.filter(values.str.contains(LEADING_ZERO))
        if zeros.len() and values.str.contains(_DIGITS).all():
            found[name] = f"numbers written with leading zeros (e.g. {zeros[0]!r}): codes"
    return found


def infer_types(
    frame: pl.DataFrame,
    *,
    numbers: bool = True,
    decimal: str = ".",
    null_values: tuple[str, ...] = (),
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Read ``null_values`` as missing, then convert the text columns that fit a type.

    With ``numbers`` false (JSON sources, which carry their own numbers and booleans)
    only dates and date-times are converted. Every value is looked at, not only the first
    rows: an evenly spread sample first rules out the conversions that cannot fit, then
    each column's remaining conversions are checked on all its values.

    Returns the frame and ``{"null_values", "conversions", "kept_as_text"}``.
    """
    frame, seen = mark_nulls(frame, null_values)
    info: dict[str, Any] = {"null_values": seen, "conversions": {}, "kept_as_text": {}}
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    if not text:
        return frame, info
    sample = frame.select(text)
    if sample.height > _SAMPLE:
        sample = sample.gather_every(sample.height // _SAMPLE)
    tries = {name: _candidates(name, numbers, decimal) for name in text}
    possible = _fits(sample, tries)
    left = {name: list(kinds) for name, kinds in possible.items() if kinds}
    nulls = {name: frame.get_column(name).null_count() for name in left}
    chosen: dict[str, tuple[str, pl.Series]] = {}
    while left:  # usually one pass: the first conversion the sample allows fits all values
        tried = frame.select(tries[name][kinds[0]].alias(name) for name, kinds in left.items())
        tried_nulls = tried.null_count().row(0, named=True)
        for name, kinds in list(left.items()):
            fits = tried_nulls[name] == nulls[name]
            if fits and nulls[name] < frame.height:
                chosen[name] = (kinds[0], tried.get_column(name))
            if fits or len(kinds) == 1:
                del left[name]
            else:
                kinds.pop(0)
    for name, (kind, _) in list(chosen.items()):
        twin = _TWINS.get(kind)
        if twin in possible[name]:
            other = frame.select(tries[name][twin]).to_series()
            if other.null_count() == nulls[name]:
                del chosen[name]
                info["kept_as_text"][name] = (
                    f"dates fit both {kind.partition(' ')[2]} and {twin.partition(' ')[2]}"
                    " (day and month cannot be told apart)"
                )
    for name, (kind, _) in chosen.items():
        conversion = _conversion(kind, decimal)
        if conversion is not None:
            info["conversions"][name] = conversion
    if numbers:
        info["kept_as_text"].update(_codes(frame, sample, [n for n in text if n not in chosen]))
    if chosen:
        frame = frame.with_columns(series for _, series in chosen.values())
    return frame, info
