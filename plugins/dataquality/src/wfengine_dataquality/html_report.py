"""``report.html``: the data-quality report as one self-contained page people look at.

:func:`render_html` turns the JSON report that ``dq.report`` writes (``report.json``) and
the per-column chart data of :func:`~wfengine_dataquality.chart_data.column_charts` into
one HTML file: no JavaScript, no external URL (it opens offline), charts as inline SVG
(:mod:`wfengine_dataquality.svg`), CSS in one ``<style>`` element whose hash the page's
own Content-Security-Policy allows (``default-src 'none'``), so it also shows under a
strict policy. Every text that comes from the data (column names, values, messages) is
escaped.

The sections, each shown only when the report has it: title and source, how the file was
read (``read_info``), row accounting, why the cleaning loop stopped, the findings summary,
then per column its chart before/after, nulls and findings with examples, findings about
the whole table, rules with pass/fail counts and percentages, drift, and the files.

Report fields read (all optional except none; a missing one leaves its section out):

* ``title``, ``source``, ``read_info`` (mapping; nested values shown as JSON);
* ``accounting``: ``input_rows``, ``output_rows``, ``quarantined_rows``,
  ``duplicates_removed``, ``balanced``, ``check``, and any other counts (e.g. imputed values);
* ``rounds``, ``max_rounds``, ``threshold``, ``anomaly_count``, ``stop_reason``;
* ``findings_by_round`` (``{round: [finding]}``) or ``findings`` (a list); a finding has
  ``column``, ``count``, ``message``, ``examples`` (row numbers), ``example_values``,
  ``actionable``, optionally ``percent`` (0-100), its check (``check`` or ``type``, else
  ``kind``) and whether it is a ``violation`` or an ``observation`` (``kind`` holding one
  of those words, or ``category``);
* ``rule_results`` (a list) or ``rules_by_round``; a rule has ``id``, ``kind``,
  ``column``, ``round``, ``affected`` and, when checked, ``checked``, ``passed``,
  ``failed`` and optionally ``pass_percent``;
* ``drift`` (a list of mappings or a mapping), ``outputs`` (``{name: path}``).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from .chart_data import ColumnCharts, SideCounts, column_charts
from .svg import Series, bar_chart, esc, fmt_count, histogram, stacked_bar

#: Rows shown at most in the rules and drift tables (the page says how many more there are).
MAX_TABLE_ROWS = 500
#: Example values are cut to this many characters.
MAX_VALUE_CHARS = 120
_CLASSES = ("violation", "observation")

CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2933;
margin:0;background:#f5f7fa}
main{max-width:980px;margin:0 auto;padding:24px 28px 64px;background:#fff}
h1{font-size:1.6em;margin:0 0 4px}h2{margin:36px 0 10px;border-bottom:2px solid #e4e7eb;
padding-bottom:4px}h3{margin:28px 0 6px}
.sub{color:#52606d;margin:0 0 16px}
table{border-collapse:collapse;margin:8px 0 12px;font-size:.92em}
th,td{border-bottom:1px solid #e4e7eb;padding:4px 10px 4px 0;text-align:left;vertical-align:top}
th{color:#52606d;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
code{font:.9em ui-monospace,Menlo,Consolas,monospace;background:#f0f4f8;padding:0 3px;
border-radius:3px;word-break:break-all}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:8px 0}
.card{border:1px solid #e4e7eb;border-radius:6px;padding:8px 14px;min-width:130px}
.card b{display:block;font-size:1.5em}.card span{color:#52606d;font-size:.9em}
.ok{color:#276749}.bad{color:#c53030;font-weight:600}
.badge{display:inline-block;border-radius:9px;padding:0 8px;font-size:.8em;font-weight:600}
.badge.violation{background:#fed7d7;color:#9b2c2c}
.badge.observation{background:#feebc8;color:#8a4b0f}
.badge.other{background:#e4e7eb;color:#3e4c59}
nav ol{columns:3;font-size:.9em}
.chart{width:100%;height:auto;max-width:640px;display:block;margin:6px 0}
.chart text{font:11px system-ui,sans-serif;fill:#3e4c59}
.chart .label{font-size:12px;fill:#52606d}.chart .legend{font-size:12px}
.chart .grid{stroke:#e4e7eb}.chart .axis{stroke:#7b8794}
.chart .before{fill:#9fb3c8}.chart .after{fill:#2b6cb0}
.chart .clean{fill:#38a169}.chart .quarantined{fill:#e53e3e}.chart .duplicates{fill:#d69e2e}
.note{color:#52606d;font-size:.9em}
dl.kv{display:grid;grid-template-columns:max-content auto;gap:2px 16px}dl.kv dt{color:#52606d}
dl.kv dd{margin:0}
"""


