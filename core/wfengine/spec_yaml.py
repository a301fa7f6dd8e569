"""Reading YAML specs safely: no duplicate keys, no aliases, errors with their line."""

from __future__ import annotations

from typing import Any

import yaml

from .errors import SpecError
from .nesting import MAX_DEPTH


class _TooDeep(yaml.composer.ComposerError):
    """Nesting deeper than :data:`MAX_DEPTH` (valid YAML, refused)."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses a key given twice (YAML would keep the last),
    aliases (``*name``), whose nested expansion can make a small spec enormous, and nesting
    deeper than :data:`MAX_DEPTH`."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):  # type: ignore[no-untyped-call]
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "YAML aliases (*name) are not allowed in a spec", event.start_mark
            )
        depth = self._depth
        if depth >= MAX_DEPTH:
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise _TooDeep(
                None, None, f"nested more than {MAX_DEPTH} levels deep", event.start_mark
            )
        self._depth = depth + 1
        try:
            return super().compose_node(parent, index)  # type: ignore[no-untyped-call]
        finally:
            self._depth = depth

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if isinstance(key, list | dict):
                continue  # unhashable: SafeLoader reports it
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: str, source: str | None) -> Any:
    """Parse YAML text (a spec, or a state file); a syntax error, an alias or nesting deeper
    than :data:`MAX_DEPTH` becomes a :class:`SpecError` with its line."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        details = [f"column {mark.column + 1}"] if mark is not None else []
        if exc.context and exc.problem:
            details.append(exc.context)
        suffix = f" ({', '.join(details)})" if details else ""
        where = f"line {mark.line + 1}" if mark is not None else None
        kind = "YAML" if isinstance(exc, _TooDeep) else "YAML syntax error"
        raise SpecError(f"{kind}: {problem}{suffix}", where, source) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"YAML error: {exc}", None, source) from None
