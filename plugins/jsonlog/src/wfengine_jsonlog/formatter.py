"""``JsonFormatter``: a :mod:`logging` formatter printing one JSON object per record.

Records from the ``logging`` destination carry their JSON line and are printed as is; any
other record (say a warning from ``wfengine.executor``) becomes an object with the same
``ts``, ``level``, ``event`` fields plus ``logger`` and ``message``, so one handler can ship
everything the engine logs::

    handler = logging.StreamHandler()
    handler.setFormatter(wfengine_jsonlog.JsonFormatter())
    logger = logging.getLogger("wfengine")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
"""

from __future__ import annotations

import json
import logging
from typing import Any

from .records import timestamp


class JsonFormatter(logging.Formatter):
    """Formats a log record as one line of JSON (no trailing newline)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record's JSON line: the event's own for wfengine events, else built here."""
        line = getattr(record, "wfengine_json", None)
        if isinstance(line, str):
            return line
        data: dict[str, Any] = {
            "ts": timestamp(record.created),
            "level": record.levelname.lower(),
            "event": "log",
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            data["error"] = {
                "type": type(exc).__name__,
                "message": str(exc),
                "traceback": self.formatException(record.exc_info),
            }
        return json.dumps(data, default=repr)
