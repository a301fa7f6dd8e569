"""``dq.report``: write the cleaned data, the quarantine and the report of the run.

Files in ``output_dir``: ``clean.parquet``/``clean.csv`` (the data after the last round,
without ``_row``), ``quarantine.parquet``/``quarantine.csv`` (every quarantined row, its
values as text, with ``_row``, ``_round`` and ``_reason``), ``rules.json`` (every rule
applied, re-appliable with ``dq.apply_rules``), ``report.json`` and ``report.md``.

The report proves the row accounting: every source row number appears exactly once in
the cleaned data, the quarantine or the removed duplicates.
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
from .io import ROW, read_frame, write_csv, write_frame, write_text
from .profiling import profile_frame
from .state import jsonable, require

TOOL = "dq.report"


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
    lines = [
        f"# {report['title']}",
        "",
        f"Rounds of cleaning: {report['rounds']} (max {report['max_rounds']});"
        f" anomalies left: {report['anomaly_count']} (threshold {report['threshold']}).",
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
    ]
    for title, key in (("Profile before", "profile_before"), ("Profile after", "profile_after")):
        headers = ["column", "type", "nulls", "distinct", "range", "format", "top values"]
        lines += [f"## {title}", "", *_table(headers, _profile_rows(report[key])), ""]
    lines += ["## Findings and rules per round", ""]
    for rnd, findings in report["findings_by_round"].items():
        lines += [f"### Round {rnd}: findings", ""]
        if findings:
            lines += _table(
                ["kind", "column", "count", "example rows", "example values"],
                [
                    [
                        f["kind"],
                        f.get("column") or "",
                        f["count"],
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


def _rule_details(rule: Mapping[str, Any]) -> str:
    skip = {"kind", "column", "id", "note", "round", "affected"}
    return ", ".join(f"{k}={v}" for k, v in rule.items() if k not in skip)


def report(state: Mapping[str, Any], **params: Any) -> dict[str, Any]:
    """Write the outputs and the report; return ``outputs`` (paths) and ``accounting``.

    Params: ``title``, the report's heading (default ``Data-quality report: <source>``).

    Raises :class:`DataQualityError` if the row accounting does not balance.
    """
    path = require(state, "data_path", TOOL, "run dq.load first")
    output_dir = Path(require(state, "output_dir", TOOL, "run dq.load first"))
    frame = read_frame(path, TOOL)
    quarantine = _concat(state.get("quarantine_paths") or [], quarantine_schema(frame))
    duplicates = _concat(
        state.get("duplicates_paths") or [],
        pl.DataFrame(schema={ROW: pl.Int64, "_round": pl.Int64}),
    )
    input_rows = int((state.get("accounting") or {}).get("input_rows", frame.height))
    accounting = check_accounting(input_rows, frame, quarantine, duplicates)
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
    outputs["report_json"] = str(output_dir / "report.json")
    outputs["report_md"] = str(output_dir / "report.md")

    source = state.get("source_name") or state.get("source")
    rounds = int(state.get("round", 0))
    findings = list(state.get("issues") or state.get("findings") or [])
    profile_after = state.get("profile")
    if not profile_after or profile_after.get("data_path") != path:
        profile_after = profile_frame(frame)
    content = jsonable(
        {
            "title": params.get("title") or f"Data-quality report: {source}",
            "source": source,
            "rounds": rounds,
            "max_rounds": state.get("max_rounds"),
            "threshold": state.get("threshold"),
            "anomaly_count": state.get("anomaly_count"),
            "expected_schema": state.get("expected_schema"),
            "accounting": accounting,
            "profile_before": state.get("profile_before") or profile_after,
            "profile_after": profile_after,
            "findings_by_round": _by_round(findings, range(rounds + 1)),
            "rules_by_round": _by_round(rules_applied, range(1, rounds + 1)),
            "outputs": outputs,
        }
    )
    write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", outputs["report_json"])
    write_text(render_markdown(content), outputs["report_md"])
    return {"outputs": outputs, "accounting": accounting}
