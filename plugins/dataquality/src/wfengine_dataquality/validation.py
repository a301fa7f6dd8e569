"""``dq.validate``: check new data against a saved rules file, without learning new rules.

Validate mode (``wf run data-quality -s source=new.csv -s rules=rules.json -s
mode=validate``) runs ``load -> profile -> validate -> report``. This tool:

1. reads the rules file (``rules``: a learn run's ``rules.json``, maybe edited, and user
   rules; JSON or YAML) and checks every rule against the data's columns;
2. evaluates every rule on the incoming rows and returns ``rule_results``, one per rule,
   in the shape of Great Expectations' validation results: ``success``,
   ``element_count``, ``unexpected_count``, ``unexpected_percent`` (of the rows),
   ``examples`` (source row numbers) and ``example_values``, or ``observed_value`` for
   row-count and aggregate rules;
3. with ``act`` true (the default) applies the rules as :mod:`.apply` does: the rows
   failing a ``quarantine`` rule go to quarantine, ``clip``/``fill`` rules change (and
   mark) values, later duplicates are dropped; ``report`` rules change nothing. With
   ``act`` false nothing is changed: the clean output is the data as read;
4. compares the rows passing the rules with the ``profile.json`` saved next to the rules
   file (:mod:`.drift`) and returns the findings as ``drift``.

A failed rule whose ``severity`` is ``violation`` fails the run in ``dq.report``, after
every output is written (as the quarantine guard does); observations never do.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from . import settings as cfg
from .apply import (
    apply_rules_frame,
    conversions,
    converted_name,
    quarantine_schema,
    record,
    row_checks,
)
from .columns import data_columns
from .detection import duplicate_rows
from .drift import compare
from .errors import DataQualityError
from .io import ROW, read_frame
from .rules import action, check_rules, distinct_rules, load_rules, rule_id, severity
from .state import jsonable, require
from .user_rules import TABLE_KINDS, describe, observed, within

TOOL = "dq.validate"
MAX_EXAMPLES = 5
#: The profile a learn run saves next to its rules, and validate mode compares with.
PROFILE_FILE = "profile.json"


def expectation(rule: Mapping[str, Any]) -> str:
    """What a rule expects, in a few words (``age in [0, 120]``, ``end >= start``)."""
    kind, column = rule["kind"], rule.get("column")
    if kind == "not_null":
        return f"{column} is not missing"
    if kind == "range":
        return f"{column} in [{rule.get('min')}, {rule.get('max')}]"
    if kind == "format":
        extra = rule.get("pattern") or rule.get("dtype") or ""
        return f"{column} is a valid {rule['format']}" + (f" ({extra})" if extra else "")
    if kind == "allowed_values":
        values = [str(v) for v in rule["values"]]
        shown = ", ".join(values[:8]) + (", ..." if len(values) > 8 else "")
        return f"{column} in {{{shown}}}"
    if kind == "type":
        return f"{column} is of type {rule['type']}"
    if kind == "unique":
        wanted = rule.get("columns")
        return f"rows unique on ({', '.join(wanted)})" if wanted else "no row repeats another"
    return describe(rule)


def _fail(i: int, rule: Mapping[str, Any], problem: str) -> DataQualityError:
    where = f" on '{rule['column']}'" if rule.get("column") else ""
    return DataQualityError(
        f"{TOOL}: rules[{i}] ({rule['kind']}{where}, id '{rule_id(rule)}'): {problem}"
    )


def evaluate(frame: pl.DataFrame, rules: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One result per checked rule, evaluated on ``frame`` (with ``_row``) as it comes in."""
    columns = data_columns(frame.columns)
    converted = conversions(frame, rules)
    checks = row_checks(frame, rules, converted, TOOL, acting=False)
    marked = (
        frame.lazy()
        .with_columns(expr.alias(converted_name(name)) for name, expr in converted.items())
        .with_columns(mask.fill_null(False).alias(f"\x00q{i}") for i, (mask, _) in checks.items())
        .collect()
    )
    counts = (
        dict(
            zip(
                checks, marked.select(pl.col(f"\x00q{i}").sum() for i in checks).row(0), strict=True
            )
        )
        if checks
        else {}
    )
    typed = marked.select(
        ROW, *(pl.col(converted_name(c) if c in converted else c).alias(c) for c in columns)
    )
    rows = frame.height
    results = []
    for i, rule in enumerate(rules):
        result: dict[str, Any] = {
            "index": i,
            "id": rule_id(rule),
            "kind": rule["kind"],
            "column": rule.get("column") or ", ".join(rule.get("columns") or []) or None,
            "expectation": expectation(rule),
            "action": action(rule, columns),
            "severity": severity(rule, columns),
            "element_count": rows,
        }
        if rule["kind"] in TABLE_KINDS:
            try:
                value = observed(rule, typed, rows)
            except ValueError as error:
                raise _fail(i, rule, str(error)) from None
            result.update(
                success=within(rule, value),
                observed_value=value,
                unexpected_count=None,
                unexpected_percent=None,
                examples=[],
                example_values=[],
            )
            results.append(result)
            continue
        if rule["kind"] == "unique" and i not in checks:
            failing = duplicate_rows(frame, rule.get("columns") or columns)
            unexpected = failing.len()
            examples = failing.head(MAX_EXAMPLES).to_list()
            shown: list[Any] = []
        else:
            unexpected = int(counts.get(i, 0))
            sample = marked.filter(pl.col(f"\x00q{i}")).head(MAX_EXAMPLES) if unexpected else None
            examples = sample.get_column(ROW).to_list() if sample is not None else []
            column = rule.get("column") or (rule.get("columns") or [None])[0]
            shown = (
                sample.get_column(column).cast(pl.String).to_list()
                if sample is not None and column
                else []
            )
        allowed = (1 - float(rule.get("mostly", 1))) * rows
        result.update(
            success=unexpected <= allowed + 1e-9,
            unexpected_count=unexpected,
            unexpected_percent=round(unexpected / rows * 100, 4) if rows else 0.0,
            examples=examples,
            example_values=shown,
        )
        if "mostly" in rule:
            result["mostly"] = rule["mostly"]
        results.append(result)
    return results


