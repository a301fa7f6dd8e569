"""Run budgets that pause instead of failing: ``budget={"steps": N, "seconds": S, "cost": C}``.

A budget is a set of totals for one run: ``steps`` (completed steps, as ``run.step``
counts them), ``seconds`` (time spent driving the run: time paused does not count) and
``cost`` (what the nodes report with ``wfengine.emit("cost", x)``). Before each step the
driver compares what the run has spent with its budget; a run that has reached a total
pauses (status ``paused``, ``run.pause_reason`` saying which) instead of failing. Resuming
with a new budget (``engine.resume(run_id, budget={"steps": 2000})``, ``wf runs resume ID
--budget steps=2000``) sets new totals and the run goes on. ``max_steps`` is unchanged: it
still fails the run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import WorkflowError

KEYS = ("steps", "seconds", "cost")


class BudgetError(WorkflowError):
    """A budget that is not one: an unknown key, a value that is not a positive number."""


def check_budget(value: Any, where: str = "budget") -> dict[str, float]:
    """A budget as ``{key: total}``; a :class:`~wfengine.errors.WorkflowError` naming the
    bad key or value otherwise. ``None`` (or an empty mapping) is no budget."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise BudgetError(
            f"{where} must be a mapping like {{'steps': 100, 'seconds': 60, 'cost': 5}}, got "
            f"{type(value).__name__}"
        )
    budget: dict[str, float] = {}
    for key, total in value.items():
        if key not in KEYS:
            raise BudgetError(f"{where}: unknown key {key!r}; the keys are {', '.join(KEYS)}")
        if isinstance(total, bool) or not isinstance(total, (int, float)):
            raise BudgetError(f"{where}.{key} must be a number, got {total!r}")
        if not math.isfinite(total) or total <= 0:
            raise BudgetError(f"{where}.{key} must be a positive number, got {total!r}")
        if key == "steps" and total != int(total):
            raise BudgetError(f"{where}.steps must be a whole number, got {total!r}")
        budget[key] = int(total) if key == "steps" else float(total)
    return budget


def parse_budget(items: Sequence[str], where: str = "--budget") -> dict[str, float]:
    """``["steps=2000", "seconds=60,cost=5"]`` (the command line's form) as a budget."""
    raw: dict[str, Any] = {}
    for item in items:
        for part in item.split(","):
            key, sep, text = part.partition("=")
            if not sep or not key.strip():
                raise BudgetError(f"{where}: {part!r} is not key=number (example: steps=2000)")
            try:
                raw[key.strip()] = float(text) if "." in text or "e" in text else int(text)
            except ValueError:
                raise BudgetError(f"{where}: {part!r}: {text!r} is not a number") from None
    return check_budget(raw, where)


def exceeded(budget: Mapping[str, float], steps: int, seconds: float, cost: float) -> str | None:
    """Why a run that has spent this much stops before its next step, or ``None``."""
    total = budget.get("steps")
    if total is not None and steps >= total:
        return f"budget: steps {steps} of {int(total)} spent"
    total = budget.get("seconds")
    if total is not None and seconds >= total:
        return f"budget: seconds {seconds:.3f} of {total:g} spent"
    total = budget.get("cost")
    if total is not None and cost >= total:
        return f"budget: cost {cost:g} of {total:g} spent"
    return None


def add_cost(spent: dict[str, float], data: Any, node: str) -> None:
    """Add an ``emit("cost", x)`` to ``spent["cost"]`` (a value that is not a number is
    refused with an error naming the node)."""
    if isinstance(data, bool) or not isinstance(data, (int, float)) or not math.isfinite(data):
        raise BudgetError(f"node {node}: emit('cost', x) needs a finite number, got {data!r}")
    spent["cost"] = spent.get("cost", 0.0) + float(data)
