"""Which ``wait: true`` runs execute on the event loop instead of a run thread.

Handing a run to a thread and back costs more than a small graph's whole run (measured on
this project's 2-core machine: about a fifth of the server's throughput for a 3-node graph).
So a graph whose last :data:`WINDOW` runs each took at most ``inline_run_us`` runs inline on
the event loop; a run over budget sends its graph back to the threads until it has been fast
:data:`WINDOW` times in a row there. New graphs start on the threads.

The cost of the gamble: a run that is suddenly slow (a much bigger input) blocks the event
loop, once, for its duration. ``inline_run_us=0`` turns inlining off.
"""

from __future__ import annotations

WINDOW = 16
"""Consecutive fast runs a graph needs before it runs inline."""

MAX_GRAPHS = 1024
"""Graphs whose history is kept; beyond that, histories start over (and graphs go threaded)."""


class InlinePolicy:
    """Per-graph history of run durations, deciding where the next run goes."""

    def __init__(self, budget_us: int) -> None:
        self.budget = budget_us / 1e6
        self._fast_runs: dict[str, int] = {}

    def inline(self, graph_id: str) -> bool:
        """True when ``graph_id``'s next ``wait: true`` run should execute on the event loop."""
        return self.budget > 0 and self._fast_runs.get(graph_id, 0) >= WINDOW

    def record(self, graph_id: str, seconds: float) -> None:
        """Note how long a run of ``graph_id`` took (wherever it ran)."""
        if self.budget <= 0:
            return
        if len(self._fast_runs) >= MAX_GRAPHS and graph_id not in self._fast_runs:
            self._fast_runs.clear()
        if seconds <= self.budget:
            self._fast_runs[graph_id] = min(self._fast_runs.get(graph_id, 0) + 1, WINDOW)
        else:
            self._fast_runs[graph_id] = 0
