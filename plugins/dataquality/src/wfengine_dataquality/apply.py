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
from collections.abc import Callable, Mapping, Sequence
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
from .rules import action, check_rules, distinct_rules, load_rules, rule_id
from .state import jsonable, require
from .user_rules import ROW_KINDS, TABLE_KINDS, row_check

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


def _text(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.String).fill_null("null")


def rule_check(
    rule: Mapping[str, Any],
    schema: Mapping[str, pl.DataType],
    value: Callable[[str], pl.Expr],
    columns: Sequence[str],
    types: Mapping[str, pl.DataType] | None = None,
) -> tuple[pl.Expr, pl.Expr] | None:
    """(mask of the rows failing a row rule, reason text), whatever the rule's action.

    ``value(name)`` is a column's values as converted by the format/type rules, ``types``
    their types (default: ``schema``, nothing converted). None for
    rules no row fails (a format rule on a column already of its type) and for ``unique``
    rules over every data column (their later copies are found by :func:`duplicate_rows`).
    Raises :class:`ValueError` when a rule does not fit the column's type.
    """
    column = rule.get("column")
    kind = rule["kind"]
    if kind == "unique":
        wanted = rule.get("columns") or []
        if action(rule, columns) == "drop" or not wanted:
            return None
        names = ", ".join(wanted)
        return ~pl.struct(wanted).is_first_distinct(), pl.lit(
            f"{names}: repeats an earlier row's value"
        )
    assert column is not None
    types = types or schema
    col = pl.col(column)
    dtype = schema[column]
    val = value(column)
    if kind in ROW_KINDS:
        return row_check(rule, types, value)
    if kind == "not_null":
        return col.is_null(), pl.lit(f"{column}: missing")
    if kind == "range":
        if family(types[column]) not in ("int", "float"):
            raise ValueError(
                f"the column holds {types[column]} values, not numbers; add a format or type rule"
                " converting it"
            )
        low, high = rule.get("min"), rule.get("max")
        mask = pl.lit(False)
        if low is not None:
            mask = mask | (val < low)
        if high is not None:
            mask = mask | (val > high)
        bounds = f" outside [{low}, {high}]"
        return mask, pl.concat_str(pl.lit(f"{column}: "), _text(val), pl.lit(bounds))
    if kind == "format":
        if dtype != pl.String:  # already converted: nothing left to check
            return None
        what = f"' is not a valid {rule['format']}"
        mask = formats.malformed(column, rule) if rule["format"] == "email" else val.is_null()
        return col.is_not_null() & mask, pl.concat_str(
            pl.lit(f"{column}: '"), _text(col), pl.lit(what)
        )
    if kind == "allowed_values":
        mask = col.is_not_null() & ~val.cast(pl.String).is_in([str(v) for v in rule["values"]])
        return mask, pl.concat_str(
            pl.lit(f"{column}: '"), _text(col), pl.lit("' is not an allowed value")
        )
    if kind == "type":
        mask = col.is_not_null() & val.is_null()
        what = f"' is not a valid {rule['type']}"
        return mask, pl.concat_str(pl.lit(f"{column}: '"), _text(col), pl.lit(what))
    return None


def conversions(frame: pl.DataFrame, rules: Sequence[Mapping[str, Any]]) -> dict[str, pl.Expr]:
    """The converted values of each column a format or type rule converts."""
    converted: dict[str, pl.Expr] = {}
    for rule in rules:
        if rule["kind"] in ("format", "type"):
            expr = _conversion(rule, frame.schema[rule["column"]])
            if expr is not None:
                converted[rule["column"]] = expr
    return converted


def converted_name(name: str) -> str:
    """The temporary column holding ``name``'s converted values."""
    return f"\x00c{name}"


