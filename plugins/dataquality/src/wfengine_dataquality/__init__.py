"""wfengine-dataquality: data-quality tools and the ``data-quality`` workflow, on polars.

Each tool is ``tool(state, **params) -> dict`` of the keys it changes; see the README.
"""

from __future__ import annotations

from .apply import apply_rules
from .detect import detect
from .errors import DataQualityError
from .load import load
from .profile import profile
from .report import report
from .rules import generate_rules
from .workflow import create_data_quality_pipeline

__version__ = "0.1.0"

__all__ = [
    "DataQualityError",
    "__version__",
    "apply_rules",
    "create_data_quality_pipeline",
    "detect",
    "generate_rules",
    "load",
    "profile",
    "report",
]
