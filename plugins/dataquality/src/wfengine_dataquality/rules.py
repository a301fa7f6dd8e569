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

User rules add ``regex``, ``compare`` (cross-column), ``row_count`` and ``aggregate``
(see :mod:`.user_rules`). Every rule may carry ``action: report`` (count and show the
failing rows, change nothing; an observation), ``mostly`` (the rule succeeds when at least
this share of the rows pass), ``id`` and ``note`` (ignored when applying) and, in the
run's history, ``round`` and ``affected``. :func:`action` and :func:`severity` say what a
rule does and whether its failure is a violation.
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
from .user_rules import ROW_KINDS, TABLE_KINDS, check_user_rule

TOOL = "dq.generate_rules"
FILL_STRATEGIES = ("median", "mean", "mode", "constant", "quarantine")
GENERATED_KINDS = ("not_null", "unique", "range", "format", "allowed_values", "type")
KINDS = (*GENERATED_KINDS, *ROW_KINDS, *TABLE_KINDS)
#: Keys a run adds to the rules it applied (``rules.json``); dropped when read back.
HISTORY_KEYS = ("round", "affected")
#: Actions that change nothing: the rule's failures are observations.
OBSERVING = ("report", "clip", "fill")


def _fail(tool: str, i: int, rule: Any, problem: str) -> DataQualityError:
    what = ""
    if isinstance(rule, Mapping):
        what = f" ({rule.get('kind')}" + (f" on '{rule['column']}'" if "column" in rule else "")
        what += f", id '{rule['id']}')" if rule.get("id") is not None else ")"
    return DataQualityError(f"{tool}: rules[{i}]{what}: {problem}")


def rule_id(rule: Mapping[str, Any]) -> str:
    """The rule's ``id``, else ``<kind>:<column>`` (or its kind)."""
    if rule.get("id") is not None:
        return str(rule["id"])
    return f"{rule['kind']}:{rule['column']}" if rule.get("column") else str(rule["kind"])


def action(rule: Mapping[str, Any], columns: Sequence[str] = ()) -> str:
    """What a checked rule does with what fails it.

    ``quarantine`` (the failing rows), ``report`` (nothing; counted and shown), ``clip``
    (range rules), ``fill`` (not_null rules with a fill strategy), ``drop`` (unique rules
    over every data column: later copies are removed as duplicates) or ``fail`` (row_count
    and aggregate rules: the run fails).
    """
    kind, given = rule["kind"], rule.get("action")
    if given == "report":
        return "report"
    if kind == "not_null":
        return "quarantine" if rule.get("strategy", "quarantine") == "quarantine" else "fill"
    if kind == "unique":
        if given is not None:
            return str(given)
        wanted = rule.get("columns")
        return "drop" if not wanted or set(columns) <= set(wanted) else "quarantine"
    if kind in TABLE_KINDS:
        return "fail"
    return str(given or "quarantine")


def severity(rule: Mapping[str, Any], columns: Sequence[str] = ()) -> str:
    """``violation`` when the rule acts on (or fails the run for) what fails it, else
    ``observation`` (``report``, ``clip`` and ``fill`` rules)."""
    return "observation" if action(rule, columns) in OBSERVING else "violation"


