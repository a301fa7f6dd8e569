"""``dq.load``: read the source into the run's output folder and set the run's defaults."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl
from wfengine import emit

from . import settings as cfg
from .dtypes import dtype_name, parse_family
from .errors import DataQualityError
from .io import ROW, default_output_dir, frame_from_rows, read_source, work_path, write_frame
from .read_options import READ_SETTINGS, read_options
from .state import DEFAULTS, number

__all__ = ["READ_SETTINGS", "RESERVED", "TOOL", "check_expected_schema", "load"]

TOOL = "dq.load"
#: Columns the tools add: the source row number, and the quarantine's round and reason.
RESERVED = (ROW, "_round", "_reason", "_imputed", "_clipped")


def check_expected_schema(expected: Any, tool: str = TOOL) -> dict[str, str]:
    """Validate ``expected_schema`` (``{column: type}``) and return it with families as types."""
    if not isinstance(expected, Mapping):
        raise DataQualityError(
            f"{tool}: 'expected_schema' must map column names to types, got {expected!r}"
        )
    return {
        str(col): parse_family(kind, f"{tool}: expected_schema['{col}']")
        for col, kind in expected.items()
    }


def load(state: Mapping[str, Any], **params: Any) -> dict[str, Any]:
    """Read ``source`` (a CSV, Parquet, NDJSON or JSON file) or ``rows`` (a list of objects).

    Types are inferred over every row; null markers (``NA``, ``N/A``, ``NULL``, ``-``, ...)
    are read as missing. A CSV's encoding, separator, decimal mark and header line are
    detected from its first 64 KiB. Each reading setting (:data:`READ_SETTINGS`) is taken
    from the state, else from ``params``. The data is written, with a ``_row`` column
    holding each row's 1-based number in the source, to
    ``<output_dir>/work/data-r0.parquet``.
    ``output_dir`` defaults to ``./wf-output/<UTC timestamp>-<8 hex>``; ``threshold`` (0),
    ``max_rounds`` (3), ``round`` (0) and ``mode`` (``learn``) get their defaults when
    missing; ``mode`` is checked against the settings given (see :func:`.settings.mode`).

    Returns ``output_dir`` (absolute), ``data_path``, ``schema``, ``read_info`` (what
    was detected and converted), ``accounting`` and the defaults. Raises
    :class:`DataQualityError` for a missing, empty, malformed or unsupported source, for
    rows of different shapes and for a bad reading setting.
    """
    run_mode = cfg.mode(state, TOOL)  # a wrong mode fails before any reading
    source = state.get("source", params.get("source"))
    rows = state.get("rows", params.get("rows"))
    options = read_options(state, params, TOOL)
    if source is not None:
        frame, read_info = read_source(str(source), options)
        origin = str(source)
    elif rows is not None:
        frame, read_info = frame_from_rows(rows, options)
        origin = f"rows ({len(rows)} given in the state)"
    else:
        raise DataQualityError(
            f"{TOOL}: the state has neither 'source' (a file path) nor 'rows' (a list of objects)"
        )
    emit("progress", {"stage": "read", "done": 1, "total": 2, "rows": frame.height})
    for name in RESERVED:
        if name in frame.columns:
            raise DataQualityError(
                f"{TOOL}: {origin} has a column named '{name}', which is reserved; rename it"
            )
    update: dict[str, Any] = {"mode": run_mode}
    for key, default in DEFAULTS.items():
        if state.get(key) is None:
            update[key] = default
        else:
            number(state, key, TOOL)
    if state.get("expected_schema") is not None:
        check_expected_schema(state["expected_schema"])

    output_dir = Path(state.get("output_dir") or default_output_dir()).resolve()
    frame = frame.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
    path = write_frame(frame, work_path(str(output_dir), "data-r0.parquet"))
    n = frame.height
    emit("progress", {"stage": "written", "done": 2, "total": 2, "rows": n})
    update.update(
        {
            "output_dir": str(output_dir),
            "source_name": origin,
            "data_path": path,
            "schema": {c: dtype_name(t) for c, t in frame.schema.items() if c != ROW},
            "read_info": read_info,
            "accounting": {
                "input_rows": n,
                "output_rows": n,
                "quarantined_rows": 0,
                "duplicates_removed": 0,
            },
            "rules_applied": [],
            "quarantine_paths": [],
            "duplicates_paths": [],
        }
    )
    return update
