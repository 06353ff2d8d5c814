"""Answers from a knowledge base: retrieve, number the sources, ask the user's model to cite
them as [n]. Also the prompt and citation shapes agent chat uses for bound knowledge bases."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import asdict, dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.chat.sse import frame
from tiangong.errors import AppError
from tiangong.knowledge import retrieval
from tiangong.knowledge.retrieval import Hit
from tiangong.knowledge.schemas import Citation, RagAnswer, RagRequest
from tiangong.knowledge.service import visible_kb
from tiangong.knowledge.spec import spec_of
from tiangong.llm_logs.recorder import recorder
from tiangong.model_configs.service import ResolvedModel, resolve
from tiangong.runtime.llm import (
    ChatMessage,
    ChatParams,
    OpenAICompatibleModel,
    TextDelta,
    Usage,
)

INSTRUCTIONS = (
    "Answer using only the numbered sources below, in the language of the question. After "
    "each statement, cite the sources it rests on as [n]. If the sources do not hold the "
    "answer, say that you do not know."
)


def sources_text(hits: Sequence[Hit]) -> str:
    blocks = []
    for index, hit in enumerate(hits, start=1):
        title = hit.document_name + (f" / {hit.heading}" if hit.heading else "")
        blocks.append(f"[{index}] {title}\n{hit.text}")
    return "\n\n".join(blocks)


def citations(hits: Sequence[Hit]) -> list[Citation]:
    return [
        Citation(
            index=index,
            kb_id=hit.kb_id,
            document_id=hit.document_id,
            document_name=hit.document_name,
            chunk_id=hit.chunk_id,
            position=hit.position,
            score=round(hit.score, 6),
            text=hit.text,
        )
        for index, hit in enumerate(hits, start=1)
    ]


def system_prompt(hits: Sequence[Hit], base: str | None = None) -> str:
    sources = sources_text(hits) or "(no source matched the question)"
    head = f"{base}\n\n" if base else ""
    return f"{head}{INSTRUCTIONS}\n\nSources:\n\n{sources}"


def _usage(usage: Usage | None) -> dict[str, int]:
    return {k: v for k, v in asdict(usage).items() if v} if usage else {}


@dataclass(frozen=True)
class Prepared:
    """A question with its sources, ready for the model."""

    model: ResolvedModel
    hits: list[Hit]
    user_id: str
    question: str

    @property
    def messages(self) -> list[ChatMessage]:
        return [
            ChatMessage(role="system", content=system_prompt(self.hits)),
            ChatMessage(role="user", content=self.question),
        ]

    @property
    def params(self) -> ChatParams:
        model = self.model
        return ChatParams(
            model=model.model_name, temperature=model.temperature, max_tokens=model.max_tokens
        )

    def client(self) -> OpenAICompatibleModel:
        return self.model.client(on_call=recorder(user_id=self.user_id))


async def prepare(session: AsyncSession, user: User, kb_id: str, data: RagRequest) -> Prepared:
    kb = spec_of(await visible_kb(session, user, kb_id))
    model = await resolve(session, user, data.model)
    # Retrieval and the model call go to the network: no transaction stays open.
    await session.commit()
    found = await retrieval.search(kb, data.question, top_k=data.top_k, mode=data.mode)
    return Prepared(model, found.hits, user.id, data.question)


async def answer(prepared: Prepared) -> RagAnswer:
    async with prepared.client() as client:
        result = await client.chat(prepared.messages, prepared.params)
    return RagAnswer(
        answer=result.text,
        citations=citations(prepared.hits),
        model=prepared.model.model_name,
        token_usage=_usage(result.usage),
    )


async def stream(prepared: Prepared) -> AsyncIterator[str]:
    """SSE: `citations` first, then `token`s, then `done` (or `error`)."""
    cited = [c.model_dump() for c in citations(prepared.hits)]
    yield frame("citations", {"citations": cited})
    text: list[str] = []
    usage: Usage | None = None
    try:
        async with prepared.client() as client:
            deltas = client.stream(prepared.messages, prepared.params)
            async with aclosing(deltas):
                async for delta in deltas:
                    if isinstance(delta, TextDelta):
                        text.append(delta.text)
                        yield frame("token", {"text": delta.text})
                    elif isinstance(delta, Usage):
                        usage = delta
    except AppError as exc:
        yield frame("error", {"code": exc.code, "message": exc.message})
        return
    done = {
        "answer": "".join(text),
        "citations": cited,
        "model": prepared.model.model_name,
        "token_usage": _usage(usage),
    }
    yield frame("done", done)
