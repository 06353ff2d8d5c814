"""Builtin tools: data. JSON and YAML handling, arithmetic, statistics and unit conversion."""

from __future__ import annotations

import base64
import json
import math
import re
from collections import Counter
from datetime import date, datetime, time
from fractions import Fraction
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tiangong.runtime.expr import MAX_EXPRESSION_CHARS, ExpressionError, evaluate
from tiangong.runtime.tools.base import Tool, ToolError
from tiangong.runtime.tools.builtin.text import run_isolated
from tiangong.runtime.tools.context import ToolContext
from tiangong.runtime.tools.registry import builtin_tool

MAX_JSON_TEXT = 1_000_000
MAX_YAML_TEXT = 200_000
# Values a YAML document may expand to; aliases can make a tiny document huge.
MAX_YAML_NODES = 200_000
MAX_DIFF_ENTRIES = 1000
MAX_MATCHES = 1000
JSONPATH_TIMEOUT_S = 5.0

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(text: str, what: str = "JSON") -> Any:
    """Strict JSON (no NaN/Infinity); errors name the line and column."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ToolError(
            f"Invalid {what} at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from exc
    except RecursionError:
        raise ToolError(f"The {what} is nested too deeply.") from None
    except ValueError as exc:
        raise ToolError(f"Invalid {what}: {exc}") from exc


def _json_size(value: Any, what: str) -> None:
    try:
        size = len(json.dumps(value))
    except (TypeError, ValueError, RecursionError) as exc:
        raise ToolError(f"{what} is not a plain JSON value") from exc
    if size > MAX_JSON_TEXT:
        raise ToolError(f"{what} is too large ({size} characters as JSON; at most {MAX_JSON_TEXT})")


def _path_key(key: str) -> str:
    if _IDENTIFIER.match(key):
        return f".{key}"
    escaped = key.replace("\\", "\\\\").replace("'", "\\'")
    return f"['{escaped}']"


# --- json_path --------------------------------------------------------------------------------


class JsonPathInput(_Input):
    expression: str = Field(
        min_length=1,
        max_length=1000,
        description="JSONPath, e.g. $.store.book[*].title, $..price, $.items[?(@.price < 10)].name",
    )
    data: Any = Field(default=None, description="The JSON value to query (object, array...).")
    json_text: str | None = Field(
        default=None,
        max_length=MAX_JSON_TEXT,
        description="Alternatively, the JSON document as text.",
    )
    max_matches: int = Field(default=100, ge=1, le=MAX_MATCHES)

    @model_validator(mode="after")
    def _one_source(self) -> JsonPathInput:
        given = {"data", "json_text"} & self.model_fields_set
        if self.json_text is None:
            given.discard("json_text")
        if len(given) != 1:
            raise ValueError("give exactly one of data or json_text")
        return self


class JsonPathOutput(BaseModel):
    matches: list[Any] = Field(description="Matched values, in document order.")
    paths: list[str] = Field(description="Where each match was found, as $.a.b[0].")
    count: int
    truncated: bool


# JSONPath filters can run regular expressions (=~, sub()) and recursive descent can multiply
# matches, so queries run in a child process that can be stopped (see text.run_isolated).
_JSONPATH_PROGRAM = r"""
import re
from jsonpath_ng import jsonpath
from jsonpath_ng.ext.parser import parse

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

def key(name):
    if IDENTIFIER.match(name):
        return "." + name
    return "['" + name.replace("\\", "\\\\").replace("'", "\\'") + "']"

def path_of(node):
    parts, stack = [], [node]
    while stack:
        current = stack.pop()
        if isinstance(current, jsonpath.Child):
            stack.append(current.right)
            stack.append(current.left)
        elif isinstance(current, jsonpath.Fields) and len(current.fields) == 1:
            parts.append(key(str(current.fields[0])))
        elif isinstance(current, jsonpath.Index) and len(current.indices) == 1:
            parts.append(f"[{current.indices[0]}]")
        elif not isinstance(current, (jsonpath.Root, jsonpath.This)):
            parts.append(f".{current}")
    return "$" + "".join(parts)

