"""``dq.apply_rules``: apply cleaning rules; unfixable rows go to quarantine, never away.

One application, in this order, whatever the order of the rules:

1. every quarantine check is evaluated on the incoming rows (ranges and allowed values on
   the values as converted by the format/type rules); a row failing any of them goes to
   the quarantine table with a ``_reason`` naming every failed check;
2. on the other rows, columns are converted (format/type rules), then clipped (range
   rules with ``clip``), then nulls are filled (not_null rules); every changed value is
   marked: the ``_clipped`` and ``_imputed`` columns list, per row, the columns changed;
3. later copies of repeated rows are dropped (unique rules).

So ``incoming rows = outgoing rows + quarantined rows + removed duplicates``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from . import formats
from .columns import CLIPPED, IMPUTED, data_columns
from .detection import duplicate_rows
from .dtypes import convert, family
from .errors import DataQualityError
from .io import ROW, read_frame, work_path, write_frame
from .rules import check_rules, load_rules
from .state import jsonable, require

TOOL = "dq.apply_rules"
REASON = "_reason"
ROUND = "_round"


@dataclass
class Applied:
    """The result of applying rules to a frame."""

    clean: pl.DataFrame
    quarantine: pl.DataFrame
    duplicates: pl.DataFrame
    #: Per rule, in the given order: how many rows or values it quarantined/changed.
    affected: list[int] = field(default_factory=list)


def _conversion(rule: Mapping[str, Any], dtype: pl.DataType) -> pl.Expr | None:
    """The converted values of a format or type rule's column (None: no conversion)."""
    column = rule["column"]
    if rule["kind"] == "type":
        return convert(column, dtype, rule["type"])
    if rule["kind"] == "format" and rule["format"] != "email" and dtype == pl.String:
        return formats.parse(column, rule)
    return None


def col_name(rule: Mapping[str, Any]) -> str:
    """The column a (non-unique) rule is about."""
    return str(rule["column"])


def _text(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.String).fill_null("null")


def _check(
    rule: Mapping[str, Any], dtype: pl.DataType, value: pl.Expr
) -> tuple[pl.Expr, pl.Expr] | None:
    """(mask of rows failing a quarantine check, reason text), or None for fix-only rules."""
    column = rule.get("column")
    col = pl.col(column) if column else None
    kind = rule["kind"]
    if kind == "not_null" and rule["strategy"] == "quarantine":
        assert col is not None
        return col.is_null(), pl.lit(f"{column}: missing")
    if kind == "range" and rule["action"] == "quarantine":
        low, high = rule.get("min"), rule.get("max")
        mask = pl.lit(False)
        if low is not None:
            mask = mask | (value < low)
        if high is not None:
            mask = mask | (value > high)
        bounds = f" outside [{low}, {high}]"
        return mask, pl.concat_str(pl.lit(f"{column}: "), _text(value), pl.lit(bounds))
    if kind == "format" and col is not None:
        if dtype != pl.String:  # already converted: nothing left to check
            return None
        what = f"' is not a valid {rule['format']}"
        mask = (
            formats.malformed(col_name(rule), rule)
            if rule["format"] == "email"
            else value.is_null()
        )
        return col.is_not_null() & mask, pl.concat_str(
            pl.lit(f"{column}: '"), _text(col), pl.lit(what)
        )
    if kind == "allowed_values":
        assert col is not None
        mask = col.is_not_null() & ~value.cast(pl.String).is_in([str(v) for v in rule["values"]])
        return mask, pl.concat_str(
            pl.lit(f"{column}: '"), _text(col), pl.lit("' is not an allowed value")
        )
    if kind == "type":
        assert col is not None
        mask = col.is_not_null() & value.is_null()
        what = f"' is not a valid {rule['type']}"
        return mask, pl.concat_str(pl.lit(f"{column}: '"), _text(col), pl.lit(what))
    return None


def _fill_value(frame: pl.DataFrame, rule: Mapping[str, Any]) -> Any:
    """The value a not_null rule fills in: given, or computed from ``frame`` by strategy."""
    if rule.get("value") is not None:
        return rule["value"]
    col = frame.get_column(rule["column"]).drop_nulls()
    if col.len() == 0:
        return None
    if rule["strategy"] == "median":
        return col.median()
    if rule["strategy"] == "mean":
        return col.mean()
    counts = col.value_counts(name="count").sort(["count", col.name], descending=[True, False])
    return counts.item(0, 0)


