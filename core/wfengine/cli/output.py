"""How ``wf`` shows things: the live node lines of a run, its summary, tables, JSON.

On a terminal the live display keeps one transient "running: ..." line at the bottom and
prints a permanent line per finished or failed node attempt; piped, it prints only the
permanent lines, plain (no colours, no cursor movement), so logs and ``grep`` stay readable.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePath
from typing import IO, TYPE_CHECKING, Any

import click

from wfengine.jsonsafe import jsonable, utf8_safe

if TYPE_CHECKING:
    from wfengine.run import Event, WorkflowRun

OUTPUT_SUFFIXES = ("_dir", "_dirs", "_path", "_paths", "_file", "_files", "outputs", "output")
"""State keys ending so are shown as "where outputs went" in a run's summary."""


# -- JSON ---------------------------------------------------------------------------------


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout (non-JSON values made safe)."""
    click.echo(utf8_safe(json.dumps(jsonable(data), indent=2, ensure_ascii=False)))


# -- tables and small formats -------------------------------------------------------------


def format_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Rows as left-aligned columns under ``headers``."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    return "\n".join(lines)


def format_seconds(seconds: float | None) -> str:
    """``0.0123`` → ``12 ms``, ``3.5`` → ``3.50 s``, ``125`` → ``2 m 05 s``."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} m {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} m"


def run_duration(run: WorkflowRun) -> float | None:
    """Seconds from creation to finish (``None`` while running)."""
    return None if run.finished is None else max(0.0, run.finished - run.created)


