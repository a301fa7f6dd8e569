"""The rule kinds users write besides the generated ones, checked and evaluated here.

Row rules (each row passes or fails; ``action`` ``quarantine``, the default, or ``report``):

=========== ==========================================================================
kind        fields
=========== ==========================================================================
``regex``   ``column``, ``pattern``: every non-null value, as text, must match the
            whole pattern (Rust regex syntax, as polars uses: no look-around)
``compare`` ``column``, ``op`` (``==`` ``!=`` ``<`` ``<=`` ``>`` ``>=``) and either
            ``other`` (another column: ``end >= start``) or ``value`` (a literal, cast
            to the column's type: ``"2000-01-01"`` for a date column). Rows where either
            side is missing pass. Never evaluated as code: the form is the data.
=========== ==========================================================================

Table rules (the whole table passes or fails; ``action`` ``fail``, the default: a
violation that fails the run, or ``report``):

============= ========================================================================
``row_count`` ``min``, ``max`` (inclusive; either may be null)
``aggregate`` ``column``, ``stat`` (:data:`STATS`), ``min``, ``max`` (inclusive):
              ``mean(amount) between 10 and 20`` is
              ``{"kind": "aggregate", "column": "amount", "stat": "mean", "min": 10,
              "max": 20}``
============= ========================================================================

Checking raises :class:`ValueError` with the problem; :func:`.rules.check_rules` adds
which rule (index and id) it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import polars as pl
from wfengine.conditions import COMPARE_OPS

from .dtypes import family

ROW_KINDS = ("regex", "compare")
TABLE_KINDS = ("row_count", "aggregate")
#: Comparison operators of ``compare`` rules.
OPS: dict[str, Callable[[Any, Any], Any]] = {
    op: COMPARE_OPS[op] for op in ("==", "!=", "<", "<=", ">", ">=")
}
#: Statistics of ``aggregate`` rules, with whether they need a number (or date) column.
STATS: dict[str, bool] = {
    "min": True,
    "max": True,
    "mean": True,
    "median": True,
    "sum": True,
    "std": True,
    "null_share": False,
    "distinct": False,
}
#: Which column types compare with which.
_COMPARABLE = {
    "int": "number",
    "float": "number",
    "date": "time",
    "datetime": "time",
    "string": "string",
    "bool": "bool",
}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _bounds(rule: Mapping[str, Any]) -> None:
    for key in ("min", "max"):
        if rule.get(key) is not None and not _is_number(rule[key]):
            raise ValueError(f"'{key}' must be a number or null, not {rule[key]!r}")
    if rule.get("min") is None and rule.get("max") is None:
        raise ValueError("give 'min', 'max' or both")
    if rule.get("min") is not None and rule.get("max") is not None and rule["min"] > rule["max"]:
        raise ValueError(f"'min' ({rule['min']}) is greater than 'max' ({rule['max']})")


def _column(rule: Mapping[str, Any], columns: Sequence[str], key: str = "column") -> None:
    if rule.get(key) not in columns:
        names = ", ".join(columns)
        raise ValueError(f"{key} {rule.get(key)!r} is not in the data (columns: {names})")


def check_user_rule(rule: dict[str, Any], columns: Sequence[str]) -> dict[str, Any]:
    """Check a user rule of a :data:`ROW_KINDS` or :data:`TABLE_KINDS` kind; return it with
    its default ``action``. Raises :class:`ValueError` saying what is wrong."""
    kind = rule["kind"]
    table = kind in TABLE_KINDS
    actions = ("fail", "report") if table else ("quarantine", "report")
    rule.setdefault("action", actions[0])
    if rule["action"] not in actions:
        valid = " or ".join(map(repr, actions))
        raise ValueError(f"'action' must be {valid}, not {rule['action']!r}")
    if kind == "regex":
        _column(rule, columns)
        pattern = rule.get("pattern")
        if not isinstance(pattern, str) or not pattern:
            raise ValueError("'pattern' must be a non-empty regular expression")
        try:
            pl.select(pl.lit("").str.contains(pattern))
        except pl.exceptions.PolarsError as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
            raise ValueError(
                f"'pattern' {pattern!r} is not a valid regular expression: {first}"
            ) from None
    elif kind == "compare":
        _column(rule, columns)
        if rule.get("op") not in OPS:
            raise ValueError(f"'op' must be one of {' '.join(OPS)}, not {rule.get('op')!r}")
        if ("other" in rule) == ("value" in rule):
            raise ValueError("give either 'other' (a column) or 'value' (a literal), not both")
        if "other" in rule:
            _column(rule, columns, "other")
        elif not isinstance(rule["value"], str | int | float | bool):
            raise ValueError(f"'value' must be a string, number or boolean, not {rule['value']!r}")
    elif kind == "row_count":
        _bounds(rule)
    else:  # aggregate
        _column(rule, columns)
        if rule.get("stat") not in STATS:
            raise ValueError(f"'stat' must be one of {', '.join(STATS)}, not {rule.get('stat')!r}")
        _bounds(rule)
    return rule


def describe(rule: Mapping[str, Any]) -> str:
    """A rule as a short expectation: ``end >= start``, ``mean(amount) in [10, 20]``."""
    kind = rule["kind"]
    if kind == "compare":
        right = rule["other"] if "other" in rule else repr(rule["value"])
        return f"{rule['column']} {rule['op']} {right}"
    if kind == "regex":
        return f"{rule['column']} matches {rule['pattern']!r}"
    low, high = rule.get("min"), rule.get("max")
    what = "row count" if kind == "row_count" else f"{rule.get('stat')}({rule.get('column')})"
    return f"{what} in [{'-inf' if low is None else low}, {'inf' if high is None else high}]"


def row_check(
    rule: Mapping[str, Any], schema: Mapping[str, pl.DataType], value: Callable[[str], pl.Expr]
) -> tuple[pl.Expr, pl.Expr]:
    """(mask of the rows failing a regex or compare rule, reason text).

    ``value(name)`` is a column's values as the format/type rules convert them. Raises
    :class:`ValueError` when the compared columns' types cannot be compared.
    """
    column = rule["column"]
    left = value(column)
    text = left.cast(pl.String).fill_null("null")
    if rule["kind"] == "regex":
        matched = left.cast(pl.String).str.contains(f"^(?:{rule['pattern']})$")
        reason = pl.concat_str(
            pl.lit(f"{column}: '"), text, pl.lit(f"' does not match {rule['pattern']!r}")
        )
        return left.is_not_null() & ~matched, reason
    kind_left = _COMPARABLE.get(family(schema[column]), "other")
    if "other" in rule:
        right = value(rule["other"])
        kind_right = _COMPARABLE.get(family(schema[rule["other"]]), "other")
        if kind_left != kind_right or kind_left == "other":
            raise ValueError(
                f"columns '{column}' ({schema[column]}) and '{rule['other']}'"
                f" ({schema[rule['other']]}) cannot be compared; add a format or type rule"
                " converting one of them"
            )
        shown = pl.concat_str(
            pl.lit(f" {rule['op']} {rule['other']} ("), right.cast(pl.String), pl.lit(")")
        )
    else:
        right = _literal(rule["value"], schema[column])
        if right is None:
            raise ValueError(
                f"value {rule['value']!r} cannot be compared with column '{column}'"
                f" ({schema[column]})"
            )
        shown = pl.lit(f" {rule['op']} {rule['value']!r}")
    holds = OPS[rule["op"]](left, right)
    reason = pl.concat_str(pl.lit(f"{column}: '"), text, pl.lit("' fails"), shown)
    return left.is_not_null() & right.is_not_null() & ~holds, reason


def _literal(value: Any, dtype: pl.DataType) -> pl.Expr | None:
    """``value`` as a literal of ``dtype`` (ISO text for dates), or None when it is not one."""
    fam = family(dtype)
    literal = pl.lit(value)
    if fam == "string":
        expr = literal.cast(pl.String)
    elif fam in ("date", "datetime") and isinstance(value, str):
        parse = literal.str.to_date if fam == "date" else literal.str.to_datetime
        expr = parse(strict=False).cast(dtype)
    elif fam in ("int", "float") and _is_number(value) or fam == "bool" and isinstance(value, bool):
        expr = literal.cast(dtype)
    else:
        return None
    try:
        return expr if pl.select(expr).item() is not None else None
    except pl.exceptions.PolarsError:
        return None


def observed(rule: Mapping[str, Any], frame: pl.DataFrame, rows: int) -> Any:
    """The value a table rule checks: the row count, or the column's statistic."""
    if rule["kind"] == "row_count":
        return rows
    column, stat = rule["column"], rule["stat"]
    col = pl.col(column)
    if stat == "null_share":
        return frame.select(col.null_count()).item() / rows if rows else 0.0
    if stat == "distinct":
        return frame.select(col.drop_nulls().n_unique()).item()
    if family(frame.schema[column]) not in ("int", "float"):
        raise ValueError(
            f"stat '{stat}' needs a number column; '{column}' holds {frame.schema[column]}"
        )
    expr = {
        "min": col.min(),
        "max": col.max(),
        "mean": col.mean(),
        "median": col.median(),
        "sum": col.sum(),
        "std": col.std(),
    }[stat]
    return frame.select(expr).item()


def within(rule: Mapping[str, Any], value: Any) -> bool:
    """Whether a table rule's observed ``value`` lies in its inclusive [min, max]."""
    if value is None:
        return False
    low, high = rule.get("min"), rule.get("max")
    return (low is None or value >= low) and (high is None or value <= high)
