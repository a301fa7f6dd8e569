"""Reading sources and writing the run's files.

Sources are CSV, Parquet, NDJSON (``.ndjson``, ``.jsonl``) or JSON (an array of objects)
files, or a list of row objects; a CSV's layout is detected by :mod:`.sniff` and text is
typed by :mod:`.inference`. Everything a tool writes goes through :func:`write_frame`,
:func:`write_csv` or :func:`write_text`, which write to a temporary file and rename it into
place: a tool that crashes half-way leaves the old file or the new one, never half a file,
and writing the same file again is harmless.

Frames written or read here are kept in a small :class:`FrameCache` keyed by the file's
path, size, modification time and inode, so the next node of a run does not read back what
the previous node just wrote. Each engine's plugin instance owns one
(:class:`~wfengine_dataquality.plugin.DataQualityPlugin`) and makes it current while one of
its tools runs (:func:`using_cache`); a tool function called directly uses none. The files
stay the source of truth: a changed file is read again, and a resumed run in a new process
reads from disk. ``WFENGINE_DQ_CACHE=0`` turns it off.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from .errors import DataQualityError
from .frames import current_cache
from .inference import infer_types
from .read_options import ReadOptions
from .sniff import CsvLayout, sniff_csv

#: Suffix -> reader name.
SUPPORTED = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".json": "json",
}
ROW = "_row"  # 1-based row number in the source, kept through every round
DEFAULT_OUTPUT_ROOT = "wf-output"


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    line = text[0] if text else type(error).__name__
    return line if len(line) <= 160 else line[:157] + "..."


def read_source(
    source: str | os.PathLike[str], options: ReadOptions | None = None, tool: str = "dq.load"
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Read a source file with every column's type inferred over the whole file.

    A CSV's layout (encoding, separator, decimal mark, header line) is taken from
    ``options`` or detected from its first 64 KiB (:mod:`.sniff`); null markers in text
    sources are read as missing (:mod:`.inference`). Returns the frame and ``read_info``:
    ``format``, for a CSV the layout and which parts were ``detected``, and what
    :func:`~.inference.infer_types` found.

    Raises :class:`DataQualityError` naming the source for a missing, empty, malformed or
    unsupported file.
    """
    options = options or ReadOptions()
    path = Path(source)
    where = f"{tool}: source '{source}'"
    kind = SUPPORTED.get(path.suffix.lower())
    if kind is None:
        supported = ", ".join(sorted(SUPPORTED))
        raise DataQualityError(
            f"{where} has unsupported extension '{path.suffix}' (supported: {supported})"
        )
    if not path.exists():
        raise DataQualityError(f"{where} does not exist")
    if not path.is_file():
        raise DataQualityError(f"{where} is not a file")
    if path.stat().st_size == 0:
        raise DataQualityError(f"{where} is empty")
    info: dict[str, Any] = {"format": kind}
    layout: CsvLayout | None = None
    try:
        if kind == "csv":
            layout = _layout(path, options, where)
            info.update(_layout_info(layout))
            raw = _read_csv(path, layout, where)
            check_names(raw, where)
            frame, found = infer_types(raw, decimal=layout.decimal, null_values=options.null_values)
        elif kind == "parquet":
            frame = pl.read_parquet(path)  # typed already: nothing to convert
            found = {"null_values": {}, "conversions": {}, "kept_as_text": {}}
            check_names(frame, where)
        else:
            read = pl.read_ndjson if kind == "ndjson" else pl.read_json
            raw = read(path, infer_schema_length=None)
            check_names(raw, where)
            frame, found = infer_types(raw, numbers=False, null_values=options.null_values)
    except (pl.exceptions.PolarsError, OSError, ValueError) as error:
        if isinstance(error, DataQualityError):
            raise
        raise DataQualityError(
            f"{where} is not a well-formed {kind.upper()} file: {_first_line(error)}"
            f"{_hint(error, layout)}"
        ) from error
    if frame.width == 0 or frame.height == 0:
        raise DataQualityError(f"{where} is empty (no data rows)")
    check_flat(frame, where)
    info.update(found)
    return frame, info


def _layout(path: Path, options: ReadOptions, where: str) -> CsvLayout:
    try:
        return sniff_csv(path, options)
    except LookupError as error:
        raise DataQualityError(
            f"{where}: {error}; set its encoding (e.g. -s encoding=cp1252)"
        ) from None


def _layout_info(layout: CsvLayout) -> dict[str, Any]:
    return {
        "encoding": layout.encoding,
        "sep": layout.sep,
        "decimal": layout.decimal,
        "quote": layout.quote,
        "header_row": layout.header_row,
        "skipped_lines": layout.skip_lines,
        "detected": list(layout.detected),
    }


def _describe(layout: CsvLayout) -> str:
    sep = "tab" if layout.sep == "\t" else repr(layout.sep)
    quote = "" if layout.quote == '"' else f", quote {layout.quote!r}"
    return f"separator {sep}, encoding {layout.encoding}{quote}, header on line {layout.header_row}"


def _hint(error: Exception, layout: CsvLayout | None) -> str:
    """What to check after a parse error, with the layout the file was read with."""
    if layout is None:
        return ""
    text = str(error).lower()
    if "utf-8" in text or "utf8" in text:
        return (
            f" (read as {_describe(layout)}; the first 64 KiB were valid {layout.encoding},"
            " later bytes are not: set its encoding, e.g. -s encoding=cp1252)"
        )
    if layout.quote != '"' and ("malformed" in text or "more fields" in text):
        return (
            f" (read as {_describe(layout)}: the first 64 KiB wrap fields in {layout.quote}"
            f" quotes, a later field may hold an apostrophe; set quote, e.g. -s quote='\"')"
        )
    if "more fields" in text or "could not parse" in text:
        return (
            f" (read as {_describe(layout)}: look for unbalanced quotes or rows with more"
            " fields than the header; set sep or header_row if these are wrong)"
        )
    return f" (read as {_describe(layout)}; set sep, encoding or header_row if these are wrong)"