def csp(css: str = CSS) -> str:
    """The page's Content-Security-Policy: nothing loads, only its own stylesheet applies."""
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    return f"default-src 'none'; style-src 'sha256-{digest}'; img-src 'none'; form-action 'none'"


def _pct(part: float, whole: float) -> str:
    if not whole:
        return "–"
    return _fmt_pct(100 * part / whole)


def _fmt_pct(value: float) -> str:
    if value == 0:
        return "0%"
    if value < 0.1:
        return f"{value:.2g}%"
    return f"{value:.1f}%"


def _num(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return esc("" if value is None else value)
    return esc(fmt_count(value) if isinstance(value, int) else f"{value:,.6g}")


def _text(value: Any, limit: int = MAX_VALUE_CHARS) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return esc(text if len(text) <= limit else text[: limit - 1] + "…")


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: set[int]) -> str:
    """A table of pre-escaped cells; columns in ``numeric`` are right-aligned."""

    def cls(i: int) -> str:
        return ' class="num"' if i in numeric else ""

    head = "".join(f"<th{cls(i)}>{esc(h)}</th>" for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f"<td{cls(i)}>{cell}</td>" for i, cell in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _more(total: int, shown: int, what: str) -> str:
    if total <= shown:
        return ""
    return f'<p class="note">{fmt_count(total - shown)} more {esc(what)} not shown.</p>'


# -- the report's parts ------------------------------------------------------------------


def _findings(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Every finding once: a later round's re-check of the same check on the same column
    (an observation reported again after cleaning) is not shown twice."""
    if not isinstance(report.get("findings_by_round"), Mapping):
        return list(report.get("findings") or [])
    seen: set[tuple[str, str]] = set()
    found = []
    for findings in report["findings_by_round"].values():
        for finding in findings or []:
            key = (str(_finding_check(finding)), str(finding.get("column")))
            if key not in seen:
                seen.add(key)
                found.append(finding)
    return found


def _finding_class(finding: Mapping[str, Any]) -> str:
    for key in ("severity", "category", "kind", "class"):
        if finding.get(key) in _CLASSES:
            return str(finding[key])
    return ""


def _finding_check(finding: Mapping[str, Any]) -> str:
    for key in ("check", "type", "kind"):
        value = finding.get(key)
        if value and value not in _CLASSES:
            return str(value)
    return ""


def _badge(cls: str) -> str:
    return f'<span class="badge {cls or "other"}">{esc(cls or "finding")}</span>'


def _finding_rows(
    findings: Sequence[Mapping[str, Any]], input_rows: int, with_column: bool
) -> list[list[str]]:
    rows = []
    for f in findings:
        count = f.get("count")
        if isinstance(f.get("percent"), int | float):
            share = _fmt_pct(float(f["percent"]))
        else:
            share = _pct(count, input_rows) if isinstance(count, int) else ""
        values = ", ".join(
            f"<code>{_text(v)}</code>" for v in list(f.get("example_values") or [])[:5]
        )
        examples = ", ".join(_num(r) for r in list(f.get("examples") or [])[:5])
        acted = f.get("acted_on", f.get("actionable"))
        row = [
            _badge(_finding_class(f)),
            esc(_finding_check(f)),
            _num(count),
            esc(share),
            _text(f.get("message") or "", 300),
            values,
            examples,
            "" if acted is None else ("yes" if acted else "no"),
        ]
        if with_column:
            row.insert(2, esc(f.get("column") or ""))
        rows.append(row)
    return rows


_FINDING_HEADERS = [
    "",
    "check",
    "count",
    "% of rows",
    "message",
    "example values",
    "rows",
    "acted on",
]


def _findings_table(
    findings: Sequence[Mapping[str, Any]], input_rows: int, with_column: bool = False
) -> str:
    headers = list(_FINDING_HEADERS)
    numeric = {2, 3}
    if with_column:
        headers.insert(2, "column")
        numeric = {3, 4}
    return _table(headers, _finding_rows(findings, input_rows, with_column), numeric)


def _section_read(report: Mapping[str, Any]) -> str:
    info = report.get("read_info") or report.get("read")
    if not isinstance(info, Mapping) or not info:
        return ""
    items = "".join(f"<dt>{esc(k)}</dt><dd>{_text(v, 400)}</dd>" for k, v in info.items())
    return f'<h2 id="read">How the file was read</h2><dl class="kv">{items}</dl>'


def _section_accounting(report: Mapping[str, Any]) -> str:
    acc = report.get("accounting")
    if not isinstance(acc, Mapping):
        return ""
    total = acc.get("input_rows") or 0
    cards = [
        ("input_rows", "rows in"),
        ("output_rows", "clean"),
        ("quarantined_rows", "quarantined"),
        ("duplicates_removed", "duplicates removed"),
    ]
    html = ['<h2 id="accounting">Row accounting</h2><div class="cards">']
    for key, label in cards:
        if key in acc:
            share = "" if key == "input_rows" else f" ({_pct(acc[key], total)})"
            html.append(
                f'<div class="card" data-key="{key}"><b>{_num(acc[key])}</b>'
                f"<span>{esc(label)}{esc(share)}</span></div>"
            )
    html.append("</div>")
    parts = [
        ("clean", acc.get("output_rows"), "clean"),
        ("quarantined", acc.get("quarantined_rows"), "quarantined"),
        ("duplicates removed", acc.get("duplicates_removed"), "duplicates"),
    ]
    counts = [(label, int(n), css) for label, n, css in parts if isinstance(n, int)]
    if counts and sum(n for _, n, _ in counts):
        html.append(
            stacked_bar(
                "accounting",
                title="Where the input rows went",
                desc="; ".join(f"{label}: {fmt_count(n)}" for label, n, _ in counts),
                parts=counts,
            )
        )
    extra = {
        k: v for k, v in acc.items() if k not in dict(cards) and k not in ("balanced", "check")
    }
    if extra:
        items = "".join(f"<dt>{esc(k)}</dt><dd>{_text(v, 400)}</dd>" for k, v in extra.items())
        html.append(f'<dl class="kv">{items}</dl>')
    if "balanced" in acc:
        ok = bool(acc["balanced"])
        html.append(
            f'<p class="{"ok" if ok else "bad"}">{"Balanced" if ok else "NOT balanced"}: '
            f"{esc(acc.get('check') or '')}</p>"
        )
    return "".join(html)


def stop_reason(report: Mapping[str, Any]) -> str:
    """Why the cleaning loop stopped: the report's ``stop_reason``, else told from its counts."""
    if report.get("stop_reason"):
        return str(report["stop_reason"])
    rounds, max_rounds = report.get("rounds"), report.get("max_rounds")
    left, threshold = report.get("anomaly_count"), report.get("threshold")
    if isinstance(left, int) and isinstance(threshold, int | float) and left <= threshold:
        return f"{left} anomalies left, not more than the threshold {threshold}"
    if isinstance(rounds, int) and isinstance(max_rounds, int) and rounds >= max_rounds:
        return f"the maximum of {max_rounds} rounds was reached ({left} anomalies left)"
    return ""


def _section_loop(report: Mapping[str, Any]) -> str:
    reason = stop_reason(report)
    facts = [
        (label, report[key])
        for key, label in (
            ("rounds", "rounds of cleaning"),
            ("max_rounds", "max rounds"),
            ("anomaly_count", "anomalies left"),
            ("threshold", "threshold"),
        )
        if report.get(key) is not None
    ]
    if not reason and not facts:
        return ""
    items = "".join(f"<dt>{esc(k)}</dt><dd>{_num(v)}</dd>" for k, v in facts)
    why = f'<p id="stop-reason">Stopped because {esc(reason)}.</p>' if reason else ""
    return f'<h2 id="loop">Cleaning rounds</h2>{why}<dl class="kv">{items}</dl>'


def _side_cells(side: SideCounts | None) -> list[str]:
    if side is None:
        return ["–", "–", "–", "–"]
    return [
        _num(side["rows"]),
        f"{_num(side['nulls'])} ({esc(_pct(side['nulls'], side['rows']))})",
        _num(side["unreadable"]),
        _num(side["other"] + side["below"] + side["above"]),
    ]


#: What the last column of a column's table counts: values not drawn as a bar of their own.
_OUTSIDE = {
    "numeric": "outside the bins",
    "date": "outside the bins",
    "text_length": "outside the bins",
    "categorical": "other values",
    "empty": "other values",
}


def _sides(chart: ColumnCharts) -> list[tuple[str, SideCounts]]:
    pairs = (("before", chart["before"]), ("after", chart["after"]))
    return [(name, side) for name, side in pairs if side is not None]


def _chart_svg(chart_id: str, name: str, chart: ColumnCharts) -> str:
    sides = _sides(chart)
    kind = chart["kind"]
    if kind in ("numeric", "date", "text_length") and chart["edges"]:
        labels = chart["edge_labels"]
        nbins = len(labels) - 1
        below = any(c["below"] for _, c in sides)
        above = any(c["above"] for _, c in sides)
        if chart["integer"]:
            names = labels[:-1]
        else:
            names = [f"{labels[i]} to {labels[i + 1]}" for i in range(nbins)]
        names = ([f"below {labels[0]}"] if below else []) + names
        names += [f"above {labels[-1]}"] if above else []
        series = [
            Series(
                side,
                ([c["below"]] if below else []) + c["counts"] + ([c["above"]] if above else []),
                side,
            )
            for side, c in sides
        ]
        shift = 1 if below else 0
        every = max(1, -(-nbins // 7))
        ticks = [(i + shift, labels[i]) for i in range(0, nbins + 1, every)]
        if below:
            ticks.insert(0, (0, "<"))
        if above:
            ticks.append((len(names) - 1, ">"))
        x_label = {
            "numeric": f"{name} (log scale)" if chart["scale"] == "log" else name,
            "date": name,
            "text_length": f"length of {name} (characters)",
        }[kind]
        what = "histogram" if kind != "text_length" else "histogram of text lengths"
        return histogram(
            chart_id,
            title=f"{name}: {what} before and after cleaning",
            desc=_chart_desc(sides, names),
            bins=names,
            series=series,
            ticks=ticks,
            x_label=x_label,
        )
    if kind == "categorical" and chart["categories"]:
        categories = ["(empty text)" if c == "" else c for c in chart["categories"]]
        # "other" gets a bar only when it does not dwarf the rest; the table below has it.
        peak = max((max(c["counts"], default=0) for _, c in sides), default=0)
        other = any(c["other"] for _, c in sides) and all(c["other"] <= peak for _, c in sides)
        if other:
            categories.append("(all other values)")
        series = [
            Series(side, c["counts"] + ([c["other"]] if other else []), side) for side, c in sides
        ]
        return bar_chart(
            chart_id,
            title=f"{name}: most frequent values before and after cleaning",
            desc=_chart_desc(sides, categories),
            categories=categories,
            series=series,
            y_label=name,
        )
    categories = ["null", "unreadable"]
    series = [Series(side, [c["nulls"], c["unreadable"]], side) for side, c in sides]
    return bar_chart(
        chart_id,
        title=f"{name}: no readable values; nulls and unreadable values",
        desc=_chart_desc(sides, categories),
        categories=categories,
        series=series,
        y_label=name,
    )


def _chart_desc(sides: Sequence[tuple[str, SideCounts]], groups: Sequence[str]) -> str:
    parts = [
        f"{side}: {fmt_count(c['rows'])} rows, {fmt_count(c['nulls'])} null" for side, c in sides
    ]
    return "; ".join(parts) + f"; {len(groups)} bars per series"


def _section_columns(
    report: Mapping[str, Any], charts: Mapping[str, ColumnCharts], findings: list[Mapping[str, Any]]
) -> str:
    input_rows = int((report.get("accounting") or {}).get("input_rows") or 0)
    by_column: dict[str, list[Mapping[str, Any]]] = {}
    for f in findings:
        if f.get("column") is not None:
            by_column.setdefault(str(f["column"]), []).append(f)
    html = ['<h2 id="columns">Columns</h2>']
    if charts:
        links = "".join(
            f'<li><a href="#col-{i}">{esc(name)}</a></li>' for i, name in enumerate(charts)
        )
        html.append(f"<nav><ol>{links}</ol></nav>")
    for i, (name, chart) in enumerate(charts.items()):
        dtypes = " → ".join(
            dict.fromkeys(d for d in (chart["dtype_before"], chart["dtype_after"]) if d)
        )
        html.append(
            f'<section class="column" id="col-{i}"><h3>{esc(name)}'
            f' <span class="note">{esc(dtypes)}</span></h3>'
        )
        html.append(_chart_svg(f"chart-{i}", name, chart))
        rows = [
            [esc("before"), *_side_cells(chart["before"])],
            [esc("after"), *_side_cells(chart["after"])],
        ]
        html.append(
            _table(["", "rows", "nulls", "unreadable", _OUTSIDE[chart["kind"]]], rows, {1, 2, 3, 4})
        )
        column_findings = by_column.pop(name, [])
        if column_findings:
            html.append(_findings_table(column_findings, input_rows))
        else:
            html.append('<p class="note">No findings.</p>')
        html.append("</section>")
    rest = [f for fs in by_column.values() for f in fs]
    table_level = [f for f in findings if f.get("column") is None]
    if table_level or rest:
        html.append('<h2 id="table-findings">Findings about the whole table and other columns</h2>')
        html.append(_findings_table(table_level + rest, input_rows, with_column=True))
    return "".join(html)


def _section_summary(findings: Sequence[Mapping[str, Any]]) -> str:
    if not findings:
        return '<h2 id="findings">Findings</h2><p>No findings.</p>'
    totals: dict[tuple[str, str], list[int]] = {}
    for f in findings:
        entry = totals.setdefault((_finding_class(f), _finding_check(f)), [0, 0])
        entry[0] += 1
        entry[1] += int(f.get("count") or 0)
    rows = [
        [_badge(cls), esc(check), _num(n), _num(count)]
        for (cls, check), (n, count) in sorted(totals.items())
    ]
    return '<h2 id="findings">Findings</h2>' + _table(
        ["", "check", "findings", "values or rows"], rows, {2, 3}
    )


def _rules(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    results = report.get("rule_results")
    if isinstance(results, list) and results:  # validate mode: one result per rule
        return [_rule_result(r) for r in results if isinstance(r, Mapping)]
    by_round = report.get("rules_by_round")
    if isinstance(by_round, Mapping):
        return [r for rs in by_round.values() for r in rs or []]
    return []


def _rule_result(result: Mapping[str, Any]) -> Mapping[str, Any]:
    """A validate-mode result (Great Expectations' shape) in the rules table's terms."""
    if "unexpected_count" not in result:
        return result
    checked, failed = result.get("element_count"), result.get("unexpected_count")
    row = {
        "id": result.get("id"),
        "column": result.get("column"),
        "action": result.get("action"),
        "success": result.get("success"),
        "expectation": result.get("expectation"),
    }
    if isinstance(checked, int) and isinstance(failed, int):
        row.update(checked=checked, failed=failed, passed=checked - failed)
    if "observed_value" in result:
        row["observed_value"] = result["observed_value"]
    return row


_RULE_KEYS = {"id", "kind", "column", "round", "affected", "checked", "passed", "failed"}
_RULE_KEYS |= {"pass_percent", "note", "action"}


def _section_rules(report: Mapping[str, Any]) -> str:
    rules = _rules(report)
    if not rules:
        return ""
    rows = []
    for r in rules[:MAX_TABLE_ROWS]:
        passed, failed = r.get("passed"), r.get("failed")
        checked = r.get("checked")
        if checked is None and isinstance(passed, int) and isinstance(failed, int):
            checked = passed + failed
        if isinstance(r.get("pass_percent"), int | float):
            pass_pct = _fmt_pct(float(r["pass_percent"]))
        else:
            pass_pct = _pct(passed, checked) if isinstance(passed, int) and checked else ""
        fail_pct = _pct(failed, checked) if isinstance(failed, int) and checked else ""
        details = ", ".join(f"{k}={_text(v, 80)}" for k, v in r.items() if k not in _RULE_KEYS)
        rows.append(
            [
                _num(r.get("round")),
                esc(r.get("id") or r.get("kind") or ""),
                esc(r.get("column") or ""),
                esc(r.get("action") or ""),
                details,
                _num(checked),
                _num(passed),
                _num(failed),
                esc(pass_pct),
                esc(fail_pct),
                _num(r.get("affected")),
            ]
        )
    headers = ["round", "rule", "column", "action", "details", "checked", "passed", "failed"]
    headers += ["% passed", "% failed", "affected"]
    return (
        '<h2 id="rules">Rules</h2>'
        + _table(headers, rows, {0, 5, 6, 7, 8, 9, 10})
        + _more(len(rules), MAX_TABLE_ROWS, "rules")
    )


def _section_drift(report: Mapping[str, Any]) -> str:
    drift = report.get("drift")
    if not drift:
        return ""
    if isinstance(drift, Mapping):
        items = "".join(f"<dt>{esc(k)}</dt><dd>{_text(v, 400)}</dd>" for k, v in drift.items())
        return f'<h2 id="drift">Drift</h2><dl class="kv">{items}</dl>'
    entries = [d for d in drift if isinstance(d, Mapping)]
    headers = list(dict.fromkeys(k for d in entries[:MAX_TABLE_ROWS] for k in d))
    rows = [[_text(d.get(h, ""), 200) for h in headers] for d in entries[:MAX_TABLE_ROWS]]
    return (
        '<h2 id="drift">Drift</h2>'
        + _table(headers, rows, set())
        + _more(len(entries), MAX_TABLE_ROWS, "drift entries")
    )


def _section_files(report: Mapping[str, Any]) -> str:
    outputs = report.get("outputs")
    if not isinstance(outputs, Mapping) or not outputs:
        return ""
    items = "".join(f"<dt>{esc(k)}</dt><dd><code>{esc(v)}</code></dd>" for k, v in outputs.items())
    return f'<h2 id="files">Files</h2><dl class="kv">{items}</dl>'


def render_html(
    report: Mapping[str, Any], charts: Mapping[str, ColumnCharts], *, omitted_columns: int = 0
) -> str:
    """The page for ``report`` (the dict written to ``report.json``) and ``charts`` (from
    :func:`~wfengine_dataquality.chart_data.column_charts`, one entry per column to draw).

    ``omitted_columns`` is how many columns had no chart drawn (the page says so).
    """
    title = str(report.get("title") or "Data-quality report")
    findings = _findings(report)
    source = report.get("source")
    body = [
        f"<h1>{esc(title)}</h1>",
        f'<p class="sub">Source: <code>{esc(source)}</code></p>' if source else "",
        _section_read(report),
        _section_accounting(report),
        _section_loop(report),
        _section_summary(findings),
        _section_columns(report, charts, findings),
        (
            f'<p class="note">{fmt_count(omitted_columns)} more columns have no chart.</p>'
            if omitted_columns
            else ""
        ),
        _section_rules(report),
        _section_drift(report),
        _section_files(report),
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(csp())}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n"
        f"<style>{CSS}</style>\n"
        "</head><body><main>\n"
        + "\n".join(part for part in body if part)
        + "\n</main></body></html>\n"
    )


def build_html(
    report: Mapping[str, Any],
    before: pl.DataFrame,
    after: pl.DataFrame,
    *,
    max_columns: int | None = None,
) -> str:
    """``report.html``'s text from the report and the data before and after cleaning (the
    one call ``dq.report`` makes); ``_row`` is left out of the charts."""
    kwargs = {} if max_columns is None else {"max_columns": max_columns}
    charts = column_charts(before, after, **kwargs)
    total = len({c for c in (*before.columns, *after.columns) if c != "_row"})
    return render_html(report, charts, omitted_columns=total - len(charts))
