"""A safe expression evaluator over Python's `ast`, for math_eval and workflow conditions.

Only a whitelist of syntax is evaluated: literals, variables, arithmetic, comparisons,
boolean logic, `a if c else b`, list/tuple literals, subscripts on container values and
calls to a fixed set of functions by name. There is no attribute access, no comprehension,
no lambda and no call on any value, so nothing reachable from a variable can be invoked.
Every operation is bounded (number magnitude, string and list length, nesting depth), so an
expression such as `9**9**9` or `"a" * 10**9` fails fast instead of exhausting the host.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

MAX_EXPRESSION_CHARS = 4_000
MAX_NODES = 1_000
MAX_DEPTH = 100
# Integers wider than this are refused: 2**1024 is just past the largest finite float.
MAX_INT_BITS = 1024
# Longest string or list an expression may build.
MAX_LENGTH = 100_000
MAX_ROUND_DIGITS = 308


class ExpressionError(ValueError):
    """The expression is invalid, uses something not allowed, or failed to evaluate."""


Number = int | float

_ARITHMETIC: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}

_SYMBOLS: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
}

_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}

_CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}

_ALLOWED_NODES = (
    ast.Expression,
    ast.Constant,
    ast.Name,
    ast.Load,
    ast.BinOp,
    ast.UnaryOp,
    ast.BoolOp,
    ast.Compare,
    ast.IfExp,
    ast.Call,
    ast.Subscript,
    ast.List,
    ast.Tuple,
    ast.UAdd,
    ast.USub,
    ast.Not,
    ast.And,
    ast.Or,
    *_ARITHMETIC,
    *_COMPARE,
)


def evaluate(expression: str, variables: Mapping[str, Any] | None = None) -> Any:
    """Evaluate `expression` with `variables` bound by name. Raises ExpressionError."""
    if not isinstance(expression, str):
        raise ExpressionError("the expression must be a string")
    source = expression.strip()
    if not source:
        raise ExpressionError("the expression is empty")
    if len(source) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(f"the expression is longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"invalid syntax: {exc.msg} (column {exc.offset})") from exc
    except (RecursionError, MemoryError, ValueError) as exc:
        raise ExpressionError("the expression is too deeply nested or malformed") from exc
    _check_tree(tree)
    return _Evaluator(variables or {}).eval(tree.body)


def _check_tree(tree: ast.Expression) -> None:
    """Reject disallowed syntax and oversized trees before evaluating anything."""
    count = 0
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ExpressionError(f"the expression has more than {MAX_NODES} parts")
        if depth > MAX_DEPTH:
            raise ExpressionError(f"the expression is nested more than {MAX_DEPTH} levels deep")
        if not isinstance(node, _ALLOWED_NODES):
            raise ExpressionError(f"{_describe(node)} is not allowed")
        if isinstance(node, ast.Call):
            _check_call(node)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _check_call(node: ast.Call) -> None:
    if not isinstance(node.func, ast.Name):
        raise ExpressionError("only the built-in functions can be called, by name")
    if node.func.id not in _FUNCTIONS:
        names = ", ".join(sorted(_FUNCTIONS))
        raise ExpressionError(f"unknown function '{node.func.id}'; available: {names}")
    if node.keywords or any(isinstance(arg, ast.Starred) for arg in node.args):
        raise ExpressionError("functions take positional arguments only")


def _describe(node: ast.AST) -> str:
    names = {
        ast.Attribute: "attribute access",
        ast.Lambda: "lambda",
        ast.ListComp: "a comprehension",
        ast.SetComp: "a comprehension",
        ast.DictComp: "a comprehension",
        ast.GeneratorExp: "a generator expression",
        ast.NamedExpr: "assignment (:=)",
        ast.JoinedStr: "an f-string",
        ast.Starred: "unpacking (*)",
        ast.Slice: "slicing",
        ast.Dict: "a dict literal",
        ast.Set: "a set literal",
    }
    if isinstance(node, ast.operator | ast.unaryop):
        return f"the operator '{type(node).__name__}'"
    return names.get(type(node), f"'{type(node).__name__}'")


class _Evaluator:
    def __init__(self, variables: Mapping[str, Any]) -> None:
        self._variables = variables

    def eval(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            return _constant(node.value)
        if isinstance(node, ast.Name):
            return self._name(node.id)
        if isinstance(node, ast.BinOp):
            return _binary(type(node.op), self.eval(node.left), self.eval(node.right))
        if isinstance(node, ast.UnaryOp):
            return self._unary(node)
        if isinstance(node, ast.BoolOp):
            return self._bool(node)
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.IfExp):
            return self.eval(node.body) if _truth(self.eval(node.test)) else self.eval(node.orelse)
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Subscript):
            return _subscript(self.eval(node.value), self.eval(node.slice))
        if isinstance(node, ast.List | ast.Tuple):
            items = [self.eval(item) for item in node.elts]
            return items if isinstance(node, ast.List) else tuple(items)
        raise ExpressionError(f"{_describe(node)} is not allowed")

    def _name(self, name: str) -> Any:
        if name in self._variables:
            return self._variables[name]
        if name in _CONSTANTS:
            return _CONSTANTS[name]
        if name in _FUNCTIONS:
            raise ExpressionError(f"'{name}' is a function; call it like {name}(...)")
        raise ExpressionError(f"unknown name '{name}'")

    def _unary(self, node: ast.UnaryOp) -> Any:
        value = self.eval(node.operand)
        if isinstance(node.op, ast.Not):
            return not _truth(value)
        number = _number(value, "unary minus or plus")
        return -number if isinstance(node.op, ast.USub) else +number

    def _bool(self, node: ast.BoolOp) -> Any:
        result: Any = None
        for item in node.values:
            result = self.eval(item)
            truth = _truth(result)
            if isinstance(node.op, ast.And) and not truth:
                return result
            if isinstance(node.op, ast.Or) and truth:
                return result
        return result

    def _compare(self, node: ast.Compare) -> bool:
        left = self.eval(node.left)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.eval(right_node)
            try:
                ok = _COMPARE[type(op)](left, right)
            except TypeError as exc:
                raise ExpressionError(
                    f"cannot compare {_type_name(left)} with {_type_name(right)}"
                ) from exc
            if not _truth(ok):
                return False
            left = right
        return True

    def _call(self, node: ast.Call) -> Any:
        assert isinstance(node.func, ast.Name)
        args = [self.eval(arg) for arg in node.args]
        return _FUNCTIONS[node.func.id](*args)


def _truth(value: Any) -> bool:
    if value is None or isinstance(value, bool | int | float | str | list | tuple | dict):
        return bool(value)
    raise ExpressionError(f"a {_type_name(value)} has no truth value here")


def _constant(value: Any) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        return _checked(value)
    raise ExpressionError(f"literal of type {_type_name(value)} is not allowed")


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _number(value: Any, what: str) -> Number:
    if isinstance(value, int | float):
        return value
    raise ExpressionError(f"{what} needs a number, not {_type_name(value)}")


def _checked(value: Any) -> Any:
    """Refuse numbers too large or not finite, and strings or lists too long."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ExpressionError("the result is not a finite number")
    elif isinstance(value, int) and not isinstance(value, bool):
        if value.bit_length() > MAX_INT_BITS:
            raise ExpressionError("the result is too large")
    elif isinstance(value, str | list | tuple) and len(value) > MAX_LENGTH:
        raise ExpressionError(f"the result is longer than {MAX_LENGTH}")
    elif isinstance(value, complex):
        raise ExpressionError("the result is a complex number")
    return value


