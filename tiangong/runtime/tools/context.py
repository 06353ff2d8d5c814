"""What a tool may use of the world. The platform fills these in; tests can too."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class HttpResult:
    status: int
    headers: Mapping[str, str]
    content: bytes
    url: str
    elapsed_ms: float

    @property
    def text(self) -> str:
        return self.content.decode(_charset(self.headers), errors="replace")


def _charset(headers: Mapping[str, str]) -> str:
    content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    for part in content_type.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip('"')
    return "utf-8"


class HttpFetcher(Protocol):
    """Outbound HTTP to user-given URLs. The platform's implementation blocks private targets."""

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | str | None = None,
        timeout_s: float | None = None,
        max_bytes: int | None = None,
    ) -> HttpResult: ...


@dataclass(frozen=True)
class CodeResult:
    ok: bool
    # The JSON value the code returned (see CodeRunner), or None.
    result: Any
    stdout: str
    stderr: str
    error: str | None
    exit_code: int | None
    duration_ms: float


class CodeRunner(Protocol):
    """Runs user code in a sandbox and never outside one."""

    async def run(
        self,
        language: str,
        code: str,
        *,
        inputs: Mapping[str, Any] | None = None,
        timeout_s: float = 10.0,
        memory_mb: int = 256,
    ) -> CodeResult: ...


class TextModel(Protocol):
    """A one-shot LLM completion for tools such as summarise and translate."""

    async def complete(
        self, prompt: str, *, system: str | None = None, max_tokens: int | None = None
    ) -> str: ...


CallAgent = Callable[[str, str], Awaitable[str]]


@dataclass
class ToolContext:
    """Per-call context. Optional parts are None where the platform has not provided them;
    a tool that needs a missing part fails with a clear ToolError."""

    user_id: str | None = None
    agent_id: str | None = None
    conversation_id: str | None = None
    # The caller's own directory for file tools; nothing outside it is reachable.
    workspace: Path | None = None
    http: HttpFetcher | None = None
    code: CodeRunner | None = None
    llm: TextModel | None = None
    # call_agent(agent_id, message) -> the agent's reply
    call_agent: CallAgent | None = None
    extras: dict[str, Any] = field(default_factory=dict)