def run(job):
    try:
        query = parse(job["expression"])
    except Exception as exc:
        return {"error": f"Invalid JSONPath {job['expression']!r}: {exc}"}
    try:
        found = query.find(job["data"])
    except RecursionError:
        return {"error": "The data is nested too deeply to query."}
    except Exception as exc:
        return {"error": f"JSONPath {job['expression']!r} failed: {exc}"}
    matches, paths, size, truncated = [], [], 0, False
    for match in found:
        size += len(json.dumps(match.value))
        if len(matches) == job["limit"] or size > job["max_output"]:
            truncated = True
            break
        matches.append(match.value)
        paths.append(path_of(match.full_path))
    return {"matches": matches, "paths": paths, "truncated": truncated}
"""


@builtin_tool
class JsonPath(Tool):
    name = "json_path"
    description = (
        "Query JSON with a JSONPath expression (filters like [?(@.price < 10)], slices, "
        "recursive $..key). Give the JSON as `data` or as text in `json_text` (up to "
        "1,000,000 characters). Returns matched values with their paths, at most max_matches."
    )
    category = "data"
    Input = JsonPathInput
    Output = JsonPathOutput

    async def run(self, args: JsonPathInput, ctx: ToolContext) -> JsonPathOutput:
        if args.json_text is not None:
            data = parse_json(args.json_text)
        else:
            data = args.data
            _json_size(data, "data")
        reply = await run_isolated(
            _JSONPATH_PROGRAM,
            {
                "expression": args.expression,
                "data": data,
                "limit": args.max_matches,
                "max_output": MAX_JSON_TEXT,
            },
            timeout_s=JSONPATH_TIMEOUT_S,
            what="JSONPath query",
            hint="avoid repeated '..' and regular-expression filters, or query less data.",
            site=True,
        )
        return JsonPathOutput(
            matches=reply["matches"],
            paths=reply["paths"],
            count=len(reply["matches"]),
            truncated=reply["truncated"],
        )


# --- json_format ------------------------------------------------------------------------------


class JsonFormatInput(_Input):
    text: str = Field(max_length=MAX_JSON_TEXT, description="The JSON text.")
    action: Literal["validate", "pretty", "minify"] = Field(
        default="pretty",
        description="validate: only check it; pretty: indent it; minify: remove whitespace.",
    )
    indent: int = Field(default=2, ge=1, le=8, description="Spaces per level for pretty.")
    sort_keys: bool = Field(default=False, description="Sort object keys.")
    ensure_ascii: bool = Field(default=False, description="Escape non-ASCII characters.")


class JsonFormatOutput(BaseModel):
    valid: bool
    text: str | None = Field(description="The formatted JSON; null for validate or invalid.")
    error: str | None = Field(description="Why the JSON is invalid.")
    line: int | None
    column: int | None


@builtin_tool
class JsonFormat(Tool):
    name = "json_format"
    description = (
        "Validate, pretty-print or minify JSON text (up to 1,000,000 characters), optionally "
        "sorting keys. validate reports an invalid document with its error line and column; "
        "pretty and minify fail with that position instead."
    )
    category = "data"
    Input = JsonFormatInput
    Output = JsonFormatOutput

    async def run(self, args: JsonFormatInput, ctx: ToolContext) -> JsonFormatOutput:
        try:
            value = json.loads(args.text, parse_constant=_reject_constant)
        except json.JSONDecodeError as exc:
            if args.action != "validate":
                raise ToolError(
                    f"Invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
                ) from exc
            return JsonFormatOutput(
                valid=False, text=None, error=exc.msg, line=exc.lineno, column=exc.colno
            )
        except (ValueError, RecursionError) as exc:
            message = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            if args.action != "validate":
                raise ToolError(f"Invalid JSON: {message}") from exc
            return JsonFormatOutput(valid=False, text=None, error=message, line=None, column=None)
        if args.action == "validate":
            return JsonFormatOutput(valid=True, text=None, error=None, line=None, column=None)
        try:
            if args.action == "pretty":
                text = json.dumps(
                    value,
                    indent=args.indent,
                    sort_keys=args.sort_keys,
                    ensure_ascii=args.ensure_ascii,
                )
            else:
                text = json.dumps(
                    value,
                    separators=(",", ":"),
                    sort_keys=args.sort_keys,
                    ensure_ascii=args.ensure_ascii,
                )
        except RecursionError:
            raise ToolError("The JSON is nested too deeply to format.") from None
        return JsonFormatOutput(valid=True, text=text, error=None, line=None, column=None)


# --- json_diff --------------------------------------------------------------------------------


class JsonDiffInput(_Input):
    a: Any = Field(description="The original JSON value.")
    b: Any = Field(description="The changed JSON value.")
    max_entries: int = Field(
        default=200, ge=1, le=MAX_DIFF_ENTRIES, description="Cap on reported differences."
    )


class JsonValueAt(BaseModel):
    path: str
    value: Any


class JsonChange(BaseModel):
    path: str
    old: Any
    new: Any


class JsonDiffOutput(BaseModel):
    equal: bool
    added: list[JsonValueAt] = Field(description="Paths present only in b.")
    removed: list[JsonValueAt] = Field(description="Paths present only in a.")
    changed: list[JsonChange] = Field(description="Paths whose value differs.")
    truncated: bool


def _same_scalar(x: Any, y: Any) -> bool:
    if isinstance(x, bool) or isinstance(y, bool):
        return type(x) is type(y) and x == y
    if isinstance(x, int | float) and isinstance(y, int | float):
        return x == y
    return type(x) is type(y) and bool(x == y)


def _json_diff(a: Any, b: Any, limit: int) -> JsonDiffOutput:
    added: list[JsonValueAt] = []
    removed: list[JsonValueAt] = []
    changed: list[JsonChange] = []
    truncated = False
    stack: list[tuple[str, Any, Any]] = [("$", a, b)]
    while stack:
        if len(added) + len(removed) + len(changed) >= limit:
            truncated = True
            break
        path, x, y = stack.pop()
        children: list[tuple[str, Any, Any]] = []
        if isinstance(x, dict) and isinstance(y, dict):
            for key, value in x.items():
                if key in y:
                    children.append((path + _path_key(key), value, y[key]))
                else:
                    removed.append(JsonValueAt(path=path + _path_key(key), value=value))
            added.extend(
                JsonValueAt(path=path + _path_key(k), value=v) for k, v in y.items() if k not in x
            )
        elif isinstance(x, list) and isinstance(y, list):
            children = [(f"{path}[{i}]", x[i], y[i]) for i in range(min(len(x), len(y)))]
            removed.extend(
                JsonValueAt(path=f"{path}[{i}]", value=x[i]) for i in range(len(y), len(x))
            )
            added.extend(
                JsonValueAt(path=f"{path}[{i}]", value=y[i]) for i in range(len(x), len(y))
            )
        elif not _same_scalar(x, y):
            changed.append(JsonChange(path=path, old=x, new=y))
        stack.extend(reversed(children))
    total = len(added) + len(removed) + len(changed)
    return JsonDiffOutput(
        equal=total == 0 and not truncated,
        added=added[:limit],
        removed=removed[:limit],
        changed=changed[:limit],
        truncated=truncated or total > limit,
    )


@builtin_tool
class JsonDiff(Tool):
    name = "json_diff"
    description = (
        "Compare two JSON values structurally and list the paths added, removed and changed "
        "(arrays are compared by index; 1 and 1.0 are equal, 1 and true are not). Each value "
        "up to 1,000,000 characters as JSON; at most max_entries differences are reported."
    )
    category = "data"
    Input = JsonDiffInput
    Output = JsonDiffOutput

    async def run(self, args: JsonDiffInput, ctx: ToolContext) -> JsonDiffOutput:
        _json_size(args.a, "a")
        _json_size(args.b, "b")
        return _json_diff(args.a, args.b, args.max_entries)


# --- yaml_json_convert ------------------------------------------------------------------------


class YamlJsonInput(_Input):
    text: str = Field(max_length=MAX_YAML_TEXT, description="The YAML or JSON text to convert.")
    direction: Literal["yaml_to_json", "json_to_yaml"]
    indent: int = Field(default=2, ge=0, le=8, description="Indentation; 0 gives compact JSON.")
    sort_keys: bool = False
    all_documents: bool = Field(
        default=False,
        description="yaml_to_json: read every '---' document and return a JSON array.",
    )


class YamlJsonOutput(BaseModel):
    text: str


def _yaml_error(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is not None:
        return f"Invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return f"Invalid YAML: {problem}"


class _Budget:
    def __init__(self, nodes: int) -> None:
        self.left = nodes

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise ToolError(
                f"The YAML expands to more than {MAX_YAML_NODES} values (through aliases?)."
            )


def _json_key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(key)
    if isinstance(key, date | time):
        return key.isoformat()
    return str(key)


def _jsonable(value: Any, budget: _Budget) -> Any:
    """YAML's extra types (dates, binary, sets, non-string keys) as JSON values."""
    budget.spend()
    if isinstance(value, dict):
        return {_json_key(k): _jsonable(v, budget) for k, v in value.items()}
    if isinstance(value, set):
        return [_jsonable(v, budget) for v in sorted(value, key=repr)]
    if isinstance(value, list | tuple):
        return [_jsonable(v, budget) for v in value]
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _yaml_to_json(args: YamlJsonInput) -> str:
    try:
        documents = list(yaml.safe_load_all(args.text))
    except yaml.YAMLError as exc:
        raise ToolError(_yaml_error(exc)) from exc
    except ValueError as exc:
        # Values the constructors reject, such as integers of more than 4300 digits.
        raise ToolError(f"Invalid YAML value: {exc}") from exc
    if not args.all_documents and len(documents) > 1:
        raise ToolError(f"The text holds {len(documents)} YAML documents; set all_documents=true.")
    value: Any = documents if args.all_documents else (documents[0] if documents else None)
    converted = _jsonable(value, _Budget(MAX_YAML_NODES))
    if args.indent == 0:
        return json.dumps(
            converted, separators=(",", ":"), sort_keys=args.sort_keys, ensure_ascii=False
        )
    return json.dumps(converted, indent=args.indent, sort_keys=args.sort_keys, ensure_ascii=False)


