"""Conditions as data: comparisons, combinators, strategies and the safe expression language."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import pytest
from wfengine.builtins.conditions import wfengine_register_conditions
from wfengine.conditions import ConditionCompiler, compile_condition
from wfengine.errors import ConditionError, SpecError
from wfengine.expression import MAX_EXPRESSION_LENGTH, compile_expression
from wfengine.registry import ConditionRegistry

STATE: dict[str, Any] = {
    "a": 5,
    "b": 3,
    "name": "ada",
    "tags": ["x", "y"],
    "counts": {"ok": 2, "bad": 0},
    "rows": [[1, 2], [3, 4]],
    "nothing": None,
    "flag": True,
    "ratio": 0.5,
}


@pytest.fixture
def registry() -> ConditionRegistry:
    reg = ConditionRegistry()
    wfengine_register_conditions(reg)
    return reg


def check(spec: Any, registry: ConditionRegistry, state: Mapping[str, Any] = STATE) -> Any:
    return compile_condition(spec, registry, where="edges[3].when")(state)


def refused(spec: Any, registry: ConditionRegistry, state: Mapping[str, Any] = STATE) -> str:
    with pytest.raises(ConditionError) as info:
        check(spec, registry, state)
    return str(info.value)


# -- constants and dispatch ----------------------------------------------------------------


def test_bool_constants(registry: ConditionRegistry) -> None:
    assert check(True, registry) is True
    assert check(False, registry) is False


def test_builtins_are_registered_strategies(registry: ConditionRegistry) -> None:
    assert registry.names() == ["all", "any", "compare", "expr", "not"]
    assert all(entry.description for entry in registry.entries())


@pytest.mark.parametrize("bad", [1, None, [True], 2.5])
def test_condition_of_wrong_type_is_refused(bad: Any, registry: ConditionRegistry) -> None:
    message = refused(bad, registry)
    assert message.startswith("edges[3].when: a condition must be")


def test_unrecognised_mapping_is_refused(registry: ConditionRegistry) -> None:
    message = refused({"kye": "a"}, registry)
    assert "cannot tell which condition this is (keys: kye)" in message


def test_mapping_with_two_forms_is_refused(registry: ConditionRegistry) -> None:
    message = refused({"all": [], "any": []}, registry)
    assert "one form, got all, any" in message


# -- compare -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("==", 5, True),
        ("==", 4, False),
        ("!=", 4, True),
        ("<", 6, True),
        ("<", 5, False),
        ("<=", 5, True),
        (">", 4, True),
        (">", 5, False),
        (">=", 5, True),
        ("in", [1, 5], True),
        ("in", [1, 2], False),
        ("not in", [1, 2], True),
        ("not in", [5], False),
    ],
)
def test_compare_operators(
    op: str, value: Any, expected: bool, registry: ConditionRegistry
) -> None:
    assert check({"key": "a", "op": op, "value": value}, registry) is expected


def test_compare_op_defaults_to_equality(registry: ConditionRegistry) -> None:
    assert check({"key": "name", "value": "ada"}, registry) is True


def test_compare_in_string_and_key_in_list(registry: ConditionRegistry) -> None:
    assert check({"key": "name", "op": "in", "value": "a bad adage"}, registry) is True
    assert check({"key": "tags", "op": "==", "value": ["x", "y"]}, registry) is True


def test_compare_with_ref_reads_another_key(registry: ConditionRegistry) -> None:
    assert check({"key": "a", "op": ">", "value": {"ref": "b"}}, registry) is True
    assert check({"key": "b", "op": ">", "value": {"ref": "a"}}, registry) is False
    assert check({"key": "a", "op": "in", "value": {"ref": "tags"}}, registry) is False


def test_compare_missing_key_names_it_at_run_time(registry: ConditionRegistry) -> None:
    predicate = compile_condition({"key": "zz", "op": ">", "value": 1}, registry, where="w")
    with pytest.raises(ConditionError) as info:
        predicate(STATE)
    assert str(info.value) == "condition at w: state has no key 'zz'"
    assert info.value.where == "w"


def test_compare_missing_ref_names_it(registry: ConditionRegistry) -> None:
    message = refused({"key": "a", "op": ">", "value": {"ref": "limit"}}, registry)
    assert message == "condition at edges[3].when: state has no key 'limit'"


def test_compare_default_stands_in_for_a_missing_key(registry: ConditionRegistry) -> None:
    assert check({"key": "zz", "op": "<", "value": 1, "default": 0}, registry) is True


def test_compare_type_error_is_a_condition_error(registry: ConditionRegistry) -> None:
    message = refused({"key": "name", "op": "<", "value": 1}, registry)
    assert message.startswith("condition at edges[3].when: name < 1 failed:")


def test_compare_unknown_operator_suggests(registry: ConditionRegistry) -> None:
    message = refused({"key": "a", "op": "=>", "value": 1}, registry)
    assert message.startswith("edges[3].when: unknown operator '=>'; did you mean '>'?")


@pytest.mark.parametrize(
    ("spec", "text"),
    [
        ({"key": "a", "op": ">"}, "comparison of 'a' has no 'value'"),
        ({"key": 3, "op": ">", "value": 1}, "'key' must be a state key name, got 3"),
        ({"key": "a", "op": ">", "vaule": 1}, "unknown field 'vaule' in a comparison"),
        ({"key": "a", "value": {"ref": 1}}, "a reference to another state key is written"),
        ({"key": "a", "value": {"ref": "b", "x": 1}}, "is written {ref: KEY_NAME}"),
    ],
)
def test_compare_malformed(spec: Any, text: str, registry: ConditionRegistry) -> None:
    message = refused(spec, registry)
    assert message.startswith("edges[3].when: ")
    assert text in message


def test_compare_literal_mapping_value(registry: ConditionRegistry) -> None:
    assert check({"key": "counts", "value": {"ok": 2, "bad": 0}}, registry) is True


# -- combinators ---------------------------------------------------------------------------

GT = {"key": "a", "op": ">", "value": 1}
LT = {"key": "a", "op": "<", "value": 1}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"all": [GT, "b == 3"]}, True),
        ({"all": [GT, LT]}, False),
        ({"all": [GT, True, "b > 0"]}, True),
        ({"all": [GT, True, "b > 9"]}, False),
        ({"all": [GT]}, True),
        ({"all": []}, True),
        ({"any": [LT, GT]}, True),
        ({"any": [LT, False]}, False),
        ({"any": [LT, False, "b == 3"]}, True),
        ({"any": [LT, False, "b == 4"]}, False),
        ({"any": []}, False),
        ({"not": LT}, True),
        ({"not": {"not": LT}}, False),
        ({"all": [{"any": [LT, {"not": LT}]}, {"expr": "a == 5"}]}, True),
    ],
)
def test_combinators(spec: Any, expected: bool, registry: ConditionRegistry) -> None:
    assert check(spec, registry) is expected


def test_combinators_short_circuit(registry: ConditionRegistry) -> None:
    # the second condition would fail (missing key) if it ran
    assert check({"any": [GT, "missing > 1"]}, registry) is True
    assert check({"all": [LT, "missing > 1"]}, registry) is False


def test_nested_error_says_where(registry: ConditionRegistry) -> None:
    message = refused({"all": [GT, {"any": [LT, {"key": "a", "op": "~"}]}]}, registry)
    assert message.startswith("edges[3].when.all[1].any[1]: unknown operator '~'")
    message = refused({"all": [GT, {"not": "missing > 1"}]}, registry)
    assert message == "condition at edges[3].when.all[1].not: state has no key 'missing'"


def test_combinator_needs_a_list(registry: ConditionRegistry) -> None:
    message = refused({"all": GT}, registry)
    assert message == "edges[3].when: 'all' takes a list of conditions, got dict"


# -- strategies ----------------------------------------------------------------------------


def threshold_factory(spec: Mapping[str, Any], compile: ConditionCompiler) -> Any:
    """``{strategy: thresh, key: K, min: N, then: c}``: ``state[K] >= N`` and ``then``."""
    key, minimum = spec["key"], spec["min"]
    then = compile(spec.get("then", True), "then")
    return lambda state: state[key] >= minimum and then(state)


def test_plugin_strategy_by_name(registry: ConditionRegistry) -> None:
    registry.register("thresh", threshold_factory)
    assert check({"strategy": "thresh", "key": "a", "min": 5}, registry) is True
    assert check({"strategy": "thresh", "key": "a", "min": 6}, registry) is False
    assert check({"strategy": "thresh", "key": "a", "min": 5, "then": "b > 3"}, registry) is False


def test_plugin_strategy_nested_errors_say_where(registry: ConditionRegistry) -> None:
    registry.register("thresh", threshold_factory)
    message = refused({"strategy": "thresh", "key": "a", "min": 5, "then": "a."}, registry)
    assert message.startswith("edges[3].when.then: invalid expression 'a.'")


def test_plugin_strategy_errors_are_wrapped(registry: ConditionRegistry) -> None:
    registry.register("thresh", threshold_factory)
    message = refused({"strategy": "thresh", "key": "a"}, registry)
    assert message.startswith("edges[3].when: condition strategy 'thresh' rejected the condition")


def test_unknown_strategy_suggests_close_names(registry: ConditionRegistry) -> None:
    registry.register("thresh", threshold_factory)
    message = refused({"strategy": "tresh"}, registry)
    assert message == "edges[3].when: unknown condition strategy 'tresh'; did you mean 'thresh'?"


def test_builtin_strategy_by_explicit_name(registry: ConditionRegistry) -> None:
    assert check({"strategy": "compare", "key": "a", "value": 5}, registry) is True
    assert check({"strategy": "expr", "expr": "a == 5"}, registry) is True


def test_strategy_name_must_be_a_string(registry: ConditionRegistry) -> None:
    assert "strategy must be a name" in refused({"strategy": 3}, registry)


def test_empty_registry_names_the_missing_builtin() -> None:
    message = refused("a > 1", ConditionRegistry())
    assert message == "edges[3].when: unknown condition strategy 'expr' (known: none)"


# -- the safe expression language ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a == 5", True),
        ("a != 5", False),
        ("a < 6 and a <= 5 and a > 4 and a >= 5", True),
        ("0 < b < a < 10", True),
        ("0 < a < b", False),
        ("1 < 2 < 3", True),
        ("'x' in tags", True),
        ("'z' not in tags", True),
        ("name in ['ada', 'bob']", True),
        ("a in (1, 2)", False),
        ("nothing is None", True),
        ("a is not None", True),
        ("flag is True", True),
        ("a > 1 or missing", True),
        ("not a > 1", False),
        ("not (a > 1 and b > 5)", True),
        ("a + b == 8", True),
        ("a - b == 2", True),
        ("a * b == 15", True),
        ("a / 2 == 2.5", True),
        ("a // 2 == 2", True),
        ("a % 2 == 1", True),
        ("a ** 2 == 25", True),
        ("-a == -5", True),
        ("+a == 5", True),
        ("-(a - 10) == 5", True),
        ("2 ** 10 == 1024", True),
        ("counts['ok'] == 2", True),
        ('counts["bad"] > 0', False),
        ("rows[1][0] == 3", True),
        ("rows[-1] == [3, 4]", True),
        ("tags == ['x', 'y']", True),
        ("ratio < 1.0", True),
        ("name + '!' == 'ada!'", True),
        ("'ab' * 3 == 'ababab'", True),
        ("True", True),
        ("None", False),
        ("a", True),
        ("counts['bad']", False),
        ("a > 1 and b > 1 and ratio > 0 and flag", True),
        ("a < 1 or b < 1 or ratio < 0 or flag", True),
        ("a < 1 or b < 1 or ratio < 0", False),
    ],
)
def test_expression_operators(text: str, expected: bool, registry: ConditionRegistry) -> None:
    assert check(text, registry) is expected
    assert check({"expr": text}, registry) is expected


def test_expression_returns_bool(registry: ConditionRegistry) -> None:
    assert check("a and name", registry) is True
    assert check("a - 5", registry) is False


def test_expression_missing_key_names_it(registry: ConditionRegistry) -> None:
    message = refused("a > 1 and limit > 2", registry)
    assert message == "condition at edges[3].when: state has no key 'limit'"


def test_expression_missing_subscript_names_it(registry: ConditionRegistry) -> None:
    message = refused("counts['warn'] > 0", registry)
    assert message == "condition at edges[3].when: counts['warn'] does not exist in the state"
    message = refused("rows[5][0] > 0", registry)
    assert message == "condition at edges[3].when: rows[5] does not exist in the state"


def test_expression_run_time_failures_are_condition_errors(registry: ConditionRegistry) -> None:
    message = refused("a / (b - 3) > 1", registry)
    assert message.startswith("condition at edges[3].when: evaluating 'a / (b - 3) > 1' failed:")
    assert "division by zero" in message
    assert "failed: '<' not supported" in refused("name < 1", registry)
    assert "cannot subscript a[0]" in refused("a[0] == 1", registry)


def test_expression_constant_errors_are_found_when_compiled(registry: ConditionRegistry) -> None:
    message = refused("1 / 0 > a", registry)
    assert message.startswith("edges[3].when: expression '1 / 0 > a': cannot be computed")


def test_expression_is_compiled_once_into_closures(registry: ConditionRegistry) -> None:
    predicate = compile_expression("a > 1 and counts['ok'] == 2 and 0 < b < 10")
    start = time.perf_counter()
    for _ in range(20_000):
        predicate(STATE)
    assert time.perf_counter() - start < 2.0  # far below; an AST re-walk per call is slower


def test_constant_expression_folds(registry: ConditionRegistry) -> None:
    predicate = compile_condition("2 * 3 == 6", registry)
    assert predicate({}) is True


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("__import__('os')", "function calls are not allowed"),
        ("().__class__.__bases__[0].__subclasses__()", "function calls are not allowed"),
        ("(lambda: 1)()", "function calls are not allowed"),
        ("lambda: 1", "lambda is not allowed"),
        ("[x for x in ()]", "comprehensions are not allowed"),
        ("{x: 1 for x in ()}", "comprehensions are not allowed"),
        ("any(x for x in tags)", "function calls are not allowed"),
        ("(x for x in tags)", "generator expressions are not allowed"),
        ("open('f')", "function calls are not allowed"),
        ("getattr(x, 'y')", "function calls are not allowed"),
        ("eval('1')", "function calls are not allowed"),
        ("x.__class__", "attribute access is not allowed"),
        ("name.upper", "attribute access is not allowed"),
        ('f"{x}"', "f-strings are not allowed"),
        ("(y := 1)", "assignment expressions (:=) are not allowed"),
        ("[*tags]", "starred expressions (*x) are not allowed"),
        ("a if b else 0", "conditional expressions (x if c else y) are not allowed"),
        ("{'a': 1} == counts", "dict displays are not allowed"),
        ("a in {1, 2}", "set displays are not allowed"),
        ("__builtins__", "dunder names are not allowed: __builtins__"),
        ("state['__dict__']", "dunder keys are not allowed: '__dict__'"),
        ("counts['__class__'] == 1", "dunder keys are not allowed: '__class__'"),
        ("rows[1:2]", "slicing is not allowed"),
        ("rows[a]", "a subscript must be a literal string or integer"),
        ("rows[1.5]", "a subscript must be a literal string or integer"),
        ("'abc'[0] == 'a'", "only state keys can be subscripted"),
        ("a is b", "'is' compares only with None, True or False"),
        ("a & 1", "the operator & is not allowed"),
        ("a << 2", "the operator << is not allowed"),
        ("~a", "the operator ~ is not allowed"),
        ("b'x' == a", "bytes literals are not allowed"),
        ("1j == a", "complex literals are not allowed"),
        ("... == a", "ellipsis literals are not allowed"),
        ("[a, b] == tags", "lists and tuples may hold only literals"),
        ("9**9**9", "exponent 387420489 is too large (limit 1000)"),
        ("10 ** 1000 ** 2", "is too large"),
        ("1000 ** 900 > a", "1000 ** 900 is too large (over 8192 bits)"),
        ("'x' * 100000 == name", "repeating a sequence 100000 times is too large"),
        ("a +", "invalid expression 'a +' at the end: invalid syntax"),
        ("a b", "invalid expression 'a b' at column 3: invalid syntax"),
        ("", "expression is empty"),
    ],
)
def test_expression_refusals(text: str, reason: str, registry: ConditionRegistry) -> None:
    message = refused(text, registry)
    assert message.startswith("edges[3].when: "), message
    assert reason in message, message


def test_expression_length_is_capped(registry: ConditionRegistry) -> None:
    text = " or ".join(["a > 1"] * 2000)  # 10,000+ characters
    message = refused(text, registry)
    assert f"the limit is {MAX_EXPRESSION_LENGTH}" in message
    assert f"expression is {len(text)} characters long" in message


def test_expression_node_count_is_capped(registry: ConditionRegistry) -> None:
    text = "+".join(["a"] * 200)  # 399 characters, but about 400 syntax nodes
    assert len(text) <= MAX_EXPRESSION_LENGTH
    assert "syntax nodes; the limit is 200" in refused(text, registry)


def test_huge_exponent_from_the_state_is_refused_at_run_time(registry: ConditionRegistry) -> None:
    message = refused("a ** n > 1", registry, {"a": 10, "n": 10**9})
    assert message.startswith("condition at edges[3].when: evaluating 'a ** n > 1' failed:")
    assert "too large" in message
    huge = refused("a ** 2 > 1", registry, {"a": 10**5000})
    assert "<an integer of about 5000 digits>" in huge  # never prints the digits


def test_exponent_of_one_and_small_numbers_are_fine(registry: ConditionRegistry) -> None:
    assert check("1 ** n == 1", registry, {"n": 10**9}) is True
    assert check("2 ** -2 == 0.25", registry) is True
    assert check("ratio ** 3 < 1", registry) is True


def test_condition_error_is_a_spec_error(registry: ConditionRegistry) -> None:
    with pytest.raises(SpecError):
        compile_condition("a.b", registry)
