"""File paths arriving over HTTP are confined to one data directory.

A state key that names a file (``source``, ``output_dir``, any key ending in ``_path``,
``_dir`` or ``_file``, at any depth of the state or of a spec node's ``params``) must point
inside the server's data directory. A relative path is resolved against it; an absolute path
is accepted only when it lies inside it; ``..`` and symlinks leading out of it, URLs and NUL
bytes are refused (403). The run receives the resolved absolute path.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import WorkflowError

PATH_KEYS = frozenset({"source", "output_dir"})
PATH_SUFFIXES = ("_path", "_dir", "_file")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_MAX_DEPTH = 32


def is_path_key(key: object) -> bool:
    """True for the state keys whose values are treated as file paths."""
    return isinstance(key, str) and (key in PATH_KEYS or key.endswith(PATH_SUFFIXES))


class PathOutsideDataDir(WorkflowError):
    """A path in a request points outside the data directory (or is not a local path)."""

    def __init__(self, where: str, path: str, reason: str) -> None:
        self.where = where
        self.path = path
        self.reason = reason
        super().__init__(f"{where}: path {path!r} is refused: {reason}")


class PathConfiner:
    """Checks and resolves the file paths of states and specs against ``data_dir``."""

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        root = Path(data_dir).expanduser()
        if not root.is_dir():
            raise WorkflowError(
                f"data directory {str(root)!r} does not exist or is not a "
                "directory; create it or pass another --data-dir"
            )
        self.root = root.resolve()

    def state(self, state: Mapping[str, Any], where: str = "state") -> dict[str, Any]:
        """A copy of ``state`` with every path value resolved inside the data directory."""
        return {k: self._value(k, v, f"{where}.{k}", 1) for k, v in state.items()}

    def spec(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``spec`` with the paths in its nodes' ``params`` resolved."""
        nodes = spec.get("nodes")
        if isinstance(nodes, Mapping):
            new_nodes: Any = {
                name: self._node(node, f"nodes.{name}") for name, node in nodes.items()
            }
        elif isinstance(nodes, list):
            new_nodes = [self._node(node, f"nodes[{i}]") for i, node in enumerate(nodes)]
        else:
            return dict(spec)
        return {**spec, "nodes": new_nodes}

    def resolve(self, path: str, where: str) -> str:
        """The absolute path ``path`` names inside the data directory, or an error."""
        if "\x00" in path:
            raise PathOutsideDataDir(where, path, "it contains a NUL byte")
        if _URL.match(path):
            raise PathOutsideDataDir(
                where, path, "only files under the server's data directory are accepted, not URLs"
            )
        candidate = Path(path)
        if not candidate.is_absolute():
            candidate = self.root / candidate
        try:
            resolved = candidate.resolve()
        except (OSError, RuntimeError) as exc:  # symlink loops, unreadable parts
            raise PathOutsideDataDir(where, path, f"it cannot be resolved ({exc})") from None
        if resolved != self.root and not resolved.is_relative_to(self.root):
            raise PathOutsideDataDir(
                where,
                path,
                "it leads outside the server's data directory (absolute path, '..' or a symlink)",
            )
        return str(resolved)

    def _node(self, node: Any, where: str) -> Any:
        if isinstance(node, Mapping) and isinstance(node.get("params"), Mapping):
            return {**node, "params": self.state(node["params"], f"{where}.params")}
        return node

    def _value(self, key: object, value: Any, where: str, depth: int) -> Any:
        """``value`` found under ``key``; list items are judged by the key holding the list."""
        if isinstance(value, str):
            return self.resolve(value, where) if is_path_key(key) else value
        if isinstance(value, Mapping | list) and depth > _MAX_DEPTH:
            raise PathOutsideDataDir(
                where, "...", f"values nested deeper than {_MAX_DEPTH} levels are not accepted"
            )
        if isinstance(value, Mapping):
            return {k: self._value(k, v, f"{where}.{k}", depth + 1) for k, v in value.items()}
        if isinstance(value, list):
            return [self._value(key, v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
        return value