@builtin_tool
class YamlJsonConvert(Tool):
    name = "yaml_json_convert"
    description = (
        "Convert YAML to JSON or JSON to YAML (text up to 200,000 characters). YAML is read "
        "safely: no custom tags or objects; dates become ISO strings. Errors give the line "
        "and column."
    )
    category = "data"
    Input = YamlJsonInput
    Output = YamlJsonOutput

    async def run(self, args: YamlJsonInput, ctx: ToolContext) -> YamlJsonOutput:
        try:
            if args.direction == "yaml_to_json":
                return YamlJsonOutput(text=_yaml_to_json(args))
            value = parse_json(args.text)
            text = yaml.safe_dump(
                value,
                allow_unicode=True,
                sort_keys=args.sort_keys,
                default_flow_style=False,
                indent=max(args.indent, 2),
            )
        except RecursionError:
            raise ToolError("The document is nested too deeply (or refers to itself).") from None
        return YamlJsonOutput(text=text)


# --- math_eval --------------------------------------------------------------------------------


class MathEvalInput(_Input):
    expression: str = Field(
        min_length=1,
        max_length=MAX_EXPRESSION_CHARS,
        description="e.g. '(a + b) * 2', 'sqrt(x) if x > 0 else 0', 'round(price * 1.13, 2)'.",
    )
    variables: dict[str, Any] = Field(
        default_factory=dict, description="Values the expression can use by name."
    )