def _fill_expr(frame: pl.DataFrame, rule: Mapping[str, Any]) -> tuple[pl.Expr | None, int]:
    """The filled column of a not_null rule (None: nothing to fill) and how many it fills."""
    name = rule["column"]
    nulls = frame.get_column(name).null_count()
    value = _fill_value(frame, rule) if nulls else None
    if value is None:
        return None, 0
    dtype = frame.schema[name]
    if family(dtype) == "int" and isinstance(value, float):
        value = math.floor(value + 0.5)
    fill = pl.lit(value).cast(dtype, strict=False)
    if frame.select(fill).item() is None:
        raise DataQualityError(
            f"{TOOL}: not_null rule on '{name}': value {value!r} does not fit the column's"
            f" type {dtype}; edit the rule's 'value'"
        )
    return pl.col(name).fill_null(fill), nulls


def _mark(frame: pl.DataFrame, marker: str, flags: list[tuple[str, pl.Expr]]) -> pl.DataFrame:
    """Add to ``marker`` (a comma list per row) the name of each column whose flag is set."""
    parts = [pl.when(mask).then(pl.lit(name)) for name, mask in flags]
    if marker in frame.columns:
        parts.insert(0, pl.col(marker))
    joined = pl.concat_str(parts, separator=",", ignore_nulls=True)
    return frame.with_columns(pl.when(joined != "").then(joined).alias(marker))


def apply_rules_frame(frame: pl.DataFrame, rules: list[dict[str, Any]], at_round: int) -> Applied:
    """Apply checked ``rules`` to ``frame`` (which has ``_row``); see the module docstring.

    Quarantined rows keep every column, as text, plus ``_round`` and ``_reason``.
    """
    schema = frame.schema
    columns = [c for c in frame.columns if c != ROW]
    converted: dict[str, pl.Expr] = {}
    for rule in rules:
        if rule["kind"] in ("format", "type"):
            expr = _conversion(rule, schema[rule["column"]])
            if expr is not None:
                converted[rule["column"]] = expr

    def value(name: str) -> pl.Expr:
        return pl.col(f"\x00c{name}") if name in converted else pl.col(name)

    checks: dict[int, tuple[pl.Expr, pl.Expr]] = {}
    for i, rule in enumerate(rules):
        numeric = family(schema[rule.get("column", ROW)]) in ("int", "float") or (
            rule.get("column") in converted
        )
        if rule["kind"] == "range" and not numeric:
            raise DataQualityError(
                f"{TOOL}: rules[{i}] (range on '{rule['column']}'): the column holds"
                f" {schema[rule['column']]} values, not numbers; add a format or type rule"
                " converting it"
            )
        if rule["kind"] != "unique":
            found = _check(rule, schema[rule["column"]], value(rule["column"]))
            if found is not None:
                checks[i] = found
    # Convert once; the checks and the clean rows both use the converted columns.
    marked = (
        frame.lazy()
        .with_columns(expr.alias(f"\x00c{name}") for name, expr in converted.items())
        .with_columns(mask.fill_null(False).alias(f"\x00q{i}") for i, (mask, _) in checks.items())
        .collect()
    )
    flags = [f"\x00q{i}" for i in checks]
    affected = [0] * len(rules)
    if flags:
        failed = pl.any_horizontal(flags)
        for i, n in zip(checks, marked.select(pl.col(flags).sum()).row(0), strict=True):
            affected[i] = n
        reason = pl.concat_str(
            [pl.when(pl.col(f"\x00q{i}")).then(text) for i, (_, text) in checks.items()],
            separator="; ",
            ignore_nulls=True,
        )
        # Lazy, so that only the columns kept are filtered.
        quarantine = (
            marked.lazy()
            .filter(failed)
            .select(
                pl.col(ROW),
                *(pl.col(c).cast(pl.String) for c in columns),
                pl.lit(at_round, dtype=pl.Int64).alias(ROUND),
                reason.alias(REASON),
            )
            .collect()
        )
        kept = marked.lazy().filter(~failed)
    else:
        kept, quarantine = marked.lazy(), quarantine_schema(frame)
    clean = kept.select(ROW, *(value(c).alias(c) for c in columns)).collect()
    clips: list[tuple[str, pl.Expr]] = []
    for i, rule in enumerate(rules):
        if rule["kind"] == "range" and rule["action"] == "clip":
            col = pl.col(rule["column"])
            low, high = rule.get("min"), rule.get("max")
            outside = pl.lit(False)
            if low is not None:
                outside = outside | (col < low)
            if high is not None:
                outside = outside | (col > high)
            affected[i] = clean.select(outside.sum()).item()
            if affected[i]:
                clips.append((rule["column"], outside))
    if clips:
        clean = _mark(clean, CLIPPED, clips)
        for rule in rules:
            if rule["kind"] == "range" and rule["action"] == "clip":
                clean = clean.with_columns(pl.col(rule["column"]).clip(rule["min"], rule["max"]))
    fills: list[tuple[str, pl.Expr]] = []
    for i, rule in enumerate(rules):
        if rule["kind"] == "not_null" and rule["strategy"] != "quarantine":
            fill, affected[i] = _fill_expr(clean, rule)
            if fill is not None:
                fills.append((rule["column"], fill))
    if fills:
        clean = _mark(clean, IMPUTED, [(name, pl.col(name).is_null()) for name, _ in fills])
        clean = clean.with_columns(fill for _, fill in fills)
    removed: list[pl.Series] = []
    for i, rule in enumerate(rules):
        if rule["kind"] == "unique":
            later = duplicate_rows(clean, rule.get("columns") or data_columns(columns))
            affected[i] = later.len()
            if later.len():
                removed.append(later)
                clean = clean.filter(~pl.col(ROW).is_in(later.implode()))
    dropped = pl.concat(removed) if removed else pl.Series(ROW, [], dtype=pl.Int64)
    duplicates = pl.DataFrame({ROW: dropped.cast(pl.Int64)}).with_columns(
        pl.lit(at_round, dtype=pl.Int64).alias(ROUND)
    )
    return Applied(clean=clean, quarantine=quarantine, duplicates=duplicates, affected=affected)


