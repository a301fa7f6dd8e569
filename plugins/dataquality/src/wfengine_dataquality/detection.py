"""``dq.detect``: find what is wrong with the current data, judged against the baseline.

Two kinds of finding (``severity``):

* **violations** are acted on: a value that cannot be of the column's type, an extreme
  value outside the column's plausible range, a duplicate row, a typo-like category value,
  a missing value in a required column, a type other than ``expected_schema`` says;
* **observations** are reported with counts, examples and shares, and acted on only when
  asked (``act_on``, ``impute``, ``fill``): tail outliers, rare categories that repeat,
  missing values in an optional column, schema drift.

The baseline (:mod:`.baseline`) is learned once, in round 0, and kept in the state; later
rounds re-check its bounds and categories, so a round finds nothing the previous one left.

Each finding is a dict with ``round``, ``kind``, ``severity``, ``column`` (``None`` for
whole rows), ``count``, ``share`` (of the rows), ``examples`` (up to five 1-based source
row numbers), ``example_values``, ``actionable`` (a rule acts on it this round),
``message`` and kind-specific details:

==================== ==============================================================
kind                 what is counted
==================== ==============================================================
``missing_column``   a column of ``expected_schema`` the data lacks (observation)
``unexpected_column`` a column ``expected_schema`` does not list (observation)
``duplicate``        rows repeating an earlier row on every column but index columns
``null``             missing values: a violation in a required column, else an
                     observation (kept unless imputed)
``type_mismatch``    values stored with another type than ``expected_schema`` says;
                     ``unconvertible`` of them cannot be converted
``malformed``        text values not fitting the column's inferred ``format``
``extreme``          numbers outside the plausible range (``min``, ``max``, ``scale``)
``outlier``          other numbers outside ``[p25 - k*IQR, p75 + k*IQR]`` (``iqr_k``);
                     an observation
``unexpected_value`` typo-like values of a categorical column: those not ``allowed``
                     (``values``: up to 20 of them, ``more_values``: how many more)
``rare_value``       values seen in under ``rare_share`` of a categorical column's rows
                     that still repeat (``values``); an observation
==================== ==============================================================

``anomaly_count`` is the sum of the counts of the findings acted on (``actionable``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from . import formats
from . import settings as cfg
from .baseline import learn
from .columns import data_columns
from .dtypes import convert, family, matches
from .errors import DataQualityError
from .io import ROW, read_frame
from .loading import check_expected_schema
from .profiling import MAX_CATEGORIES, profile_frame
from .state import jsonable, require

TOOL = "dq.detect"
MAX_EXAMPLES = 5
#: Range checks of numbers look at blocks of at most this many values (32 MB as floats).
BLOCK_CELLS = 4_000_000
#: At most this many typo-like values are listed in a finding (``more_values``: the rest).
MAX_VALUES = 20
VIOLATION, OBSERVATION = "violation", "observation"
#: Defaults of the detection settings.
DEFAULTS: dict[str, Any] = {"iqr_k": 1.5, "extreme_k": 3.0, "rare_share": 0.01}


def duplicate_rows(frame: pl.DataFrame, columns: list[str] | None = None) -> pl.Series:
    """The ``_row`` numbers of rows that repeat an earlier row on ``columns`` (default: all
    data columns).

    Row hashes pick the candidates; candidates are then compared exactly, so a hash
    collision can never drop a row.
    """
    columns = columns or data_columns(frame.columns)
    hashes = frame.select(columns).hash_rows()
    ordered = hashes.sort()  # sorting 64-bit ints beats a hash table here
    repeated = ordered.filter(ordered == ordered.shift(1))
    if repeated.len() == 0:
        return pl.Series(ROW, [], dtype=frame.schema[ROW])
    subset = frame.filter(hashes.is_in(repeated.unique().implode()))
    return subset.filter(~pl.struct(columns).is_first_distinct()).get_column(ROW)


@dataclass(frozen=True)
class _Range:
    """The numbers (column ``values`` of the frame judged) outside ``bounds`` and, for tail
    outliers, inside ``within`` (the plausible range, whose outside is counted apart)."""

    values: str
    bounds: Mapping[str, Any]
    within: Mapping[str, Any] | None = None


@dataclass
class _Check:
    """One kind of problem in one column: the finding's details and the rows it counts,
    given by an expression (``mask``) or, for ranges of numbers, by :class:`_Range`."""

    details: dict[str, Any]
    mask: pl.Expr | None = None
    #: The rows shown as examples, when not those counted (and then also counted apart).
    shown: pl.Expr | None = None
    range: _Range | None = None


@dataclass
class Judging:
    """What decides which findings are acted on."""

    act_on: set[str]
    impute: str = "none"
    fill: frozenset[str] = frozenset()


def _within(info: Mapping[str, Any], bounds: Mapping[str, Any]) -> bool:
    """Whether the profile's ``min`` and ``max`` lie inside ``bounds``."""
    low, high = info.get("min"), info.get("max")
    if not isinstance(low, int | float) or not isinstance(high, int | float):
        return False
    return (bounds.get("min") is None or low >= bounds["min"]) and (
        bounds.get("max") is None or high <= bounds["max"]
    )


