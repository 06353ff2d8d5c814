"""Knowledge for agent chat: the knowledge bases a turn may read, the sources put in its
system prompt, the `knowledge_search` tool's callable, and the citations the answer carries.

Both the automatic retrieval and the tool number their passages in one `Citations` list, so a
[n] in the answer always means the same chunk, however it reached the model.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.errors import AppError
from tiangong.knowledge import rag, retrieval
from tiangong.knowledge.models import KnowledgeBase
from tiangong.knowledge.retrieval import Hit
from tiangong.knowledge.service import visible_specs
from tiangong.knowledge.spec import KbSpec, spec_of
from tiangong.knowledge.tool import KnowledgeSearch

log = logging.getLogger(__name__)

# An agent without bound knowledge bases searches at most this many of the user's own.
MAX_UNBOUND = 20


class Citations:
    """The numbered sources of one answer. `items` is what the message stores."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self._index: dict[str, int] = {}

    def add(self, hits: Sequence[Hit]) -> list[dict[str, Any]]:
        added = []
        for hit in hits:
            if hit.chunk_id not in self._index:
                self._index[hit.chunk_id] = len(self.items) + 1
                citation = rag.citations([hit])[0].model_copy(
                    update={"index": self._index[hit.chunk_id]}
                )
                self.items.append(citation.model_dump())
            added.append(self.items[self._index[hit.chunk_id] - 1])
        return added


async def readable(session: AsyncSession, user: User, kb_ids: Sequence[str]) -> list[KbSpec]:
    """The bound knowledge bases the user may read (others are left out silently)."""
    return await visible_specs(session, user, list(kb_ids))


async def own(session: AsyncSession, user: User) -> list[KbSpec]:
    stmt = (
        select(KnowledgeBase)
        .where(KnowledgeBase.owner_id == user.id)
        .order_by(KnowledgeBase.created_at.desc())
        .limit(MAX_UNBOUND)
    )
    return [spec_of(kb) for kb in (await session.execute(stmt)).scalars()]


async def _search(kbs: Sequence[KbSpec], query: str, top_k: int | None) -> list[Hit]:
    try:
        return await retrieval.search_many(kbs, query, top_k=top_k)
    except AppError as exc:
        # An embeddings outage must not fail the chat: the model answers without sources.
        log.warning("knowledge retrieval failed: %s: %s", exc.code, exc.message)
        return []


async def ground(
    base_prompt: str | None, kbs: Sequence[KbSpec], message: str, cited: Citations
) -> str | None:
    """The system prompt with the best passages for `message` as numbered sources."""
    if not kbs:
        return base_prompt
    hits = await _search(kbs, message, None)
    if not hits:
        return base_prompt
    cited.add(hits)
    return rag.system_prompt(hits, base_prompt)


def searcher(kbs: Sequence[KbSpec], cited: Citations) -> KnowledgeSearch:
    async def search(query: str, top_k: int | None) -> list[dict[str, Any]]:
        return cited.add(await _search(kbs, query, top_k))

    return search