def quarantine_schema(frame: pl.DataFrame) -> pl.DataFrame:
    """An empty quarantine table for ``frame``'s columns."""
    columns = [c for c in frame.columns if c != ROW]
    schema: dict[str, pl.DataType] = {ROW: pl.Int64()}
    schema.update({c: pl.String() for c in columns})
    schema.update({ROUND: pl.Int64(), REASON: pl.String()})
    return pl.DataFrame(schema=schema)


def _rules_from(state: Mapping[str, Any], params: Mapping[str, Any]) -> Any:
    if params.get("rules") is not None:
        return params["rules"]
    if params.get("rules_path"):
        return load_rules(params["rules_path"], TOOL)
    return require(state, "rules", TOOL, "run dq.generate_rules first or pass rules/rules_path")


def _changed(rules: list[dict[str, Any]], result: Applied, kind: str) -> int:
    """How many values the fill (``not_null``) or clip (``range``) rules changed."""
    return sum(
        n
        for rule, n in zip(rules, result.affected, strict=True)
        if rule["kind"] == kind
        and (rule.get("action") == "clip" or rule.get("strategy") not in (None, "quarantine"))
    )


def apply_rules(state: Mapping[str, Any], **params: Any) -> dict[str, Any]:
    """Apply ``rules`` (the state's, or the ``rules``/``rules_path`` param) to ``data_path``.

    Writes ``work/data-r<N>.parquet``, ``work/quarantine-r<N>.parquet`` and
    ``work/duplicates-r<N>.parquet`` for round ``N = round + 1``; returns the new
    ``data_path``, ``round``, ``accounting``, ``rules_applied`` (with how many rows or values
    each rule affected), ``quarantine_paths`` and ``duplicates_paths``.
    """
    path = require(state, "data_path", TOOL, "run dq.load first")
    output_dir = require(state, "output_dir", TOOL, "run dq.load first")
    frame = read_frame(path, TOOL)
    rules = check_rules(_rules_from(state, params), data_columns(frame.columns), TOOL)
    at_round = int(state.get("round", 0)) + 1
    result = apply_rules_frame(frame, rules, at_round)

    with ThreadPoolExecutor(2, thread_name_prefix="dq-apply") as pool:
        data = pool.submit(
            write_frame, result.clean, work_path(output_dir, f"data-r{at_round}.parquet")
        )
        q_path = write_frame(
            result.quarantine, work_path(output_dir, f"quarantine-r{at_round}.parquet"), cache=False
        )
        d_path = write_frame(
            result.duplicates, work_path(output_dir, f"duplicates-r{at_round}.parquet"), cache=False
        )
        data_path = data.result()
    before = dict(state.get("accounting") or {})
    input_rows = before.get("input_rows", frame.height)
    accounting = {
        "input_rows": input_rows,
        "output_rows": result.clean.height,
        "quarantined_rows": before.get("quarantined_rows", 0) + result.quarantine.height,
        "duplicates_removed": before.get("duplicates_removed", 0) + result.duplicates.height,
        "imputed_values": before.get("imputed_values", 0) + _changed(rules, result, "not_null"),
        "clipped_values": before.get("clipped_values", 0) + _changed(rules, result, "range"),
    }
    applied = [
        {**rule, "round": at_round, "affected": n}
        for rule, n in zip(rules, result.affected, strict=True)
    ]
    update: dict[str, Any] = jsonable(
        {
            "data_path": data_path,
            "round": at_round,
            "accounting": accounting,
            "rules_applied": [*(state.get("rules_applied") or []), *applied],
            "quarantine_paths": [*(state.get("quarantine_paths") or []), q_path],
            "duplicates_paths": [*(state.get("duplicates_paths") or []), d_path],
        }
    )
    return update