class MathEvalOutput(BaseModel):
    result: Any
    result_type: str = Field(description="int, float, bool, str, list, dict or null.")


@builtin_tool
class MathEval(Tool):
    name = "math_eval"
    description = (
        "Evaluate an arithmetic or logical expression exactly and safely: numbers, + - * / // "
        "% **, comparisons, and/or/not, 'a if cond else b', variables, x['key'], xs[0], and "
        "the functions abs round min max sum sqrt log log10 exp sin cos tan floor ceil len "
        "and constants pi, e. No other names, attributes or code; huge results are refused."
    )
    category = "data"
    Input = MathEvalInput
    Output = MathEvalOutput

    async def run(self, args: MathEvalInput, ctx: ToolContext) -> MathEvalOutput:
        try:
            result = evaluate(args.expression, args.variables)
        except ExpressionError as exc:
            raise ToolError(f"Cannot evaluate {args.expression!r}: {exc}") from exc
        if isinstance(result, tuple):
            result = list(result)
        type_name = "null" if result is None else type(result).__name__
        return MathEvalOutput(result=result, result_type=type_name)


# --- statistics -------------------------------------------------------------------------------

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class StatisticsInput(_Input):
    values: list[FiniteFloat] = Field(
        min_length=1, max_length=100_000, description="The numbers to describe."
    )
    percentiles: list[Annotated[float, Field(ge=0, le=100)]] = Field(
        default=[25, 75],
        max_length=20,
        description="Percentiles to compute (0-100), with linear interpolation.",
    )


