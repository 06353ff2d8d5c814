"""JSON Schema checks for contracts: the schemas themselves, and inputs against input_schema
(through `tiangong.runtime.schemas`: no remote $ref, patterns with a time limit)."""

from __future__ import annotations

from typing import Any

from tiangong.errors import BadRequest
from tiangong.runtime.schemas import SchemaProblem, errors
from tiangong.runtime.schemas import check_schema as _check
from tiangong.scene_contracts.schemas import InputError, ValidateInputResult

MAX_ERRORS = 50


def check_schema(schema: dict[str, Any], field: str) -> None:
    try:
        _check(schema)
    except SchemaProblem as exc:
        raise BadRequest(
            f"{field} is not a valid JSON schema: {exc}", code=f"INVALID_{field.upper()}"
        ) from None


def validate(schema: dict[str, Any], value: dict[str, Any]) -> ValidateInputResult:
    """Invalid input is a result (valid=False with errors); a broken schema is a BadRequest."""
    try:
        found = errors(schema, value, MAX_ERRORS)
    except SchemaProblem as exc:
        raise BadRequest(
            f"input_schema cannot be used: {exc}", code="INVALID_INPUT_SCHEMA"
        ) from None
    listed = [InputError(path=e.json_path, message=e.message) for e in found]
    return ValidateInputResult(valid=not listed, errors=listed)
