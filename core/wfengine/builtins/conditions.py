"""The built-in condition strategies, registered through the same hook as plugins' ones.

``compare`` (``{key, op, value}``), ``all``, ``any``, ``not`` and ``expr`` (safe expression
strings); see :mod:`wfengine.conditions` for the forms.
"""

from __future__ import annotations

from ..conditions import all_factory, any_factory, compare_factory, expr_factory, not_factory
from ..markers import hookimpl
from ..registry import ConditionRegistry


@hookimpl
def wfengine_register_conditions(registry: ConditionRegistry) -> None:
    """Register ``compare``, ``all``, ``any``, ``not`` and ``expr``."""
    registry.register(
        "compare", compare_factory, "{key, op, value}: compare a state key with a value or {ref}"
    )
    registry.register("all", all_factory, "{all: [...]}: every nested condition holds")
    registry.register("any", any_factory, "{any: [...]}: some nested condition holds")
    registry.register("not", not_factory, "{not: c}: the nested condition does not hold")
    registry.register("expr", expr_factory, "a safe expression over state keys")
