"""Hand-written SVG charts for ``report.html``: histograms, bar charts and a stacked bar.

Each function returns one ``<svg>`` element as text: well-formed XML (it parses with
``xml.etree``), drawn with presentation attributes and CSS classes only (no ``style``
attributes, no script, no external reference), so a page with a strict
Content-Security-Policy shows it. Every chart has a ``<title>`` and a ``<desc>`` named by
``aria-labelledby``, and every bar its own ``<title>`` (the browser shows it as a tooltip,
a screen reader reads it). All text passes through :func:`esc`: labels come from the data.

The colours live in the page's stylesheet (classes ``before``, ``after``, ``axis``, ...);
see :mod:`wfengine_dataquality.html_report`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

#: Width of every chart in SVG user units (the page scales it to the column width).
WIDTH = 640
#: Longest category label drawn in full; longer ones are cut (the bar's tooltip has it all).
LABEL_CHARS = 22


def esc(value: object) -> str:
    """``value`` as text safe inside an HTML/XML element or a quoted attribute."""
    return html.escape(str(value), quote=True)


def fmt_count(value: int) -> str:
    """A count with thousands separators: ``12,345``."""
    return f"{value:,}"


def fmt_number(value: float) -> str:
    """A short label for an axis value: ``0``, ``12.5``, ``250,000``, ``1.2e+07``."""
    if value == 0 or not math.isfinite(value):
        return str(0 if value == 0 else value)
    magnitude = abs(value)
    if magnitude >= 1e7 or magnitude < 1e-3:
        return f"{value:.3g}"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.4g}" if magnitude < 1000 else f"{value:,.0f}"


def cut(text: str, limit: int = LABEL_CHARS) -> str:
    """``text`` shortened to ``limit`` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is at least ``value``."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for multiple in (1, 2, 2.5, 5, 10):
        if multiple * magnitude >= value * (1 - 1e-9):
            return multiple * magnitude
    return 10 * magnitude  # pragma: no cover - the loop ends at 10


def _count_ticks(top: int) -> list[int]:
    """Gridline values from 0 to at least ``top``: 0 and up to 4 nice steps."""
    step = max(1, int(nice_ceiling(top / 4))) if top > 0 else 1
    return list(range(0, max(top, 1) + step, step))[:6]


@dataclass(frozen=True)
class Series:
    """One set of bars: a name for the legend, a count per group, a CSS class for colour."""

    name: str
    counts: Sequence[int]
    css_class: str


def _open(chart_id: str, title: str, desc: str, width: int, height: int) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}"'
        f' width="{width}" height="{height}" role="img"'
        f' aria-labelledby="{esc(chart_id)}-t {esc(chart_id)}-d">',
        f'<title id="{esc(chart_id)}-t">{esc(title)}</title>',
        f'<desc id="{esc(chart_id)}-d">{esc(desc)}</desc>',
    ]


def _legend(series: Sequence[Series], x: float, y: float) -> list[str]:
    # Hidden from screen readers: each bar's own title already names its series.
    parts = ['<g class="legend" aria-hidden="true">']
    for s in series:
        parts.append(
            f'<rect class="{esc(s.css_class)}" x="{x:.1f}" y="{y - 9:.1f}" width="10" height="10"/>'
        )
        parts.append(f'<text class="legend" x="{x + 14:.1f}" y="{y:.1f}">{esc(s.name)}</text>')
        x += 24 + 7 * len(s.name)
    parts.append("</g>")
    return parts


def histogram(
    chart_id: str,
    *,
    title: str,
    desc: str,
    bins: Sequence[str],
    series: Sequence[Series],
    ticks: Sequence[tuple[int, str]],
    x_label: str,
    y_label: str = "rows",
    height: int = 240,
) -> str:
    """Vertical bars, one group per bin, each group one bar per series side by side.

    ``bins`` names each group in the tooltips (``[10, 20)``, ``< 10``); ``ticks`` are
    ``(group index, label)`` pairs drawn on the x axis at the left edge of that group (an
    index equal to ``len(bins)`` labels the right end).
    """
    left, right, top, bottom = 64, 28, 28, 52
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    peak = max((max(s.counts, default=0) for s in series), default=0)
    grid = _count_ticks(peak)
    y_max = max(grid[-1], 1)
    group_w = plot_w / max(len(bins), 1)
    bar_w = max(group_w * 0.9 / max(len(series), 1), 0.5)
    parts = _open(chart_id, title, desc, WIDTH, height)
    for value in grid:
        y = top + plot_h - plot_h * value / y_max
        parts.append(
            f'<line class="grid" x1="{left}" x2="{WIDTH - right}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{esc(fmt_count(value))}</text>"
        )
    parts.append('<g class="bars">')
    for i, name in enumerate(bins):
        x0 = left + i * group_w + group_w * 0.05
        for j, s in enumerate(series):
            count = s.counts[i]
            bar_h = plot_h * count / y_max
            if count and bar_h < 1:
                bar_h = 1.0  # a non-zero bin stays visible
            parts.append(
                f'<rect class="{esc(s.css_class)}" x="{x0 + j * bar_w:.1f}"'
                f' y="{top + plot_h - bar_h:.1f}" width="{bar_w:.1f}" height="{bar_h:.1f}">'
                f"<title>{esc(name)}: {esc(s.name)} {esc(fmt_count(count))}</title></rect>"
            )
    parts.append("</g>")
    base = top + plot_h
    parts.append(f'<line class="axis" x1="{left}" x2="{WIDTH - right}" y1="{base}" y2="{base}"/>')
    parts.append(f'<line class="axis" x1="{left}" x2="{left}" y1="{top}" y2="{base}"/>')
    for index, label in ticks:
        x = left + index * group_w
        parts.append(f'<line class="axis" x1="{x:.1f}" x2="{x:.1f}" y1="{base}" y2="{base + 4}"/>')
        parts.append(
            f'<text class="tick" x="{x:.1f}" y="{base + 16}" text-anchor="middle">'
            f"{esc(label)}</text>"
        )
    parts.append(
        f'<text class="label" x="{left + plot_w / 2:.1f}" y="{height - 8}" text-anchor="middle">'
        f"{esc(x_label)}</text>"
    )
    parts.append(
        f'<text class="label" x="14" y="{top + plot_h / 2:.1f}" text-anchor="middle"'
        f' transform="rotate(-90 14 {top + plot_h / 2:.1f})">{esc(y_label)}</text>'
    )
    parts += _legend(series, left, 16)
    parts.append("</svg>")
    return "\n".join(parts)