def short_value(value: Any, limit: int = 80) -> str:
    """A one-line rendering of a state value."""
    if isinstance(value, str | PurePath):
        text = str(value)
    else:
        try:
            text = json.dumps(jsonable(value), ensure_ascii=False)
        except (TypeError, ValueError):  # jsonable's output always dumps; belt and braces
            text = repr(value)
    text = utf8_safe(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def output_locations(state: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """State entries that say where outputs went (keys ending ``_dir``, ``_path``, ...); a
    mapping or list value is spread into one entry per item (``outputs.report``)."""
    found: list[tuple[str, Any]] = []
    for key, value in state.items():
        if not isinstance(key, str) or not key.endswith(OUTPUT_SUFFIXES):
            continue
        if isinstance(value, Mapping):
            found.extend((f"{key}.{k}", v) for k, v in value.items() if v not in (None, ""))
        elif isinstance(value, list | tuple) and value:
            found.extend((f"{key}[{i}]", v) for i, v in enumerate(value))
        elif value not in (None, "", [], ()):
            found.append((key, value))
    return found


def error_line(error: Mapping[str, Any] | None) -> str:
    """A run's (or log entry's) error in one line: where, type and message."""
    if not error:
        return "unknown error"
    where = []
    if error.get("node"):
        where.append(f"node '{error['node']}'")
    if error.get("step") is not None:
        where.append(f"step {error['step']}")
    if error.get("where"):
        where.append(str(error["where"]))
    message = str(error.get("message", "")).strip().splitlines()
    text = f"{error.get('type', 'Error')}: {message[0] if message else ''}".rstrip(": ")
    return f"{' '.join(where)}: {text}" if where else text


# -- the live display ---------------------------------------------------------------------


class LiveDisplay:
    """Turns a run's events into lines as they happen (see the module docstring)."""

    def __init__(
        self,
        stream: IO[str] | None = None,
        *,
        tty: bool | None = None,
        nodes: Iterable[str] = (),
    ) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.tty = _isatty(self.stream) if tty is None else tty
        encoding = (getattr(self.stream, "encoding", None) or "").lower()
        fancy = self.tty and encoding.replace("-", "").startswith("utf8")
        self.marks = (
            {"ok": "✓", "failed": "✗", "retry": "↻"}
            if fancy
            else {"ok": "ok", "failed": "FAILED", "retry": "retry"}
        )
        self.running: dict[str, tuple[int, float]] = {}
        self.progress: dict[str, tuple[float, float]] = {}
        """Per running node, its last ``emit()`` with ``done`` and ``total`` (a bar)."""
        self._drawn = 0.0
        self._status_shown = False
        self.width = max((len(n) for n in nodes), default=0)
        """Width of the node column: the longest node name (grows if a longer one shows)."""

    def handle(self, event: Event) -> None:
        """Show one event."""
        kind = event.type.value
        node = event.node or ""
        if kind == "node_started":
            self.running[node] = (event.step, time.monotonic())
            self._draw_status()
        elif kind == "node_progress":
            self._progress(node, event.data.get("data"))
        elif kind == "node_finished":
            self.running.pop(node, None)
            self.progress.pop(node, None)
            self._line("ok", node, event.step, event.data)
        elif kind == "node_failed":
            retrying = bool(event.data.get("will_retry"))
            if not retrying:
                self.running.pop(node, None)
            self._line("retry" if retrying else "failed", node, event.step, event.data)
        elif kind == "run_finished":
            self.running.clear()
            self.progress.clear()
            self._clear_status()

    def message(self, text: str) -> None:
        """A line between node lines (e.g. "cancelling..."), keeping the status line below."""
        self._clear_status()
        click.echo(text, file=self.stream)
        self._draw_status()

    def _line(self, mark: str, node: str, step: int, data: Mapping[str, Any]) -> None:
        self.width = max(self.width, len(node))
        attempt = int(data.get("attempt") or 1)
        duration = (data.get("duration_ms") or 0.0) / 1000.0
        parts = [f"step {step:<3}", f"{node:<{self.width}}", f"{format_seconds(duration):>8}"]
        if attempt > 1:
            parts.append(f"retry {attempt - 1}")
        if mark != "ok":
            error = data.get("error") or {}
            message = str(error.get("message", "")).strip().splitlines()
            parts.append(f"{error.get('type', 'Error')}: {message[0] if message else ''}")
            if mark == "retry":
                parts.append("(retrying)")
        text = f"  {self.marks[mark]:<{2 if self.tty else 6}} " + "  ".join(parts)
        if self.tty:
            color = {"ok": "green", "failed": "red", "retry": "yellow"}[mark]
            text = click.style(text, fg=color) if mark != "ok" else text
        self._clear_status()
        click.echo(text, file=self.stream)
        self._draw_status()

    def _progress(self, node: str, data: Any) -> None:
        """A node's ``emit(kind, {"done": n, "total": m})``: its bar in the status line
        (redrawn at most ten times a second, and when it is full)."""
        if not self.tty or not isinstance(data, Mapping):
            return
        done, total = data.get("done"), data.get("total")
        numbers = (int, float)
        if not isinstance(total, numbers) or not isinstance(done, numbers) or total <= 0:
            return
        self.progress[node] = (float(done), float(total))
        now = time.monotonic()
        if now - self._drawn >= 0.1 or done >= total:
            self._drawn = now
            self._draw_status()

    def _draw_status(self) -> None:
        if not self.tty or not self.running:
            return
        names = ", ".join(
            f"{n} (step {s})" + (progress_bar(*self.progress[n]) if n in self.progress else "")
            for n, (s, _t) in self.running.items()
        )
        self.stream.write("\r\x1b[K" + click.style(f"  … running {names}", dim=True))
        self.stream.flush()
        self._status_shown = True

    def _clear_status(self) -> None:
        if self._status_shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._status_shown = False


def progress_bar(done: float, total: float, width: int = 20) -> str:
    """`` [#####---------------]  25%  250/1,000``: a node's progress in the status line."""
    share = min(max(done / total, 0.0), 1.0)
    filled = round(share * width)
    return f" [{'#' * filled}{'-' * (width - filled)}] {share:4.0%}  {done:,.0f}/{total:,.0f}"


def _isatty(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


# -- summaries ------------------------------------------------------------------------------


def summary_lines(run: WorkflowRun, *, resume_command: str, persistent: bool) -> list[str]:
    """What a person wants to know when ``wf run`` ends: status, steps, time, state keys,
    where outputs went, the error, and how to go on."""
    status = run.status.value
    steps = f"{run.step} step{'s' if run.step != 1 else ''}"
    head = f"{status}: run {run.run_id} ({run.graph_id}), {steps} in " + format_seconds(
        run_duration(run)
    )
    lines = [click.style(head, fg=_STATUS_COLOURS.get(status), bold=True)]
    keys = [str(k) for k in run.state]
    lines.append(f"state keys: {', '.join(keys) if keys else '(none)'}")
    outputs = output_locations(run.state)
    if outputs:
        lines.append("outputs:")
        lines.extend(f"  {k}: {short_value(v, 200)}" for k, v in outputs)
    if status == "failed":
        lines.append(click.style(f"error: {error_line(run.error)}", fg="red"))
    if status == "paused" and run.pause_reason:
        lines.append(f"paused: {run.pause_reason} (resume with --budget KEY=N to go on)")
    if status == "paused" and run.questions:
        lines.extend(question_lines(run))
    elif status == "paused" and not run.pause_reason:
        lines.append(f"paused before: {', '.join(run.next_nodes) or '(nothing)'}")
    if status in ("failed", "paused", "cancelled"):
        if persistent:
            lines.append(f"inspect: {resume_command.replace('resume', 'show')} --state")
            lines.append(f"resume:  {resume_command} [-s key=value ...]")
        else:
            lines.append(
                "not resumable later: the store keeps runs only in memory "
                "(pass --store or install wfengine-sqlite)"
            )
    return lines


_STATUS_COLOURS = {"completed": "green", "failed": "red", "paused": "yellow", "cancelled": "yellow"}


def run_detail_lines(run: WorkflowRun) -> list[str]:
    """``wf runs show``: the run's fields, one per line."""
    lines = [
        f"run:      {run.run_id}",
        f"graph:    {run.graph_id}",
        f"status:   {run.status.value}",
        f"steps:    {run.step}" + (f" (limit {run.max_steps})" if run.max_steps else ""),
        f"created:  {run.created_at}",
        f"finished: {run.finished_at or '-'}",
        f"duration: {format_seconds(run_duration(run))}",
        f"visited:  {' → '.join(run.visited_nodes) if run.visited_nodes else '(none)'}",
    ]
    if run.next_nodes:
        lines.append(f"next:     {', '.join(run.next_nodes)}")
    if run.interrupt_before:
        lines.append(f"pauses before: {', '.join(run.interrupt_before)}")
    if run.interrupt_after:
        lines.append(f"pauses after: {', '.join(run.interrupt_after)}")
    if run.budget:
        spent = {"steps": run.step, **run.spent}
        lines.append(
            "budget:   "
            + ", ".join(f"{k} {spent.get(k, 0):g} of {v:g}" for k, v in run.budget.items())
        )
    if run.pause_reason:
        lines.append(f"paused:   {run.pause_reason}")
    lines.extend(question_lines(run))
    lines.append(f"state keys: {', '.join(map(str, run.state)) or '(none)'}")
    outputs = output_locations(run.state)
    if outputs:
        lines.append("outputs:")
        lines.extend(f"  {k}: {short_value(v, 200)}" for k, v in outputs)
    if run.error:
        lines.append(f"error:    {error_line(run.error)}")
    return lines


def question_lines(run: WorkflowRun) -> list[str]:
    """The run's pending questions and how to answer them, for ``wf runs show``/``wf run``."""
    if not run.questions:
        return []
    lines = ["questions:"]
    for node, asked in run.questions.items():
        lines.append(f"  {node}: {short_value(asked.get('value'), 200)}")
    how = "--answer JSON" if len(run.questions) == 1 else "--answer node=JSON ..."
    lines.append(f"answer:   wf runs resume {run.run_id} {how}")
    return lines


def log_table(run: WorkflowRun) -> str:
    """``wf runs show --logs``: one row per node attempt."""
    rows = [
        (
            e.step,
            e.node,
            e.attempt,
            e.status,
            format_seconds(e.duration_ms / 1000.0),
            e.started_at,
            error_line(e.error) if e.error else "",
        )
        for e in run.logs
    ]
    return format_table(("STEP", "NODE", "ATTEMPT", "STATUS", "DURATION", "STARTED", "ERROR"), rows)
