"""Data tools: JSONPath, JSON formatting and diff, YAML, math_eval, statistics, units."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

import tiangong.runtime.tools.builtin  # noqa: F401 - registers the builtin tools
from tiangong.runtime.tools import BUILTIN, ToolContext, ToolError, ToolInputError
from tiangong.runtime.tools.executor import run_tool

DATA_TOOLS = {
    "json_path",
    "json_format",
    "json_diff",
    "yaml_json_convert",
    "math_eval",
    "statistics",
    "unit_convert",
}

STORE = {
    "store": {
        "book": [{"title": "A", "price": 8}, {"title": "B", "price": 12}],
        "odd.key": {"it's": 1},
    }
}


async def call(name: str, args: dict[str, Any]) -> dict[str, Any]:
    tool = BUILTIN.get(name)
    assert tool is not None, f"{name} is not registered"
    return await run_tool(tool, args, ToolContext())


def test_data_tools_are_registered() -> None:
    for name in DATA_TOOLS:
        tool = BUILTIN.get(name)
        assert tool is not None, name
        assert tool.category == "data"


# --- json_path --------------------------------------------------------------------------------


async def test_json_path_filter_returns_values_and_paths() -> None:
    out = await call(
        "json_path", {"expression": "$.store.book[?(@.price < 10)].title", "data": STORE}
    )
    assert out["matches"] == ["A"]
    assert out["paths"] == ["$.store.book[0].title"]


async def test_json_path_on_json_text_with_quoted_keys() -> None:
    out = await call(
        "json_path", {"expression": "$..*", "json_text": json.dumps({"odd.key": {"it's": [1]}})}
    )
    assert out["paths"] == ["$['odd.key']", "$['odd.key']['it\\'s']", "$['odd.key']['it\\'s'][0]"]


async def test_json_path_caps_matches() -> None:
    out = await call("json_path", {"expression": "$[*]", "data": list(range(10)), "max_matches": 3})
    assert out["matches"] == [0, 1, 2] and out["truncated"] is True


async def test_json_path_catastrophic_regex_filter_is_stopped() -> None:
    data = {"a": [{"b": "a" * 40 + "!"}]}
    started = time.monotonic()
    with pytest.raises(ToolError, match="longer than 5 s"):
        await call("json_path", {"expression": "$.a[?(@.b =~ '(a+)+$')]", "data": data})
    assert time.monotonic() - started < 10


async def test_json_path_invalid_expression() -> None:
    with pytest.raises(ToolError, match="Invalid JSONPath"):
        await call("json_path", {"expression": "$.[", "data": {}})


async def test_json_path_needs_exactly_one_source() -> None:
    with pytest.raises(ToolInputError, match="exactly one"):
        await call("json_path", {"expression": "$.a", "data": {}, "json_text": "{}"})
    with pytest.raises(ToolInputError, match="exactly one"):
        await call("json_path", {"expression": "$.a"})


async def test_json_path_invalid_json_text_names_position() -> None:
    with pytest.raises(ToolError, match="line 1, column 2"):
        await call("json_path", {"expression": "$.a", "json_text": "{bad"})


# --- json_format ------------------------------------------------------------------------------


async def test_json_format_pretty_minify_sort() -> None:
    pretty = await call("json_format", {"text": '{"b":1,"a":[1,2]}', "sort_keys": True})
    assert pretty["text"] == '{\n  "a": [\n    1,\n    2\n  ],\n  "b": 1\n}'
    mini = await call("json_format", {"text": '{ "a" : [ 1, "中" ] }', "action": "minify"})
    assert mini["text"] == '{"a":[1,"中"]}'


async def test_json_format_validate_reports_line_and_column() -> None:
    out = await call("json_format", {"text": '{"b": 1,\n "a": [1, 2]', "action": "validate"})
    assert out["valid"] is False
    assert (out["line"], out["column"]) == (2, 13)
    assert "delimiter" in out["error"]


async def test_json_format_rejects_nan_and_invalid_json() -> None:
    out = await call("json_format", {"text": "[NaN]", "action": "validate"})
    assert out["valid"] is False and "NaN" in out["error"]
    with pytest.raises(ToolError, match="line 1, column 6"):
        await call("json_format", {"text": '{"a" 1}', "action": "pretty"})


async def test_json_format_unknown_action() -> None:
    with pytest.raises(ToolInputError, match="action"):
        await call("json_format", {"text": "{}", "action": "beautify"})


# --- json_diff --------------------------------------------------------------------------------


async def test_json_diff_lists_added_removed_changed() -> None:
    a = {"x": 1, "y": [1, 2, 3], "z": {"k": "v"}, "flag": True, "n": 1}
    b = {"x": 2, "y": [1, 2], "z": {"k": "v", "new key": None}, "flag": 1, "n": 1.0}
    out = await call("json_diff", {"a": a, "b": b})
    assert out["equal"] is False
    assert out["added"] == [{"path": "$.z['new key']", "value": None}]
    assert out["removed"] == [{"path": "$.y[2]", "value": 3}]
    assert out["changed"] == [
        {"path": "$.x", "old": 1, "new": 2},
        {"path": "$.flag", "old": True, "new": 1},
    ]


async def test_json_diff_equal_values() -> None:
    out = await call("json_diff", {"a": {"a": [1, {"b": None}]}, "b": {"a": [1, {"b": None}]}})
    assert out["equal"] is True and out["changed"] == []


async def test_json_diff_caps_entries() -> None:
    out = await call("json_diff", {"a": {}, "b": {str(i): i for i in range(50)}, "max_entries": 10})
    assert len(out["added"]) == 10 and out["truncated"] is True


async def test_json_diff_requires_both_values() -> None:
    with pytest.raises(ToolInputError, match="b"):
        await call("json_diff", {"a": {}})


# --- yaml_json_convert ------------------------------------------------------------------------


async def test_yaml_to_json_with_dates_and_non_string_keys() -> None:
    out = await call(
        "yaml_json_convert",
        {
            "text": "name: 天工\nlist: [1, two]\nday: 2024-01-02\n1: one\n",
            "direction": "yaml_to_json",
        },
    )
    assert json.loads(out["text"]) == {
        "name": "天工",
        "list": [1, "two"],
        "day": "2024-01-02",
        "1": "one",
    }


async def test_json_to_yaml_round_trip() -> None:
    out = await call(
        "yaml_json_convert", {"text": '{"a": {"b": [1, "二"]}}', "direction": "json_to_yaml"}
    )
    assert out["text"] == "a:\n  b:\n  - 1\n  - 二\n"
    back = await call("yaml_json_convert", {"text": out["text"], "direction": "yaml_to_json"})
    assert json.loads(back["text"]) == {"a": {"b": [1, "二"]}}


async def test_yaml_to_json_multiple_documents() -> None:
    with pytest.raises(ToolError, match="all_documents"):
        await call("yaml_json_convert", {"text": "a: 1\n---\nb: 2\n", "direction": "yaml_to_json"})
    out = await call(
        "yaml_json_convert",
        {"text": "a: 1\n---\nb: 2\n", "direction": "yaml_to_json", "all_documents": True},
    )
    assert json.loads(out["text"]) == [{"a": 1}, {"b": 2}]


async def test_yaml_invalid_reports_position() -> None:
    with pytest.raises(ToolError, match="line 2"):
        await call("yaml_json_convert", {"text": "a: [1\nb: 2", "direction": "yaml_to_json"})


async def test_yaml_python_tags_are_refused() -> None:
    with pytest.raises(ToolError, match="constructor"):
        await call(
            "yaml_json_convert",
            {"text": "!!python/object/apply:os.system ['true']", "direction": "yaml_to_json"},
        )


async def test_yaml_alias_bomb_is_refused() -> None:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for prev, name in zip("abcdefg", "bcdefgh", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    with pytest.raises(ToolError, match="expands to more than"):
        await call("yaml_json_convert", {"text": "\n".join(lines), "direction": "yaml_to_json"})


async def test_yaml_self_reference_is_refused() -> None:
    with pytest.raises(ToolError, match="refers to itself"):
        await call("yaml_json_convert", {"text": "&a [*a]", "direction": "yaml_to_json"})


async def test_yaml_oversized_integer_is_a_tool_error() -> None:
    with pytest.raises(ToolError, match="Invalid YAML value"):
        await call("yaml_json_convert", {"text": "n: " + "9" * 5000, "direction": "yaml_to_json"})


async def test_yaml_json_convert_unknown_direction() -> None:
    with pytest.raises(ToolInputError, match="direction"):
        await call("yaml_json_convert", {"text": "a: 1", "direction": "yaml_to_toml"})


# --- math_eval --------------------------------------------------------------------------------


async def test_math_eval_with_variables_and_functions() -> None:
    out = await call(
        "math_eval",
        {
            "expression": "round(price * (1 + tax), 2) + max(xs)",
            "variables": {"price": 100, "tax": 0.13, "xs": [1, 5]},
        },
    )
    assert out == {"result": 118.0, "result_type": "float"}


async def test_math_eval_boolean_result() -> None:
    out = await call(
        "math_eval", {"expression": "1 < x <= 3 and not done", "variables": {"x": 2, "done": False}}
    )
    assert out == {"result": True, "result_type": "bool"}


async def test_math_eval_refuses_huge_power_and_code() -> None:
    with pytest.raises(ToolError, match="too large"):
        await call("math_eval", {"expression": "9**9**9"})
    with pytest.raises(ToolError, match="attribute"):
        await call("math_eval", {"expression": "().__class__"})


async def test_math_eval_empty_expression() -> None:
    with pytest.raises(ToolInputError, match="expression"):
        await call("math_eval", {"expression": ""})


# --- statistics -------------------------------------------------------------------------------


async def test_statistics_summary() -> None:
    out = await call("statistics", {"values": [1, 2, 2, 3, 4, 10], "percentiles": [50, 90, 99.5]})
    assert out["count"] == 6 and out["sum"] == 22
    assert out["mean"] == pytest.approx(22 / 6)
    assert out["median"] == 2.5
    assert out["mode"] == [2]
    assert out["variance"] == pytest.approx(10.666666666)
    assert out["population_variance"] == pytest.approx(8.888888888)
    assert (out["min"], out["max"], out["range"]) == (1, 10, 9)
    assert out["percentiles"] == {"p50": 2.5, "p90": 7.0, "p99.5": pytest.approx(9.85)}


async def test_statistics_single_value_has_no_sample_stdev() -> None:
    out = await call("statistics", {"values": [5]})
    assert out["stdev"] is None and out["population_stdev"] == 0
    assert out["mode"] == []


async def test_statistics_bad_input() -> None:
    with pytest.raises(ToolInputError, match="values"):
        await call("statistics", {"values": []})
    with pytest.raises(ToolInputError, match="percentiles"):
        await call("statistics", {"values": [1], "percentiles": [101]})
    with pytest.raises(ToolError, match="overflow"):
        await call("statistics", {"values": [1e308, 1e308]})


# --- unit_convert -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "source", "target", "expected"),
    [
        (1, "mi", "km", 1.609344),
        (1, "inch", "cm", 2.54),
        (100, "°F", "C", 37.77777777777778),
        (0, "celsius", "K", 273.15),
        (1, "斤", "g", 500),
        (2, "公斤", "斤", 4),
        (1, "亩", "m2", 666.6666666666666),
        (1, "里", "km", 0.5),
        (1, "GiB", "MB", 1073.741824),
        (8, "bit", "B", 1),
        (60, "mph", "km/h", 96.56064),
        (1, "atm", "kPa", 101.325),
        (1, "kWh", "MJ", 3.6),
        (2, "square feet", "m²", 0.18580608),
        (1, "L", "mL", 1000),
        (90, "minutes", "h", 1.5),
    ],
)
async def test_unit_convert(value: float, source: str, target: str, expected: float) -> None:
    out = await call("unit_convert", {"value": value, "from_unit": source, "to_unit": target})
    assert out["value"] == pytest.approx(expected, rel=1e-12)


async def test_unit_convert_incompatible_units() -> None:
    with pytest.raises(ToolError, match=r"Cannot convert kg \(mass\) to m \(length\)"):
        await call("unit_convert", {"value": 1, "from_unit": "kg", "to_unit": "m"})


async def test_unit_convert_unknown_and_ambiguous_units() -> None:
    with pytest.raises(ToolError, match="Unknown unit 'furlong'"):
        await call("unit_convert", {"value": 1, "from_unit": "furlong", "to_unit": "m"})
    with pytest.raises(ToolError, match="ambiguous"):
        await call("unit_convert", {"value": 1, "from_unit": "mb", "to_unit": "B"})


async def test_unit_convert_below_absolute_zero() -> None:
    with pytest.raises(ToolError, match="absolute zero"):
        await call("unit_convert", {"value": -300, "from_unit": "C", "to_unit": "K"})


async def test_unit_convert_rejects_non_finite_values() -> None:
    with pytest.raises(ToolInputError, match="value"):
        await call("unit_convert", {"value": "inf", "from_unit": "m", "to_unit": "km"})
