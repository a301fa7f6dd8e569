"""Column types: their names in reports and specs, and conversions between them.

``expected_schema`` and rules name types either by family (``int``, ``float``,
``number``, ``string``, ``bool``, ``date``, ``datetime``) or by polars name (``Int64``,
``Float64``, ``String``, ...). A column matches an expected type when it is of the same
family; ``number`` accepts ints and floats, and ``float`` accepts ints.
"""

from __future__ import annotations

import polars as pl

from .errors import DataQualityError

FAMILIES = ("int", "float", "number", "string", "bool", "date", "datetime")

_ALIASES = {
    "int": "int",
    "integer": "int",
    "float": "float",
    "double": "float",
    "number": "number",
    "numeric": "number",
    "str": "string",
    "string": "string",
    "text": "string",
    "utf8": "string",
    "bool": "bool",
    "boolean": "bool",
    "date": "date",
    "datetime": "datetime",
    "timestamp": "datetime",
}

#: The dtype a value of each family is converted to.
TARGET: dict[str, pl.DataType] = {
    "int": pl.Int64(),
    "float": pl.Float64(),
    "number": pl.Float64(),
    "string": pl.String(),
    "bool": pl.Boolean(),
    "date": pl.Date(),
    "datetime": pl.Datetime("us"),
}

#: Date layouts recognised in text, most common first. ``%d/%m/%Y`` and ``%m/%d/%Y`` are both
#: tried: a column is read as one of them only when its values fit just one.
DATE_PATTERNS = (
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%b %d %Y",
    "%b %d, %Y",
    "%d %b %Y",
    "%d-%b-%Y",
    "%B %d %Y",
    "%B %d, %Y",
    "%d %B %Y",
)
#: Date-time layouts without a time zone (``%.f``: optional fraction of a second).
DATETIME_PATTERNS = (
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
)
#: ISO-8601 date-times with ``Z`` or an offset (``+01:00``, ``+0100``); read as UTC.
ZONED_DATETIME_PATTERNS = ("%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f%#z")


def dtype_name(dtype: pl.DataType) -> str:
    """The name a report shows for ``dtype`` (``Int64``, ``String``, ``Datetime``...)."""
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
        return "Datetime"
    return str(dtype)


def family(dtype: pl.DataType) -> str:
    """The family of a polars dtype, or ``other`` for nested and unusual types."""
    if dtype.is_integer():
        return "int"
    if dtype.is_float() or dtype.is_decimal():
        return "float"
    if dtype in (pl.String, pl.Categorical, pl.Enum):
        return "string"
    if dtype == pl.Boolean:
        return "bool"
    if dtype == pl.Date:
        return "date"
    if isinstance(dtype, pl.Datetime):
        return "datetime"
    return "other"


def parse_family(name: object, where: str) -> str:
    """Turn a type name from a spec or rule into its family; ``where`` names it in errors."""
    if isinstance(name, str):
        key = name.strip().lower()
        if key in _ALIASES:
            return _ALIASES[key]
        if key.startswith(("int", "uint")):
            return "int"
        if key.startswith(("float", "decimal")):
            return "float"
        if key.startswith("datetime"):
            return "datetime"
    raise DataQualityError(
        f"{where}: unknown type {name!r}; use one of {', '.join(FAMILIES)} or a polars dtype name"
    )


def matches(actual: pl.DataType, expected: str) -> bool:
    """Whether a column of dtype ``actual`` satisfies the expected family."""
    have = family(actual)
    if expected == "number":
        return have in ("int", "float")
    if expected == "float":
        return have in ("int", "float")
    return have == expected


def convert(column: str, actual: pl.DataType, expected: str) -> pl.Expr:
    """An expression converting ``column`` to ``expected``; null where a value cannot convert.

    Values that are null before stay null; a non-null value that becomes null did not fit.
    """
    col = pl.col(column)
    have = family(actual)
    target = TARGET[expected]
    if have == "string":
        text = col.str.strip_chars()
        if expected == "int":
            as_float = text.cast(pl.Float64, strict=False)
            integral = as_float.is_finite() & (as_float == as_float.round(0))
            return pl.when(integral).then(as_float.cast(pl.Int64, strict=False))
        if expected in ("float", "number"):
            return text.cast(pl.Float64, strict=False)
        if expected == "bool":
            lower = text.str.to_lowercase()
            return pl.when(lower == "true").then(True).when(lower == "false").then(False)
        if expected == "date":
            return text.str.to_date("%Y-%m-%d", strict=False)
        if expected == "datetime":  # a zoned value becomes its UTC time
            naive = [
                text.str.to_datetime(p, time_unit="us", strict=False) for p in DATETIME_PATTERNS
            ]
            zoned = [
                text.str.to_datetime(p, time_unit="us", strict=False).dt.replace_time_zone(None)
                for p in ZONED_DATETIME_PATTERNS
            ]
            return pl.coalesce(naive + zoned)
        return col
    if have == "float" and expected == "int":
        integral = col.is_finite() & (col == col.round(0))
        return pl.when(integral).then(col.cast(pl.Int64, strict=False))
    if have == "datetime" and expected == "date":
        return col.dt.date()
    return col.cast(target, strict=False)
