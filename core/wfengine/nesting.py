"""How deep a spec or state document read from text may nest."""

from __future__ import annotations

from typing import Any

from .errors import SpecError

MAX_DEPTH = 100
"""The deepest nesting of lists and mappings a JSON or YAML document may have (deeper would
exhaust Python's recursion on the way, and no spec or state needs it)."""


def check_depth(data: Any, source: str | None, what: str = "JSON") -> Any:
    """``data`` (parsed JSON) when it nests at most :data:`MAX_DEPTH` levels, else a
    :class:`SpecError` (checked without recursion)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        for child in children:
            if isinstance(child, dict | list):
                if depth >= MAX_DEPTH:
                    raise SpecError(
                        f"{what} nested more than {MAX_DEPTH} levels deep", None, source
                    )
                stack.append((child, depth + 1))
    return data