class StatisticsOutput(BaseModel):
    count: int
    sum: float
    mean: float
    median: float
    mode: list[float] = Field(
        description="The most frequent values (up to 100); empty when no value repeats."
    )
    stdev: float | None = Field(description="Sample standard deviation; null for one value.")
    variance: float | None = Field(description="Sample variance; null for one value.")
    population_stdev: float
    population_variance: float
    min: float
    max: float
    range: float
    percentiles: dict[str, float] = Field(description="Keyed p25, p99.5 and so on.")


def _percentile(ordered: list[float], p: float) -> float:
    k = (len(ordered) - 1) * p / 100
    low = math.floor(k)
    high = math.ceil(k)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def _percentile_key(p: float) -> str:
    return f"p{int(p)}" if float(p).is_integer() else f"p{p:g}"


def _describe(values: list[float], percentiles: list[float]) -> StatisticsOutput:
    n = len(values)
    ordered = sorted(values)
    total = math.fsum(values)
    mean = total / n
    squares = math.fsum((x - mean) ** 2 for x in values)
    counts = Counter(values)
    top = max(counts.values())
    modes = [v for v, c in counts.items() if c == top][:100] if top > 1 else []
    mid = n // 2
    median = ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    result = StatisticsOutput(
        count=n,
        sum=total,
        mean=mean,
        median=median,
        mode=modes,
        stdev=math.sqrt(squares / (n - 1)) if n > 1 else None,
        variance=squares / (n - 1) if n > 1 else None,
        population_stdev=math.sqrt(squares / n),
        population_variance=squares / n,
        min=ordered[0],
        max=ordered[-1],
        range=ordered[-1] - ordered[0],
        percentiles={_percentile_key(p): _percentile(ordered, p) for p in percentiles},
    )
    numbers = [result.sum, result.mean, result.range, result.population_variance]
    if not all(math.isfinite(x) for x in numbers):
        raise ToolError("The values are too large to summarise without overflow.")
    return result


@builtin_tool
class Statistics(Tool):
    name = "statistics"
    description = (
        "Describe a list of numbers (1 to 100,000): count, sum, mean, median, mode, sample "
        "and population standard deviation and variance, min, max, range and the requested "
        "percentiles (linear interpolation)."
    )
    category = "data"
    Input = StatisticsInput
    Output = StatisticsOutput

    async def run(self, args: StatisticsInput, ctx: ToolContext) -> StatisticsOutput:
        try:
            return _describe(args.values, args.percentiles)
        except OverflowError:
            raise ToolError("The values are too large to summarise without overflow.") from None


# --- unit_convert -----------------------------------------------------------------------------


class _Unit:
    def __init__(self, category: str, name: str, factor: Fraction) -> None:
        self.category = category
        self.name = name
        # How many of the category's base unit one of this unit is (not used for temperature).
        self.factor = factor


