"""The 1M-row benchmark's hand-written script (benchmarks/bench_dataquality.py) makes the
workflow's judgement: on the sample data it keeps, quarantines and drops the same rows, so
the benchmark's time ratio compares like with like (issue 12, Decisions)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from dq_helpers import run_workflow

from wfengine_dataquality.sample import write_customers

BENCHMARKS = Path(__file__).resolve().parents[3] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from bench_dataquality import handwritten  # noqa: E402


@pytest.mark.parametrize("rows", [3_000, 30_000])
def test_the_script_keeps_quarantines_and_drops_the_rows_the_workflow_does(
    tmp_path: Path, rows: int
) -> None:
    source = tmp_path / "customers.csv"
    write_customers(source, rows=rows, seed=7)
    state = run_workflow({"source": str(source), "output_dir": str(tmp_path / "wf")})
    acc = state["accounting"]
    report = handwritten(source, tmp_path / "script")
    expected = [
        acc["input_rows"],
        acc["output_rows"],
        acc["quarantined_rows"],
        acc["duplicates_removed"],
    ]
    assert report["rows"] == expected
    assert acc["quarantined_rows"] > 0 and acc["duplicates_removed"] > 0
    first = report["findings"][0]
    kinds = {key.split(":")[0] for key, count in first.items() if count}
    assert {"malformed", "extreme", "outlier", "null", "duplicate"} <= kinds
    if rows == 3_000:  # the country typos are seen twice each: typo-like, quarantined
        assert first["typo:country"] == 18
