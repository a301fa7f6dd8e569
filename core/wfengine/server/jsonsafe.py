"""Responses that never fail on their content (see :mod:`wfengine.jsonsafe`)."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import JSONResponse

from ..jsonsafe import jsonable, utf8_safe

__all__ = ["SafeJSONResponse", "json_text", "jsonable", "utf8_safe"]


class SafeJSONResponse(JSONResponse):
    """A JSON response that never fails on its content: plain data is encoded directly (the
    fast path), anything else goes through :func:`jsonable` first."""

    def render(self, content: Any) -> bytes:
        """The body: UTF-8 JSON; a lone surrogate in a string (UTF-8 cannot carry it) is
        written as its ``\\uXXXX`` JSON escape, so it reads back as the same string."""
        return json_text(content).encode("utf-8", "backslashreplace")


def json_text(content: Any) -> str:
    """Compact JSON text of ``content`` (made :func:`jsonable` when it is not plain JSON);
    may hold lone surrogates: encode with ``backslashreplace``, or use :func:`utf8_safe`."""
    try:
        return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError):
        return json.dumps(jsonable(content), ensure_ascii=False, separators=(",", ":"))