# category -> [(canonical name, size in the base unit, aliases)]
_UNIT_TABLE: dict[str, list[tuple[str, str | Fraction, tuple[str, ...]]]] = {
    "length": [
        ("m", "1", ("meter", "meters", "metre", "metres", "米")),
        ("km", "1000", ("kilometer", "kilometers", "kilometre", "kilometres", "公里", "千米")),
        ("cm", "0.01", ("centimeter", "centimeters", "centimetre", "厘米")),
        ("mm", "0.001", ("millimeter", "millimeters", "millimetre", "毫米")),
        ("um", "0.000001", ("μm", "µm", "micrometer", "micrometers", "micron", "微米")),
        ("nm", "0.000000001", ("nanometer", "nanometers", "纳米")),
        ("mi", "1609.344", ("mile", "miles", "英里")),
        ("yd", "0.9144", ("yard", "yards", "码")),
        ("ft", "0.3048", ("foot", "feet", "英尺")),
        ("in", "0.0254", ("inch", "inches", "英寸")),
        ("nmi", "1852", ("nautical_mile", "nautical_miles", "海里")),
        ("里", "500", ("li", "市里")),
        ("丈", Fraction(10, 3), ("zhang",)),
        ("尺", Fraction(1, 3), ("chi", "市尺")),
        ("寸", Fraction(1, 30), ("cun", "市寸")),
    ],
    "mass": [
        ("kg", "1", ("kilogram", "kilograms", "kilo", "kilos", "公斤", "千克")),
        ("g", "0.001", ("gram", "grams", "克")),
        ("mg", "0.000001", ("milligram", "milligrams", "毫克")),
        ("ug", "0.000000001", ("μg", "µg", "microgram", "micrograms", "微克")),
        ("t", "1000", ("tonne", "tonnes", "metric_ton", "吨")),
        ("lb", "0.45359237", ("lbs", "pound", "pounds", "磅")),
        ("oz", "0.028349523125", ("ounce", "ounces", "盎司")),
        ("st", "6.35029318", ("stone", "stones")),
        ("short_ton", "907.18474", ("us_ton",)),
        ("long_ton", "1016.0469088", ("uk_ton",)),
        ("ct", "0.0002", ("carat", "carats", "克拉")),
        ("斤", "0.5", ("jin", "市斤")),
        ("两", "0.05", ("liang", "市两")),
    ],
    "temperature": [
        ("C", "1", ("°C", "℃", "celsius", "摄氏度")),
        ("F", "1", ("°F", "℉", "fahrenheit", "华氏度")),
        ("K", "1", ("kelvin", "开尔文")),
    ],
    "volume": [
        ("L", "1", ("l", "liter", "liters", "litre", "litres", "升", "公升")),
        ("mL", "0.001", ("ml", "milliliter", "milliliters", "millilitre", "cc", "cm3", "毫升")),
        ("m3", "1000", ("cubic_meter", "cubic_meters", "立方米")),
        ("gal", "3.785411784", ("gallon", "gallons", "us_gal", "加仑")),
        ("imp_gal", "4.54609", ("uk_gal", "imperial_gallon", "imperial_gallons")),
        ("qt", "0.946352946", ("quart", "quarts")),
        ("pt", "0.473176473", ("pint", "pints")),
        ("cup", "0.2365882365", ("cups",)),
        ("fl_oz", "0.0295735295625", ("floz", "fluid_ounce", "fluid_ounces")),
        ("tbsp", "0.01478676478125", ("tablespoon", "tablespoons")),
        ("tsp", "0.00492892159375", ("teaspoon", "teaspoons")),
        ("ft3", "28.316846592", ("cu_ft", "cubic_foot", "cubic_feet")),
        ("in3", "0.016387064", ("cu_in", "cubic_inch", "cubic_inches")),
    ],
    "area": [
        ("m2", "1", ("sq_m", "square_meter", "square_meters", "平方米", "平米")),
        ("km2", "1000000", ("sq_km", "square_kilometer", "square_kilometers", "平方公里")),
        ("cm2", "0.0001", ("sq_cm", "square_centimeter", "平方厘米")),
        ("mm2", "0.000001", ("sq_mm", "square_millimeter", "平方毫米")),
        ("ha", "10000", ("hectare", "hectares", "公顷")),
        ("acre", "4046.8564224", ("acres", "英亩")),
        ("ft2", "0.09290304", ("sq_ft", "square_foot", "square_feet", "平方英尺")),
        ("in2", "0.00064516", ("sq_in", "square_inch", "square_inches")),
        ("yd2", "0.83612736", ("sq_yd", "square_yard", "square_yards")),
        ("mi2", "2589988.110336", ("sq_mi", "square_mile", "square_miles")),
        ("亩", Fraction(2000, 3), ("mu", "市亩")),
    ],
    "time": [
        ("ns", "0.000000001", ("nanosecond", "nanoseconds", "纳秒")),
        ("us", "0.000001", ("μs", "µs", "microsecond", "microseconds", "微秒")),
        ("ms", "0.001", ("millisecond", "milliseconds", "毫秒")),
        ("s", "1", ("sec", "secs", "second", "seconds", "秒")),
        ("min", "60", ("mins", "minute", "minutes", "分钟")),
        ("h", "3600", ("hr", "hrs", "hour", "hours", "小时")),
        ("d", "86400", ("day", "days", "天", "日")),
        ("wk", "604800", ("week", "weeks", "周", "星期")),
        # Average Gregorian month and year: 30.436875 and 365.2425 days.
        ("month", "2629746", ("months", "月")),
        ("yr", "31556952", ("y", "year", "years", "年")),
    ],
    "speed": [
        ("m/s", "1", ("mps", "meter_per_second", "meters_per_second", "米每秒")),
        ("km/h", Fraction(5, 18), ("kph", "kmh", "km/hr", "kilometers_per_hour", "公里每小时")),
        ("mph", "0.44704", ("mi/h", "miles_per_hour")),
        ("kn", Fraction(1852, 3600), ("knot", "knots", "kt", "节")),
        ("ft/s", "0.3048", ("fps", "feet_per_second")),
    ],
    "data": [
        ("bit", Fraction(1, 8), ("b", "bits", "比特")),
        ("B", "1", ("byte", "bytes", "字节")),
        ("kB", "1000", ("KB", "kilobyte", "kilobytes")),
        ("MB", "1000000", ("megabyte", "megabytes")),
        ("GB", "1000000000", ("gigabyte", "gigabytes")),
        ("TB", "1000000000000", ("terabyte", "terabytes")),
        ("PB", "1000000000000000", ("petabyte", "petabytes")),
        ("KiB", "1024", ("kibibyte", "kibibytes")),
        ("MiB", str(1024**2), ("mebibyte", "mebibytes")),
        ("GiB", str(1024**3), ("gibibyte", "gibibytes")),
        ("TiB", str(1024**4), ("tebibyte", "tebibytes")),
        ("PiB", str(1024**5), ("pebibyte", "pebibytes")),
        ("kbit", "125", ("Kb", "kilobit", "kilobits")),
        ("Mbit", "125000", ("Mb", "megabit", "megabits")),
        ("Gbit", "125000000", ("Gb", "gigabit", "gigabits")),
        ("Tbit", "125000000000", ("Tb", "terabit", "terabits")),
    ],
    "pressure": [
        ("Pa", "1", ("pascal", "pascals", "帕")),
        ("hPa", "100", ("hectopascal", "百帕")),
        ("kPa", "1000", ("kilopascal", "千帕")),
        ("MPa", "1000000", ("megapascal", "兆帕")),
        ("bar", "100000", ("bars", "巴")),
        ("mbar", "100", ("millibar", "millibars")),
        ("atm", "101325", ("atmosphere", "atmospheres", "标准大气压", "大气压")),
        ("psi", Fraction("4.4482216152605") / Fraction("0.00064516"), ("lbf/in2",)),
        ("mmHg", Fraction(101325, 760), ("torr", "毫米汞柱")),
        ("inHg", "3386.389", ("inches_of_mercury",)),
    ],
    "energy": [
        ("J", "1", ("joule", "joules", "焦耳", "焦")),
        ("kJ", "1000", ("kilojoule", "kilojoules", "千焦")),
        ("MJ", "1000000", ("megajoule", "megajoules")),
        ("cal", "4.184", ("calorie", "calories", "卡")),
        ("kcal", "4184", ("Cal", "kilocalorie", "kilocalories", "大卡", "千卡")),
        ("Wh", "3600", ("watt_hour", "watt_hours")),
        ("kWh", "3600000", ("kilowatt_hour", "kilowatt_hours", "千瓦时", "度电")),
        ("eV", "1.602176634e-19", ("electronvolt", "electronvolts")),
        ("BTU", "1055.05585262", ("btu",)),
    ],
}


