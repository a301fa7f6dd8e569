"""wfengine-dataquality: data-quality tools and the ``data-quality`` workflow, on polars.

Each tool is ``tool(state, **params) -> dict`` of the keys it changes; see the README.
The names below are imported on first use, so importing the package (as the plugin
entry point does) does not import polars.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import DataQualityError

__version__ = "0.1.0"

_LAZY = {
    "apply_rules": "apply",
    "detect": "detection",
    "generate_rules": "rules",
    "load": "loading",
    "profile": "profiling",
    "report": "reporting",
    "validate": "validation",
    "create_data_quality_pipeline": "workflow",
}

__all__ = ["DataQualityError", "__version__", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
