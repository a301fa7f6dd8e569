"""The safe expression language of conditions: ``"anomaly_count > threshold and round < 3"``.

Allowed: literals (numbers, strings, ``True``/``False``/``None``, lists and tuples of
literals); bare names, which are state keys; subscripts of a state key by a literal
(``counts['a']``, ``rows[0]``, ``rows[-1]``, ``m['a']['b']``); comparisons, chained too
(``0 <= x < 10``), ``in``, ``not in``, and ``is`` / ``is not`` against ``None``, ``True`` or
``False``; ``and``, ``or``, ``not``; arithmetic ``+ - * / // % **`` and unary ``-``/``+``.

Refused, with an error naming what: calls, attribute access, lambdas, comprehensions,
f-strings, ``:=``, starred expressions, conditional expressions, dict and set displays,
bitwise operators, dunder names and dunder subscript keys, and slicing (``rows[1:3]``:
a condition tests values; a node can compute a derived key). Expressions are capped at
:data:`MAX_EXPRESSION_LENGTH` characters and :data:`MAX_EXPRESSION_NODES` syntax nodes;
``**`` refuses exponents that would build huge numbers and ``*`` refuses to build huge
strings or lists.

The expression is parsed once with :func:`ast.parse`, the whole tree is checked against an
allow-list, and it is compiled into nested closures; ``eval``/``exec``/``compile`` are never
used. Literal sub-expressions are folded when compiled.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from typing import Any

from .errors import ConditionError

Predicate = Callable[[Mapping[str, Any]], Any]
"""A compiled condition: ``predicate(state)`` is truthy when the condition holds."""

MAX_EXPRESSION_LENGTH = 500
"""Longest expression string accepted, in characters."""

MAX_EXPRESSION_NODES = 200
"""Most syntax-tree nodes an expression may have."""

MAX_EXPONENT = 1000
"""Largest exponent ``**`` accepts (for bases other than 0, 1 and -1)."""

MAX_INT_BITS = 8192
"""Largest integer ``**`` may build, in bits."""

MAX_SEQUENCE_REPEAT = 10_000
"""Longest string or list that ``*`` may build, in items."""

MAX_CONCAT_ITEMS = 1_000_000
"""Longest string or list that ``+`` may build, in items."""


def missing_key(key: str, where: str) -> ConditionError:
    """The run-time error for a condition reading a key the state does not have."""
    error = ConditionError(f"condition at {where}: state has no key {key!r}")
    error.where = where
    return error


def always_true(state: Mapping[str, Any]) -> bool:
    """The constant condition ``true``."""
    return True


def always_false(state: Mapping[str, Any]) -> bool:
    """The constant condition ``false``."""
    return False


def contains(a: Any, b: Any) -> bool:
    """``a in b`` (the operator module has it the other way round)."""
    return a in b


def not_contains(a: Any, b: Any) -> bool:
    """``a not in b``."""
    return a not in b


_BIN_OPS: dict[type[ast.operator], tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Add: ("+", operator.add),
    ast.Sub: ("-", operator.sub),
    ast.Mult: ("*", operator.mul),
    ast.Div: ("/", operator.truediv),
    ast.FloorDiv: ("//", operator.floordiv),
    ast.Mod: ("%", operator.mod),
    ast.Pow: ("**", operator.pow),
}

_CMP_OPS: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: contains,
    ast.NotIn: not_contains,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}

_REFUSED: dict[type[ast.AST], str] = {
    ast.Call: "function calls are not allowed",
    ast.Attribute: "attribute access is not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "generator expressions are not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.FormattedValue: "f-strings are not allowed",
    ast.NamedExpr: "assignment expressions (:=) are not allowed",
    ast.Starred: "starred expressions (*x) are not allowed",
    ast.IfExp: "conditional expressions (x if c else y) are not allowed",
    ast.Dict: "dict displays are not allowed",
    ast.Set: "set displays are not allowed",
    ast.Slice: "slicing is not allowed",
    ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
}

_BITWISE = {
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.Invert: "~",
    ast.MatMult: "@",
}

_LITERAL_TYPES = (int, float, str, bool, type(None))


class _Literal:
    """A compile-time constant (folded literals), so operators can specialise on it."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


_Code = _Literal | Callable[[Mapping[str, Any]], Any]


class _Refused(Exception):
    """Raised while compiling; turned into a ConditionError that quotes the expression."""

    def __init__(self, message: str, node: ast.AST | None = None) -> None:
        super().__init__(message)
        self.node = node