def _build_units() -> tuple[dict[str, _Unit], dict[str, list[_Unit]]]:
    exact: dict[str, _Unit] = {}
    folded: dict[str, list[_Unit]] = {}
    for category, rows in _UNIT_TABLE.items():
        for name, size, aliases in rows:
            unit = _Unit(category, name, Fraction(size))
            for alias in (name, *aliases):
                exact[alias] = unit
                bucket = folded.setdefault(alias.lower(), [])
                if unit not in bucket:
                    bucket.append(unit)
    return exact, folded


_UNITS, _UNITS_FOLDED = _build_units()
_ABSOLUTE_ZERO = {"C": Fraction("-273.15"), "F": Fraction("-459.67"), "K": Fraction(0)}


def _find_unit(text: str) -> _Unit:
    key = re.sub(r"[\s-]+", "_", text.strip()).replace("²", "2").replace("³", "3")
    if key in _UNITS:
        return _UNITS[key]
    for candidate in (key.lower(), key.lower().removesuffix("s")):
        matches = _UNITS_FOLDED.get(candidate, [])
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            options = ", ".join(f"{u.name} ({u.category})" for u in matches)
            raise ToolError(f"Unit {text!r} is ambiguous; use one of: {options}")
    raise ToolError(
        f"Unknown unit {text!r}. Categories: {', '.join(_UNIT_TABLE)}; e.g. km, lb, °F, L, "
        "m2, h, km/h, MiB, kPa, kWh, 斤, 公斤, 里, 亩."
    )


