"""The wfengine plugin: registers the ``dq.*`` tools and the ``data-quality`` workflow.

Found through the entry point ``dataquality = "wfengine_dataquality.plugin:DataQualityPlugin"``
in the group ``wfengine``: a class, so each engine has an instance of its own, which owns the
frames its tools keep between nodes (:class:`~wfengine_dataquality.io.FrameCache`). Importing
this module does not import polars (``wf --help`` stays fast): each tool imports its module on
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


def _tool(module: str, name: str, owner: DataQualityPlugin) -> Callable[..., dict[str, Any]]:
    """``tool(state, **params)`` running ``wfengine_dataquality.<module>.<name>`` with the
    frame cache of ``owner`` (the engine's plugin instance)."""
    target: list[Callable[..., dict[str, Any]]] = []

    def tool(state: Any, **params: Any) -> dict[str, Any]:
        if not target:
            target.append(getattr(importlib.import_module(f"{__package__}.{module}"), name))
        from .frames import using_cache

        with using_cache(owner.frames):
            return target[0](state, **params)

    tool.__name__ = tool.__qualname__ = name
    tool.__module__ = f"{__package__}.{module}"
    return tool


class DataQualityPlugin:
    """The plugin object: one per engine (the entry point names this class)."""

    def __init__(self) -> None:
        from .frames import FrameCache

        self.frames: FrameCache = FrameCache()
        """The last frames this engine's tools wrote or read (see :mod:`.io`)."""
        self.tools = {
            tool_name: _tool(module, name, self)
            for tool_name, (module, name, _description) in TOOLS.items()
        }
        """Tool name -> the function the engine calls."""

    @hookimpl
    def wfengine_register_tools(self, registry: Any) -> None:
        """Register the data-quality tools."""
        for tool_name, (_module, _name, description) in TOOLS.items():
            registry.register(tool_name, self.tools[tool_name], description, paths=PATH_KEYS)

    @hookimpl
    def wfengine_register_workflows(self, registry: Any) -> None:
        """Register the ``data-quality`` workflow with its settings (the state keys it
        accepts)."""
        registry.register(
            "data-quality",
            self._data_quality_pipeline,
            "Profile, detect, clean in rounds (rules, quarantine) and report on a data source",
            settings=SETTINGS,
        )

    def _data_quality_pipeline(self) -> Any:
        from .workflow import create_data_quality_pipeline

        return create_data_quality_pipeline(self.frames)
