"""Reading sources and writing the run's files.

Sources are CSV, Parquet, NDJSON (``.ndjson``, ``.jsonl``) or JSON (an array of objects)
files, or a list of row objects. Everything a tool writes goes through :func:`write_frame`,
:func:`write_csv` or :func:`write_text`, which write to a temporary file and rename it into
place: a tool that crashes half-way leaves the old file or the new one, never half a file,
and writing the same file again is harmless.

Frames written or read here are kept in a small in-process cache keyed by the file's path,
size, modification time and inode, so the next node of a run does not read back what the
previous node just wrote. The files stay the source of truth: a changed file is read again,
and a resumed run in a new process reads from disk. ``WFENGINE_DQ_CACHE=0`` turns it off.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from .dtypes import DATETIME_PATTERNS
from .errors import DataQualityError

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
_CACHE_SIZE = 3


class _FrameCache:
    """The last few frames by file identity; thread-safe."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._frames: OrderedDict[str, tuple[tuple[int, int, int], pl.DataFrame]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(path: Path) -> tuple[int, int, int]:
        st = path.stat()
        return (st.st_size, st.st_mtime_ns, st.st_ino)

    def get(self, path: Path) -> pl.DataFrame | None:
        if os.environ.get("WFENGINE_DQ_CACHE") == "0":
            return None
        with self._lock:
            hit = self._frames.get(str(path))
            if hit is None or hit[0] != self._key(path):
                return None
            self._frames.move_to_end(str(path))
            return hit[1]

    def put(self, path: Path, frame: pl.DataFrame) -> None:
        if os.environ.get("WFENGINE_DQ_CACHE") == "0":
            return
        with self._lock:
            self._frames[str(path)] = (self._key(path), frame)
            self._frames.move_to_end(str(path))
            while len(self._frames) > self.size:
                self._frames.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()


frame_cache = _FrameCache(_CACHE_SIZE)


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    line = text[0] if text else type(error).__name__
    return line if len(line) <= 160 else line[:157] + "..."


def read_source(source: str | os.PathLike[str], tool: str = "dq.load") -> pl.DataFrame:
    """Read a source file with every column's type inferred over the whole file.

    Raises :class:`DataQualityError` naming the source for a missing, empty, malformed or
    unsupported file.
    """
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
    try:
        if kind == "csv":
            frame = infer_types(_read_csv(path), dates_only=False)
        elif kind == "parquet":
            frame = pl.read_parquet(path)
        elif kind == "ndjson":
            frame = infer_types(pl.read_ndjson(path, infer_schema_length=None))
        else:
            frame = infer_types(pl.read_json(path, infer_schema_length=None))
    except (pl.exceptions.PolarsError, OSError, ValueError) as error:
        hint = ""
        if kind == "csv":
            hint = " (look for unbalanced quotes or rows with more fields than the header)"
        raise DataQualityError(
            f"{where} is not a well-formed {kind.upper()} file: {_first_line(error)}{hint}"
        ) from error
    if frame.width == 0 or frame.height == 0:
        raise DataQualityError(f"{where} is empty (no data rows)")
    check_flat(frame, where)
    return frame


def _read_csv(path: Path) -> pl.DataFrame:
    """Read a CSV; with :func:`infer_types` after it, every column's type fits every value.

    polars' own whole-file inference (``infer_schema_length=None``) is several times slower
    than this: the parser types columns from the first rows and fails on any later value
    that does not fit, in which case everything is read as text; either way the text
    columns are then checked over every value by :func:`infer_types`.
    """
    try:
        return pl.read_csv(path, infer_schema_length=10_000)
    except pl.exceptions.ComputeError:
        return pl.read_csv(path, infer_schema=False)


def frame_from_rows(rows: Any, tool: str = "dq.load") -> pl.DataFrame:
    """Build a frame from a list of row objects, all with the same keys."""
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
    frame = infer_types(frame)
    check_flat(frame, where)
    return frame


def check_flat(frame: pl.DataFrame, where: str) -> None:
    """Reject nested columns (lists, structs): the tools work on flat tables."""
    for name, dtype in frame.schema.items():
        if dtype.is_nested() or dtype == pl.Object:
            raise DataQualityError(
                f"{where}: column '{name}' holds {dtype} values; only flat rows are supported"
            )


_SAMPLE = 1000


def _candidates(name: str, dates_only: bool) -> dict[str, pl.Expr]:
    """The conversions a text column may take, most specific first."""
    col = pl.col(name)
    found: dict[str, pl.Expr] = {}
    if not dates_only:
        lower = col.str.to_lowercase()
        found["int"] = col.cast(pl.Int64, strict=False)
        found["float"] = col.cast(pl.Float64, strict=False)
        found["bool"] = pl.when(lower == "true").then(True).when(lower == "false").then(False)
    found["date"] = col.str.to_date("%Y-%m-%d", strict=False)
    for n, pattern in enumerate(DATETIME_PATTERNS):
        found[f"datetime{n}"] = col.str.to_datetime(pattern, time_unit="us", strict=False)
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


def infer_types(frame: pl.DataFrame, dates_only: bool = True) -> pl.DataFrame:
    """Convert text columns whose every non-null value is an int, float, bool or date.

    With ``dates_only`` (JSON sources, which already carry numbers and booleans) only ISO
    dates and date-times are converted. Every value is looked at, not only the first rows:
    an evenly spread sample first rules out the conversions that cannot fit, then each
    column's remaining conversions are checked on all its values.
    """
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    if not text:
        return frame
    sample = frame.select(text)
    if sample.height > _SAMPLE:
        sample = sample.gather_every(sample.height // _SAMPLE)
    tries = {name: _candidates(name, dates_only) for name in text}
    possible = _fits(sample, tries)
    left = {name: list(kinds) for name, kinds in possible.items() if kinds}
    nulls = {name: frame.get_column(name).null_count() for name in left}
    converted: list[pl.Series] = []
    while left:  # usually one pass: the first conversion the sample allows fits all values
        tried = frame.select(tries[name][kinds[0]].alias(name) for name, kinds in left.items())
        tried_nulls = tried.null_count().row(0, named=True)
        for name, kinds in list(left.items()):
            fits = tried_nulls[name] == nulls[name]
            if fits and nulls[name] < frame.height:
                converted.append(tried.get_column(name))
            if fits or len(kinds) == 1:
                del left[name]
            else:
                kinds.pop(0)
    return frame.with_columns(converted) if converted else frame


def read_frame(path: str | os.PathLike[str], tool: str) -> pl.DataFrame:
    """Read a Parquet file the tools wrote (from the cache when it is unchanged)."""
    path = Path(path)
    if not path.is_file():
        raise DataQualityError(
            f"{tool}: data file '{path}' does not exist; was the output folder moved or deleted?"
        )
    frame = frame_cache.get(path)
    if frame is None:
        frame = pl.read_parquet(path)
        frame_cache.put(path, frame)
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
    if cache:
        frame_cache.put(path, frame)
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