def compile_expression(text: str, *, where: str = "when") -> Predicate:
    """Compile a safe expression string into ``predicate(state) -> bool``.

    Raises :class:`~wfengine.errors.ConditionError` naming what was refused; at run time, a
    missing state key or an operation that fails (``1 / 0``, ``"a" < 1``) raises one too.
    """
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ConditionError(
            f"expression is {len(text)} characters long; the limit is {MAX_EXPRESSION_LENGTH}",
            where,
        )
    if not text.strip():
        raise ConditionError("expression is empty", where)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        col = f" at column {exc.offset}" if exc.offset else " at the end"
        raise ConditionError(f"invalid expression {text!r}{col}: {exc.msg}", where) from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise ConditionError(f"expression {text!r} cannot be parsed: {exc}", where) from None
    count = sum(1 for _ in ast.walk(tree))
    if count > MAX_EXPRESSION_NODES:
        raise ConditionError(
            f"expression has {count} syntax nodes; the limit is {MAX_EXPRESSION_NODES}", where
        )
    compiler = _ExpressionCompiler(text.strip(), where)
    try:
        code = compiler.compile(tree.body)
    except _Refused as exc:
        raise ConditionError(compiler.describe(exc), where) from None
    except RecursionError:
        raise ConditionError(f"expression {text!r} is nested too deeply", where) from None
    if isinstance(code, _Literal):
        return always_true if code.value else always_false
    return _guard(code, text.strip(), where)


def _guard(code: Callable[[Mapping[str, Any]], Any], text: str, where: str) -> Predicate:
    """The top-level predicate: a bool, with run-time failures reported as ConditionError."""

    def predicate(state: Mapping[str, Any]) -> bool:
        try:
            return bool(code(state))
        except ConditionError:
            raise
        except (_Refused, TypeError, ValueError, ArithmeticError) as exc:
            raise ConditionError(
                f"condition at {where}: evaluating {text!r} failed: {exc}"
            ) from None

    predicate.__qualname__ = f"expr[{text}]"
    return predicate


