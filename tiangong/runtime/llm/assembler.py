"""Turns streamed tool-call fragments into complete tool calls."""

from __future__ import annotations

from dataclasses import dataclass, field

from tiangong.runtime.llm.types import ToolCall, ToolCallDelta


@dataclass(slots=True)
class _Partial:
    id: str | None = None
    name: str | None = None
    arguments: list[str] = field(default_factory=list)


class ToolCallAssembler:
    def __init__(self) -> None:
        self._parts: dict[int, _Partial] = {}

    def add(self, delta: ToolCallDelta) -> None:
        part = self._parts.setdefault(delta.index, _Partial())
        # Some providers repeat id and name on every fragment; the first one wins.
        if delta.id and part.id is None:
            part.id = delta.id
        if delta.name and part.name is None:
            part.name = delta.name
        if delta.arguments_fragment:
            part.arguments.append(delta.arguments_fragment)

    def __bool__(self) -> bool:
        return bool(self._parts)

    def calls(self) -> list[ToolCall]:
        """Complete calls in index order. Calls with no name are dropped as unusable."""
        return [
            # A few OpenAI-compatible servers omit ids; the reply must still reference one.
            ToolCall(id=p.id or f"call_{i}", name=p.name, arguments="".join(p.arguments) or "{}")
            for i, p in sorted(self._parts.items())
            if p.name
        ]
