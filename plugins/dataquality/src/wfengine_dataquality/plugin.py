"""The wfengine plugin: registers the ``dq.*`` tools and the ``data-quality`` workflow.

Found through the entry point ``dataquality`` in the group ``wfengine``. Importing this
module does not import polars (``wf --help`` stays fast): each tool imports its module on
first call.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from wfengine import hookimpl

from .settings import SETTINGS

#: Tool name -> (module, function, description).
TOOLS = {
    "dq.load": (
        "loading",
        "load",
        "Read a CSV/Parquet/NDJSON/JSON source or rows; types inferred over the whole file",
    ),
    "dq.profile": (
        "profiling",
        "profile",
        "Per-column statistics: type, nulls, distinct, range, quartiles, top values",
    ),
    "dq.detect": (
        "detection",
        "detect",
        "Find violations (acted on) and observations (reported) against a baseline learned once",
    ),
    "dq.generate_rules": (
        "rules",
        "generate_rules",
        "Turn findings into cleaning rules: data you can read, edit and apply again",
    ),
    "dq.apply_rules": (
        "apply",
        "apply_rules",
        "Apply rules; rows that cannot be fixed go to quarantine with a reason",
    ),
    "dq.validate": (
        "validation",
        "validate",
        "Validate mode: check data against a saved rules file; per-rule results and drift",
    ),
    "dq.report": (
        "reporting",
        "report",
        "Write clean data, quarantine, rules.json, report.json and report.md",
    ),
}


#: State keys and parameters of the ``dq.*`` tools that hold file paths (or lists of them):
#: declared at registration, so a server confines every one where the tool opens it. Every
#: string under one of these keys is a path: the generated rules live under ``rule_set``.
PATH_KEYS = (
    "source",
    "output_dir",
    "data_path",
    "quarantine_paths",
    "duplicates_paths",
    "rules_path",
    "rules",
)


def _tool(module: str, name: str) -> Callable[..., dict[str, Any]]:
    """``tool(state, **params)`` running ``wfengine_dataquality.<module>.<name>``."""

    def tool(state: Any, **params: Any) -> dict[str, Any]:
        func = getattr(importlib.import_module(f"{__package__}.{module}"), name)
        result: dict[str, Any] = func(state, **params)
        return result

    tool.__name__ = tool.__qualname__ = name
    tool.__module__ = f"{__package__}.{module}"
    return tool


def _data_quality_pipeline() -> Any:
    from .workflow import create_data_quality_pipeline

    return create_data_quality_pipeline()


@hookimpl
def wfengine_register_tools(registry: Any) -> None:
    """Register the data-quality tools."""
    for tool_name, (module, name, description) in TOOLS.items():
        registry.register(tool_name, _tool(module, name), description, paths=PATH_KEYS)


@hookimpl
def wfengine_register_workflows(registry: Any) -> None:
    """Register the ``data-quality`` workflow with its settings (the state keys it accepts)."""
    registry.register(
        "data-quality",
        _data_quality_pipeline,
        "Profile, detect, clean in rounds (rules, quarantine) and report on a data source",
        settings=SETTINGS,
    )