def _read_csv(path: Path, layout: CsvLayout, where: str) -> pl.DataFrame:
    """Read a CSV as text (:func:`~.inference.infer_types` types it over every value).

    polars reads only UTF-8: another encoding is transcoded in memory first.
    """
    data: Path | bytes = path
    if layout.encoding not in ("utf-8", "utf-8-sig"):
        try:
            data = path.read_bytes().decode(layout.encoding).encode("utf-8")
        except UnicodeDecodeError as error:
            raise DataQualityError(
                f"{where} is not valid {layout.encoding} at byte {error.start}"
                f" (read as {_describe(layout)}): set its encoding, e.g. -s encoding=utf-8"
            ) from None
    return pl.read_csv(
        data,
        separator=layout.sep,
        quote_char=layout.quote,
        skip_lines=layout.skip_lines,
        infer_schema=False,
    )


def frame_from_rows(
    rows: Any, options: ReadOptions | None = None, tool: str = "dq.load"
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Build a frame from a list of row objects, all with the same keys.

    Null markers in text values are read as missing, as in a file; returns the frame
    and its ``read_info``.
    """
    options = options or ReadOptions()
    where = f"{tool}: 'rows'"
    if not isinstance(rows, list):
        raise DataQualityError(f"{where} must be a list of objects, got {type(rows).__name__}")
    if not rows:
        raise DataQualityError(f"{where} is empty (no rows)")
    first = rows[0]
    if not isinstance(first, Mapping):
        raise DataQualityError(f"{where}: rows[0] is a {type(first).__name__}, not an object")
    keys = list(first)
    expected = set(keys)
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise DataQualityError(f"{where}: rows[{i}] is a {type(row).__name__}, not an object")
        if set(row) != expected:
            missing = sorted(expected - set(row))
            extra = sorted(set(row) - expected)
            raise DataQualityError(
                f"{where}: rows[{i}] does not have the shape of rows[0]"
                f" (missing keys {missing}, extra keys {extra}); every row needs the same keys"
            )
    try:
        frame = pl.DataFrame(rows, infer_schema_length=None).select(keys)
    except (pl.exceptions.PolarsError, TypeError, ValueError) as error:
        raise DataQualityError(f"{where} could not be read: {_first_line(error)}") from error
    check_names(frame, where)
    frame, found = infer_types(frame, numbers=False, null_values=options.null_values)
    check_flat(frame, where)
    return frame, {"format": "rows", **found}


def check_names(frame: pl.DataFrame, where: str) -> None:
    """Reject column names holding a NUL byte, naming the column's position."""
    for position, name in enumerate(frame.columns, start=1):
        if "\x00" in name:
            raise DataQualityError(
                f"{where}: column {position} of the header ({name!r}) holds a NUL byte;"
                " remove it from the file (a binary file, or UTF-16 read as UTF-8:"
                " then set -s encoding=utf-16)"
            )


def check_flat(frame: pl.DataFrame, where: str) -> None:
    """Reject nested columns (lists, structs): the tools work on flat tables."""
    for name, dtype in frame.schema.items():
        if dtype.is_nested() or dtype == pl.Object:
            raise DataQualityError(
                f"{where}: column '{name}' holds {dtype} values; only flat rows are supported"
            )


def read_frame(path: str | os.PathLike[str], tool: str) -> pl.DataFrame:
    """Read a Parquet file the tools wrote (from the cache when it is unchanged)."""
    path = Path(path)
    if not path.is_file():
        raise DataQualityError(
            f"{tool}: data file '{path}' does not exist; was the output folder moved or deleted?"
        )
    cache = current_cache()
    frame = cache.get(path) if cache is not None else None
    if frame is None:
        frame = pl.read_parquet(path)
        if cache is not None:
            cache.put(path, frame)
    return frame


def _replace_into(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_frame(frame: pl.DataFrame, path: str | os.PathLike[str], cache: bool = True) -> str:
    """Write ``frame`` as Parquet to ``path`` atomically; return the path as a string."""
    path = Path(path)
    # lz4, no statistics: the files are read back whole, so write speed matters more than size.
    _replace_into(path, lambda tmp: frame.write_parquet(tmp, compression="lz4", statistics=False))
    current = current_cache() if cache else None
    if current is not None:
        current.put(path, frame)
    return str(path)


def write_csv(frame: pl.DataFrame, path: str | os.PathLike[str]) -> str:
    """Write ``frame`` as CSV to ``path`` atomically; return the path as a string."""
    path = Path(path)
    _replace_into(path, frame.write_csv)
    return str(path)


def write_text(text: str, path: str | os.PathLike[str]) -> str:
    """Write UTF-8 text to ``path`` atomically; return the path as a string."""
    path = Path(path)
    _replace_into(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return str(path)


def default_output_dir() -> Path:
    """``./wf-output/<UTC timestamp>-<8 hex>``: a fresh folder per run."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path(DEFAULT_OUTPUT_ROOT) / f"{stamp}-{uuid.uuid4().hex[:8]}"


def work_path(output_dir: str, name: str) -> Path:
    """Path of an intermediate file of the run (under ``<output_dir>/work/``)."""
    return Path(output_dir) / "work" / name
