"""Validated, compiled workflows by (workflow id, version). A version never changes (every save
makes a new one), so a process validates and compiles each version once, not once per run."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from tiangong.runtime.workflow import WorkflowEngine, WorkflowInvalid, validate

MAX_CACHED = 256

Key = tuple[str, int]
# A valid version's engine (unbound), or an invalid one's problems.
_cache: OrderedDict[Key, WorkflowEngine | list[dict[str, Any]]] = OrderedDict()


def _entry(workflow_id: str, version: int, definition: dict[str, Any]) -> Any:
    key = (workflow_id, version)
    entry = _cache.get(key)
    if entry is None:
        problems = validate(definition)
        entry = [p.to_dict() for p in problems] if problems else WorkflowEngine(definition)
        _cache[key] = entry
        if len(_cache) > MAX_CACHED:
            _cache.popitem(last=False)
    else:
        _cache.move_to_end(key)
    return entry


def problems(workflow_id: str, version: int, definition: dict[str, Any]) -> list[dict[str, Any]]:
    entry = _entry(workflow_id, version, definition)
    return entry if isinstance(entry, list) else []


def engine(workflow_id: str, version: int, definition: dict[str, Any]) -> WorkflowEngine:
    """The version's engine, unbound (see `WorkflowEngine.bind`); raises WorkflowInvalid."""
    entry = _entry(workflow_id, version, definition)
    if isinstance(entry, list):
        raise WorkflowInvalid(validate(definition))
    assert isinstance(entry, WorkflowEngine)
    return entry
