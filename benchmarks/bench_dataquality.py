"""The data-quality workflow on a generated 1,000,000-row, 10-column CSV.

Three figures, each against its target:

* wall time of the whole workflow (engine, every node, every file written): at most 3 s;
* peak memory (``ru_maxrss``) of a fresh process running it once: at most 1 GB;
* the workflow's time over that of a hand-written polars script doing the same steps
  (infer types over all values, profile, detect, quarantine/fix/dedupe, profile and detect
  again, write the clean data, the quarantine and a JSON report), run in this process, the
  two alternating: at most 1.5x.

Times are the best of ``--repeat`` runs in this process (the machine may be busy with other
work), and of ``--fresh`` runs in a new process each (what ``wf run`` sees: cold caches,
memory not yet mapped); medians are printed too. Peak memory is the highest of the fresh
processes. The data comes from ``wfengine_dataquality.sample`` (seed 7), cached
in ``--dir`` (default: the temp folder).

    python benchmarks/bench_dataquality.py [--rows N] [--repeat R] [--dir DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl
import wfengine_dataquality.plugin as dq_plugin
from wfengine import Engine
from wfengine_dataquality.io import frame_cache
from wfengine_dataquality.sample import write_customers

TARGET_SECONDS = 3.0
TARGET_BYTES = 1024**3
TARGET_RATIO = 1.5


# -- the hand-written script ----------------------------------------------------------------

EMAIL = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"


def _profile(df: pl.DataFrame) -> dict[str, Any]:
    exprs = []
    for name, dtype in df.schema.items():
        col = pl.col(name)
        exprs += [col.null_count().alias(f"{name}:nulls"), col.n_unique().alias(f"{name}:distinct")]
        if dtype.is_numeric():
            exprs += [
                col.min().alias(f"{name}:min"),
                col.max().alias(f"{name}:max"),
                col.mean().alias(f"{name}:mean"),
                col.std().alias(f"{name}:std"),
                col.quantile([0.25, 0.5, 0.75]).alias(f"{name}:q"),
            ]
        elif dtype == pl.String:
            exprs += [col.str.len_chars().min().alias(f"{name}:minlen")]
            exprs += [col.str.len_chars().max().alias(f"{name}:maxlen")]
        elif dtype == pl.Date:
            exprs += [col.min().alias(f"{name}:min"), col.max().alias(f"{name}:max")]
    stats = df.select(exprs).row(0, named=True)
    for name in df.columns:
        if stats[f"{name}:distinct"] <= 20:
            stats[f"{name}:top"] = df.get_column(name).value_counts(sort=True).rows()
    return stats


def _formats(df: pl.DataFrame) -> dict[str, str]:
    found = {}
    for name, dtype in df.schema.items():
        if dtype != pl.String:
            continue
        sample = df.get_column(name).drop_nulls().gather_every(max(1, df.height // 2000))
        need = 0.8 * sample.len()
        if sample.cast(pl.Int64, strict=False).is_not_null().sum() >= need:
            found[name] = "int"
        elif sample.str.to_date("%Y-%m-%d", strict=False).is_not_null().sum() >= need:
            found[name] = "date"
        elif sample.str.contains(EMAIL).sum() >= need:
            found[name] = "email"
    return found


def _detect(df: pl.DataFrame, stats: dict[str, Any]) -> dict[str, Any]:
    """Counts of every kind of problem, and the masks that clean them."""
    fmts = _formats(df)
    parsed = {
        "int": lambda c: pl.col(c).cast(pl.Int64, strict=False),
        "date": lambda c: pl.col(c).str.to_date("%Y-%m-%d", strict=False),
        "email": lambda c: pl.when(pl.col(c).str.contains(EMAIL)).then(pl.col(c)),
    }
    values = {c: parsed[f](c) for c, f in fmts.items()}
    numeric = {
        name: values[name] if fmts.get(name) == "int" else pl.col(name)
        for name, dtype in df.schema.items()
        if name != "_row" and (fmts.get(name) == "int" or dtype.is_numeric())
    }
    quartiles = df.select(e.quantile([0.25, 0.75]).alias(n) for n, e in numeric.items()).row(0)
    fences = {
        n: (q[0] - 1.5 * (q[1] - q[0]), q[1] + 1.5 * (q[1] - q[0]))
        for n, q in zip(numeric, quartiles, strict=True)
    }
    bad: dict[str, pl.Expr] = {}
    fills: dict[str, Any] = {}
    for name, dtype in df.schema.items():
        if name == "_row":
            continue
        col = pl.col(name)
        if name in fmts:
            bad[f"malformed:{name}"] = col.is_not_null() & values[name].is_null()
        elif dtype == pl.String and f"{name}:top" in stats:
            top = stats[f"{name}:top"]
            allowed = [v for v, n in top if v is not None and n >= 0.01 * df.height]
            bad[f"unexpected:{name}"] = col.is_not_null() & ~col.is_in(allowed)
        if name in numeric:
            low, high = fences[name]
            bad[f"outlier:{name}"] = (numeric[name] < low) | (numeric[name] > high)
        if stats[f"{name}:nulls"]:
            if dtype.is_numeric():
                fills[name] = stats[f"{name}:q"][1]
            elif f"{name}:top" in stats:
                fills[name] = next(v for v, _ in stats[f"{name}:top"] if v is not None)
            else:
                bad[f"null:{name}"] = col.is_null()
    data = [c for c in df.columns if c != "_row"]
    counts = df.select(m.fill_null(False).sum().alias(k) for k, m in bad.items()).row(0, named=True)
    counts["duplicates"] = df.height - df.select(data).unique().height
    return {"counts": counts, "bad": bad, "fills": fills, "values": values}


def handwritten(source: Path, out: Path) -> dict[str, Any]:
    """The same steps as the workflow, in one straightforward polars script."""
    out.mkdir(parents=True, exist_ok=True)
    raw = pl.read_csv(source, infer_schema=False)
    casts = {
        "int": lambda c: pl.col(c).cast(pl.Int64, strict=False),
        "float": lambda c: pl.col(c).cast(pl.Float64, strict=False),
        "bool": lambda c: (
            pl.col(c)
            .str.to_lowercase()
            .replace_strict({"true": True, "false": False}, default=None)
        ),
        "date": lambda c: pl.col(c).str.to_date("%Y-%m-%d", strict=False),
    }
    nulls = raw.select(
        *(pl.col(c).null_count().alias(f"{c}:") for c in raw.columns),
        *(f(c).null_count().alias(f"{c}:{k}") for c in raw.columns for k, f in casts.items()),
    ).row(0, named=True)
    converted = []
    for c in raw.columns:
        kind = next((k for k in casts if nulls[f"{c}:{k}"] == nulls[f"{c}:"]), None)
        if kind and nulls[f"{c}:"] < raw.height:
            converted.append(casts[kind](c).alias(c))
    df = raw.with_columns(converted).with_row_index("_row", offset=1)

    before = _profile(df.drop("_row"))
    found = _detect(df, before)
    marks = df.with_columns(
        *(v.alias(f"~{c}") for c, v in found["values"].items()),
        pl.any_horizontal(m.fill_null(False) for m in found["bad"].values()).alias("~bad"),
    )
    quarantine = marks.filter("~bad").select(df.columns).cast(pl.String)
    clean = marks.filter(~pl.col("~bad")).with_columns(
        *(pl.col(f"~{c}").alias(c) for c in found["values"])
    )
    clean = clean.select(df.columns).with_columns(
        pl.col(c).fill_null(pl.lit(v).cast(clean.schema[c])) for c, v in found["fills"].items()
    )
    data = [c for c in df.columns if c != "_row"]
    clean = clean.unique(subset=data, keep="first", maintain_order=True)
    after = _profile(clean.drop("_row"))
    again = _detect(clean, after)

    result = clean.drop("_row")
    result.write_parquet(out / "clean.parquet")
    result.write_csv(out / "clean.csv")
    quarantine.write_parquet(out / "quarantine.parquet")
    quarantine.write_csv(out / "quarantine.csv")
    removed = df.height - clean.height - quarantine.height
    report = {
        "rows": [df.height, clean.height, quarantine.height, removed],
        "findings": [found["counts"], again["counts"]],
        "profile": [before, after],
    }
    (out / "report.json").write_text(json.dumps(report, default=str))
    return report


# -- measuring ------------------------------------------------------------------------------


def run_workflow(engine: Engine, source: Path, out: Path) -> dict[str, Any]:
    """The data-quality workflow through the engine; returns the final state."""
    frame_cache.clear()
    run = engine.run("data-quality", {"source": str(source), "output_dir": str(out)})
    if run.status != "completed":
        raise SystemExit(f"the workflow ended {run.status}: {run.error}")
    return run.state


def child(source: Path, out: Path) -> None:
    """In a fresh process: run the workflow once, print its wall time and peak memory."""
    engine = Engine(load_entrypoints=False, plugins=[dq_plugin], store="memory://")
    start = time.perf_counter()
    state = run_workflow(engine, source, out)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    print(json.dumps({"wall": wall, "peak": peak, "accounting": state["accounting"]}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5, help="in-process runs of each")
    parser.add_argument("--fresh", type=int, default=3, help="runs in a fresh process each")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "wfengine-bench")
    parser.add_argument("--child", nargs=2, metavar=("SOURCE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]))
        return 0

    source = args.dir / f"customers-{args.rows}.csv"
    if not source.exists():
        print(f"generating {source} ...", flush=True)
        write_customers(source, rows=args.rows, seed=7)
    work = Path(tempfile.mkdtemp(prefix="bench-dq-", dir=args.dir))
    try:
        fresh = []
        for i in range(args.fresh):
            done = subprocess.run(
                [sys.executable, __file__, "--child", str(source), str(work / f"fresh-{i}")],
                check=True,
                capture_output=True,
                text=True,
            )
            fresh.append(json.loads(done.stdout.splitlines()[-1]))
        engine = Engine(load_entrypoints=False, plugins=[dq_plugin], store="memory://")
        workflow_times, script_times = [], []
        for i in range(args.repeat):
            start = time.perf_counter()
            state = run_workflow(engine, source, work / f"wf-{i}")
            workflow_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            report = handwritten(source, work / f"script-{i}")
            script_times.append(time.perf_counter() - start)
        engine.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    acc = state["accounting"]
    # The script still quarantines IQR outliers and rows with nulls (the judgement before
    # issue 12): only the input rows and the duplicates are comparable until it is updated.
    assert report["rows"][0] == acc["input_rows"], (report["rows"], acc)
    assert report["rows"][3] == acc["duplicates_removed"], (report["rows"], acc)
    best_wf, best_script = min(workflow_times), min(script_times)
    ratio = best_wf / best_script
    peak = max(m["peak"] for m in fresh)
    fresh_walls = [m["wall"] for m in fresh]
    print(f"data: {args.rows:,} rows x 10 columns ({source.stat().st_size / 1e6:.0f} MB CSV)")
    print(
        f"rows: {acc['input_rows']:,} in = {acc['output_rows']:,} clean"
        f" + {acc['quarantined_rows']:,} quarantined + {acc['duplicates_removed']:,} duplicates"
    )
    checks = [
        (
            "workflow wall time",
            f"{best_wf:.2f} s best of {args.repeat}"
            f" (median {statistics.median(workflow_times):.2f} s);"
            f" in a fresh process {min(fresh_walls):.2f} s best of {len(fresh)}"
            f" (median {statistics.median(fresh_walls):.2f} s)",
            best_wf <= TARGET_SECONDS,
            f"<= {TARGET_SECONDS:.1f} s",
        ),
        (
            "peak memory (fresh process, highest)",
            f"{peak / 1024**2:.0f} MB",
            peak <= TARGET_BYTES,
            f"<= {TARGET_BYTES / 1024**2:.0f} MB",
        ),
        (
            "workflow / hand-written script",
            f"{ratio:.2f}x ({best_wf:.2f} s / {best_script:.2f} s; median script"
            f" {statistics.median(script_times):.2f} s)",
            ratio <= TARGET_RATIO,
            f"<= {TARGET_RATIO:.1f}x",
        ),
    ]
    for name, figure, ok, target in checks:
        print(f"{'ok  ' if ok else 'MISS'} {name}: {figure} (target {target})")
    return 0 if all(ok for _, _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
