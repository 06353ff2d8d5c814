"""`{{node_id.field}}` references: finding them in configs and resolving them against outputs.

A reference names a node and a path into its outputs: `{{llm1.text}}`, `{{http.json.items[0].id}}`,
`{{start.question}}` (the run's inputs; the start node is also reachable by its own id).
A string that is exactly one reference becomes the referenced value with its type; references
inside a longer string are rendered as text (JSON for objects and lists, "" for null).
A reference to a node that was skipped (its branch not taken) resolves to null, so a node that
merges branches can name the outputs of each.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from tiangong.runtime.workflow.errors import VariableError

START_ALIAS: Final = "start"

_REF = re.compile(r"\{\{\s*([\w-]+)((?:\.[\w-]+|\[-?\d+\])*)\s*\}\}")
_SEGMENT = re.compile(r"\.([\w-]+)|\[(-?\d+)\]")


class _Skipped:
    """Stands in for the outputs of a node whose branch was not taken."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "SKIPPED"


SKIPPED: Final = _Skipped()


@dataclass(frozen=True, slots=True)
class Reference:
    node_id: str
    # Field names, or list indexes written as [i].
    path: tuple[str | int, ...]
    text: str

    @property
    def field(self) -> str | None:
        first = self.path[0] if self.path else None
        return first if isinstance(first, str) else None


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> tuple[Reference | None, tuple[tuple[re.Match[str], Reference], ...]]:
    """(the reference if `text` is exactly one, every reference with its match)."""
    found = tuple((m, _reference(m)) for m in _REF.finditer(text))
    exact = found[0][1] if len(found) == 1 and found[0][0].span() == (0, len(text)) else None
    return exact, found


def _reference(match: re.Match[str]) -> Reference:
    path: list[str | int] = []
    for name, index in _SEGMENT.findall(match.group(2)):
        path.append(name if name else int(index))
    return Reference(match.group(1), tuple(path), match.group(0))


def references_in(text: str) -> list[Reference]:
    return [ref for _, ref in _parse(text)[1]] if "{{" in text else []


def find_references(value: Any, location: str = "") -> Iterator[tuple[str, Reference]]:
    """Every reference in a config value, with where it is (`headers.Authorization`, `items[0]`)."""
    if isinstance(value, str):
        for ref in references_in(value):
            yield location, ref
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from find_references(item, f"{location}.{key}" if location else str(key))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from find_references(item, f"{location}[{i}]")


def has_references(value: Any) -> bool:
    return next(find_references(value), None) is not None


def is_exact_reference(value: Any) -> bool:
    return isinstance(value, str) and "{{" in value and _parse(value)[0] is not None


def resolve(value: Any, variables: Mapping[str, Any]) -> Any:
    """`value` with every reference replaced. Raises VariableError for one that cannot be."""
    if isinstance(value, str):
        if "{{" not in value:
            return value
        exact, found = _parse(value)
        if exact is not None:
            return lookup(exact, variables)
        if not found:
            return value
        parts: list[str] = []
        end = 0
        for match, ref in found:
            parts.append(value[end : match.start()])
            parts.append(_text(lookup(ref, variables)))
            end = match.end()
        parts.append(value[end:])
        return "".join(parts)
    if isinstance(value, Mapping):
        return {key: resolve(item, variables) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [resolve(item, variables) for item in value]
    return value


def lookup(ref: Reference, variables: Mapping[str, Any]) -> Any:
    if ref.node_id not in variables:
        raise VariableError(f"{ref.text}: node '{ref.node_id}' has no outputs here")
    current = variables[ref.node_id]
    if current is SKIPPED:
        return None
    for depth, step in enumerate(ref.path):
        current = _step(current, step, ref, depth)
    return current


def _step(current: Any, step: str | int, ref: Reference, depth: int) -> Any:
    where = ref.node_id + "".join(
        f"[{s}]" if isinstance(s, int) else f".{s}" for s in ref.path[:depth]
    )
    if isinstance(current, Mapping):
        if step in current:
            return current[step]
        if isinstance(step, int) and str(step) in current:
            return current[str(step)]
        raise VariableError(f"{ref.text}: {where} has no field '{step}'")
    if isinstance(current, Sequence) and not isinstance(current, str):
        index = int(step) if isinstance(step, str) and step.lstrip("-").isdigit() else step
        if not isinstance(index, int):
            raise VariableError(f"{ref.text}: {where} is a list; use an index, not '{step}'")
        try:
            return current[index]
        except IndexError:
            raise VariableError(f"{ref.text}: index {index} is out of range") from None
    kind = "null" if current is None else type(current).__name__
    raise VariableError(f"{ref.text}: {where} is {kind} and has no field '{step}'")


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False, default=str)
