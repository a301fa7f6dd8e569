"""Bounds an engine puts on every run it drives: state size, retries, log length.

Embedded and CLI engines default to generous bounds; the REST server tightens them (a client
controls the graph and the state, so nothing it sends may grow without bound). Every breach
ends the run ``failed`` with an error that names what grew, keeping the last good state.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from .errors import WorkflowError

DEFAULT_MAX_RETRIES_PER_RUN = 1_000
DEFAULT_MAX_LOG_ENTRIES = 100_000


class StateTooLargeError(WorkflowError):
    """A run's state grew past the engine's ``max_state_bytes``."""

    retryable = False


@dataclass(frozen=True, slots=True)
class RunLimits:
    """Bounds on every run of an engine (``Engine(limits=RunLimits(...))``)."""

    max_state_bytes: int | None = None
    """Largest state, estimated as JSON-like bytes after every step (``None``: no bound).
    Checked on what changed, so a step costs what it writes, not what the state holds."""
    max_retries_per_run: int = DEFAULT_MAX_RETRIES_PER_RUN
    """Most retry attempts (beyond each node's first) in one drive of a run; then a failing
    node fails the run instead of retrying again. Separate from ``max_steps``."""
    max_log_entries: int = DEFAULT_MAX_LOG_ENTRIES
    """Most log entries a run keeps in memory; older ones are dropped and counted in
    ``run.logs_dropped`` (a durable store has already written them)."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.name == "max_state_bytes":
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"run limit {f.name} must be an integer >= 1, got {value!r}")


def approx_size(value: Any, budget: int, _depth: int = 0) -> int:
    """About how many bytes ``value`` takes as JSON; stops counting once past ``budget``.

    Strings count their length, numbers 8, containers their items plus 2. Cheap and bounded:
    it never walks more of a value than ``budget`` bytes' worth (plus one item).
    """
    if isinstance(value, str | bytes | bytearray):
        return len(value) + 2
    if value is None or isinstance(value, bool | int | float):
        return 8
    if _depth > 64:  # deeper than any JSON we accept; count it and stop
        return 8
    total = 2
    if isinstance(value, Mapping):
        for key, item in value.items():
            total += approx_size(key, budget, _depth + 1) + approx_size(item, budget, _depth + 1)
            if total > budget:
                return total
        return total
    if isinstance(value, list | tuple | set | frozenset):
        for item in value:
            total += approx_size(item, budget, _depth + 1) + 1
            if total > budget:
                return total
        return total
    return sys.getsizeof(value)


class StateMeter:
    """Tracks the approximate size of a run's state key by key, updated by what changed."""

    __slots__ = ("cap", "sizes", "total")

    def __init__(self, cap: int, state: Mapping[str, Any]) -> None:
        self.cap = cap
        self.sizes: dict[str, int] = {}
        self.total = 0
        for key, value in state.items():
            self.sizes[key] = size = approx_size(value, cap)
            self.total += size

    def update(self, state: Mapping[str, Any], keys: Any) -> StateTooLargeError | None:
        """Re-measure ``keys`` of ``state``; the error to fail the run with, if now too big."""
        grown: list[tuple[int, str, int]] = []
        for key in keys:
            old = self.sizes.get(key, 0)
            new = approx_size(state[key], self.cap) if key in state else 0
            self.sizes[key] = new
            self.total += new - old
            grown.append((new - old, key, new))
        if self.total <= self.cap:
            return None
        growth, key, size = max(grown) if grown else (0, "?", 0)
        return StateTooLargeError(
            f"the run's state grew to about {self.total:,} bytes, over this engine's limit of "
            f"{self.cap:,} (max_state_bytes); key '{key}' grew by {growth:,} bytes in this step "
            f"to about {size:,}. The step was not applied: a loop probably keeps appending to "
            f"'{key}' (look at its reducer), or the limit is too low for this workflow"
        )
