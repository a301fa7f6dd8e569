"""Where JSON lines go: a file, a text stream (stderr), or Python's ``logging``.

A sink receives whole lines and writes each in one call under a lock, so lines of parallel
branches never interleave. It never raises: a failed write is reported once (a
:class:`JsonLogWarning` naming the destination and the error) and the run goes on.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import warnings
from pathlib import Path
from typing import Any, Protocol, TextIO

LOGGER_NAME = "wfengine"
"""The logger the ``logging`` destination writes to."""

OFF_VALUES = frozenset({"", "0", "off", "false", "no", "none"})
"""Destination values that mean "do not log" (case-insensitive)."""


class JsonLogWarning(UserWarning):
    """The JSON log could not be written; the run goes on without it."""


def report(message: str) -> None:
    """Warn on stderr (through :mod:`warnings`), never raising, even when warnings are errors."""
    try:
        warnings.warn(message, JsonLogWarning, stacklevel=2)
    except Exception:
        try:
            sys.stderr.write(f"JsonLogWarning: {message}\n")
        except Exception:
            pass


class Sink(Protocol):
    """A destination for complete JSON lines."""

    name: str
    """How the destination is named in messages (a path, ``-``, ``logging``)."""

    def write(self, line: str, level: int, event: str) -> None:
        """Write ``line`` (one JSON object and a newline); ``level`` is a :mod:`logging` level."""

    def close(self) -> None:
        """Release the destination; later writes are dropped."""


class FileSink:
    """Appends lines to a file opened with ``O_APPEND``; each line is one ``os.write``.

    Nothing is buffered in the process, so a crash loses at most the line being written.
    When the file does not end with a newline (a line cut short by a full disk or a crash,
    here or in another process) the next line starts with one, so it is never glued to the
    broken one.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()
        self.name = str(self.path)
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._reported = False
        self._check_tail = True
        """Look at the file's last byte before the next write (at open, after an error)."""

    def open(self) -> None:
        """Create the parent directories and open the file; raises :class:`OSError`."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        self._fd = os.open(self.path, flags, 0o644)

    def write(self, line: str, level: int, event: str) -> None:
        """Append ``line`` in one write call (looping only on a partial write)."""
        data = line.encode()  # lines are ASCII: every string in them is JSON-escaped
        with self._lock:
            fd = self._fd
            if fd is None:
                return
            try:
                if self._check_tail:
                    if not _ends_a_line(self.path):
                        data = b"\n" + data
                    self._check_tail = False
                written = os.write(fd, data)
                while written < len(data):
                    written += os.write(fd, data[written:])
            except OSError as exc:
                self._check_tail = True  # part of the line may have been written
                if not self._reported:
                    self._reported = True
                    report(
                        f"wfengine-jsonlog: cannot write to '{self.name}': {exc}; "
                        "events are not being logged there"
                    )

    def close(self) -> None:
        """Close the file (under the lock, so no write can reach a reused descriptor)."""
        with self._lock:
            fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass


def _ends_a_line(path: Path) -> bool:
    """True when the file is empty or ends with a newline (or cannot be read: then nothing
    is known, and no newline is added)."""
    try:
        with open(path, "rb") as file:
            if file.seek(0, os.SEEK_END) == 0:
                return True
            file.seek(-1, os.SEEK_END)
            return file.read(1) == b"\n"
    except OSError:
        return True


class StreamSink:
    """Writes lines to a text stream and flushes; by default the current ``sys.stderr``."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self.name = "-" if stream is None else repr(stream)
        self._lock = threading.Lock()
        self._closed = False
        self._reported = False

    def write(self, line: str, level: int, event: str) -> None:
        """Write and flush ``line``; stderr is looked up each time (tests and apps replace it)."""
        stream = self._stream if self._stream is not None else sys.stderr
        if stream is None or self._closed:
            return
        with self._lock:
            try:
                stream.write(line)
                stream.flush()
            except (OSError, ValueError) as exc:
                if not self._reported:
                    self._reported = True
                    report(f"wfengine-jsonlog: cannot write to {self.name}: {exc}")

    def close(self) -> None:
        """Stop writing (the stream itself belongs to its owner and stays open)."""
        self._closed = True


class LoggingSink:
    """Hands each line to the ``wfengine`` logger; :class:`~wfengine_jsonlog.JsonFormatter`
    prints it as is.

    The log record's message is a short human summary; ``record.wfengine_json`` holds the
    JSON text, ``record.wfengine_event`` the event name. Records below the logger's level
    are not built at all.
    """

    name = "logging"

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or logging.getLogger(LOGGER_NAME)
        self._closed = False

    def enabled(self, level: int) -> bool:
        """True when the logger would handle a record of ``level``."""
        return not self._closed and self.logger.isEnabledFor(level)

    def write(self, line: str, level: int, event: str) -> None:
        """Log one record carrying ``line``."""
        if not self.enabled(level):
            return
        extra: dict[str, Any] = {"wfengine_json": line.rstrip("\n"), "wfengine_event": event}
        self.logger.log(level, "wfengine %s", event, extra=extra)

    def close(self) -> None:
        """Stop logging."""
        self._closed = True


def open_sink(destination: str | os.PathLike[str] | TextIO | logging.Logger) -> Sink | None:
    """The sink for a destination: a path, ``-`` (stderr), ``logging``, a text stream or a
    logger. ``None`` for an "off" value. Raises :class:`OSError` when a file cannot be opened.
    """
    if isinstance(destination, logging.Logger):
        return LoggingSink(destination)
    if hasattr(destination, "write"):
        return StreamSink(destination)  # type: ignore[arg-type]
    text = os.fspath(destination)
    if text.strip().lower() in OFF_VALUES:
        return None
    if text == "-":
        return StreamSink()
    if text == "logging":
        return LoggingSink()
    sink = FileSink(text)
    sink.open()
    return sink
