"""Validating against user-given JSON schemas (custom tools, scene contracts): a $ref never
leaves the schema and a runaway pattern is stopped in time."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tiangong.runtime.schemas import SchemaProblem, errors
from tiangong.runtime.tools.base import SchemaTool, ToolInputError


class Echo(SchemaTool):
    async def run(self, args: Any, ctx: Any) -> Any:  # never called here
        raise AssertionError


def tool(parameters: dict[str, Any]) -> Echo:
    return Echo("echo", "echoes", "test", parameters)


def test_a_remote_ref_is_not_fetched(monkeypatch: pytest.MonkeyPatch) -> None:
    import urllib.request

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a remote $ref was fetched")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    schema = {"properties": {"a": {"$ref": "http://169.254.169.254/latest/schema.json"}}}
    with pytest.raises(SchemaProblem, match="cannot be resolved"):
        errors(schema, {"a": 1}, 10)
    with pytest.raises(ToolInputError, match="invalid input schema"):
        tool(schema).parse_input({"a": 1})
    # References inside the schema still work.
    local = {"$defs": {"n": {"type": "integer"}}, "properties": {"a": {"$ref": "#/$defs/n"}}}
    assert tool(local).parse_input({"a": 1}) == {"a": 1}
    with pytest.raises(ToolInputError, match="a: 'x' is not of type 'integer'"):
        tool(local).parse_input({"a": "x"})


def test_a_runaway_pattern_is_stopped_and_a_fair_one_works() -> None:
    schema = {"properties": {"s": {"type": "string", "pattern": "^(a|aa)+$"}}}
    started = time.perf_counter()
    with pytest.raises(ToolInputError, match="takes too long"):
        tool(schema).parse_input({"s": "a" * 60 + "b"})
    assert time.perf_counter() - started < 1
    assert tool(schema).parse_input({"s": "aaaa"}) == {"s": "aaaa"}
    keys = {"patternProperties": {"^x-": {"type": "integer"}}}
    assert errors(keys, {"x-a": 1, "y": "free"}, 10) == []
    assert [e.message for e in errors(keys, {"x-a": "1"}, 10)] == ["'1' is not of type 'integer'"]
    with pytest.raises(SchemaProblem, match="regex"):  # the schema check refuses it
        errors({"pattern": "(unclosed"}, "x", 10)
