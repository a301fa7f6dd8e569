"""Import paths: the plain Python functions that ``call:`` spec nodes run.

For specs run by ``wf`` or embedded (the REST server refuses them unless its operator allows
import paths), a node may name a function instead of a registered tool::

    nodes:
      score: {call: "mypkg.scoring:score", params: {model: baseline}}   # an importable module
      count: {call: "tools.py:count"}          # a file, relative to the spec file's folder

The function is called ``func(state, **params)`` like a tool. A file path is kept absolute
in the graph (and so in its stored version), so a run resumes without the spec file; the
function must be importable wherever the node runs (worker processes too).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import WorkflowError

_ATTRS = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class CallImportError(WorkflowError):
    """A ``call:`` import path is malformed, or its module or function cannot be loaded."""


def import_call(ref: Any, base: Path | None = None) -> tuple[Callable[..., Any], str]:
    """The function ``ref`` names (``module:function`` or ``file.py:function``) and the
    reference to keep (file paths made absolute against ``base``, else the working folder)."""
    if not isinstance(ref, str) or ref.count(":") != 1:
        raise CallImportError(
            f"expected 'package.module:function' or 'file.py:function', got {ref!r}"
        )
    where, attrs = ref.rsplit(":", 1)
    if not _ATTRS.match(attrs) or any(part.startswith("__") for part in attrs.split(".")):
        raise CallImportError(f"{attrs!r} in {ref!r} is not a function name")
    if where.endswith(".py"):
        path = Path(where)
        if not path.is_absolute():
            path = (base or Path.cwd()) / path
        path = path.resolve()
        module = _load_file(path)
        kept = f"{path}:{attrs}"
    else:
        if not _ATTRS.match(where):
            raise CallImportError(f"{where!r} in {ref!r} is not a module name")
        try:
            module = importlib.import_module(where)
        except Exception as exc:  # ImportError, or the module's own failure on import
            raise CallImportError(
                f"cannot import module '{where}': {type(exc).__name__}: {exc}"
            ) from None
        kept = ref
    func: Any = module
    for part in attrs.split("."):
        func = getattr(func, part, None)
        if func is None:
            raise CallImportError(f"module '{where}' has no '{attrs}'")
    if not callable(func):
        raise CallImportError(f"'{attrs}' in '{where}' is not callable")
    return func, kept


def _load_file(path: Path) -> Any:
    """The module of a ``.py`` file, loaded once per process under a name made from its path."""
    if not path.is_file():
        raise CallImportError(f"file {str(path)!r} not found")
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    name = f"wfengine_call_{digest}_{re.sub(r'[^A-Za-z0-9_]', '_', path.stem)}"
    module = sys.modules.get(name)
    if module is not None:
        return module
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CallImportError(f"file {str(path)!r} cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise CallImportError(
            f"loading {str(path)!r} failed: {type(exc).__name__}: {exc}"
        ) from None
    return module