def _binary(op: type[ast.operator], left: Any, right: Any) -> Any:
    symbol = _SYMBOLS[op]
    if op is ast.Add and _is_sequence(left) and type(left) is type(right):
        if len(left) + len(right) > MAX_LENGTH:
            raise ExpressionError(f"the result is longer than {MAX_LENGTH}")
        return left + right
    if op is ast.Mult and (_is_sequence(left) or _is_sequence(right)):
        return _repeat(left, right)
    a = _number(left, f"'{symbol}'")
    b = _number(right, f"'{symbol}'")
    if op is ast.Pow:
        _check_power(a, b)
    try:
        result = _ARITHMETIC[op](a, b)
    except ZeroDivisionError as exc:
        raise ExpressionError("division by zero") from exc
    except OverflowError as exc:
        raise ExpressionError("the result is too large") from exc
    return _checked(result)


def _is_sequence(value: Any) -> bool:
    return isinstance(value, str | list | tuple)


def _repeat(left: Any, right: Any) -> Any:
    sequence, count = (left, right) if _is_sequence(left) else (right, left)
    if not isinstance(count, int) or isinstance(count, bool):
        raise ExpressionError("a string or list can only be repeated an integer number of times")
    if count > 0 and len(sequence) * count > MAX_LENGTH:
        raise ExpressionError(f"the result is longer than {MAX_LENGTH}")
    return sequence * max(count, 0)


