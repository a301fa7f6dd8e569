"""The settings that say how ``dq.load`` reads a source, and their validation.

Each is taken from the state (``wf run data-quality -s sep=';'``) or else from the load
node's ``params``; a state value wins over a param of the same name. A setting left out
(or null) is detected from the file (:mod:`.sniff`) or takes its default.
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import DataQualityError

#: Values read as missing unless ``null_values`` says otherwise: how R, pandas, SQL exports
#: and spreadsheets write a missing value. Each must be the whole field (``-`` alone, not
#: the minus of ``-5``); ``""`` is a quoted empty field (an unquoted one is always missing).
DEFAULT_NULL_VALUES: tuple[str, ...] = (
    "",
    "NA",
    "N/A",
    "n/a",
    "#N/A",
    "<NA>",
    "NULL",
    "null",
    "NaN",
    "nan",
    "-",
)

#: Field separators a CSV may use; the one that splits the sample most regularly wins.
SEPARATORS: tuple[str, ...] = (",", ";", "\t", "|")
#: Quote characters a CSV may use.
QUOTES: tuple[str, ...] = ('"', "'")
_SEPARATOR_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}

#: Setting name -> one-line description (the workflow's accepted-settings schema uses it).
READ_SETTINGS: dict[str, str] = {
    "sep": "CSV field separator: ',', ';', tab ('\\t' or 'tab') or '|'"
    " (default: detected from the first 64 KiB)",
    "encoding": "text encoding of a CSV: utf-8, utf-16, cp1252, latin-1, ..."
    " (default: detected from the first 64 KiB)",
    "decimal": "decimal mark of numbers in a CSV: '.' or ','"
    " (default: ',' when a ';', tab or '|' separated file writes numbers like 1,5)",
    "header_row": "1-based line number of a CSV's header; the lines above it are skipped"
    " (default: the first line shaped like the data, after metadata or comment lines)",
    "quote": 'quote character of a CSV: \'"\' or "\'" (default: "\'" when the first 64 KiB'
    " wrap fields in single quotes and hold no apostrophe, else '\"')",
    "null_values": "values read as missing in text sources, a list or a comma-separated"
    " string replacing the defaults (NA, N/A, n/a, #N/A, <NA>, NULL, null, NaN, nan, -,"
    ' and a quoted empty field ""); empty fields are always missing',
}


@dataclass(frozen=True)
class ReadOptions:
    """How to read a source; ``None`` means: detect it."""

    sep: str | None = None
    encoding: str | None = None
    decimal: str | None = None
    header_row: int | None = None
    quote: str | None = None
    null_values: tuple[str, ...] = DEFAULT_NULL_VALUES


def _setting(state: Mapping[str, Any], params: Mapping[str, Any], key: str) -> Any:
    value = state.get(key)
    return params.get(key) if value is None else value


def _sep(value: Any, tool: str) -> str | None:
    if value is None:
        return None
    text = _SEPARATOR_NAMES.get(value.lower(), value) if isinstance(value, str) else value
    if text not in SEPARATORS:
        raise DataQualityError(
            f"{tool}: 'sep' must be one of ',', ';', '\\t' (or 'tab') and '|', got {value!r}"
        )
    return str(text)


def _encoding(value: Any, tool: str) -> str | None:
    if value is None:
        return None
    try:
        if not isinstance(value, str):
            raise LookupError(value)
        return codecs.lookup(value).name
    except LookupError:
        raise DataQualityError(
            f"{tool}: 'encoding' {value!r} is not a known text encoding"
            " (examples: utf-8, utf-16, cp1252, latin-1)"
        ) from None


def _decimal(value: Any, tool: str) -> str | None:
    if value is None:
        return None
    if value not in (".", ","):
        raise DataQualityError(f"{tool}: 'decimal' must be '.' or ',', got {value!r}")
    return str(value)


def _quote(value: Any, tool: str) -> str | None:
    if value is None or value in QUOTES:
        return value
    raise DataQualityError(f"{tool}: setting 'quote' must be one of {list(QUOTES)}, got {value!r}")


def _header_row(value: Any, tool: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DataQualityError(
            f"{tool}: 'header_row' must be the header's line number, counted from 1, got {value!r}"
        )
    return value


def _null_values(value: Any, tool: str) -> tuple[str, ...]:
    if value is None:
        return DEFAULT_NULL_VALUES
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(","))
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise DataQualityError(
        f"{tool}: 'null_values' must be a list of strings or a comma-separated string,"
        f" got {value!r}"
    )


def read_options(
    state: Mapping[str, Any], params: Mapping[str, Any], tool: str = "dq.load"
) -> ReadOptions:
    """The reading settings from ``state`` (first) and ``params``, checked.

    Raises :class:`DataQualityError` naming the setting and the values it accepts.
    """
    options = ReadOptions(
        sep=_sep(_setting(state, params, "sep"), tool),
        encoding=_encoding(_setting(state, params, "encoding"), tool),
        decimal=_decimal(_setting(state, params, "decimal"), tool),
        header_row=_header_row(_setting(state, params, "header_row"), tool),
        quote=_quote(_setting(state, params, "quote"), tool),
        null_values=_null_values(_setting(state, params, "null_values"), tool),
    )
    if options.sep == "," and options.decimal == ",":
        raise DataQualityError(
            f"{tool}: 'decimal' ',' needs another separator than ','; set 'sep' too"
        )
    return options