def bar_chart(
    chart_id: str,
    *,
    title: str,
    desc: str,
    categories: Sequence[str],
    series: Sequence[Series],
    x_label: str = "rows",
    y_label: str = "value",
) -> str:
    """Horizontal bars, one row per category, one bar per series in each row.

    Labels longer than :data:`LABEL_CHARS` are cut on the axis; the tooltip keeps them whole.
    """
    left, right, top, bottom = 170, 70, 28, 40
    row_h = 8 + 12 * len(series)
    plot_w = WIDTH - left - right
    plot_h = row_h * max(len(categories), 1)
    height = top + plot_h + bottom
    peak = max((max(s.counts, default=0) for s in series), default=0)
    grid = _count_ticks(peak)
    x_max = max(grid[-1], 1)
    parts = _open(chart_id, title, desc, WIDTH, height)
    for value in grid:
        x = left + plot_w * value / x_max
        parts.append(
            f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + plot_h}"/>'
        )
        parts.append(
            f'<text class="tick" x="{x:.1f}" y="{top + plot_h + 14}" text-anchor="middle">'
            f"{esc(fmt_count(value))}</text>"
        )
    parts.append('<g class="bars">')
    for i, category in enumerate(categories):
        y0 = top + i * row_h + 4
        parts.append(
            f'<text class="tick" x="{left - 6}" y="{y0 + row_h / 2:.1f}" text-anchor="end">'
            f"<title>{esc(category)}</title>{esc(cut(category))}</text>"
        )
        for j, s in enumerate(series):
            count = s.counts[i]
            bar_w = plot_w * count / x_max
            if count and bar_w < 1:
                bar_w = 1.0
            y = y0 + j * 12
            parts.append(
                f'<rect class="{esc(s.css_class)}" x="{left}" y="{y:.1f}" width="{bar_w:.1f}"'
                f' height="10"><title>{esc(category)}: {esc(s.name)} {esc(fmt_count(count))}'
                f"</title></rect>"
            )
            parts.append(
                f'<text class="value" x="{left + bar_w + 4:.1f}" y="{y + 9:.1f}">'
                f"{esc(fmt_count(count))}</text>"
            )
    parts.append("</g>")
    parts.append(f'<line class="axis" x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}"/>')
    parts.append(
        f'<text class="label" x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle">'
        f"{esc(x_label)}</text>"
    )
    parts.append(
        f'<text class="label" x="{left - 6}" y="{top - 12}" text-anchor="end">{esc(y_label)}</text>'
    )
    parts += _legend(series, left, 16)
    parts.append("</svg>")
    return "\n".join(parts)


def stacked_bar(
    chart_id: str, *, title: str, desc: str, parts: Sequence[tuple[str, int, str]]
) -> str:
    """One horizontal bar split into ``(label, count, css class)`` parts, with a legend."""
    height, left, bar_w = 64, 8, WIDTH - 16
    total = sum(count for _, count, _ in parts)
    out = _open(chart_id, title, desc, WIDTH, height)
    x = float(left)
    out.append('<g class="bars">')
    for label, count, css in parts:
        w = bar_w * count / total if total else 0.0
        if count and w < 1:
            w = 1.0
        out.append(
            f'<rect class="{esc(css)}" x="{x:.1f}" y="8" width="{w:.1f}" height="22">'
            f"<title>{esc(label)}: {esc(fmt_count(count))}</title></rect>"
        )
        x += w
    out.append("</g>")
    out += _legend(
        [Series(f"{label} {fmt_count(count)}", [count], css) for label, count, css in parts],
        left,
        52,
    )
    out.append("</svg>")
    return "\n".join(out)
