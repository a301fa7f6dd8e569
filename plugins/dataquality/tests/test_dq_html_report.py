"""report.html: one self-contained page, no script, no URL, hostile text escaped, the
report's numbers shown as they are, one well-formed SVG chart per column."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from wfengine_dataquality.chart_data import column_charts
from wfengine_dataquality.html_report import build_html, render_html, stop_reason

SVG = "{http://www.w3.org/2000/svg}"


class Page(HTMLParser):
    """The parts of a page the tests look at."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.style = ""
        self.cards: dict[str, str] = {}
        self.tables: list[list[list[str]]] = []
        self._stack: list[str] = []
        self._card: str | None = None
        self._cell: list[str] | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag not in ("meta", "br", "line", "rect", "link"):
            self._stack.append(tag)
        if tag == "div" and attributes.get("data-key"):
            self._card = attributes["data-key"]
        if tag == "table":
            self.tables.append([])
        if tag == "tr" and self.tables:
            self.tables[-1].append([])
        if tag in ("td", "th"):
            self._cell = []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.tables:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None
        if self._stack and self._stack[-1] == tag:
            self._stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._stack and self._stack[-1] == "style":
            self.style += data
        if self._stack and self._stack[-1] == "b" and self._card:
            self.cards[self._card] = data
            self._card = None
        if self._cell is not None:
            self._cell.append(data)


def _svgs(text: str) -> list[ET.Element]:
    return [ET.fromstring(m) for m in re.findall(r"<svg\b.*?</svg>", text, flags=re.S)]


@pytest.fixture(scope="module")
def cleaned(
    customers: tuple[Path, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], pl.DataFrame, pl.DataFrame]:
    """The workflow's report.json on the sample, the data as loaded and as cleaned."""
    from dq_helpers import run_workflow

    out = tmp_path_factory.mktemp("run")
    state = run_workflow({"source": str(customers[0]), "output_dir": str(out)})
    report = json.loads(Path(state["outputs"]["report_json"]).read_text())
    before = pl.read_parquet(out / "work" / "data-r0.parquet")
    after = pl.read_parquet(state["outputs"]["clean_parquet"])
    return report, before, after


@pytest.fixture(scope="module")
def page_text(cleaned: tuple[dict[str, Any], pl.DataFrame, pl.DataFrame]) -> str:
    return build_html(*cleaned)


def test_one_wellformed_accessible_chart_per_column(
    page_text: str, cleaned: tuple[dict[str, Any], pl.DataFrame, pl.DataFrame]
) -> None:
    _, before, _ = cleaned
    columns = [c for c in before.columns if c != "_row"]
    sections = re.findall(r'<section class="column".*?</section>', page_text, flags=re.S)
    assert len(sections) == len(columns)
    for name, section in zip(columns, sections, strict=True):
        assert f"<h3>{name} " in section
        charts = _svgs(section)
        assert len(charts) == 1
        svg = charts[0]
        title, desc = svg.find(f"{SVG}title"), svg.find(f"{SVG}desc")
        assert title is not None and name in (title.text or "")
        assert desc is not None and "before" in (desc.text or "")
        assert set((svg.get("aria-labelledby") or "").split()) == {title.get("id"), desc.get("id")}
        bars = svg.findall(f"{SVG}g[@class='bars']/{SVG}rect")
        assert bars and all(bar.find(f"{SVG}title") is not None for bar in bars)
        labels = {t.text for t in svg.iter(f"{SVG}text")}
        assert "before" in labels and "after" in labels  # the legend
    # accounting bar chart + one per column, every one parses
    assert len(_svgs(page_text)) == len(columns) + 1


def test_self_contained_no_script_no_url(page_text: str) -> None:
    page = Page(page_text)
    tags = {tag for tag, _ in page.tags}
    assert "script" not in tags and "iframe" not in tags and "link" not in tags
    assert "<script" not in page_text.lower()
    assert not re.search(r"https?://", page_text.replace("http://www.w3.org/2000/svg", ""))
    for _, attrs in page.tags:
        assert not any(k.startswith("on") for k in attrs)  # no event handler attributes
        assert "style" not in attrs  # a strict CSP would drop them
        for key in ("href", "src"):
            assert attrs.get(key) is None or str(attrs[key]).startswith("#")


def test_the_page_policy_allows_exactly_its_stylesheet(page_text: str) -> None:
    page = Page(page_text)
    policy = next(
        a["content"]
        for t, a in page.tags
        if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    )
    digest = base64.b64encode(hashlib.sha256(page.style.encode()).digest()).decode()
    assert policy is not None and "default-src 'none'" in policy
    assert f"style-src 'sha256-{digest}'" in policy


def test_numbers_shown_equal_the_report(
    page_text: str, cleaned: tuple[dict[str, Any], pl.DataFrame, pl.DataFrame]
) -> None:
    report = cleaned[0]
    page = Page(page_text)
    acc = report["accounting"]
    for key in ("input_rows", "output_rows", "quarantined_rows", "duplicates_removed"):
        assert page.cards[key] == f"{acc[key]:,}"
    # every finding's count appears in the findings table of its column (a later round's
    # re-check of the same check on the same column is shown once, at its first round)
    findings, seen = [], set()
    for fs in report["findings_by_round"].values():
        for f in fs:
            key = (f.get("check") or f.get("type") or f.get("kind"), f.get("column"))
            if key not in seen:
                seen.add(key)
                findings.append(f)
    assert findings
    shown = [row for table in page.tables for row in table if len(row) >= 8]
    for f in findings:
        assert any(f["message"] in row and f"{f['count']:,}" in row for row in shown), f
    # every rule with what it affected
    rules = [r for rs in report["rules_by_round"].values() for r in rs]
    rule_rows = next(t for t in page.tables if t[0][:3] == ["round", "rule", "column"])[1:]
    assert len(rule_rows) == len(rules)
    for rule, row in zip(rules, rule_rows, strict=True):
        assert row[1] == rule["id"] and row[-1] == f"{rule['affected']:,}"