def failed_violations(results: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The failed rules whose failure is a violation: they fail the run."""
    return [r for r in results if not r["success"] and r["severity"] == "violation"]


def saved_profile(rules_path: str) -> tuple[dict[str, Any] | None, str]:
    """The profile saved next to the rules file, and a note saying where it came from."""
    path = Path(rules_path).parent / PROFILE_FILE
    if not path.is_file():
        return None, (
            f"no {PROFILE_FILE} next to the rules file ({path}): drift was not checked;"
            " a learn run writes one next to its rules.json"
        )
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataQualityError(
            f"{TOOL}: saved profile '{path}' is not valid JSON: {error}"
        ) from None
    if not isinstance(saved, dict) or not isinstance(saved.get("columns"), dict):
        raise DataQualityError(
            f"{TOOL}: saved profile '{path}' has no 'columns' object; is it a learn run's"
            f" {PROFILE_FILE}?"
        )
    return saved, f"compared with {path}"


def validate(state: Mapping[str, Any], **params: Any) -> dict[str, Any]:
    """Check ``data_path`` against the ``rules`` file; see the module docstring.

    Settings (state, or node params): ``rules`` (the rules file's path), ``act`` (true).
    Returns ``rule_results``, ``drift``, ``drift_source`` and what :func:`.apply.record`
    returns (the data, quarantine and duplicates of round 1, the accounting).
    """
    path = require(state, "data_path", TOOL, "run dq.load first")
    rules_path = cfg.setting(state, params, "rules", None)
    if not isinstance(rules_path, str) or not rules_path:
        raise DataQualityError(
            f"{TOOL}: 'rules' must be the path of a rules file, got {rules_path!r}"
        )
    acting = cfg.act(cfg.setting(state, params, "act", None), TOOL)
    frame = read_frame(path, TOOL)
    rules = check_rules(
        distinct_rules(load_rules(rules_path, TOOL)), data_columns(frame.columns), TOOL
    )
    results = evaluate(frame, rules)
    applied = apply_rules_frame(frame, rules, 1)
    saved, note = saved_profile(rules_path)
    drift = compare(saved, applied.clean) if saved is not None else []
    if not acting:  # report only: the data as read, nothing quarantined or removed
        applied.clean = frame
        applied.quarantine = quarantine_schema(frame)
        applied.duplicates = applied.duplicates.clear()
        applied.affected = [0] * len(rules)
    update = record(state, frame, rules, applied, 1)
    update.update(
        jsonable({"rule_results": results, "drift": drift, "drift_source": note, "act": acting})
    )
    return update