def row_checks(
    frame: pl.DataFrame,
    rules: Sequence[Mapping[str, Any]],
    converted: Mapping[str, pl.Expr],
    tool: str,
    *,
    acting: bool,
) -> dict[int, tuple[pl.Expr, pl.Expr]]:
    """(mask, reason) by rule index: of the rules quarantining rows (``acting``) or of every
    row rule. Raises :class:`DataQualityError` naming the rule that does not fit the data."""
    columns = data_columns(frame.columns)

    def value(name: str) -> pl.Expr:
        return pl.col(converted_name(name)) if name in converted else pl.col(name)

    types = dict(frame.schema)
    if converted:
        types.update(frame.lazy().select(e.alias(n) for n, e in converted.items()).collect_schema())
    checks: dict[int, tuple[pl.Expr, pl.Expr]] = {}
    for i, rule in enumerate(rules):
        if rule["kind"] in TABLE_KINDS or (acting and action(rule, columns) != "quarantine"):
            continue
        try:
            found = rule_check(rule, frame.schema, value, columns, types)
        except ValueError as error:
            where = f" on '{rule['column']}'" if rule.get("column") else ""
            raise DataQualityError(
                f"{tool}: rules[{i}] ({rule['kind']}{where}, id '{rule_id(rule)}'): {error}"
            ) from None
        if found is not None:
            checks[i] = found
    return checks


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
    columns = [c for c in frame.columns if c != ROW]
    data = data_columns(columns)
    converted = conversions(frame, rules)

    def value(name: str) -> pl.Expr:
        return pl.col(converted_name(name)) if name in converted else pl.col(name)

    checks = row_checks(frame, rules, converted, TOOL, acting=True)
    # Convert once; the checks and the clean rows both use the converted columns.
    marked = (
        frame.lazy()
        .with_columns(expr.alias(converted_name(name)) for name, expr in converted.items())
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
        if rule["kind"] == "not_null" and action(rule) == "fill":
            fill, affected[i] = _fill_expr(clean, rule)
            if fill is not None:
                fills.append((rule["column"], fill))
    if fills:
        clean = _mark(clean, IMPUTED, [(name, pl.col(name).is_null()) for name, _ in fills])
        clean = clean.with_columns(fill for _, fill in fills)
    removed: list[pl.Series] = []
    for i, rule in enumerate(rules):
        if rule["kind"] == "unique" and action(rule, data) == "drop":
            later = duplicate_rows(clean, rule.get("columns") or data)
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


def rules_from(state: Mapping[str, Any], params: Mapping[str, Any], tool: str) -> list[Any]:
    """The rules to apply: the ``rule_set`` param (a list), else the rules file at the
    ``rules`` param or state key (a path), else the state's generated ``rule_set``.

    A rules file is read without the history a run adds (``round``, ``affected``) and
    without the repeats of a rule applied in several rounds.
    """
    if params.get("rule_set") is not None:
        given: list[Any] = params["rule_set"]
        return given
    path = params.get("rules") or state.get("rules")
    if path is not None:
        if not isinstance(path, str):
            raise DataQualityError(
                f"{tool}: 'rules' must be the path of a rules file (.json, .yaml), got"
                f" {type(path).__name__}; give a list of rules as the 'rule_set' param"
            )
        return distinct_rules(load_rules(path, tool))
    generated: list[Any] = require(
        state, "rule_set", tool, "run dq.generate_rules first, or give a rules file as 'rules'"
    )
    return generated


def _changed(rules: list[dict[str, Any]], result: Applied, kind: str) -> int:
    """How many values the fill (``not_null``) or clip (``range``) rules changed."""
    return sum(
        n
        for rule, n in zip(rules, result.affected, strict=True)
        if rule["kind"] == kind and action(rule) in ("clip", "fill")
    )


def apply_rules(state: Mapping[str, Any], **params: Any) -> dict[str, Any]:
    """Apply rules (see :func:`rules_from`: the ``rule_set`` param, a ``rules`` file, or the
    state's generated ``rule_set``) to ``data_path``.

    Writes ``work/data-r<N>.parquet``, ``work/quarantine-r<N>.parquet`` and
    ``work/duplicates-r<N>.parquet`` for round ``N = round + 1``; returns the new
    ``data_path``, ``round``, ``accounting``, ``rules_applied`` (with how many rows or values
    each rule affected), ``quarantine_paths`` and ``duplicates_paths``.
    """
    path = require(state, "data_path", TOOL, "run dq.load first")
    require(state, "output_dir", TOOL, "run dq.load first")
    frame = read_frame(path, TOOL)
    rules = check_rules(rules_from(state, params, TOOL), data_columns(frame.columns), TOOL)
    at_round = int(state.get("round", 0)) + 1
    return record(state, frame, rules, apply_rules_frame(frame, rules, at_round), at_round)


def record(
    state: Mapping[str, Any],
    frame: pl.DataFrame,
    rules: list[dict[str, Any]],
    result: Applied,
    at_round: int,
) -> dict[str, Any]:
    """Write round ``at_round``'s clean data, quarantine and duplicates under ``output_dir``;
    return the state update (``data_path``, ``round``, ``accounting``, ``rules_applied``,
    ``quarantine_paths``, ``duplicates_paths``)."""
    output_dir = require(state, "output_dir", TOOL, "run dq.load first")
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
