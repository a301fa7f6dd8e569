"""The built-in condition strategies, registered through the same hook as plugins' ones.

``compare`` (``{key, op, value}``), ``all``, ``any``, ``not`` and ``expr`` (safe expression
strings); see :mod:`wfengine.conditions` for the forms.
"""

from __future__ import annotations

from ..conditions import register_builtin_conditions
from ..markers import hookimpl
from ..registry import ConditionRegistry


@hookimpl
def wfengine_register_conditions(registry: ConditionRegistry) -> None:
    """Register ``compare``, ``all``, ``any``, ``not`` and ``expr``."""
    register_builtin_conditions(registry)
