"""Conditions as data: comparisons, combinators, safe expressions and plugin strategies.

An edge's ``when`` is data, never code. :func:`compile_condition` turns it into a predicate
on the state, once, when the graph is loaded; the predicate is a tree of closures called on
every step. The forms:

=============================================  ==============================================
``"anomaly_count > threshold"``                a safe expression over state keys (see below)
``true`` / ``false``                           a constant
``{key: K, op: OP, value: V}``                 compare ``state[K]`` with ``V``; ops ``==``,
                                               ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``in``,
                                               ``not in``. ``value: {ref: OTHER}`` compares
                                               with ``state[OTHER]`` instead of a literal;
                                               ``default: D`` is used when ``K`` is missing
``{all: [c, ...]}``, ``{any: [...]}``          every / some nested condition holds
``{not: c}``                                   the nested condition does not hold
``{expr: "..."}``                              a safe expression (same as a bare string)
``{strategy: NAME, ...}``                      a plugin's strategy:
                                               ``registry.get(NAME)(spec, compile)``
=============================================  ==============================================

Every form, the built-ins too, is a strategy in the :class:`~wfengine.registry.ConditionRegistry`
(registered by :mod:`wfengine.builtins.conditions`), so ``{key: ...}`` is looked up as
``compare``, ``{all: ...}`` as ``all`` and so on.

A key missing from the state is an error at run time, naming the key and the condition's
location (``edges[3].when.all[1]: ...``); give ``compare`` a ``default`` where a key may be
absent.

Expression strings are compiled by :mod:`wfengine.expression`.
"""

from __future__ import annotations

import difflib
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .errors import ConditionError, UnknownNameError
from .expression import (
    Predicate,
    always_false,
    always_true,
    compile_expression,
    contains,
    missing_key,
    not_contains,
)
from .registry import ConditionRegistry

FORMS = ("key", "all", "any", "not", "expr")
"""Mapping keys that select a built-in strategy; ``key`` selects ``compare``."""


class ConditionCompiler:
    """The ``compile`` callable handed to strategy factories.

    ``compile(spec, at)`` compiles a nested condition; ``at`` names its place below this one
    (``"all[1]"``, ``"not"``) so errors say where. :attr:`where` is this condition's location,
    for factories that raise their own :class:`~wfengine.errors.ConditionError`.
    """

    def __init__(self, registry: ConditionRegistry, where: str) -> None:
        self.registry = registry
        self.where = where

    def __call__(self, spec: Any, at: str | int | None = None) -> Predicate:
        return compile_condition(spec, self.registry, where=_join(self.where, at))


def builtin_registry() -> ConditionRegistry:
    """A new registry of the built-in strategies only (for conditions given in code, which
    know no engine). Made afresh each time: no module-level registry to share or reset."""
    registry = ConditionRegistry()
    registry.current_plugin = "wfengine.conditions"
    register_builtin_conditions(registry)
    return registry


def compile_condition(spec: Any, registry: ConditionRegistry, *, where: str = "when") -> Predicate:
    """Compile a condition given as data into ``predicate(state)``.

    ``where`` is the condition's location, used in every error (``edges[3].when``). Raises
    :class:`~wfengine.errors.ConditionError` for a malformed condition or an unknown strategy.
    """
    if isinstance(spec, bool):
        return always_true if spec else always_false
    if isinstance(spec, str):
        name, spec = "expr", {"expr": spec}
    elif isinstance(spec, Mapping):
        name = _strategy_name(spec, where)
    else:
        raise ConditionError(
            f"a condition must be an expression string, true/false or a mapping "
            f"({{key: ..., op: ..., value: ...}}, {{all: [...]}}, {{strategy: ...}}), "
            f"got {type(spec).__name__} {spec!r}",
            where,
        )
    try:
        factory = registry.get(name)
    except UnknownNameError as exc:
        raise ConditionError(str(exc), where) from None
    try:
        return factory(spec, ConditionCompiler(registry, where))
    except ConditionError as exc:
        if exc.where is None:
            raise ConditionError(exc.message, where) from None
        raise
    except (TypeError, ValueError, KeyError) as exc:
        message = f"condition strategy '{name}' rejected the condition: {exc}"
        raise ConditionError(message, where) from exc


def _strategy_name(spec: Mapping[str, Any], where: str) -> str:
    if "strategy" in spec:
        name = spec["strategy"]
        if not isinstance(name, str):
            raise ConditionError(f"strategy must be a name, got {name!r}", where)
        return name
    forms = [form for form in FORMS if form in spec]
    if len(forms) == 1:
        return "compare" if forms[0] == "key" else forms[0]
    if len(forms) > 1:
        raise ConditionError(
            f"a condition mapping has one form, got {', '.join(forms)}; "
            "combine conditions with {all: [...]} or {any: [...]}",
            where,
        )
    keys = ", ".join(map(str, spec)) or "none"
    raise ConditionError(
        f"cannot tell which condition this is (keys: {keys}); expected one of "
        "{key, op, value}, {all}, {any}, {not}, {expr} or {strategy}",
        where,
    )


def _join(where: str, at: str | int | None) -> str:
    if at is None or at == "":
        return where
    if isinstance(at, int) or str(at).startswith("["):
        return f"{where}[{at}]" if isinstance(at, int) else f"{where}{at}"
    return f"{where}.{at}"


def _check_keys(spec: Mapping[str, Any], allowed: Sequence[str], what: str) -> None:
    unknown = [k for k in spec if k not in allowed and k != "strategy"]
    if unknown:
        key = str(unknown[0])
        close = difflib.get_close_matches(key, list(allowed), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f"; expected {', '.join(allowed)}"
        raise ConditionError(f"unknown field '{key}' in a {what} condition{hint}")


# -- compare -------------------------------------------------------------------------------


COMPARE_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "in": contains,
    "not in": not_contains,
}
"""The operators of the ``compare`` strategy."""

