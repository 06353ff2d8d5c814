"""JSON Schema validation that is safe for user-given schemas (custom tools' parameters, scene
contracts' input_schema).

- `$ref` resolves only inside the schema: jsonschema's default registry fetches remote URLs,
  which would let a user make the server dial any address (metadata, loopback).
- `pattern` and `patternProperties` run on `regex` with a time limit: Python's `re` backtracks
  without bound ("^(a|aa)+$" takes seconds on 30 characters and blocks the process).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import jsonschema
import referencing
import referencing.exceptions
import regex
from jsonschema.validators import extend, validator_for

PATTERN_TIMEOUT_S = 0.05
_NO_REMOTE: referencing.Registry[Any] = referencing.Registry()


class SchemaProblem(Exception):
    """The schema cannot be used: malformed, an unresolvable or endless $ref, a bad or runaway
    pattern. The message says which."""


def _matches(pattern: str, text: str) -> bool:
    try:
        return regex.search(pattern, text, timeout=PATTERN_TIMEOUT_S) is not None
    except TimeoutError:
        raise SchemaProblem(f"pattern {pattern!r} takes too long to match; simplify it") from None
    except regex.error as exc:
        raise SchemaProblem(f"invalid pattern {pattern!r}: {exc}") from None


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    if validator.is_type(instance, "string") and not _matches(pattern, instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator: Any, patterns: Any, instance: Any, schema: Any) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if _matches(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _validator_class(schema: dict[str, Any]) -> Any:
    # Honours "$schema" (draft 4 to 2020-12); without it, the current draft.
    base = validator_for(schema, default=jsonschema.Draft202012Validator)
    return extend(base, {"pattern": _pattern, "patternProperties": _pattern_properties})


def check_schema(schema: dict[str, Any]) -> None:
    """Raises SchemaProblem if `schema` is not a valid JSON Schema."""
    try:
        _validator_class(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise SchemaProblem(exc.message) from None


def errors(schema: dict[str, Any], value: Any, limit: int) -> list[jsonschema.ValidationError]:
    """Up to `limit` ways `value` breaks `schema` (none: valid). Raises SchemaProblem."""
    check_schema(schema)
    validator = _validator_class(schema)(schema, registry=_NO_REMOTE)
    try:
        return list(itertools.islice(validator.iter_errors(value), limit))
    except referencing.exceptions.Unresolvable as exc:
        raise SchemaProblem(
            f"a $ref cannot be resolved: {getattr(exc, 'ref', '')} (only references inside "
            "the schema are followed)"
        ) from None
    except RecursionError:
        # {"$ref": "#"} and the like refer to themselves without end.
        raise SchemaProblem("it refers to itself without end") from None
