"""Confining the files tools open to allowed directories.

A tool declares, when it is registered, which of its state keys and parameters hold file
paths::

    registry.register("dq.report", report, paths=["output_dir", "quarantine_paths"])

A value under a declared key may be a path, or a list or mapping of paths nested up to
:data:`MAX_DEPTH` levels (strings found anywhere inside are paths; numbers, booleans and
``None`` are ignored). An engine given ``path_roots`` (the REST server gives its data
directory) checks those values in the node's input state and in the spec node's ``params``
before every call of the tool, in the driver, so a path a client slipped into the state, a
resume patch or another tool's output is refused where it would be opened, whatever the key
is called. Relative paths are judged as the tool would open them: against the process's
working directory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import WorkflowError

MAX_DEPTH = 32
"""How deep path values may be nested in lists and mappings."""

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class PathRefusedError(WorkflowError):
    """A path a tool would open lies outside the allowed directories (or is no local path).

    ``where`` says where the path was found (``state.quarantine_paths[3]``), ``path`` is the
    value, ``reason`` why it was refused. Not retried: the same input fails the same way.
    """

    retryable = False

    def __init__(self, where: str, path: str, reason: str) -> None:
        self.where = where
        self.path = path
        self.reason = reason
        super().__init__(f"{where}: path {path!r} is refused: {reason}")


def resolve_inside(path: str, roots: Sequence[Path], where: str, base: Path | None = None) -> str:
    """The absolute path ``path`` names, when it lies inside one of ``roots``; else an error.

    A relative path is taken from ``base`` (default: the working directory). NUL bytes,
    URLs, and paths leading out through ``..`` or symlinks are refused.
    """
    if "\x00" in path:
        raise PathRefusedError(where, path, "it contains a NUL byte")
    if _URL.match(path):
        raise PathRefusedError(where, path, "only local files are accepted, not URLs")
    candidate = Path(path)
    if not candidate.is_absolute():
        candidate = (base if base is not None else Path.cwd()) / candidate
    try:
        resolved = candidate.resolve()
    except (OSError, RuntimeError) as exc:  # symlink loops, unreadable parts
        raise PathRefusedError(where, path, f"it cannot be resolved ({exc})") from None
    for root in roots:
        if resolved == root or resolved.is_relative_to(root):
            return str(resolved)
    allowed = ", ".join(str(r) for r in roots)
    raise PathRefusedError(
        where,
        path,
        f"it leads outside the allowed directories ({allowed}) through an absolute path, "
        "'..' or a symlink",
    )


def iter_paths(value: Any, where: str, depth: int = 1) -> Iterator[tuple[str, str]]:
    """Every path string inside ``value`` (a path, or lists/mappings of paths) with where it is."""
    if isinstance(value, str | os.PathLike):
        yield where, os.fspath(value) if not isinstance(value, str) else value
        return
    if not isinstance(value, Mapping | list | tuple):
        return
    if depth > MAX_DEPTH:
        raise PathRefusedError(
            where, "...", f"path values nested deeper than {MAX_DEPTH} levels are not accepted"
        )
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from iter_paths(item, f"{where}.{key}", depth + 1)
    else:
        for i, item in enumerate(value):
            yield from iter_paths(item, f"{where}[{i}]", depth + 1)


class PathPolicy:
    """The directories the paths of one engine's tools must lie in."""

    __slots__ = ("roots",)

    def __init__(self, roots: Sequence[str | os.PathLike[str]]) -> None:
        if not roots:
            raise WorkflowError("path_roots needs at least one directory")
        self.roots = tuple(Path(r).expanduser().resolve() for r in roots)

    def check(
        self,
        node: str,
        keys: Collection[str],
        state: Mapping[str, Any],
        params: Mapping[str, Any],
    ) -> None:
        """Refuse the call of ``node`` when a declared path in its input or params is outside."""
        for source, values in (("params", params), ("state", state)):
            for key in keys:
                if key in values:
                    for where, path in iter_paths(values[key], f"node '{node}': {source}.{key}"):
                        resolve_inside(path, self.roots, where)

    def __repr__(self) -> str:
        return f"PathPolicy({[str(r) for r in self.roots]})"
