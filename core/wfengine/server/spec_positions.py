"""Where a spec error is in the text: a :class:`~wfengine.errors.SpecError`'s ``where``
(``nodes.fetch``, ``edges[2].when``, ``line 4``) as a line and column of the YAML/JSON text
the user typed (for the studio's builder, which marks the line)."""

from __future__ import annotations

import re
from typing import Any

import yaml

_PART = re.compile(r"\[(\d+)\]|([^.\[\]]+)")
_LINE = re.compile(r"^line (\d+)$")
_COLUMN = re.compile(r"\(column (\d+)")


def locate(text: str, where: str | None, message: str = "") -> tuple[int, int] | None:
    """1-based ``(line, column)`` of ``where`` in ``text``; the deepest part of the path that
    exists (``nodes.fetch.params`` when ``params`` is missing points at ``fetch``); ``None``
    when the text is not YAML or ``where`` names no place."""
    if not where:
        return None
    line = _LINE.match(where)
    if line:
        column = _COLUMN.search(message)
        return int(line.group(1)), int(column.group(1)) if column else 1
    try:
        node: Any = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    if node is None:
        return None
    found = node
    for index, key in _PART.findall(where):
        node = _child(node, int(index) if index else key)
        if node is None:
            break
        found = node
    mark = found.start_mark
    return mark.line + 1, mark.column + 1


def _child(node: Any, part: int | str) -> Any:
    """The key node of ``part`` in a mapping (so the line is the key's), the item of a list."""
    if isinstance(node, _Keyed):
        node = node.value
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        for key, value in node.value:
            if key.value == part:
                return key if not isinstance(value, yaml.CollectionNode) else _Keyed(key, value)
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part]
    return None


class _Keyed:
    """A mapping value that is itself a collection, positioned at its key."""

    def __init__(self, key: Any, value: Any) -> None:
        self.start_mark = key.start_mark
        self.value = value