def _check_power(base: Number, exponent: Number) -> None:
    """Estimate the size of base**exponent before computing it."""
    if abs(exponent) > 10_000 and abs(base) not in (0, 1):
        raise ExpressionError("the exponent is too large")
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0:
        if (abs(base).bit_length() - 1) * exponent > 1100:
            raise ExpressionError("the result is too large")
    if base == 0 and exponent < 0:
        raise ExpressionError("division by zero")
    if base < 0 and isinstance(exponent, float) and not exponent.is_integer():
        raise ExpressionError("a negative number cannot be raised to a fractional power")


def _subscript(container: Any, key: Any) -> Any:
    if isinstance(container, Mapping):
        try:
            return container[key]
        except KeyError as exc:
            raise ExpressionError(f"key {key!r} not found") from exc
        except TypeError as exc:
            raise ExpressionError(f"{_type_name(key)} cannot be used as a key") from exc
    if isinstance(container, Sequence):
        if not isinstance(key, int) or isinstance(key, bool):
            raise ExpressionError(f"an index must be an integer, not {_type_name(key)}")
        try:
            return container[key]
        except IndexError as exc:
            raise ExpressionError(f"index {key} is out of range") from exc
    raise ExpressionError(f"a {_type_name(container)} cannot be indexed")


# --- functions --------------------------------------------------------------------------------


def _arity(name: str, args: Sequence[Any], low: int, high: int) -> None:
    if not low <= len(args) <= high:
        expected = str(low) if low == high else f"{low} to {high}"
        raise ExpressionError(f"{name}() takes {expected} arguments, got {len(args)}")


def _numbers(name: str, args: Sequence[Any]) -> list[Number]:
    """min/max/sum accept either several numbers or one list of numbers."""
    values = args[0] if len(args) == 1 and isinstance(args[0], list | tuple) else args
    if not values:
        raise ExpressionError(f"{name}() needs at least one number")
    return [_number(v, f"{name}()") for v in values]


def _math1(name: str, fn: Callable[[float], float]) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        _arity(name, args, 1, 1)
        x = _number(args[0], f"{name}()")
        try:
            return _checked(fn(x))
        except (ValueError, OverflowError) as exc:
            raise ExpressionError(f"{name}({x}) is undefined or too large") from exc

    return call


def _abs(*args: Any) -> Any:
    _arity("abs", args, 1, 1)
    return abs(_number(args[0], "abs()"))


def _round(*args: Any) -> Any:
    _arity("round", args, 1, 2)
    x = _number(args[0], "round()")
    if len(args) == 1:
        return round(x)
    digits = args[1]
    if not isinstance(digits, int) or isinstance(digits, bool):
        raise ExpressionError("round() digits must be an integer")
    if abs(digits) > MAX_ROUND_DIGITS:
        raise ExpressionError(f"round() digits must be within ±{MAX_ROUND_DIGITS}")
    return _checked(round(x, digits))


def _min(*args: Any) -> Any:
    return min(_numbers("min", args))


def _max(*args: Any) -> Any:
    return max(_numbers("max", args))


def _sum(*args: Any) -> Any:
    _arity("sum", args, 1, 1)
    if not isinstance(args[0], list | tuple):
        raise ExpressionError("sum() takes one list of numbers")
    values = [_number(v, "sum()") for v in args[0]]
    if any(isinstance(v, float) for v in values):
        return _checked(math.fsum(values))
    return _checked(sum(values))


def _log(*args: Any) -> Any:
    _arity("log", args, 1, 2)
    x = _number(args[0], "log()")
    try:
        if len(args) == 1:
            return math.log(x)
        return math.log(x, _number(args[1], "log()"))
    except (ValueError, ZeroDivisionError, OverflowError) as exc:
        raise ExpressionError("log() is undefined for these arguments") from exc


def _rounding(name: str, fn: Callable[[float], int]) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        _arity(name, args, 1, 1)
        x = _number(args[0], f"{name}()")
        return x if isinstance(x, int) else fn(x)

    return call


def _len(*args: Any) -> Any:
    _arity("len", args, 1, 1)
    value = args[0]
    if isinstance(value, str | list | tuple | Mapping):
        return len(value)
    raise ExpressionError(f"len() needs a string, list or object, not {_type_name(value)}")


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": _abs,
    "round": _round,
    "min": _min,
    "max": _max,
    "sum": _sum,
    "sqrt": _math1("sqrt", math.sqrt),
    "log": _log,
    "log10": _math1("log10", math.log10),
    "exp": _math1("exp", math.exp),
    "sin": _math1("sin", math.sin),
    "cos": _math1("cos", math.cos),
    "tan": _math1("tan", math.tan),
    "floor": _rounding("floor", math.floor),
    "ceil": _rounding("ceil", math.ceil),
    "len": _len,
}
