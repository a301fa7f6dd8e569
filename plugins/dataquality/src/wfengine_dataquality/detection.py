"""``dq.detect``: find what is wrong with the current data.

Each finding is a dict with ``round``, ``kind``, ``column`` (``None`` for whole rows),
``count``, ``examples`` (up to five 1-based source row numbers), ``example_values``,
``actionable`` (whether a rule can act on it), ``message`` and kind-specific details:

=================== ===================================================================
kind                what is counted
=================== ===================================================================
``missing_column``  a column of ``expected_schema`` the data lacks (count 1; not actionable)
``unexpected_column`` a column ``expected_schema`` does not list (count 1; not actionable)
``duplicate``       rows that repeat an earlier row exactly (all columns)
``null``            null values in the column
``type_mismatch``   values stored with another type than ``expected_schema`` says;
                    ``unconvertible`` of them cannot be converted
``malformed``       text values not fitting the column's inferred ``format``
``unexpected_value`` values of a low-cardinality text column seen in under ``rare_share``
                    (1%) of its rows; the others are ``allowed``
``outlier``         numbers outside ``[p25 - k*IQR, p75 + k*IQR]`` (``iqr_k`` = 1.5); not
                    looked for when the IQR is 0
=================== ===================================================================

``anomaly_count`` is the sum of the counts of actionable findings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from . import formats
from .dtypes import convert, matches
from .io import ROW, read_frame
from .loading import check_expected_schema
from .profiling import MAX_CATEGORIES, profile_frame
from .state import jsonable, require

TOOL = "dq.detect"
MAX_EXAMPLES = 5


def duplicate_rows(frame: pl.DataFrame, columns: list[str] | None = None) -> pl.Series:
    """The ``_row`` numbers of rows that repeat an earlier row on ``columns`` (default: all).

    Row hashes pick the candidates; candidates are then compared exactly, so a hash
    collision can never drop a row.
    """
    columns = columns or [c for c in frame.columns if c != ROW]
    hashes = frame.select(columns).hash_rows()
    ordered = hashes.sort()  # sorting 64-bit ints beats a hash table here
    repeated = ordered.filter(ordered == ordered.shift(1))
    if repeated.len() == 0:
        return pl.Series(ROW, [], dtype=frame.schema[ROW])
    subset = frame.filter(hashes.is_in(repeated.unique().implode()))
    return subset.filter(~pl.struct(columns).is_first_distinct()).get_column(ROW)


def _outlier_bounds(info: Mapping[str, Any], iqr_k: float, kind: str) -> tuple[float, float] | None:
    """``[p25 - k*IQR, p75 + k*IQR]``, to 10 significant digits (whole numbers for ints)."""
    p25, p75 = info.get("p25"), info.get("p75")
    if p25 is None or p75 is None or p75 == p25:
        return None
    iqr = p75 - p25
    low, high = p25 - iqr_k * iqr, p75 + iqr_k * iqr
    if kind == "int":
        return float(math.ceil(low)), float(math.floor(high))
    return float(f"{low:.10g}"), float(f"{high:.10g}")


def _num(value: float, family: str) -> int | float:
    return int(value) if family == "int" else value


@dataclass
class _Check:
    """One kind of problem in one column: the finding's details and the rows it counts."""

    details: dict[str, Any]
    mask: pl.Expr
    #: The rows shown as examples, when not those counted (and then also counted apart).
    shown: pl.Expr | None = None


def _column_checks(
    frame: pl.DataFrame,
    name: str,
    info: Mapping[str, Any],
    expected: str | None,
    iqr_k: float,
    rare_share: float,
) -> list[_Check]:
    """The checks of one column, given its profile ``info``."""
    col = pl.col(name)
    dtype = frame.schema[name]
    checks: list[_Check] = []
    if info["nulls"]:
        checks.append(_Check({"kind": "null"}, col.is_null()))
    if expected is not None and not matches(dtype, expected):
        # Every value has the wrong type; the examples are those that cannot be converted.
        # Formats and ranges are checked once a rule has converted the column.
        bad = col.is_not_null() & convert(name, dtype, expected).is_null()
        details = {"kind": "type_mismatch", "expected": expected, "actual": info["dtype"]}
        checks.append(_Check(details, col.is_not_null(), shown=bad))
        return checks
    fmt = info.get("format")
    numbers: tuple[pl.Expr, str] | None = None
    if info["family"] in ("int", "float"):
        numbers = (col, info["family"])
    if fmt:
        parsed = pl.col(f"\x00{name}")  # parsed once by detect_frame
        checks.append(_Check({"kind": "malformed", **fmt}, col.is_not_null() & parsed.is_null()))
        if fmt["format"] == "number":  # its outliers are found in the same round
            numbers = (parsed, "int" if fmt["dtype"] == "Int64" else "float")
    elif info["family"] == "string" and info.get("top_values"):
        non_null = info["rows"] - info["nulls"]
        allowed = [t["value"] for t in info["top_values"] if t["count"] >= rare_share * non_null]
        if allowed and len(allowed) < len(info["top_values"]):
            details = {"kind": "unexpected_value", "allowed": allowed}
            checks.append(_Check(details, col.is_not_null() & ~col.is_in(allowed)))
    bounds = _outlier_bounds(info, iqr_k, numbers[1]) if numbers else None
    if numbers and bounds:
        low, high = bounds
        details = {"kind": "outlier", "min": _num(low, numbers[1]), "max": _num(high, numbers[1])}
        checks.append(_Check(details, (numbers[0] < low) | (numbers[0] > high)))
    return checks