def _check_common(tool: str, i: int, rule: dict[str, Any]) -> None:
    """The keys every rule may have: ``id``, ``note``, ``mostly``, ``action: report``."""
    if "id" in rule and not isinstance(rule["id"], str | int):
        raise _fail(tool, i, rule, f"'id' must be a string, not {rule['id']!r}")
    mostly = rule.get("mostly")
    if mostly is not None:
        number = isinstance(mostly, int | float) and not isinstance(mostly, bool)
        if not number or not 0 <= mostly <= 1:
            raise _fail(tool, i, rule, f"'mostly' must be a share in [0, 1], not {mostly!r}")


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
        rule = {k: v for k, v in rule.items() if k not in HISTORY_KEYS}
        _check_common(tool, i, rule)
        if kind in (*ROW_KINDS, *TABLE_KINDS):
            try:
                checked.append(check_user_rule(rule, columns))
            except ValueError as error:
                raise _fail(tool, i, rule, str(error)) from None
            continue
        action = rule.get("action", "quarantine")
        if kind == "unique":
            wanted = rule.get("columns") or []
            if not isinstance(wanted, list):
                raise _fail(tool, i, rule, "'columns' must be a list of column names or null")
            missing = [c for c in wanted if c not in columns]
            if missing:
                raise _fail(tool, i, rule, f"columns {missing} are not in the data")
            if action not in ("drop", "quarantine", "report"):
                raise _fail(tool, i, rule, "'action' must be 'drop', 'quarantine' or 'report'")
            checked.append(rule)
            continue
        if rule.get("column") not in columns:
            raise _fail(tool, i, rule, f"column {rule.get('column')!r} is not in the data")
        if kind == "not_null":
            rule.setdefault("strategy", "quarantine")
            if rule["strategy"] not in FILL_STRATEGIES:
                raise _fail(tool, i, rule, f"'strategy' must be one of {FILL_STRATEGIES}")
            if rule["strategy"] == "constant" and rule.get("value") is None:
                raise _fail(tool, i, rule, "strategy 'constant' needs a 'value'")
            if rule.get("action", "report") != "report":
                raise _fail(tool, i, rule, "'action' must be 'report' or absent (see 'strategy')")
        elif kind == "range":
            if action not in ("clip", "quarantine", "report"):
                raise _fail(
                    tool, i, rule, f"'action' must be 'clip', 'quarantine' or 'report': {action!r}"
                )
            for key in ("min", "max"):
                value = rule.get(key)
                number = isinstance(value, int | float) and not isinstance(value, bool)
                if value is not None and not number:
                    raise _fail(tool, i, rule, f"'{key}' must be a number or null, not {value!r}")
        elif action not in ("quarantine", "report"):
            raise _fail(tool, i, rule, f"'action' must be 'quarantine' or 'report', not {action!r}")
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
            rule = {"kind": "unique", "columns": f.get("columns"), "action": "drop"}
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
    """Read a rules file: JSON, or YAML for ``.yaml``/``.yml``; a list of rules, or an
    object with a ``rules`` list (like a run's ``rules.json``)."""
    yaml_file = Path(path).suffix.lower() in (".yaml", ".yml")
    try:
        text = Path(path).read_text(encoding="utf-8")
        if yaml_file:
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except (FileNotFoundError, IsADirectoryError):
        raise DataQualityError(f"{tool}: rules file '{path}' does not exist") from None
    except UnicodeDecodeError as error:
        raise DataQualityError(f"{tool}: rules file '{path}' is not UTF-8 text: {error}") from None
    except json.JSONDecodeError as error:
        raise DataQualityError(f"{tool}: rules file '{path}' is not valid JSON: {error}") from None
    except Exception as error:  # yaml.YAMLError, imported lazily
        raise DataQualityError(f"{tool}: rules file '{path}' is not valid YAML: {error}") from None
    rules = data["rules"] if isinstance(data, dict) and "rules" in data else data
    if not isinstance(rules, list):
        raise DataQualityError(
            f"{tool}: rules file '{path}' must hold a list of rules or an object with a"
            f" 'rules' list, not {type(data).__name__}"
        )
    return rules


def distinct_rules(rules: Sequence[Any]) -> list[Any]:
    """``rules`` without their history (``round``, ``affected``) and without repeats (a
    rule applied in several rounds of a run is in its ``rules.json`` once per round)."""
    seen: set[str] = set()
    unique: list[Any] = []
    for rule in rules:
        if isinstance(rule, Mapping):
            rule = {k: v for k, v in rule.items() if k not in HISTORY_KEYS}
            key = json.dumps({k: v for k, v in rule.items() if k != "note"}, default=str)
        else:  # not a rule: check_rules says so, with its index
            key = f"\x00{len(unique)}"
        if key not in seen:
            seen.add(key)
            unique.append(rule)
    return unique


def generate_rules(state: Mapping[str, Any], **params: Any) -> dict[str, Any]:
    """Turn this round's ``findings`` into ``rule_set``, also saved as
    ``work/rules-r<round>.json`` (``rules_path``).

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
    update: dict[str, Any] = {"rule_set": rules}
    if state.get("output_dir"):
        name = f"rules-r{int(state.get('round', 0))}.json"
        text = json.dumps(rules, indent=2, ensure_ascii=False) + "\n"
        update["rules_path"] = write_text(text, work_path(state["output_dir"], name))
    return update