def test_hostile_text_from_the_data_is_escaped(tmp_path: Path) -> None:
    evil = '<script>alert("x")</script>'
    before = pl.DataFrame({evil: [evil, "b", evil, "<img src=x onerror=alert(1)>"] * 5})
    report = {
        "title": evil,
        "source": evil,
        "accounting": {"input_rows": 20, "output_rows": 20, "quarantined_rows": 0},
        "read_info": {"encoding": evil},
        "findings": [
            {
                "column": evil,
                "kind": "unexpected_value",
                "count": 10,
                "message": f"{evil} is odd",
                "example_values": [evil],
                "examples": [1],
            }
        ],
        "rule_results": [{"id": evil, "column": evil, "values": [evil], "passed": 1, "failed": 0}],
        "drift": [{"column": evil, "change": evil}],
        "outputs": {evil: evil},
    }
    text = build_html(report, before, before)
    assert "<script" not in text.lower() and "<img" not in text.lower()
    page = Page(text)
    assert {t for t, _ in page.tags}.isdisjoint({"script", "img"})
    assert any(evil in chunk for chunk in page.text)  # shown to the reader as text
    for svg in _svgs(text):  # still well-formed
        assert svg.tag == f"{SVG}svg"


def test_a_report_with_missing_sections_still_renders() -> None:
    text = render_html({}, {})
    page = Page(text)
    assert ("title", {}) in page.tags and "<svg" not in text
    assert "No findings." in text


def test_violations_observations_rule_results_and_why_it_stopped() -> None:
    frame = pl.DataFrame({"wind": [5.0, 7.0, 9.0, 1048.0]})
    report = {
        "accounting": {"input_rows": 4, "output_rows": 3, "quarantined_rows": 1},
        "stop_reason": "the rules found nothing new in round 2",
        "read_info": {"encoding": "cp1252", "sep": ";"},
        "findings": [
            {"column": "wind", "kind": "violation", "check": "extreme", "count": 1},
            {"column": "wind", "kind": "observation", "check": "outlier", "count": 2},
        ],
        "rule_results": [
            {"id": "range:wind", "column": "wind", "checked": 4, "passed": 3, "failed": 1},
            {"id": "not_null:wind", "passed": 4, "failed": 0, "pass_percent": 100},
        ],
    }
    page = Page(render_html(report, column_charts(frame, frame)))
    text = " ".join(page.text)
    assert "Stopped because the rules found nothing new in round 2." in text
    assert "cp1252" in text
    badges = [row[0] for t in page.tables for row in t[1:] if row and row[0]]
    assert "violation" in badges and "observation" in badges
    rules = next(t for t in page.tables if t[0][:2] == ["round", "rule"])
    assert rules[1][5:10] == ["4", "3", "1", "75.0%", "25.0%"]
    assert rules[2][5:10] == ["4", "4", "0", "100.0%", "0%"]


def test_why_it_stopped_is_told_from_the_counts_when_not_given() -> None:
    assert stop_reason({"anomaly_count": 0, "threshold": 0}) == (
        "0 anomalies left, not more than the threshold 0"
    )
    assert "maximum of 3 rounds" in stop_reason(
        {"anomaly_count": 9, "threshold": 0, "rounds": 3, "max_rounds": 3}
    )
    assert stop_reason({}) == ""


def test_charts_are_left_out_beyond_max_columns() -> None:
    frame = pl.DataFrame({f"c{i}": [1, 2, 3] for i in range(5)})
    text = build_html({}, frame, frame, max_columns=2)
    assert len(_svgs(text)) == 2 and "3 more columns have no chart." in text


@pytest.mark.skipif(
    shutil.which("chromium") is None and not os.environ.get("CI"),
    reason="chromium is not installed (apt-get install chromium; .ci/run installs it, and "
    "in CI this test must run)",
)
def test_a_headless_browser_renders_the_page(page_text: str, tmp_path: Path) -> None:
    html_path = tmp_path / "report.html"
    html_path.write_text(page_text, encoding="utf-8")
    shot = tmp_path / "report.png"
    subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--hide-scrollbars",
            "--window-size=1100,2400",
            f"--screenshot={shot}",
            html_path.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    # a blank or unstyled 1100x2400 page compresses far below this
    assert len(data) > 50_000


def test_validate_mode_results_fill_the_rules_table() -> None:
    from wfengine_dataquality.html_report import render_html

    report = {
        "accounting": {"input_rows": 3000, "output_rows": 2970, "quarantined_rows": 30},
        "rule_results": [
            {
                "id": "malformed:email",
                "column": "email",
                "action": "quarantine",
                "element_count": 3000,
                "success": False,
                "unexpected_count": 30,
                "unexpected_percent": 1.0,
            }
        ],
    }
    page = Page(render_html(report, {}))
    rules = next(t for t in page.tables if t[0][:2] == ["round", "rule"])
    assert rules[1][1] == "malformed:email"
    assert rules[1][5:10] == ["3,000", "2,970", "30", "99.0%", "1.0%"]