def _message(f: Mapping[str, Any]) -> str:
    kind, n = f["kind"], f["count"]
    where = f"{f['column']}: " if f.get("column") else ""
    text = {
        "missing_column": "expected by expected_schema but missing from the data",
        "unexpected_column": "in the data but not in expected_schema",
        "duplicate": f"{n} rows repeat an earlier row",
        "null": f"{n} null values",
        "type_mismatch": (
            f"{n} values are {f.get('actual')}, expected {f.get('expected')}"
            f" ({f.get('unconvertible')} cannot be converted)"
        ),
        "malformed": f"{n} values are not a valid {f.get('format')}",
        "unexpected_value": f"{n} values outside {f.get('allowed')}",
        "outlier": f"{n} values outside [{f.get('min')}, {f.get('max')}]",
    }[kind]
    return where + text


def detect_frame(
    frame: pl.DataFrame,
    profile: Mapping[str, Any],
    expected_schema: Mapping[str, str] | None = None,
    *,
    at_round: int = 0,
    iqr_k: float = 1.5,
    rare_share: float = 0.01,
) -> list[dict[str, Any]]:
    """All findings for ``frame`` given its ``profile``; ``expected_schema`` maps to families."""
    expected = dict(expected_schema or {})
    columns = [c for c in frame.columns if c != ROW]
    findings: list[dict[str, Any]] = []
    for name in expected:
        if name not in columns:
            findings.append({"kind": "missing_column", "column": name, "count": 1})
    if expected:
        for name in columns:
            if name not in expected:
                findings.append({"kind": "unexpected_column", "column": name, "count": 1})
    for f in findings:
        f.update(examples=[], example_values=[], actionable=False)

    dups = duplicate_rows(frame, columns)
    if dups.len():
        findings.append(
            {
                "kind": "duplicate",
                "column": None,
                "count": dups.len(),
                "examples": dups.head(MAX_EXAMPLES).to_list(),
                "example_values": [],
                "actionable": True,
            }
        )

    checks: list[_Check] = []
    for name in columns:
        for check in _column_checks(
            frame, name, profile["columns"][name], expected.get(name), iqr_k, rare_share
        ):
            check.details = {"column": name, **check.details}
            checks.append(check)
    aggs: list[pl.Expr] = []  # every count and example in one pass over the data
    for i, check in enumerate(checks):
        hit = check.mask.fill_null(False)
        shown = hit if check.shown is None else check.shown.fill_null(False)
        column = check.details["column"]
        values = pl.col(column).filter(shown).head(MAX_EXAMPLES).cast(pl.String)
        if check.details["kind"] == "null":
            values = values.head(0)
        aggs += [
            hit.sum().alias(f"count{i}"),
            pl.col(ROW).filter(shown).head(MAX_EXAMPLES).implode().alias(f"rows{i}"),
            values.implode().alias(f"values{i}"),
        ]
        if check.shown is not None:
            aggs.append(shown.sum().alias(f"unconvertible{i}"))
    parsed = [
        formats.parse(name, info["format"]).alias(f"\x00{name}")
        for name, info in profile["columns"].items()
        if info.get("format")
    ]
    work = frame.with_columns(parsed) if parsed else frame
    result = work.select(aggs).row(0, named=True) if aggs else {}
    for i, check in enumerate(checks):
        count = result[f"count{i}"]
        if not count:
            continue
        finding = {
            **check.details,
            "count": count,
            "examples": result[f"rows{i}"],
            "example_values": result[f"values{i}"],
            "actionable": True,
        }
        if f"unconvertible{i}" in result:
            finding["unconvertible"] = result[f"unconvertible{i}"]
        findings.append(finding)
    for f in findings:
        f["round"] = at_round
        f["message"] = _message(f)
    return jsonable(findings)  # type: ignore[no-any-return]


def anomaly_count(findings: Sequence[Mapping[str, Any]]) -> int:
    """The sum of the counts of actionable findings."""
    return sum(int(f["count"]) for f in findings if f.get("actionable"))


def detect(state: Mapping[str, Any], **params: Any) -> dict[str, Any]:
    """Detect problems in the data at ``data_path``.

    Uses the state's ``profile`` when it describes the same data, else profiles first.
    Params: ``iqr_k`` (1.5), ``rare_share`` (0.01), ``max_categories`` (20).
    Returns ``findings`` (this round), ``issues`` (the same, for a history kept with the
    ``extend`` reducer) and ``anomaly_count``.
    """
    path = require(state, "data_path", TOOL, "run dq.load first")
    frame = read_frame(path, TOOL)
    profile = state.get("profile")
    if not profile or profile.get("data_path") != path:
        profile = profile_frame(frame, int(params.get("max_categories", MAX_CATEGORIES)))
    expected = None
    if state.get("expected_schema") is not None:
        expected = check_expected_schema(state["expected_schema"], TOOL)
    findings = detect_frame(
        frame,
        profile,
        expected,
        at_round=int(state.get("round", 0)),
        iqr_k=float(params.get("iqr_k", 1.5)),
        rare_share=float(params.get("rare_share", 0.01)),
    )
    return {
        "findings": findings,
        "issues": list(findings),
        "anomaly_count": anomaly_count(findings),
    }
