"""Helpers for the data-quality plugin's tests (a unique module name: no clash with other
plugins' test helpers when the whole repository is tested at once)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import polars as pl

from wfengine_dataquality import (
    apply_rules,
    detect,
    generate_rules,
    load,
    profile,
    report,
    validate,
)

#: The repository root, when the tests run from a checkout (examples/ lives there).
REPO = Path(__file__).resolve().parents[3]

Tool = Callable[..., dict[str, Any]]


def merge(state: dict[str, Any], update: Mapping[str, Any]) -> None:
    """Merge a tool's update the way the workflow does (``issues`` extends)."""
    for key, value in update.items():
        state[key] = [*state.get(key, []), *value] if key == "issues" else value


def run_workflow(state: Mapping[str, Any], **params: Mapping[str, Any]) -> dict[str, Any]:
    """Run the data-quality workflow by hand, as the graph routes it (learn or validate
    mode); ``params`` per tool name."""
    tools: dict[str, Tool] = {
        "load": load,
        "profile": profile,
        "detect": detect,
        "generate_rules": generate_rules,
        "apply_rules": apply_rules,
        "report": report,
        "validate": validate,
    }
    state = dict(state)

    def step(name: str) -> None:
        merge(state, tools[name](state, **params.get(name, {})))

    step("load")
    if state["mode"] == "validate":
        step("profile")
        step("validate")
        step("report")
        return state
    while True:
        step("profile")
        step("detect")
        if not (
            state["anomaly_count"] > state["threshold"] and state["round"] < state["max_rounds"]
        ):
            break
        step("generate_rules")
        step("apply_rules")
    step("report")
    return state


def planted_quarantine(path: Path, manifest: dict[str, Any]) -> set[int]:
    """The planted rows that are violations: those the workflow quarantines."""
    raw = pl.read_csv(path, infer_schema=False).with_row_index("_row", offset=1)
    rows = set()
    for problem in ("email_malformed", "age_text", "country_unknown", "signup_date_malformed"):
        rows |= set(manifest["rows_by_problem"][problem])
    values = raw.filter(pl.col("_row").is_in(manifest["rows_by_problem"]["age_outlier"]))
    rows |= set(values.filter(pl.col("age") == "999")["_row"].to_list())
    values = raw.filter(pl.col("_row").is_in(manifest["rows_by_problem"]["income_outlier"]))
    rows |= set(values.filter(pl.col("income").cast(pl.Float64) > 1e6)["_row"].to_list())
    return rows