class _ExpressionCompiler:
    """Checks each node against the allow-list and builds its closure, in one walk."""

    def __init__(self, text: str, where: str) -> None:
        self.text = text
        self.where = where

    def describe(self, exc: _Refused) -> str:
        snippet = ""
        if exc.node is not None:
            segment = ast.get_source_segment(self.text, exc.node)
            if segment and segment != self.text:
                snippet = f" ({segment!r})"
        return f"expression {self.text!r}: {exc}{snippet}"

    def compile(self, node: ast.AST) -> _Code:
        kind = type(node)
        if kind in _REFUSED:
            raise _Refused(_REFUSED[kind], node)
        method = getattr(self, f"_{kind.__name__}", None)
        if method is None:
            raise _Refused(f"{kind.__name__} is not allowed", node)
        return method(node)  # type: ignore[no-any-return]

    def func(self, node: ast.AST) -> Callable[[Mapping[str, Any]], Any]:
        return _as_func(self.compile(node))

    # literals

    def _Constant(self, node: ast.Constant) -> _Code:
        if not isinstance(node.value, _LITERAL_TYPES):
            raise _Refused(f"{type(node.value).__name__} literals are not allowed", node)
        return _Literal(node.value)

    def _List(self, node: ast.List) -> _Code:
        return _Literal(list(self._literal_items(node)))

    def _Tuple(self, node: ast.Tuple) -> _Code:
        return _Literal(tuple(self._literal_items(node)))

    def _literal_items(self, node: ast.List | ast.Tuple) -> list[Any]:
        items = []
        for element in node.elts:
            code = self.compile(element)
            if not isinstance(code, _Literal):
                raise _Refused("lists and tuples may hold only literals", element)
            items.append(code.value)
        return items

    # state keys

    def _Name(self, node: ast.Name) -> _Code:
        key = node.id
        if key.startswith("__"):
            raise _Refused(f"dunder names are not allowed: {key}", node)
        where = self.where

        def load(state: Mapping[str, Any]) -> Any:
            try:
                return state[key]
            except KeyError:
                raise missing_key(key, where) from None

        return load

    def _Subscript(self, node: ast.Subscript) -> _Code:
        if not isinstance(node.value, ast.Name | ast.Subscript):
            raise _Refused("only state keys can be subscripted (counts['a'], rows[0])", node)
        if isinstance(node.slice, ast.Slice):
            raise _Refused("slicing is not allowed; subscript with one literal key or index", node)
        index = self.compile(node.slice)
        if not isinstance(index, _Literal) or not isinstance(index.value, str | int):
            raise _Refused("a subscript must be a literal string or integer", node.slice)
        if isinstance(index.value, str) and index.value.startswith("__"):
            raise _Refused(f"dunder keys are not allowed: {index.value!r}", node)
        container = self.func(node.value)
        item = index.value
        label = ast.get_source_segment(self.text, node) or "subscript"
        where = self.where

        def subscript(state: Mapping[str, Any]) -> Any:
            value = container(state)
            try:
                return value[item]
            except (KeyError, IndexError):
                raise ConditionError(
                    f"condition at {where}: {label} does not exist in the state"
                ) from None
            except TypeError as exc:
                raise ConditionError(
                    f"condition at {where}: cannot subscript {label}: {exc}"
                ) from None

        return subscript

    # operators

    def _UnaryOp(self, node: ast.UnaryOp) -> _Code:
        op: Callable[[Any], Any]
        if isinstance(node.op, ast.Not):
            op = operator.not_
        elif isinstance(node.op, ast.USub):
            op = operator.neg
        elif isinstance(node.op, ast.UAdd):
            op = operator.pos
        else:
            raise _Refused(f"the operator {_BITWISE.get(type(node.op), '?')} is not allowed", node)
        operand = self.compile(node.operand)
        if isinstance(operand, _Literal):
            return _Literal(self._fold(op, operand.value, node=node))
        return lambda state: op(operand(state))

    def _BinOp(self, node: ast.BinOp) -> _Code:
        entry = _BIN_OPS.get(type(node.op))
        if entry is None:
            raise _Refused(f"the operator {_BITWISE.get(type(node.op), '?')} is not allowed", node)
        symbol, op = entry
        if symbol == "**":
            op = _safe_pow
        elif symbol == "*":
            op = _safe_mul
        elif symbol == "+":
            op = _safe_add
        elif symbol == "%":
            op = _safe_mod
        left = self.compile(node.left)
        right = self.compile(node.right)
        if isinstance(left, _Literal) and isinstance(right, _Literal):
            return _Literal(self._fold(op, left.value, right.value, node=node))
        left_f = _as_func(left)
        if isinstance(right, _Literal):
            value = right.value
            return lambda state: op(left_f(state), value)
        return lambda state: op(left_f(state), right(state))

    def _fold(self, op: Callable[..., Any], *args: Any, node: ast.AST) -> Any:
        try:
            return op(*args)
        except _Refused as exc:
            exc.node = node
            raise
        except (TypeError, ValueError, ArithmeticError) as exc:
            raise _Refused(f"cannot be computed: {exc}", node) from None

    def _BoolOp(self, node: ast.BoolOp) -> _Code:
        funcs = tuple(self.func(v) for v in node.values)
        if isinstance(node.op, ast.And):
            if len(funcs) == 2:
                a, b = funcs
                return lambda state: a(state) and b(state)

            def and_(state: Mapping[str, Any]) -> Any:
                value: Any = True
                for f in funcs:
                    value = f(state)
                    if not value:
                        return value
                return value

            return and_
        if len(funcs) == 2:
            a, b = funcs
            return lambda state: a(state) or b(state)

        def or_(state: Mapping[str, Any]) -> Any:
            value: Any = False
            for f in funcs:
                value = f(state)
                if value:
                    return value
            return value

        return or_

    def _Compare(self, node: ast.Compare) -> _Code:
        ops = []
        lefts = [node.left, *node.comparators[:-1]]
        for op_node, left, right in zip(node.ops, lefts, node.comparators, strict=True):
            if isinstance(op_node, ast.Is | ast.IsNot) and not (
                _is_singleton(left) or _is_singleton(right)
            ):
                raise _Refused(
                    "'is' compares only with None, True or False; use == to compare values",
                    node,
                )
            ops.append(_CMP_OPS[type(op_node)])
        codes = [self.compile(node.left), *(self.compile(c) for c in node.comparators)]
        if all(isinstance(code, _Literal) for code in codes):
            values = [code.value for code in codes]  # type: ignore[union-attr]
            return _Literal(
                self._fold(_chain, tuple(zip(ops, values[1:], strict=True)), values[0], node=node)
            )
        if len(ops) == 1:
            return self._compare_two(ops[0], node.left, node.comparators[0], codes)
        first, *rest = (_as_func(code) for code in codes)
        pairs = tuple(zip(ops, rest, strict=True))

        def chained(state: Mapping[str, Any]) -> bool:
            left = first(state)
            for cmp, right_f in pairs:
                right = right_f(state)
                if not cmp(left, right):
                    return False
                left = right
            return True

        return chained

    def _compare_two(
        self, op: Callable[[Any, Any], Any], left: ast.expr, right: ast.expr, codes: list[_Code]
    ) -> _Code:
        """One comparison; ``key OP literal`` and ``key OP key`` read the state inline."""
        where = self.where
        left_code, right_code = codes
        if isinstance(left, ast.Name) and isinstance(right_code, _Literal):
            key, value = left.id, right_code.value

            def key_vs_literal(state: Mapping[str, Any]) -> Any:
                try:
                    current = state[key]
                except KeyError:
                    raise missing_key(key, where) from None
                return op(current, value)

            return key_vs_literal
        if isinstance(left, ast.Name) and isinstance(right, ast.Name):
            keys = (left.id, right.id)
            key1, key2 = keys

            def key_vs_key(state: Mapping[str, Any]) -> Any:
                try:
                    first, second = state[key1], state[key2]
                except KeyError:
                    raise missing_key(next(k for k in keys if k not in state), where) from None
                return op(first, second)

            return key_vs_key
        left_f = _as_func(left_code)
        if isinstance(right_code, _Literal):
            value = right_code.value
            return lambda state: op(left_f(state), value)
        right_f = right_code
        return lambda state: op(left_f(state), right_f(state))