_NO_DEFAULT: Any = object()


def compare_factory(spec: Mapping[str, Any], compile: ConditionCompiler) -> Predicate:
    """``{key: K, op: OP, value: V}``: ``state[K] OP V``; ``V`` may be ``{ref: OTHER_KEY}``.

    ``default: D`` stands in for ``state[K]`` when the key is missing (otherwise a missing
    key is an error at run time).
    """
    _check_keys(spec, ("key", "op", "value", "default"), "comparison")
    where = getattr(compile, "where", "when")
    key = spec.get("key")
    if not isinstance(key, str) or not key:
        raise ConditionError(f"'key' must be a state key name, got {key!r}")
    op_name = spec.get("op", "==")
    op = COMPARE_OPS.get(op_name) if isinstance(op_name, str) else None
    if op is None:
        close = difflib.get_close_matches(str(op_name), list(COMPARE_OPS), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ConditionError(
            f"unknown operator {op_name!r}{hint} (expected one of {', '.join(COMPARE_OPS)})"
        )
    if "value" not in spec:
        raise ConditionError(f"comparison of '{key}' has no 'value'")
    value = spec["value"]
    default = spec.get("default", _NO_DEFAULT)
    ref = _ref(value)
    label = f"{key} {op_name} {_show(value)}"

    def fail(exc: Exception) -> ConditionError:
        return ConditionError(f"condition at {where}: {label} failed: {exc}")

    if ref is None:

        def compare_value(state: Mapping[str, Any]) -> Any:
            try:
                left = state[key]
            except KeyError:
                if default is _NO_DEFAULT:
                    raise missing_key(key, where) from None
                left = default
            try:
                return op(left, value)
            except TypeError as exc:
                raise fail(exc) from None

        return compare_value

    def compare_ref(state: Mapping[str, Any]) -> Any:
        try:
            left = state[key]
        except KeyError:
            if default is _NO_DEFAULT:
                raise missing_key(key, where) from None
            left = default
        try:
            right = state[ref]
        except KeyError:
            raise missing_key(ref, where) from None
        try:
            return op(left, right)
        except TypeError as exc:
            raise fail(exc) from None

    return compare_ref


def _ref(value: Any) -> str | None:
    if not isinstance(value, Mapping) or "ref" not in value:
        return None
    if len(value) != 1 or not isinstance(value["ref"], str) or not value["ref"]:
        raise ConditionError(
            f"a reference to another state key is written {{ref: KEY_NAME}}, got {value!r}"
        )
    return str(value["ref"])


def _show(value: Any) -> str:
    ref = _ref(value)
    return f"state[{ref!r}]" if ref is not None else repr(value)


# -- combinators ---------------------------------------------------------------------------


def _nested_list(spec: Mapping[str, Any], form: str) -> list[Any]:
    _check_keys(spec, (form,), f"'{form}'")
    items = spec[form]
    if not isinstance(items, list | tuple):
        raise ConditionError(f"'{form}' takes a list of conditions, got {type(items).__name__}")
    return list(items)


def all_factory(spec: Mapping[str, Any], compile: ConditionCompiler) -> Predicate:
    """``{all: [c, ...]}``: every nested condition holds (an empty list holds)."""
    preds = tuple(compile(c, f"all[{i}]") for i, c in enumerate(_nested_list(spec, "all")))
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        first, second = preds
        return lambda state: bool(first(state) and second(state))

    def all_of(state: Mapping[str, Any]) -> bool:
        for pred in preds:  # noqa: SIM110 - a loop is faster than all() over a generator
            if not pred(state):
                return False
        return True

    return all_of


def any_factory(spec: Mapping[str, Any], compile: ConditionCompiler) -> Predicate:
    """``{any: [c, ...]}``: some nested condition holds (an empty list does not)."""
    preds = tuple(compile(c, f"any[{i}]") for i, c in enumerate(_nested_list(spec, "any")))
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        first, second = preds
        return lambda state: bool(first(state) or second(state))

    def any_of(state: Mapping[str, Any]) -> bool:
        for pred in preds:  # noqa: SIM110 - a loop is faster than any() over a generator
            if pred(state):
                return True
        return False

    return any_of


def not_factory(spec: Mapping[str, Any], compile: ConditionCompiler) -> Predicate:
    """``{not: c}``: the nested condition does not hold."""
    _check_keys(spec, ("not",), "'not'")
    pred = compile(spec["not"], "not")
    return lambda state: not pred(state)


def expr_factory(spec: Mapping[str, Any], compile: ConditionCompiler) -> Predicate:
    """``{expr: "..."}`` (or a bare string): a safe expression over state keys."""
    _check_keys(spec, ("expr",), "'expr'")
    text = spec["expr"]
    if not isinstance(text, str):
        raise ConditionError(f"'expr' must be a string, got {type(text).__name__}")
    return compile_expression(text, where=getattr(compile, "where", "when"))


def register_builtin_conditions(registry: ConditionRegistry) -> None:
    """Register ``compare``, ``all``, ``any``, ``not`` and ``expr`` in ``registry`` (the
    built-in plugin's ``wfengine_register_conditions`` and :func:`builtin_registry`)."""
    registry.register(
        "compare", compare_factory, "{key, op, value}: compare a state key with a value or {ref}"
    )
    registry.register("all", all_factory, "{all: [...]}: every nested condition holds")
    registry.register("any", any_factory, "{any: [...]}: some nested condition holds")
    registry.register("not", not_factory, "{not: c}: the nested condition does not hold")
    registry.register("expr", expr_factory, "a safe expression over state keys")
