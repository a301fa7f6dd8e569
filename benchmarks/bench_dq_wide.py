"""``dq.detect`` on wide tables: its time must grow linearly with the number of columns.

Issue 11 (F9): 4,000 columns took 25 s (quadratic). Target: 20,000 columns x 1,000 rows in
at most 5 s. Two cases per width: ``clean`` (no value outside any learned bound: what most
wide tables look like; rows 998-1000 repeat rows 1-3, 3 duplicates) and ``dirty`` (one
extreme value in every column: the worst case, every column's checks run). ``dq.detect``
is timed as the workflow runs it, with the profile of the data already in the state
(``dq.profile`` is timed apart).

    python benchmarks/bench_dq_wide.py [--columns 4000 20000] [--rows 1000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl
from wfengine_dataquality import detect, load, profile

TARGET_SECONDS = 5.0
TARGET_COLUMNS = 20_000


def _frame(columns: int, rows: int, dirty: bool) -> pl.DataFrame:
    base = pl.DataFrame({"v": pl.int_range(0, rows, eager=True)})
    frame = base.select(((pl.col("v") * (i + 7)) % 997).alias(f"c{i}") for i in range(columns))
    if dirty:  # one value a million times the typical magnitude in every column
        frame = frame.with_columns(
            pl.when(pl.int_range(pl.len()) == i % rows)
            .then(10**9)
            .otherwise(pl.col(f"c{i}"))
            .alias(f"c{i}")
            for i in range(columns)
        )
    return frame


def measure(columns: int, rows: int, dirty: bool, folder: Path) -> dict[str, Any]:
    """Seconds of dq.profile and dq.detect (and what detect found) on one generated table."""
    src = folder / f"wide-{columns}-{int(dirty)}.parquet"
    _frame(columns, rows, dirty).write_parquet(src)
    state: dict[str, Any] = {"source": str(src), "output_dir": str(folder / src.stem)}
    state.update(load(state))
    start = time.perf_counter()
    state.update(profile(state))
    profiled = time.perf_counter() - start
    start = time.perf_counter()
    found = detect(state)
    detected = time.perf_counter() - start
    return {"profile_s": profiled, "detect_s": detected, "anomalies": found["anomaly_count"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--columns", type=int, nargs="+", default=[4000, TARGET_COLUMNS])
    parser.add_argument("--rows", type=int, default=1000)
    args = parser.parse_args(argv)
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for columns in args.columns:
            for dirty in (False, True):
                got = measure(columns, args.rows, dirty, Path(tmp))
                verdict = ""
                if columns == TARGET_COLUMNS:
                    ok = got["detect_s"] <= TARGET_SECONDS
                    failed |= not ok
                    verdict = f"  (target <= {TARGET_SECONDS:g} s: {'ok' if ok else 'MISSED'})"
                print(
                    f"{columns:>6} columns x {args.rows} rows, {'dirty' if dirty else 'clean'}:"
                    f" dq.detect {got['detect_s']:.2f} s, dq.profile {got['profile_s']:.2f} s,"
                    f" {got['anomalies']} anomalies{verdict}",
                    flush=True,
                )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