def _to_kelvin(value: Fraction, unit: str) -> Fraction:
    if unit == "C":
        return value + Fraction("273.15")
    if unit == "F":
        return (value - 32) * Fraction(5, 9) + Fraction("273.15")
    return value


def _from_kelvin(value: Fraction, unit: str) -> Fraction:
    if unit == "C":
        return value - Fraction("273.15")
    if unit == "F":
        return (value - Fraction("273.15")) * Fraction(9, 5) + 32
    return value


class UnitConvertInput(_Input):
    value: FiniteFloat = Field(description="The amount to convert.")
    from_unit: str = Field(min_length=1, max_length=40, description="e.g. 'km', '斤', '°F'.")
    to_unit: str = Field(min_length=1, max_length=40, description="e.g. 'mi', 'kg', 'C'.")


class UnitConvertOutput(BaseModel):
    value: float
    from_unit: str = Field(description="Canonical name of the source unit.")
    to_unit: str = Field(description="Canonical name of the target unit.")
    category: str
    text: str = Field(description="e.g. '1 mi = 1.609344 km'.")


@builtin_tool
class UnitConvert(Tool):
    name = "unit_convert"
    description = (
        "Convert a value between units of length, mass, temperature (C/F/K), volume, area, "
        "time, speed, data size (B, kB, MB, KiB, MiB, bit...), pressure and energy. Accepts "
        "symbols, English names and Chinese units such as 斤, 两, 公斤, 里, 尺, 亩, 公顷. "
        "Units of different kinds cannot be converted."
    )
    category = "data"
    Input = UnitConvertInput
    Output = UnitConvertOutput

    async def run(self, args: UnitConvertInput, ctx: ToolContext) -> UnitConvertOutput:
        source = _find_unit(args.from_unit)
        target = _find_unit(args.to_unit)
        if source.category != target.category:
            raise ToolError(
                f"Cannot convert {source.name} ({source.category}) to "
                f"{target.name} ({target.category})."
            )
        amount = Fraction(repr(args.value))
        if source.category == "temperature":
            if amount < _ABSOLUTE_ZERO[source.name]:
                raise ToolError(f"{args.value:g} {source.name} is below absolute zero.")
            result = _from_kelvin(_to_kelvin(amount, source.name), target.name)
        else:
            result = amount * source.factor / target.factor
        try:
            value = float(result)
        except OverflowError:
            raise ToolError("The converted value is too large.") from None
        return UnitConvertOutput(
            value=value,
            from_unit=source.name,
            to_unit=target.name,
            category=source.category,
            text=f"{args.value:.15g} {source.name} = {value:.15g} {target.name}",
        )
