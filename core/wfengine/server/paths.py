"""File paths arriving over HTTP are resolved inside the server's data directory.

Two layers keep a request's files inside the data directory:

* at the door (this module): a state key that names a file (one a registered tool declared
  with ``paths=``, ``source``, ``output_dir``, or any key ending in ``_path``, ``_dir`` or
  ``_file``, at any depth of the state or of a spec node's ``params``) must point inside it.
  A relative path is resolved against it; an absolute path is accepted only inside it;
  ``..`` and symlinks leading out, URLs and NUL bytes are refused (403). The run receives the
  resolved absolute path.
* where files are opened: the server confines the engine's runs to the data directory
  (``Engine.set_limits(path_roots=...)``), so the paths a tool declared are checked before
  every call, whatever the key is called and wherever the value came from (see
  :mod:`wfengine.paths`).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from ..errors import WorkflowError
from ..paths import MAX_DEPTH, PathRefusedError, resolve_inside

PATH_KEYS = frozenset({"source", "output_dir"})
PATH_SUFFIXES = ("_path", "_dir", "_file")


class PathOutsideDataDir(PathRefusedError):
    """A path in a request points outside the data directory (or is not a local path)."""


class NestedTooDeep(WorkflowError):
    """A value in a request is nested deeper than :data:`~wfengine.paths.MAX_DEPTH` levels."""

    def __init__(self, where: str) -> None:
        self.where = where
        super().__init__(
            f"{where}: values nested deeper than {MAX_DEPTH} levels are not accepted; "
            "flatten the value"
        )


class PathConfiner:
    """Checks and resolves the file paths of states and specs against ``data_dir``."""

    def __init__(self, data_dir: str | os.PathLike[str], declared: Collection[str] = ()) -> None:
        self.declared = frozenset(declared)
        """Keys registered tools declared as paths (``ToolRegistry.path_keys()``)."""
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

    def is_path_key(self, key: object) -> bool:
        """True for the keys whose values are treated as file paths."""
        return isinstance(key, str) and (
            key in self.declared or key in PATH_KEYS or key.endswith(PATH_SUFFIXES)
        )

    def resolve(self, path: str, where: str) -> str:
        """The absolute path ``path`` names inside the data directory, or an error."""
        try:
            return resolve_inside(path, (self.root,), where, base=self.root)
        except PathRefusedError as exc:
            raise PathOutsideDataDir(exc.where, exc.path, exc.reason) from None

    def _node(self, node: Any, where: str) -> Any:
        if isinstance(node, Mapping) and isinstance(node.get("params"), Mapping):
            return {**node, "params": self.state(node["params"], f"{where}.params")}
        return node

    def _value(self, key: object, value: Any, where: str, depth: int, inside: bool = False) -> Any:
        """``value`` found under ``key``; everything nested under a path key is a path."""
        inside = inside or self.is_path_key(key)
        if isinstance(value, str):
            return self.resolve(value, where) if inside else value
        if isinstance(value, Mapping | list) and depth > MAX_DEPTH:
            raise NestedTooDeep(where)
        if isinstance(value, Mapping):
            return {
                k: self._value(k, v, f"{where}.{k}", depth + 1, inside) for k, v in value.items()
            }
        if isinstance(value, list):
            return [
                self._value(key, v, f"{where}[{i}]", depth + 1, inside) for i, v in enumerate(value)
            ]
        return value