def _column_checks(
    name: str,
    dtype: pl.DataType,
    info: Mapping[str, Any],
    base: Mapping[str, Any],
    required: bool,
    expected: str | None,
    judging: Judging,
) -> list[_Check]:
    """The checks of one column, given its profile ``info`` and its baseline ``base``."""
    col = pl.col(name)
    checks: list[_Check] = []
    if base.get("role") == "index":
        return checks
    if info["nulls"]:
        fill = judging.impute != "none" or name in judging.fill
        details = {
            "kind": "null",
            "severity": VIOLATION if required else OBSERVATION,
            "required": required,
            "actionable": required or fill,
        }
        checks.append(_Check(details, col.is_null()))
    if expected is not None and not matches(dtype, expected):
        # Every value has the wrong type; the examples are those that cannot be converted.
        # Formats and ranges are checked once a rule has converted the column.
        bad = col.is_not_null() & convert(name, dtype, expected).is_null()
        details = {"kind": "type_mismatch", "expected": expected, "actual": info["dtype"]}
        checks.append(_Check(details, col.is_not_null(), shown=bad))
        return checks
    fmt = info.get("format")
    # The column holding the numbers: the column, or text numbers parsed by detect_frame.
    numbers = name if family(dtype) in ("int", "float") else None
    if fmt:
        parsed = pl.col(f"\x00{name}")  # parsed once by detect_frame
        checks.append(_Check({"kind": "malformed", **fmt}, col.is_not_null() & parsed.is_null()))
        if fmt["format"] == "number":  # its extremes are found in the same round
            numbers = f"\x00{name}"
    found = base.get("categories")
    if found and family(dtype) == "string":
        allowed = [*found["common"], *found["rare"]]
        if found["typos"] or found.get("more_typos"):
            # Every value but the allowed ones: also the one-offs of a big column, which the
            # baseline does not list (``more_typos`` of them).
            details = {
                "kind": "unexpected_value",
                "values": found["typos"][:MAX_VALUES],
                "allowed": allowed,
            }
            more = max(0, len(found["typos"]) - MAX_VALUES) + found.get("more_typos", 0)
            if more > 0:
                details["more_values"] = more
            checks.append(_Check(details, col.is_not_null() & ~col.is_in(allowed)))
        if found["rare"]:
            details = {
                "kind": "rare_value",
                "severity": OBSERVATION,
                "values": found["rare"],
                "allowed": found["common"],
                "actionable": "rare_value" in judging.act_on,
            }
            checks.append(_Check(details, col.is_in(found["rare"])))
    if numbers is not None and base.get("role") == "number":
        # The profile's min and max tell when no value can be outside: no check at all
        # (most columns), which keeps wide tables fast.
        extreme = base.get("extreme")
        if extreme and _within(info, extreme):
            extreme = None
        if extreme:
            details = {"kind": "extreme", **extreme}
            checks.append(_Check(details, range=_Range(numbers, extreme)))
        outlier = base.get("outlier")
        if outlier and not _within(info, outlier):
            details = {
                "kind": "outlier",
                "severity": OBSERVATION,
                **outlier,
                "actionable": "outlier" in judging.act_on,
            }
            checks.append(_Check(details, range=_Range(numbers, outlier, extreme)))
    return checks