def _chain(pairs: tuple[tuple[Callable[[Any, Any], Any], Any], ...], left: Any) -> bool:
    for cmp, right in pairs:
        if not cmp(left, right):
            return False
        left = right
    return True


def _as_func(code: _Code) -> Callable[[Mapping[str, Any]], Any]:
    if isinstance(code, _Literal):
        value = code.value
        return lambda state: value
    return code


def _is_singleton(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, bool))


def _safe_pow(base: Any, exponent: Any) -> Any:
    """``base ** exponent``, refusing results that would take long to compute or be huge."""
    if isinstance(exponent, int | float) and not isinstance(exponent, bool):
        if abs(exponent) > MAX_EXPONENT and isinstance(base, int | float) and abs(base) != 1:
            raise _Refused(f"exponent {_short(exponent)} is too large (limit {MAX_EXPONENT})")
        if (
            isinstance(base, int)
            and isinstance(exponent, int)
            and exponent > 0
            and abs(base) > 1
            and abs(base).bit_length() * exponent > MAX_INT_BITS
        ):
            raise _Refused(
                f"{_short(base)} ** {_short(exponent)} is too large (over {MAX_INT_BITS} bits)"
            )
    return operator.pow(base, exponent)


def _safe_mul(left: Any, right: Any) -> Any:
    """``left * right``, refusing to build huge strings or lists."""
    for seq, times in ((left, right), (right, left)):
        if (
            isinstance(seq, str | list | tuple)
            and isinstance(times, int)
            and len(seq) * times > MAX_SEQUENCE_REPEAT
        ):
            raise _Refused(
                f"repeating a sequence {_short(times)} times is too large "
                f"(limit {MAX_SEQUENCE_REPEAT} items)"
            )
    return left * right


def _safe_add(left: Any, right: Any) -> Any:
    """``left + right``, refusing to build huge strings or lists by concatenation."""
    if (
        isinstance(left, str | list | tuple)
        and isinstance(right, str | list | tuple)
        and len(left) + len(right) > MAX_CONCAT_ITEMS
    ):
        raise _Refused(
            f"joining sequences of {len(left):,} and {len(right):,} items is too large "
            f"(limit {MAX_CONCAT_ITEMS:,} items)"
        )
    return left + right


def _safe_mod(left: Any, right: Any) -> Any:
    """``left % right`` for numbers only: ``%`` string formatting is not part of the language
    (``'%.999999999f' % 1.0`` took seconds of CPU and a width can ask for a gigabyte)."""
    if isinstance(left, str | bytes) or isinstance(right, str | bytes):
        raise _Refused("'%' string formatting is not allowed; '%' is the remainder of numbers")
    return left % right


def _short(number: Any) -> str:
    """A number for an error message: huge integers by their size, not their digits."""
    if isinstance(number, int) and number.bit_length() > 64:
        return f"<an integer of about {int(number.bit_length() * 0.30103)} digits>"
    return repr(number)
