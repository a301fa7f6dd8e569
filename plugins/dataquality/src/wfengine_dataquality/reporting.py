"""``dq.report``: write the cleaned data, the quarantine and the report of the run.

Files in ``output_dir``: ``clean.parquet``/``clean.csv`` (the data after the last round,
without ``_row``), ``quarantine.parquet``/``quarantine.csv`` (every quarantined row, its
values as text, with ``_row``, ``_round`` and ``_reason``), ``rules.json`` (every rule
applied, re-appliable with ``dq.apply_rules``), ``report.json`` and ``report.md``.

The report proves the row accounting: every source row number appears exactly once in
the cleaned data, the quarantine or the removed duplicates, says why the rounds stopped,
and guards the result: the run fails (with every output written) when more than
``max_quarantine_share`` of the rows were quarantined or no row is left.

A learn run also writes ``profile.json`` (the profile of its clean output) next to
``rules.json``, for validate mode to compare new data with. A validate run's report adds
``rule_results`` (pass/fail per rule, with counts and percentages of rows) and ``drift``
(observations against the saved profile), and the run fails, after writing every output,
when a rule whose failure is a violation failed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import polars as pl

from .apply import quarantine_schema
from .errors import DataQualityError
from .html_report import build_html
from .io import ROW, read_frame, work_path, write_csv, write_frame, write_text
from .profiling import profile_frame
from .settings import setting, share
from .state import jsonable, require
from .validation import PROFILE_FILE, failed_violations

TOOL = "dq.report"
#: Default of ``max_quarantine_share``.
MAX_QUARANTINE_SHARE = 0.10


def _concat(paths: list[str], empty: pl.DataFrame) -> pl.DataFrame:
    frames = [read_frame(p, TOOL) for p in paths]
    return pl.concat([empty, *frames], how="diagonal_relaxed") if frames else empty


def check_accounting(
    input_rows: int, clean: pl.DataFrame, quarantine: pl.DataFrame, duplicates: pl.DataFrame
) -> dict[str, Any]:
    """Count rows out and prove each source row number is accounted for exactly once."""
    seen = pl.concat([f.get_column(ROW).cast(pl.Int64) for f in (clean, quarantine, duplicates)])
    balanced = (
        seen.len() == input_rows
        and seen.n_unique() == input_rows
        and (input_rows == 0 or (seen.min() == 1 and seen.max() == input_rows))
    )
    return {
        "input_rows": input_rows,
        "output_rows": clean.height,
        "quarantined_rows": quarantine.height,
        "duplicates_removed": duplicates.height,
        "balanced": bool(balanced),
        "check": (
            f"{input_rows} input rows = {clean.height} output + {quarantine.height} quarantined"
            f" + {duplicates.height} duplicates removed; each source row number appears once"
        ),
    }


def _by_round(items: list[Mapping[str, Any]], rounds: range) -> dict[str, list[Mapping[str, Any]]]:
    """Items by their ``round`` (every round in ``rounds`` gets a list, maybe empty)."""
    grouped: dict[str, list[Mapping[str, Any]]] = {str(r): [] for r in rounds}
    for item in items:
        bucket = grouped.setdefault(str(item.get("round", 0)), [])
        if item not in bucket:  # a node run twice after a crash must not double-report
            bucket.append(item)
    return grouped


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    def cell(value: Any) -> str:
        return "" if value is None else str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines


def _profile_rows(profile: Mapping[str, Any]) -> list[list[Any]]:
    rows = []
    for name, c in profile["columns"].items():
        if c.get("min_length") is not None:
            spread = f"length {c['min_length']}-{c['max_length']}"
        elif c.get("min") is not None:
            spread = f"{c['min']} .. {c['max']} (median {c.get('p50')})"
        else:
            spread = ""
        top = ", ".join(f"{t['value']} ({t['count']})" for t in c.get("top_values", [])[:5])
        fmt = (c.get("format") or {}).get("format", "")
        rows.append([name, c["dtype"], c["nulls"], c["distinct"], spread, fmt, top])
    return rows


def render_markdown(report: Mapping[str, Any]) -> str:
    """The human-readable report."""
    acc = report["accounting"]
    guard = report["guard"]
    lines = [
        f"# {report['title']}",
        "",
        (
            f"Validate mode: the data was checked against the rules in `{report['rules_file']}`."
            if report.get("mode") == "validate"
            else f"Rounds of cleaning: {report['rounds']} (max {report['max_rounds']});"
            f" findings acted on left: {report['anomaly_count']} (threshold {report['threshold']})."
        ),
        f"Stopped because {report['stop_reason']}.",
        "",
        f"Guard: {'passed' if guard['passed'] else 'FAILED'}: {guard['message']}",
        "",
        "## Row accounting",
        "",
        *_table(
            ["input", "output", "quarantined", "duplicates removed", "balanced"],
            [
                [
                    acc["input_rows"],
                    acc["output_rows"],
                    acc["quarantined_rows"],
                    acc["duplicates_removed"],
                    "yes" if acc["balanced"] else "NO",
                ]
            ],
        ),
        "",
        acc["check"] + ".",
        "",
        f"Values filled in (marked in `_imputed`): {acc.get('imputed_values', 0)};"
        f" values clipped (marked in `_clipped`): {acc.get('clipped_values', 0)}.",
        "",
    ]
    if report.get("mode") == "validate":
        lines += _validation_lines(report)
    else:
        lines += _summary_lines(report)
    for title, key in (("Profile before", "profile_before"), ("Profile after", "profile_after")):
        headers = ["column", "type", "nulls", "distinct", "range", "format", "top values"]
        lines += [f"## {title}", "", *_table(headers, _profile_rows(report[key])), ""]
    lines += ["## Findings and rules per round", ""]
    for rnd, findings in report["findings_by_round"].items():
        lines += [f"### Round {rnd}: findings", ""]
        if findings:
            lines += _table(
                [
                    "kind",
                    "severity",
                    "column",
                    "count",
                    "share",
                    "acted on",
                    "example rows",
                    "example values",
                ],
                [
                    [
                        f["kind"],
                        f.get("severity", ""),
                        f.get("column") or "",
                        f["count"],
                        _percent(f.get("share")),
                        "yes" if f.get("actionable") else "no",
                        ", ".join(map(str, f.get("examples", []))),
                        ", ".join(map(str, f.get("example_values", []))),
                    ]
                    for f in findings
                ],
            )
        else:
            lines.append("No findings.")
        lines.append("")
        applied = report["rules_by_round"].get(str(int(rnd) + 1), [])
        if applied:
            lines += [f"### Round {int(rnd) + 1}: rules applied", ""]
            lines += _table(
                ["rule", "details", "rows/values affected"],
                [[r.get("id", r["kind"]), _rule_details(r), r.get("affected")] for r in applied],
            )
            lines.append("")
    lines += ["## Files", ""]
    lines += [f"- {key}: `{path}`" for key, path in report["outputs"].items()]
    return "\n".join(lines) + "\n"


def _validation_lines(report: Mapping[str, Any]) -> list[str]:
    """The rule results table and the drift section of a validate run."""
    check = report["validation"]
    lines = [
        f"Validation: {'passed' if check['passed'] else 'FAILED'}: {check['message']}",
        "",
        "## Rule results",
        "",
    ]
    headers = [
        "#",
        "rule",
        "expectation",
        "severity",
        "action",
        "success",
        "unexpected",
        "unexpected %",
        "observed",
        "example rows",
        "example values",
    ]
    rows = [
        [
            r["index"],
            r["id"],
            r["expectation"],
            r["severity"],
            r["action"],
            "yes" if r["success"] else "NO",
            r.get("unexpected_count"),
            "" if r.get("unexpected_percent") is None else f"{r['unexpected_percent']:.2f}%",
            _number(r.get("observed_value")),
            ", ".join(map(str, r.get("examples", []))),
            ", ".join("null" if v is None else str(v) for v in r.get("example_values", [])),
        ]
        for r in report["rule_results"]
    ]
    lines += _table(headers, rows) if rows else ["The rules file holds no rule."]
    lines += ["", "## Drift (observations)", "", f"Saved profile: {report['drift_source']}.", ""]
    drift = [
        [d["kind"], d.get("column") or "", d["count"], _percent(d.get("share")), d["message"]]
        for d in report["drift"]
    ]
    headers = ["kind", "column", "count", "share", "details"]
    lines += _table(headers, drift) if drift else ["No drift found."]
    return [*lines, ""]


def _number(value: Any) -> Any:
    return f"{value:.6g}" if isinstance(value, float) else value


def validation(results: list[Mapping[str, Any]], outputs: Mapping[str, str]) -> dict[str, Any]:
    """Whether every rule whose failure is a violation passed, with a message."""
    failed = failed_violations(results)
    ids = [f"rules[{r['index']}] {r['id']}" for r in failed]
    passed = sum(1 for r in results if r["success"])
    if failed:
        message = (
            f"{len(failed)} of {len(results)} rules failed with violations ({', '.join(ids)});"
            f" every output was written for inspection ({outputs['report_md']},"
            f" {outputs['quarantine_csv']})"
        )
    else:
        message = f"{passed} of {len(results)} rules passed; no violation"
    return {"passed": not failed, "failed_rules": ids, "message": message}


def _percent(share: Any) -> str:
    if share is None:
        return ""
    return f"{share * 100:.2f}%" if share >= 0.0001 or share == 0 else "<0.01%"


def _summary_lines(report: Mapping[str, Any]) -> list[str]:
    """Violations and observations found in the original data (round 0)."""
    first = report["findings_by_round"].get("0", [])
    lines: list[str] = []
    for title, severity in (
        ("Violations (acted on)", "violation"),
        ("Observations (reported; acted on only when asked)", "observation"),
    ):
        rows = [
            [
                f["kind"],
                f.get("column") or "",
                f["count"],
                _percent(f.get("share")),
                "yes" if f.get("actionable") else "no",
                f.get("message", ""),
            ]
            for f in first
            if f.get("severity") == severity
        ]
        lines += [f"## {title}", ""]
        headers = ["kind", "column", "count", "share", "acted on", "details"]
        lines += _table(headers, rows) if rows else ["None."]
        lines.append("")
    base = report.get("baseline") or {}
    if base.get("index_columns"):
        names = ", ".join(f"`{c}`" for c in base["index_columns"])
        lines += [f"Index columns (left out of the checks and of duplicates): {names}.", ""]
    return lines


def stop_reason(state: Mapping[str, Any]) -> str:
    """Why the rounds of cleaning stopped, from the state the routing condition read."""
    if state.get("mode") == "validate":
        how = "applied" if state.get("act", True) else "evaluated (act=false: nothing changed)"
        return f"validate mode checks the saved rules once: they were {how}"
    left, threshold = state.get("anomaly_count") or 0, state.get("threshold") or 0
    rounds, max_rounds = int(state.get("round") or 0), state.get("max_rounds")
    if left <= threshold:
        if left == 0:
            return f"no finding to act on was left after {rounds} round(s)"
        return f"{left} findings to act on were left, not more than threshold {threshold}"
    return f"max_rounds ({max_rounds}) was reached with {left} findings to act on left"


def guard(
    accounting: Mapping[str, Any], limit: float, outputs: Mapping[str, str]
) -> dict[str, Any]:
    """Whether the quarantine stays within ``limit`` (duplicates do not count) and some
    rows are left; with a message saying what to do when not."""
    total = accounting["input_rows"] or 1
    quarantined = accounting["quarantined_rows"]
    share = quarantined / total
    where = (
        f"every output was written for inspection ({outputs['report_md']},"
        f" {outputs['quarantine_csv']})"
    )
    result = {"max_quarantine_share": limit, "quarantine_share": round(share, 6)}
    if accounting["output_rows"] == 0:
        message = (
            f"no row is left in the clean output ({quarantined} of {accounting['input_rows']}"
            f" rows quarantined, {accounting['duplicates_removed']} duplicates removed); {where}."
            " Read the _reason column of the quarantine to see which rule rejected them"
        )
        return {**result, "passed": False, "message": message}
    if share > limit:
        message = (
            f"{quarantined} of {accounting['input_rows']} rows ({_percent(share)}) were"
            f" quarantined, more than max_quarantine_share {limit:g} (duplicates do not count);"
            f" {where}. Read the _reason column of the quarantine; if the rules are right,"
            " run again with a higher -s max_quarantine_share"
        )
        return {**result, "passed": False, "message": message}
    message = f"{_percent(share)} of the rows quarantined, within max_quarantine_share {limit:g}"
    return {**result, "passed": True, "message": message}


def _rule_details(rule: Mapping[str, Any]) -> str:
    skip = {"kind", "column", "id", "note", "round", "affected"}
    return ", ".join(f"{k}={v}" for k, v in rule.items() if k not in skip)


def _loaded(output_dir: Path, fallback: pl.DataFrame) -> pl.DataFrame:
    """The data as ``dq.load`` read it (round 0), for the report's "before" charts."""
    first = work_path(str(output_dir), "data-r0.parquet")
    return read_frame(first, TOOL) if first.exists() else fallback


