"""The cost of building ``report.html`` for a 1,000,000-row run of the data-quality workflow.

Measured apart from the workflow's own benchmark (``bench_dataquality.py``), as issue 12
decided: the workflow runs once on the generated data (seed 7); then, in this process, the
chart data (:func:`column_charts` over the loaded and the cleaned frames) and the page
(:func:`render_html`) are built ``--repeat`` times. Printed: best and median seconds of
each, the page's size, and the growth of peak memory (``ru_maxrss``) while building.

    python benchmarks/bench_dq_html.py [--rows N] [--repeat R] [--dir DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path

import polars as pl
from wfengine import Engine
from wfengine_dataquality.chart_data import column_charts
from wfengine_dataquality.html_report import render_html
from wfengine_dataquality.sample import write_customers


def _peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "wf-bench-dq")
    args = parser.parse_args(argv)

    source = args.dir / f"customers-{args.rows}.csv"
    if not source.exists():
        write_customers(source, rows=args.rows, seed=7)
    out = args.dir / f"html-run-{args.rows}"
    run = Engine().run("data-quality", {"source": str(source), "output_dir": str(out)})
    report = json.loads(Path(run.state["outputs"]["report_json"]).read_text())
    before = pl.read_parquet(out / "work" / "data-r0.parquet")
    after = pl.read_parquet(run.state["outputs"]["clean_parquet"])

    peak_before = _peak_bytes()
    charts_s, render_s = [], []
    page = ""
    for _ in range(args.repeat):
        start = time.perf_counter()
        charts = column_charts(before, after)
        middle = time.perf_counter()
        page = render_html(report, charts)
        charts_s.append(middle - start)
        render_s.append(time.perf_counter() - middle)
    growth = _peak_bytes() - peak_before
    total = [c + r for c, r in zip(charts_s, render_s, strict=True)]
    columns = len(before.columns) - 1  # without _row
    print(f"rows: {before.height:,} before, {after.height:,} after, {columns} columns")
    print(f"chart data: best {min(charts_s):.3f} s, median {statistics.median(charts_s):.3f} s")
    print(f"page:       best {min(render_s):.3f} s, median {statistics.median(render_s):.3f} s")
    print(f"report.html total: best {min(total):.3f} s; {len(page.encode()):,} bytes")
    print(f"peak memory growth while building: {growth / 1024**2:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