def _limits(bounds: Mapping[str, Any] | None) -> tuple[float, float]:
    if bounds is None:
        return -math.inf, math.inf
    low, high = bounds.get("min"), bounds.get("max")
    return (-math.inf if low is None else low), (math.inf if high is None else high)


def _count_ranges(frame: pl.DataFrame, ranges: Sequence[_Range]) -> list[tuple[int, list[int]]]:
    """For each range check: how many numbers are outside it, and the first positions.

    Computed with numpy over blocks of columns (at most :data:`BLOCK_CELLS` values at a
    time): one vectorised comparison for every range of a block instead of one polars
    expression per check, which is what keeps a table of 20,000 number columns fast.
    Missing values are never outside.
    """
    import numpy as np

    found: list[tuple[int, list[int]]] = [(0, [])] * len(ranges)
    names = sorted({r.values for r in ranges})
    per_block = max(1, BLOCK_CELLS // max(1, frame.height))
    for start in range(0, len(names), per_block):
        block = names[start : start + per_block]
        where = {name: i for i, name in enumerate(block)}
        picked = [k for k, r in enumerate(ranges) if r.values in where]
        data = frame.select(pl.col(block).cast(pl.Float64)).to_numpy()  # nulls: NaN
        x = data[:, [where[ranges[k].values] for k in picked]]
        low, high = np.array([_limits(ranges[k].bounds) for k in picked]).T
        inner_low, inner_high = np.array([_limits(ranges[k].within) for k in picked]).T
        with np.errstate(invalid="ignore"):
            mask = ((x < low) | (x > high)) & (x >= inner_low) & (x <= inner_high)
        counts = mask.sum(axis=0)
        for j in np.flatnonzero(counts):
            first = np.flatnonzero(mask[:, j])[:MAX_EXAMPLES]
            found[picked[j]] = (int(counts[j]), [int(p) for p in first])
    return found


def _percent(share: float) -> str:
    return f"{share * 100:.2f}%" if share >= 0.0001 or share == 0 else "<0.01%"


def _listed(f: Mapping[str, Any]) -> str:
    """The values of a finding, and how many more there are."""
    values, more = f.get("values") or [], f.get("more_values") or 0
    if not more:
        return str(values)
    if not values:
        return f"{more} distinct values not among the allowed ones"
    return f"{values} and {more} more"


def _message(f: Mapping[str, Any]) -> str:
    kind, n = f["kind"], f["count"]
    where = f"{f['column']}: " if f.get("column") else ""
    share = f" ({_percent(f['share'])} of rows)" if "share" in f else ""
    text = {
        "missing_column": "expected by expected_schema but missing from the data",
        "unexpected_column": "in the data but not in expected_schema",
        "duplicate": f"{n} rows repeat an earlier row{share}",
        "null": (
            f"{n} missing values{share} in a required column"
            if f.get("required")
            else f"{n} missing values{share}; the column is optional, they are kept"
        ),
        "type_mismatch": (
            f"{n} values are {f.get('actual')}, expected {f.get('expected')}"
            f" ({f.get('unconvertible')} cannot be converted)"
        ),
        "malformed": f"{n} values{share} are not a valid {f.get('format')}",
        "extreme": (
            f"{n} values{share} outside the plausible range [{f.get('min')}, {f.get('max')}]"
            f" ({f.get('scale')} scale)"
        ),
        "outlier": f"{n} values{share} in the tails, outside [{f.get('min')}, {f.get('max')}]",
        "unexpected_value": f"{n} typo-like values{share}: {_listed(f)}",
        "rare_value": f"{n} values{share} of rare categories {f.get('values')}",
    }[kind]
    if f.get("severity") == OBSERVATION and kind in ("outlier", "rare_value"):
        text += "; acted on" if f.get("actionable") else "; reported only (act_on to act)"
    if f.get("severity") == OBSERVATION and kind == "null" and f.get("actionable"):
        text = text.replace("they are kept", "they are filled in")
    return where + text


def detect_frame(
    frame: pl.DataFrame,
    profile: Mapping[str, Any],
    expected_schema: Mapping[str, str] | None = None,
    *,
    at_round: int = 0,
    baseline: Mapping[str, Any] | None = None,
    judging: Judging | None = None,
    iqr_k: float = DEFAULTS["iqr_k"],
    extreme_k: float = DEFAULTS["extreme_k"],
    rare_share: float = DEFAULTS["rare_share"],
    required: Sequence[str] = (),
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """All findings for ``frame`` given its ``profile``, and the baseline judged against.

    Without ``baseline`` one is learned from ``frame`` (round 0) with ``iqr_k``,
    ``extreme_k``, ``rare_share`` and ``required``. ``expected_schema`` maps to families.
    """
    judging = judging or Judging(act_on=set())
    if baseline is None:
        baseline = learn(
            frame,
            profile,
            iqr_k=iqr_k,
            extreme_k=extreme_k,
            rare_share=rare_share,
            required=required,
        )
    expected = dict(expected_schema or {})
    schema = frame.schema
    columns = data_columns(schema)
    present = set(columns)
    findings: list[dict[str, Any]] = []
    for name in expected:
        if name not in present:
            findings.append({"kind": "missing_column", "column": name, "count": 1})
    if expected:
        for name in columns:
            if name not in expected:
                findings.append({"kind": "unexpected_column", "column": name, "count": 1})
    for f in findings:
        f.update(examples=[], example_values=[], actionable=False, severity=OBSERVATION)

    index = set(baseline.get("index_columns") or [])
    keys = [c for c in columns if c not in index] or columns
    dups = duplicate_rows(frame, keys)
    if dups.len():
        findings.append(
            {
                "kind": "duplicate",
                "severity": VIOLATION,
                "column": None,
                "count": dups.len(),
                "share": dups.len() / frame.height,
                "examples": dups.head(MAX_EXAMPLES).to_list(),
                "example_values": [],
                "actionable": True,
                "columns": keys if index & present else None,
                "ignored_columns": sorted(index & present),
            }
        )

    required_set = set(baseline.get("required") or [])
    known = baseline.get("columns") or {}
    checks: list[_Check] = []
    for name in columns:
        for check in _column_checks(
            name,
            schema[name],
            profile["columns"][name],
            known.get(name, {}),
            name in required_set,
            expected.get(name),
            judging,
        ):
            check.details = {"column": name, **check.details}
            checks.append(check)
    parsed = [
        formats.parse(name, info["format"]).alias(f"\x00{name}")
        for name, info in profile["columns"].items()
        if info.get("format") and name in present and schema[name] == pl.String
    ]
    work = frame.with_columns(parsed) if parsed else frame
    # Every count at once (ranges of numbers apart, see _count_ranges), then the positions
    # of the examples of the other checks that found something, one expression each
    # (fewer expressions are faster on wide tables).
    ranged = [i for i, check in enumerate(checks) if check.range is not None]
    by_mask = [i for i, check in enumerate(checks) if check.mask is not None]
    counted: dict[int, int] = {}
    at: dict[int, list[int]] = {}
    if by_mask:
        row = work.select(checks[i].mask.sum().alias(str(i)) for i in by_mask).row(0)  # type: ignore[union-attr]
        counted.update(zip(by_mask, row, strict=True))
    for i, (count, first) in zip(
        ranged,
        _count_ranges(work, [checks[i].range for i in ranged]),
        strict=True,  # type: ignore[misc]
    ):
        counted[i], at[i] = count, first
    hits = [(i, checks[i]) for i in sorted(counted) if counted[i]]
    aggs: list[pl.Expr] = []
    for i, check in hits:
        if check.mask is None:
            continue
        shown = (check.mask if check.shown is None else check.shown).fill_null(False)
        aggs.append(shown.arg_true().head(MAX_EXAMPLES).implode().alias(f"at{i}"))
        if check.shown is not None:
            aggs.append(shown.sum().alias(f"unconvertible{i}"))
    result = work.select(aggs).row(0, named=True) if aggs else {}
    at.update({i: result[f"at{i}"] for i, check in hits if check.mask is not None})
    positions = sorted({p for i, _ in hits for p in at[i]})
    shown_columns = sorted({c.details["column"] for _, c in hits if c.details["kind"] != "null"})
    picked = frame.select(ROW, *shown_columns)[positions].with_columns(
        pl.col(shown_columns).cast(pl.String)
    )
    where = {p: k for k, p in enumerate(positions)}
    for i, check in hits:
        count = counted[i]
        shown_at = [where[p] for p in at[i]]
        values: list[Any] = []
        if check.details["kind"] != "null":
            column = picked.get_column(check.details["column"])
            values = [column[k] for k in shown_at]
        row_numbers = picked.get_column(ROW)
        finding = {
            "severity": VIOLATION,
            "actionable": True,
            **check.details,
            "count": count,
            "share": count / frame.height,
            "examples": [row_numbers[k] for k in shown_at],
            "example_values": values,
        }
        if f"unconvertible{i}" in result:
            finding["unconvertible"] = result[f"unconvertible{i}"]
        findings.append(finding)
    for f in findings:
        f["round"] = at_round
        if "share" in f:
            f["share"] = round(f["share"], 6)
        f["message"] = _message(f)
    # A baseline learned here is JSON data already (see baseline.learn); one from the state too.
    return jsonable(findings), dict(baseline)


def anomaly_count(findings: Sequence[Mapping[str, Any]]) -> int:
    """The sum of the counts of the findings acted on."""
    return sum(int(f["count"]) for f in findings if f.get("actionable"))


def judging_from(state: Mapping[str, Any], params: Mapping[str, Any], tool: str) -> Judging:
    """The ``act_on``, ``impute`` and ``fill`` settings of the run."""
    fill = cfg.setting(state, params, "fill", None) or {}
    if not isinstance(fill, Mapping):
        raise DataQualityError(
            f"{tool}: setting 'fill' must map columns to a strategy, got {fill!r}"
        )
    return Judging(
        act_on=cfg.act_on(cfg.setting(state, params, "act_on", None), tool),
        impute=cfg.impute(cfg.setting(state, params, "impute", None), tool),
        fill=frozenset(str(c) for c in fill),
    )


def detect(state: Mapping[str, Any], **params: Any) -> dict[str, Any]:
    """Detect problems in the data at ``data_path``.

    Uses the state's ``profile`` when it describes the same data, else profiles first.
    In round 0 it learns the ``baseline``; later rounds judge against the state's.
    Settings (state, or node params): ``iqr_k`` (1.5), ``extreme_k`` (3), ``rare_share``
    (0.01), ``max_categories`` (50), ``required``, ``act_on``, ``impute``, ``fill``.
    Returns ``findings`` (this round), ``issues`` (the same, for a history kept with the
    ``extend`` reducer), ``anomaly_count`` and ``baseline``.
    """
    path = require(state, "data_path", TOOL, "run dq.load first")
    frame = read_frame(path, TOOL)
    profile = state.get("profile")
    if not profile or profile.get("data_path") != path:
        limit = cfg.setting(state, params, "max_categories", MAX_CATEGORIES)
        profile = profile_frame(frame, int(cfg.positive(limit, "max_categories", TOOL)))
    expected = None
    if state.get("expected_schema") is not None:
        expected = check_expected_schema(state["expected_schema"], TOOL)
    numbers = {
        key: cfg.positive(cfg.setting(state, params, key, default), key, TOOL)
        for key, default in DEFAULTS.items()
    }
    numbers["rare_share"] = cfg.share(numbers["rare_share"], "rare_share", TOOL)
    required = cfg.names(cfg.setting(state, params, "required", None), "required", TOOL)
    columns = data_columns(frame.columns)
    cfg.columns_in(required, columns, "required", TOOL)
    judging = judging_from(state, params, TOOL)
    cfg.columns_in(sorted(judging.fill), columns, "fill", TOOL)
    at_round = int(state.get("round", 0))
    baseline = state.get("baseline") if at_round > 0 else None
    findings, baseline = detect_frame(
        frame,
        profile,
        expected,
        at_round=at_round,
        baseline=baseline,
        judging=judging,
        required=required,
        **numbers,
    )
    return {
        "findings": findings,
        "issues": list(findings),
        "anomaly_count": anomaly_count(findings),
        "baseline": baseline,
    }
