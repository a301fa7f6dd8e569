"""Responses that never fail on their content (see :mod:`wfengine.jsonsafe`)."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import JSONResponse

from ..jsonsafe import jsonable

__all__ = ["SafeJSONResponse", "jsonable"]


class SafeJSONResponse(JSONResponse):
    """A JSON response that never fails on its content: plain data is encoded directly (the
    fast path), anything else goes through :func:`jsonable` first."""

    def render(self, content: Any) -> bytes:
        try:
            text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError):
            text = json.dumps(jsonable(content), ensure_ascii=False, separators=(",", ":"))
        return text.encode("utf-8")
