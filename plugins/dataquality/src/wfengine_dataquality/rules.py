"""Cleaning rules as data, and ``dq.generate_rules``, which derives them from findings.

A rule is a JSON object; a list of them can be saved, read, edited and applied again
(``dq.apply_rules`` with ``rules`` or ``rules_path``). Kinds and fields:

================== ===================================================================
kind               fields
================== ===================================================================
``not_null``       ``column``, ``strategy`` (``median``, ``mean``, ``mode``, ``constant``
                   or ``quarantine``), ``value`` (filled in; computed from the data when
                   null, required for ``constant``)
``unique``         ``columns`` (null: all); later copies of a row are dropped
``range``          ``column``, ``min``, ``max`` (either may be null), ``action`` (``clip``
                   or ``quarantine``)
``format``         ``column``, ``format`` (``email``, ``date`` + ``pattern``, ``number`` +
                   ``dtype``), ``action`` ``quarantine``; dates and numbers are converted
``allowed_values`` ``column``, ``values``, ``action`` ``quarantine``
``type``           ``column``, ``type`` (a family, see :mod:`.dtypes`), ``action``
                   ``quarantine``; values are converted, those that cannot be are quarantined
================== ===================================================================

Every rule may also carry ``id`` and ``note`` (ignored when applying) and, in the run's
history, ``round``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .dtypes import parse_family
from .errors import DataQualityError
from .formats import DATE_PATTERNS
from .io import work_path, write_text
from .settings import impute, setting
from .state import require

TOOL = "dq.generate_rules"
FILL_STRATEGIES = ("median", "mean", "mode", "constant", "quarantine")
KINDS = ("not_null", "unique", "range", "format", "allowed_values", "type")


def _fail(tool: str, i: int, rule: Any, problem: str) -> DataQualityError:
    what = ""
    if isinstance(rule, Mapping):
        what = f" ({rule.get('kind')}" + (f" on '{rule['column']}')" if "column" in rule else ")")
    return DataQualityError(f"{tool}: rules[{i}]{what}: {problem}")


def check_rules(rules: Any, columns: Sequence[str], tool: str) -> list[dict[str, Any]]:
    """Validate rules against the data's ``columns``; return them as plain dicts.

    Raises :class:`DataQualityError` naming the rule (by index) and what is wrong with it.
    """
    if not isinstance(rules, list):
        raise DataQualityError(f"{tool}: rules must be a list of objects, got {type(rules)}")
    checked: list[dict[str, Any]] = []
    for i, rule in enumerate(rules):
        if not isinstance(rule, Mapping):
            raise _fail(tool, i, rule, f"must be an object, got {rule!r}")
        kind = rule.get("kind")
        if kind not in KINDS:
            raise _fail(tool, i, rule, f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
        rule = dict(rule)
        if kind == "unique":
            wanted = rule.get("columns") or []
            if not isinstance(wanted, list):
                raise _fail(tool, i, rule, "'columns' must be a list of column names or null")
            missing = [c for c in wanted if c not in columns]
            if missing:
                raise _fail(tool, i, rule, f"columns {missing} are not in the data")
            checked.append(rule)
            continue
        if rule.get("column") not in columns:
            raise _fail(tool, i, rule, f"column {rule.get('column')!r} is not in the data")
        action = rule.get("action", "quarantine")
        if kind == "not_null":
            if rule.get("strategy") not in FILL_STRATEGIES:
                raise _fail(tool, i, rule, f"'strategy' must be one of {FILL_STRATEGIES}")
            if rule["strategy"] == "constant" and rule.get("value") is None:
                raise _fail(tool, i, rule, "strategy 'constant' needs a 'value'")
        elif kind == "range":
            if action not in ("clip", "quarantine"):
                raise _fail(tool, i, rule, f"'action' must be 'clip' or 'quarantine': {action!r}")
            for key in ("min", "max"):
                value = rule.get(key)
                number = isinstance(value, int | float) and not isinstance(value, bool)
                if value is not None and not number:
                    raise _fail(tool, i, rule, f"'{key}' must be a number or null, not {value!r}")
        elif action != "quarantine":
            raise _fail(tool, i, rule, f"'action' must be 'quarantine', not {action!r}")
        if kind == "format":
            fmt = rule.get("format")
            if fmt not in ("email", "date", "number"):
                raise _fail(tool, i, rule, "'format' must be 'email', 'date' or 'number'")
            if fmt == "date" and rule.setdefault("pattern", "%Y-%m-%d") not in DATE_PATTERNS:
                raise _fail(tool, i, rule, f"'pattern' must be one of {DATE_PATTERNS}")
            if fmt == "number" and rule.setdefault("dtype", "Float64") not in ("Int64", "Float64"):
                raise _fail(tool, i, rule, "'dtype' must be 'Int64' or 'Float64'")
        elif kind == "allowed_values" and not isinstance(rule.get("values"), list):
            raise _fail(tool, i, rule, "'values' must be a list")
        elif kind == "type":
            rule["type"] = parse_family(rule.get("type"), f"{tool}: rules[{i}].type")
        rule["action"] = action if kind != "not_null" else rule.get("action")
        if rule["action"] is None:
            del rule["action"]
        checked.append(rule)
    return checked


def _fill_rule(
    column: str, info: Mapping[str, Any], converts_to: str | None, strategy: str, fill: Any
) -> dict[str, Any]:
    """A not_null rule filling a column's missing values, asked for by ``fill`` or ``impute``.

    ``fill`` (the column's entry of the ``fill`` setting) wins; else ``strategy`` (the
    ``impute`` setting): ``median``/``mean`` for numbers, the most frequent value (``mode``)
    for other columns. The value is computed from the data when the rule is applied.
    """
    if fill is not None:
        given = {"strategy": fill} if isinstance(fill, str) else dict(fill)
        return {"kind": "not_null", "column": column, "value": None, **given}
    family = converts_to or info["family"]
    if family not in ("int", "float", "number"):
        strategy = "mode"
    return {"kind": "not_null", "column": column, "strategy": strategy, "value": None}


def build_rules(
    findings: Sequence[Mapping[str, Any]],
    profile: Mapping[str, Any],
    *,
    range_action: str = "quarantine",
    fill: Mapping[str, Any] | None = None,
    impute: str = "none",
) -> list[dict[str, Any]]:
    """One rule per finding acted on (``actionable``), in the findings' order.

    ``range_action`` (``quarantine`` or ``clip``) is the action of the range rules of
    acted-on outliers (extreme values are always quarantined); ``fill`` maps a column to
    a fill strategy (``"mean"``) or a ``{"strategy", "value"}`` object; ``impute`` is the
    strategy for the other optional columns with missing values acted on.
    """
    if range_action not in ("clip", "quarantine"):
        raise DataQualityError(f"{TOOL}: range_action must be 'clip' or 'quarantine'")
    fill = fill or {}
    converts_to: dict[str, str] = {}
    for f in findings:
        if f["kind"] == "type_mismatch":
            converts_to[f["column"]] = f["expected"]
        elif f["kind"] == "malformed" and f["format"] == "number":
            converts_to[f["column"]] = "int" if f.get("dtype") == "Int64" else "float"
        elif f["kind"] == "malformed" and f["format"] == "date":
            converts_to[f["column"]] = "date"
    rules: list[dict[str, Any]] = []
    for f in findings:
        if not f.get("actionable"):
            continue
        kind, column = f["kind"], str(f.get("column") or "")
        rule: dict[str, Any]
        if kind == "duplicate":
            rule = {"kind": "unique", "columns": f.get("columns")}
        elif kind == "null" and f.get("required"):
            rule = {"kind": "not_null", "column": column, "strategy": "quarantine"}
        elif kind == "null":
            info = profile["columns"][column]
            rule = _fill_rule(column, info, converts_to.get(column), impute, fill.get(column))
        elif kind in ("extreme", "outlier"):
            rule = {"kind": "range", "column": column, "min": f["min"], "max": f["max"]}
            rule["action"] = range_action if kind == "outlier" else "quarantine"
        elif kind == "malformed":
            rule = {"kind": "format", "column": column, "format": f["format"]}
            for key in ("pattern", "dtype"):
                if key in f:
                    rule[key] = f[key]
            rule["action"] = "quarantine"
        elif kind in ("unexpected_value", "rare_value"):
            rule = {"kind": "allowed_values", "column": column, "values": f["allowed"]}
            rule["action"] = "quarantine"
        elif kind == "type_mismatch":
            rule = {"kind": "type", "column": column, "type": f["expected"]}
            rule["action"] = "quarantine"
        else:
            continue
        rule["id"] = f"{kind}:{column}" if column else rule["kind"]
        rule["note"] = f.get("message", "")
        rules.append(rule)
    return rules


def load_rules(path: str | Path, tool: str) -> Any:
    """Read a rules JSON file (a list, or an object with a ``rules`` list)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataQualityError(f"{tool}: rules file '{path}' does not exist") from None
    except json.JSONDecodeError as error:
        raise DataQualityError(f"{tool}: rules file '{path}' is not valid JSON: {error}") from None
    return data["rules"] if isinstance(data, dict) and "rules" in data else data


def generate_rules(state: Mapping[str, Any], **params: Any) -> dict[str, Any]:
    """Turn this round's ``findings`` into ``rules``, also saved as ``work/rules-r<round>.json``.

    Settings (state, or node params): ``range_action`` (``quarantine``), ``fill``
    (per-column fill strategies), ``impute`` (``none``).
    """
    findings = state.get("findings") or []
    profile = require(state, "profile", TOOL, "run dq.profile and dq.detect first")
    rules = build_rules(
        findings,
        profile,
        range_action=setting(state, params, "range_action", "quarantine"),
        fill=setting(state, params, "fill", None),
        impute=impute(setting(state, params, "impute", None), TOOL),
    )
    update: dict[str, Any] = {"rules": rules}
    if state.get("output_dir"):
        name = f"rules-r{int(state.get('round', 0))}.json"
        text = json.dumps(rules, indent=2, ensure_ascii=False) + "\n"
        update["rules_path"] = write_text(text, work_path(state["output_dir"], name))
    return update
