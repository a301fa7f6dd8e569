"""Hardening F2: no expression can take unbounded time or memory, formatting included."""

from __future__ import annotations

import time
import tracemalloc
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wfengine.errors import ConditionError
from wfengine.expression import compile_expression

TIME_BOUND_S = 1.0
MEMORY_BOUND = 64 * 2**20


def bounded(text: str, state: dict[str, Any]) -> None:
    """Compile and evaluate ``text``; any refusal is fine, anything slow or big is not."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        try:
            compile_expression(text)(state)
        except (ConditionError, RecursionError):
            pass
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < TIME_BOUND_S, f"{text!r} took {elapsed:.2f} s"
    assert peak < MEMORY_BOUND, f"{text!r} allocated {peak / 2**20:.0f} MiB"


@pytest.mark.parametrize(
    "text",
    [
        "'%.999999999f' % 1.0 == ''",
        "'%0999999999d' % 1 == ''",
        "'%s' % 1 == '1'",
        "fmt % n == ''",
        "n % fmt == ''",
    ],
)
def test_percent_formatting_is_refused(text: str) -> None:
    start = time.perf_counter()
    with pytest.raises(ConditionError, match="string formatting is not allowed"):
        compile_expression(text)({"fmt": "%.999999999f", "n": 1.0})
    assert time.perf_counter() - start < TIME_BOUND_S


def test_remainder_of_numbers_still_works() -> None:
    assert compile_expression("n % 3 == 1")({"n": 7})
    assert compile_expression("x % 2.5 == 0.5")({"x": 3.0})


def test_concatenation_is_bounded() -> None:
    state = {"s": "x" * 600_000, "l": [0] * 600_000}
    for text in ("s + s == ''", "l + l == []", "s + s + s + s == ''"):
        with pytest.raises(ConditionError, match="too large"):
            compile_expression(text)(state)
    assert compile_expression("s + 'y' != ''")(state)


_numbers = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([0, 1, -1, 2, 10**9, 999999999, 1e308, 1e-308, 0.5]),
)
_strings = st.sampled_from(
    ["''", "'x'", "'%.999999999f'", "'%0999999999d'", "'%s%s'", "'ab' * 3", "'%'"]
)
_leaves = st.one_of(
    _numbers.map(repr),
    _strings,
    st.sampled_from(["n", "s", "fmt", "l", "big", "[1, 2]", "(1,)", "True", "None"]),
)
_ops = st.sampled_from(["+", "-", "*", "/", "//", "%", "**", "<", "==", "and", "or", "in"])


@st.composite
def expressions(draw: Any, depth: int = 0) -> str:
    if depth >= 4 or draw(st.booleans()):
        return str(draw(_leaves))
    left = draw(expressions(depth + 1))
    right = draw(expressions(depth + 1))
    unary = draw(st.sampled_from(["", "-", "not "]))
    return f"{unary}({left} {draw(_ops)} {right})"


STATE = {"n": 10**9, "s": "y" * 50_000, "fmt": "%.999999999f", "l": [1] * 5_000, "big": 10**300}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions())
def test_any_expression_is_bounded_in_time_and_memory(text: str) -> None:
    bounded(text, STATE)