def report(state: Mapping[str, Any], **params: Any) -> dict[str, Any]:
    """Write the outputs and the report; return ``outputs`` (paths) and ``accounting``.

    In learn mode also ``profile.json``; in validate mode the report holds the rule
    results and the drift found by ``dq.validate``.

    Settings (state, or node params): ``title``, the report's heading (default
    ``Data-quality report: <source>``); ``max_quarantine_share`` (0.1).

    Raises :class:`DataQualityError` if the row accounting does not balance, and (after
    writing every output, for inspection) when more than ``max_quarantine_share`` of the
    rows were quarantined (duplicates do not count) or no row is left, or (validate mode)
    when a rule whose failure is a violation failed.
    """
    path = require(state, "data_path", TOOL, "run dq.load first")
    output_dir = Path(require(state, "output_dir", TOOL, "run dq.load first"))
    frame = read_frame(path, TOOL)
    quarantine = _concat(state.get("quarantine_paths") or [], quarantine_schema(frame))
    duplicates = _concat(
        state.get("duplicates_paths") or [],
        pl.DataFrame(schema={ROW: pl.Int64, "_round": pl.Int64}),
    )
    before = state.get("accounting") or {}
    input_rows = int(before.get("input_rows", frame.height))
    accounting = check_accounting(input_rows, frame, quarantine, duplicates)
    for key in ("imputed_values", "clipped_values"):
        accounting[key] = int(before.get(key, 0))
    limit = share(
        setting(state, params, "max_quarantine_share", MAX_QUARANTINE_SHARE),
        "max_quarantine_share",
        TOOL,
    )
    if not accounting["balanced"]:
        raise DataQualityError(f"{TOOL}: row accounting does not balance: {accounting['check']}")

    clean = frame.drop(ROW)
    # Two at a time: each polars writer keeps about one core busy.
    with ThreadPoolExecutor(2, thread_name_prefix="dq-report") as pool:
        written = {
            "clean_csv": pool.submit(write_csv, clean, output_dir / "clean.csv"),
            "clean_parquet": pool.submit(
                write_frame, clean, output_dir / "clean.parquet", cache=False
            ),
            "quarantine_csv": pool.submit(write_csv, quarantine, output_dir / "quarantine.csv"),
            "quarantine_parquet": pool.submit(
                write_frame, quarantine, output_dir / "quarantine.parquet", cache=False
            ),
        }
    outputs = {
        key: written[key].result()
        for key in ("clean_parquet", "clean_csv", "quarantine_parquet", "quarantine_csv")
    }
    rules_applied = list(state.get("rules_applied") or [])
    outputs["rules_json"] = write_text(
        json.dumps(jsonable(rules_applied), indent=2, ensure_ascii=False) + "\n",
        output_dir / "rules.json",
    )
    mode = state.get("mode") or "learn"
    profile_after = state.get("profile")
    if not profile_after or profile_after.get("data_path") != path:
        profile_after = profile_frame(frame)
    source = state.get("source_name") or state.get("source")
    if mode == "learn":  # what good data looks like, for validate mode's drift check
        saved = {k: v for k, v in profile_after.items() if k not in ("data_path", "round")}
        outputs["profile_json"] = write_text(
            json.dumps(jsonable({"source": source, **saved}), indent=2, ensure_ascii=False) + "\n",
            output_dir / PROFILE_FILE,
        )
    outputs["report_json"] = str(output_dir / "report.json")
    outputs["report_md"] = str(output_dir / "report.md")
    outputs["report_html"] = str(output_dir / "report.html")

    checked = guard(accounting, limit, outputs)
    rounds = int(state.get("round", 0))
    findings = list(state.get("issues") or state.get("findings") or [])
    results = list(state.get("rule_results") or [])
    validated = validation(results, outputs)
    content = jsonable(
        {
            "title": setting(state, params, "title", None) or f"Data-quality report: {source}",
            "source": source,
            "rounds": rounds,
            "max_rounds": state.get("max_rounds"),
            "threshold": state.get("threshold"),
            "anomaly_count": state.get("anomaly_count"),
            "expected_schema": state.get("expected_schema"),
            "accounting": accounting,
            "stop_reason": stop_reason(state),
            "guard": checked,
            "baseline": state.get("baseline"),
            "profile_before": state.get("profile_before") or profile_after,
            "profile_after": profile_after,
            "findings_by_round": _by_round(findings, range(rounds + 1)),
            "rules_by_round": _by_round(rules_applied, range(1, rounds + 1)),
            "mode": mode,
            "rules_file": state.get("rules"),
            "rule_results": results,
            "validation": validated if mode == "validate" else None,
            "drift": list(state.get("drift") or []),
            "drift_source": state.get("drift_source"),
            "outputs": outputs,
        }
    )
    write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", outputs["report_json"])
    write_text(render_markdown(content), outputs["report_md"])
    write_text(build_html(content, _loaded(output_dir, frame), frame), outputs["report_html"])
    if not checked["passed"]:
        raise DataQualityError(f"{TOOL}: {checked['message']}")
    if mode == "validate" and not validated["passed"]:
        raise DataQualityError(f"{TOOL}: validation failed: {validated['message']}")
    return {"outputs": outputs, "accounting": accounting}
