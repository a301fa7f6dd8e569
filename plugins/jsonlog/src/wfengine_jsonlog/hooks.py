"""The lifecycle hook implementations: one JSON line per run and node event.

``JsonLogPlugin(destination=...)`` logs wherever it is told; ``JsonLogPlugin()`` follows the
environment (``WFENGINE_JSONLOG``, ``WFENGINE_JSONLOG_VALUES``), read at the first event and
again at the start of every run, so a change takes effect with the next run. When nothing is
configured every hook returns at once.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any, TextIO

from wfengine import hookimpl
from wfengine.settings import env_flag

from .records import (
    CLOCK,
    DEFAULT_MAX_VALUE_BYTES,
    changed_keys,
    error_from_exception,
    error_from_info,
    key_list,
    text,
    tick,
    timestamp,
    value_json,
    values_fields,
)
from .sinks import Sink, open_sink, report

if TYPE_CHECKING:
    from wfengine import WorkflowRun

ENV_DESTINATION = "WFENGINE_JSONLOG"
"""Where to log: a file path (appended), ``-`` for stderr, ``logging``; unset or empty: off."""

ENV_VALUES = "WFENGINE_JSONLOG_VALUES"
"""``1`` to log the values of changed keys, not only their names."""

INFO, WARNING, ERROR = logging.INFO, logging.WARNING, logging.ERROR
_LEVEL_NAMES = {INFO: "info", WARNING: "warning", ERROR: "error"}

_CACHE_SIZE = 4096
_time = time.time
_NODE_STARTED = (
    '{"ts":"%s.%06dZ","level":"info","event":"node_started",%s,"node":%s,"step":%d,'
    '"attempt":%d,"status":"running"}\n'
)
_NODE_FINISHED = (
    '{"ts":"%s.%06dZ","level":"info","event":"node_finished",%s,"node":%s,"step":%d,'
    '"attempt":%d,"status":"completed","duration_ms":%.3f%s}\n'
)

Destination = str | os.PathLike[str] | TextIO | logging.Logger


class JsonLogPlugin:
    """Writes one JSON object per line for every lifecycle event of every run.

    :param destination: a file path (appended, parent directories created), ``"-"`` for
        stderr, ``"logging"`` for the ``wfengine`` logger, a text stream or a
        :class:`logging.Logger`. ``None`` (the default): follow ``WFENGINE_JSONLOG``.
    :param values: log the values of changed keys, each cut beyond ``max_value_bytes``.
        ``None``: follow ``WFENGINE_JSONLOG_VALUES``.
    :param max_value_bytes: the longest JSON text kept for one value.

    Pass an instance to ``Engine(plugins=[...])``. It never raises into a run: an unwritable
    destination is reported once as a :class:`~wfengine_jsonlog.JsonLogWarning`.
    """

    def __init__(
        self,
        destination: Destination | None = None,
        *,
        values: bool | None = None,
        max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
    ) -> None:
        if max_value_bytes < 16:
            raise ValueError(f"max_value_bytes must be at least 16, got {max_value_bytes}")
        self.destination = destination
        self.values = values
        self.max_value_bytes = max_value_bytes
        self._lock = threading.Lock()
        self._sink: Sink | None = None
        self._log_values = False
        self._configured = False
        self._config: tuple[Any, bool] | None = None
        self._failed: set[str] = set()
        self._run_starts: dict[str, float] = {}
        self._ids: dict[str, str] = {}
        self._names: dict[str, str] = {}
        self._keys: dict[tuple[Any, ...], str] = {}

    # -- configuration -------------------------------------------------------------------

    @property
    def sink(self) -> Sink | None:
        """The open destination, or ``None`` while logging is off."""
        return self._sink

    def refresh(self) -> Sink | None:
        """Read the configuration (the environment, unless given) and reopen on a change."""
        if self.destination is not None:
            wanted: Any = self.destination
        else:
            wanted = os.environ.get(ENV_DESTINATION)
        if self.values is not None:
            values = self.values
        else:
            values = env_flag(ENV_VALUES)
        config = (wanted, values)
        if self._configured and config == self._config:
            return self._sink
        with self._lock:
            if self._configured and config == self._config:
                return self._sink
            old = self._sink
            self._sink = self._open(wanted)
            self._log_values = values
            self._config = config
            self._configured = True
        if old is not None:
            old.close()
        return self._sink

    def _open(self, wanted: Any) -> Sink | None:
        if wanted is None:
            return None
        try:
            return open_sink(wanted)
        except Exception as exc:
            key = repr(wanted)
            if key not in self._failed:
                self._failed.add(key)
                where = os.fspath(wanted) if isinstance(wanted, str | os.PathLike) else key
                source = "" if self.destination is not None else f" (from {ENV_DESTINATION})"
                report(
                    f"wfengine-jsonlog: cannot open JSON log '{where}'{source}: {exc}; "
                    "runs go on without it"
                )
            return None

    def close(self) -> None:
        """Close the destination; the next event reads the configuration and opens it again
        (and reports a destination that still cannot be opened, once more)."""
        with self._lock:
            sink, self._sink = self._sink, None
            self._configured = False
            self._config = None
            self._failed.clear()
        if sink is not None:
            sink.close()

    # -- hooks ---------------------------------------------------------------------------

    @hookimpl
    def wfengine_run_started(self, run: WorkflowRun) -> None:
        """``run_started``: the run begins or resumes."""
        try:
            sink = self.refresh()
            if sink is None:
                return
            self._run_starts[run.run_id] = time.perf_counter()
            line = (
                f'{self._head(INFO, "run_started", run)},"step":{run.step},'
                f'"status":{text(_status(run))}}}\n'
            )
            sink.write(line, INFO, "run_started")
        except Exception as exc:
            self._hook_failed("run_started", exc)

    # node_started and node_finished are on the hot path: one %-format of cached pieces.

    @hookimpl
    def wfengine_node_started(self, run: WorkflowRun, node: str, attempt: int) -> None:
        """``node_started``: a node attempt begins."""
        try:
            sink = self._sink or self._unopened_sink()
            if sink is None:
                return
            second, micros = _stamp()
            sink.write(
                _NODE_STARTED
                % (
                    second,
                    micros,
                    self._ids.get(run.run_id) or self._ids_of(run),
                    self._names.get(node) or self._name_of(node),
                    run.step + 1,
                    attempt,
                ),
                INFO,
                "node_started",
            )
        except Exception as exc:
            self._hook_failed("node_started", exc)

    @hookimpl
    def wfengine_node_finished(
        self, run: WorkflowRun, node: str, update: Any, duration: float, attempt: int
    ) -> None:
        """``node_finished``: a node attempt returned; ``keys`` names what it changed."""
        try:
            sink = self._sink or self._unopened_sink()
            if sink is None:
                return
            second, micros = _stamp()
            keys = changed_keys(update, run.state)
            if keys is None:
                fields = ""
            else:
                group = tuple(keys)
                fields = self._keys.get(group) or self._keys_of(group)
                if keys and self._log_values:
                    fields += values_fields(update, keys, self.max_value_bytes)
            sink.write(
                _NODE_FINISHED
                % (
                    second,
                    micros,
                    self._ids.get(run.run_id) or self._ids_of(run),
                    self._names.get(node) or self._name_of(node),
                    run.step + 1,
                    attempt,
                    duration * 1000.0,
                    fields,
                ),
                INFO,
                "node_finished",
            )
        except Exception as exc:
            self._hook_failed("node_finished", exc)

    @hookimpl
    def wfengine_node_failed(
        self, run: WorkflowRun, node: str, error: BaseException, attempt: int, will_retry: bool
    ) -> None:
        """``node_failed``: a warning when the node runs again, an error when it does not."""
        try:
            sink = self._sink or self._unopened_sink()
            if sink is None:
                return
            level = WARNING if will_retry else ERROR
            status = "retrying" if will_retry else "failed"
            step = run.step + 1
            duration = _attempt_duration(run, node, step, attempt)
            timing = "" if duration is None else f',"duration_ms":{duration:.3f}'
            line = (
                f'{self._head(level, "node_failed", run)},"node":{text(node)},'
                f'"step":{step},"attempt":{attempt},"status":"{status}"{timing},'
                f'"will_retry":{"true" if will_retry else "false"},'
                f'"error":{error_from_exception(error)}}}\n'
            )
            sink.write(line, level, "node_failed")
        except Exception as exc:
            self._hook_failed("node_failed", exc)

    @hookimpl
    def wfengine_node_progress(self, run: WorkflowRun, node: str, kind: str, data: Any) -> None:
        """``node_progress``: a node's ``wfengine.emit(kind, data)`` (``data`` cut to
        ``max_value_bytes``)."""
        try:
            sink = self._sink or self._unopened_sink()
            if sink is None:
                return
            encoded, _cut = value_json(data, self.max_value_bytes)
            line = (
                f'{self._head(INFO, "node_progress", run)},"node":{text(node)},'
                f'"step":{run.step + 1},"kind":{text(kind)},"data":{encoded}}}\n'
            )
            sink.write(line, INFO, "node_progress")
        except Exception as exc:
            self._hook_failed("node_progress", exc)

    @hookimpl
    def wfengine_run_finished(self, run: WorkflowRun) -> None:
        """``run_finished``: completed, paused (info), cancelled (warning) or failed (error)."""
        try:
            started = self._run_starts.pop(run.run_id, None)
            self._ids.pop(run.run_id, None)
            sink = self._sink or self._unopened_sink()
            if sink is None:
                return
            status = _status(run)
            level = ERROR if status == "failed" else WARNING if status == "cancelled" else INFO
            timing = ""
            if started is not None:
                timing = f',"duration_ms":{(time.perf_counter() - started) * 1000.0:.3f}'
            error = "" if not run.error else f',"error":{error_from_info(run.error)}'
            line = (
                f'{self._head(level, "run_finished", run)},"step":{run.step},'
                f'"status":{text(status)}{timing}{error}}}\n'
            )
            sink.write(line, level, "run_finished")
        except Exception as exc:
            self._hook_failed("run_finished", exc)

    # -- cached pieces of lines -----------------------------------------------------------

    def _unopened_sink(self) -> Sink | None:
        """The sink when the fast check found none: open it if configured since, else None."""
        return None if self._configured else self.refresh()

    def _head(self, level: int, event: str, run: WorkflowRun) -> str:
        """The fields every line starts with (without the closing brace)."""
        return (
            f'{{"ts":"{timestamp()}","level":"{_LEVEL_NAMES[level]}",'
            f'"event":"{event}",{self._ids_of(run)}'
        )

    def _ids_of(self, run: WorkflowRun) -> str:
        ids = f'"run_id":{text(run.run_id)},"graph_id":{text(run.graph_id)}'
        if len(self._ids) >= _CACHE_SIZE:  # runs that never finished: start over
            self._ids.clear()
        self._ids[run.run_id] = ids
        return ids

    def _name_of(self, node: str) -> str:
        name = text(node)
        if len(self._names) >= _CACHE_SIZE:
            self._names.clear()
        self._names[node] = name
        return name

    def _keys_of(self, group: tuple[Any, ...]) -> str:
        fields = ',"keys":' + key_list(group)
        if len(self._keys) >= _CACHE_SIZE:
            self._keys.clear()
        self._keys[group] = fields
        return fields

    def _hook_failed(self, hook: str, exc: Exception) -> None:
        key = f"hook:{hook}:{type(exc).__name__}"
        if key in self._failed:
            return
        self._failed.add(key)
        report(f"wfengine-jsonlog: could not log a {hook} event: {type(exc).__name__}: {exc}")

    def __repr__(self) -> str:
        where = "environment" if self.destination is None else repr(self.destination)
        return f"JsonLogPlugin(destination={where})"


def _stamp() -> tuple[str, float]:
    """The current second's cached ISO text and the microseconds past it."""
    now = _time()
    whole = int(now)
    second = CLOCK[0]
    if second[0] != whole:
        second = tick(whole)
    return second[1], (now - whole) * 1e6


def _status(run: WorkflowRun) -> str:
    return str(getattr(run.status, "value", run.status))


def _attempt_duration(run: WorkflowRun, node: str, step: int, attempt: int) -> float | None:
    """The failed attempt's duration in ms, from its log entry (appended just before)."""
    logs = run.logs
    for index in range(len(logs) - 1, max(len(logs) - 65, -1), -1):
        try:
            entry = logs[index]
        except IndexError:
            continue
        if entry.node == node and entry.step == step and entry.attempt == attempt:
            return float(entry.duration_ms)
    return None
