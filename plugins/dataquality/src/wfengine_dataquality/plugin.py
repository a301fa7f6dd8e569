"""The wfengine plugin: registers the ``dq.*`` tools and the ``data-quality`` workflow.

Found through the entry point ``dataquality`` in the group ``wfengine``.
"""

from __future__ import annotations

from typing import Any

from wfengine import hookimpl

from .apply import apply_rules
from .detect import detect
from .load import load
from .profile import profile
from .report import report
from .rules import generate_rules
from .workflow import NAME, create_data_quality_pipeline

TOOLS = {
    "dq.load": (load, "Read a CSV/Parquet/NDJSON/JSON source or rows; types over the whole file"),
    "dq.profile": (profile, "Per-column statistics: type, nulls, distinct, range, top values"),
    "dq.detect": (detect, "Find nulls, duplicates, outliers, malformed and unexpected values"),
    "dq.generate_rules": (generate_rules, "Turn findings into editable cleaning rules (data)"),
    "dq.apply_rules": (apply_rules, "Apply rules; unfixable rows go to quarantine with a reason"),
    "dq.report": (report, "Write clean data, quarantine, report.json and report.md"),
}


@hookimpl
def wfengine_register_tools(registry: Any) -> None:
    """Register the data-quality tools."""
    for name, (func, description) in TOOLS.items():
        registry.register(name, func, description)


@hookimpl
def wfengine_register_workflows(registry: Any) -> None:
    """Register the ``data-quality`` workflow."""
    registry.register(
        NAME,
        create_data_quality_pipeline,
        "Profile, detect, clean in rounds (rules, quarantine) and report on a data source",
    )
