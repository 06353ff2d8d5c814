"""Knowledge bases and their documents: the rules. Jobs start only after the commit."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.errors import Conflict, NotFound, ValidationFailed
from tiangong.knowledge import files, jobs, repository
from tiangong.knowledge import store as stores
from tiangong.knowledge.engines import local_embedder
from tiangong.knowledge.models import Document, KnowledgeBase
from tiangong.knowledge.schemas import (
    DocumentList,
    DocumentRead,
    KnowledgeBaseCreate,
    KnowledgeBaseList,
    KnowledgeBaseRead,
    KnowledgeBaseUpdate,
    RerankRead,
    RerankSettings,
)
from tiangong.knowledge.spec import KbSpec, spec_of
from tiangong.net import model_hosts
from tiangong.permissions import repository as grants_repository
from tiangong.security.crypto import encrypt, mask

# Changing any of these makes the stored chunks or vectors wrong: every document re-indexes.
REINDEX_FIELDS = (
    "chunk_tokens",
    "chunk_overlap",
    "embedding_provider",
    "embedding_model",
    "embedding_dim",
    "embedding_base_url",
)


def to_read(kb: KnowledgeBase) -> KnowledgeBaseRead:
    rerank = None
    if kb.rerank_config:
        rerank = RerankRead(
            base_url=kb.rerank_config["base_url"],
            model=kb.rerank_config["model"],
            style=kb.rerank_config.get("style", "jina"),
            candidates=kb.rerank_config.get("candidates", 20),
            api_key_set=kb.rerank_api_key_encrypted is not None,
            api_key_masked=kb.rerank_api_key_hint,
        )
    return KnowledgeBaseRead(
        id=kb.id,
        owner_id=kb.owner_id,
        name=kb.name,
        description=kb.description,
        chunk_tokens=kb.chunk_tokens,
        chunk_overlap=kb.chunk_overlap,
        embedding_provider=kb.embedding_provider,
        embedding_model=kb.embedding_model,
        embedding_dim=kb.embedding_dim,
        embedding_base_url=kb.embedding_base_url,
        embedding_api_key_set=kb.embedding_api_key_encrypted is not None,
        embedding_api_key_masked=kb.embedding_api_key_hint,
        top_k=kb.top_k,
        score_threshold=kb.score_threshold,
        search_mode=kb.search_mode,
        rerank=rerank,
        document_count=kb.document_count,
        chunk_count=kb.chunk_count,
        created_at=kb.created_at,
        updated_at=kb.updated_at,
    )


def document_read(doc: Document) -> DocumentRead:
    return DocumentRead.model_validate(doc)


async def visible_kb(session: AsyncSession, user: User, kb_id: str) -> KnowledgeBase:
    kb = await repository.get_visible(session, user, kb_id)
    if kb is None:
        raise NotFound("Knowledge base not found", code="KNOWLEDGE_BASE_NOT_FOUND")
    return kb


async def visible_specs(session: AsyncSession, user: User, kb_ids: list[str]) -> list[KbSpec]:
    """The knowledge bases among `kb_ids` the user may read; others are silently left out."""
    return [spec_of(kb) for kb in await repository.visible_among(session, user, kb_ids)]


async def _document(session: AsyncSession, kb: KnowledgeBase, doc_id: str) -> Document:
    doc = await repository.document_in(session, kb.id, doc_id)
    if doc is None:
        raise NotFound("Document not found", code="DOCUMENT_NOT_FOUND")
    return doc


def _set_embedding_key(kb: KnowledgeBase, key: str | None) -> None:
    kb.embedding_api_key_encrypted = encrypt(key) if key else None
    kb.embedding_api_key_hint = mask(key) if key else None


def _set_rerank(kb: KnowledgeBase, rerank: RerankSettings | None) -> None:
    if rerank is None:
        kb.rerank_config, kb.rerank_api_key_encrypted, kb.rerank_api_key_hint = None, None, None
        return
    kb.rerank_config = {
        "base_url": str(rerank.base_url).rstrip("/"),
        "model": rerank.model,
        "style": rerank.style,
        "candidates": rerank.candidates,
    }
    if rerank.api_key is not None:
        kb.rerank_api_key_encrypted = encrypt(rerank.api_key) if rerank.api_key else None
        kb.rerank_api_key_hint = mask(rerank.api_key)


def _embedding_identity(provider: str, model: str | None, dim: int | None) -> tuple[str, int]:
    if provider == "local":
        # The bundled model is the only local one; its name and size are facts, not choices.
        local = local_embedder()
        return local.model, local.dim
    assert model is not None and dim is not None
    return model, dim


async def _check_name(session: AsyncSession, owner_id: str, name: str, exclude: str | None) -> None:
    if await repository.name_taken(session, owner_id, name, exclude):
        raise Conflict(
            f"You already have a knowledge base named '{name}'", code="KNOWLEDGE_BASE_EXISTS"
        )


async def list_kbs(
    session: AsyncSession, user: User, page: int, page_size: int
) -> KnowledgeBaseList:
    rows, total = await repository.list_visible(
        session, user, offset=(page - 1) * page_size, limit=page_size
    )
    return KnowledgeBaseList(
        items=[to_read(kb) for kb in rows], total=total, page=page, page_size=page_size
    )


async def create(session: AsyncSession, user: User, data: KnowledgeBaseCreate) -> KnowledgeBaseRead:
    await _check_name(session, user.id, data.name, None)
    model, dim = _embedding_identity(
        data.embedding_provider, data.embedding_model, data.embedding_dim
    )
    kb = KnowledgeBase(
        owner_id=user.id,
        name=data.name,
        description=data.description,
        chunk_tokens=data.chunk_tokens,
        chunk_overlap=data.chunk_overlap,
        embedding_provider=data.embedding_provider,
        embedding_model=model,
        embedding_dim=dim,
        embedding_base_url=(
            _checked(str(data.embedding_base_url).rstrip("/"))
            if data.embedding_provider == "openai" and data.embedding_base_url
            else None
        ),
        top_k=data.top_k,
        score_threshold=data.score_threshold,
        search_mode=data.search_mode,
    )
    _set_embedding_key(kb, data.embedding_api_key if data.embedding_provider == "openai" else None)
    _set_rerank(kb, data.rerank)
    session.add(kb)
    await session.flush()
    await session.refresh(kb)
    return to_read(kb)


def _checked(url: str) -> str:
    # Checked for admins too: embeddings and rerank URLs are always guarded at call time.
    model_hosts.check(url, "embedding_base_url")
    return url


def _apply_embedding(kb: KnowledgeBase, changes: dict[str, Any]) -> None:
    provider = changes.pop("embedding_provider", None) or kb.embedding_provider
    model = changes.pop("embedding_model", None)
    dim = changes.pop("embedding_dim", None)
    base_url = changes.pop("embedding_base_url", None)
    if provider == "openai":
        # Switching from the local model, nothing of it carries over.
        keep = kb.embedding_provider == "openai"
        model = model or (kb.embedding_model if keep else None)
        dim = dim or (kb.embedding_dim if keep else None)
        base_url = (
            _checked(str(base_url).rstrip("/"))
            if base_url
            else (kb.embedding_base_url if keep else None)
        )
        missing = [
            name
            for name, value in (
                ("embedding_model", model),
                ("embedding_dim", dim),
                ("embedding_base_url", base_url),
            )
            if value is None
        ]
        if missing:
            raise ValidationFailed(f"the openai embedding provider needs {', '.join(missing)}")
    else:
        base_url = None
        _set_embedding_key(kb, None)
    kb.embedding_provider = provider
    kb.embedding_model, kb.embedding_dim = _embedding_identity(provider, model, dim)
    kb.embedding_base_url = base_url


async def update(
    session: AsyncSession, user: User, kb_id: str, data: KnowledgeBaseUpdate
) -> KnowledgeBaseRead:
    kb = await visible_kb(session, user, kb_id)
    await repository.lock_kb(session, kb.id)
    changes = data.model_dump(exclude_unset=True)
    before = {name: getattr(kb, name) for name in REINDEX_FIELDS}
    if changes.get("name"):
        await _check_name(session, kb.owner_id, changes["name"], kb.id)
    if "embedding_api_key" in changes:
        _set_embedding_key(kb, changes.pop("embedding_api_key"))
    if "rerank" in changes:
        changes.pop("rerank")
        _set_rerank(kb, data.rerank)
    if any(name.startswith("embedding_") for name in changes):
        _apply_embedding(kb, changes)
    for key, value in changes.items():
        if value is None and key != "score_threshold":
            raise ValidationFailed(f"{key} cannot be null")
        setattr(kb, key, value)
    if kb.chunk_overlap >= kb.chunk_tokens:
        raise ValidationFailed("chunk_overlap must be smaller than chunk_tokens")
    if any(getattr(kb, name) != value for name, value in before.items()):
        await _reindex_all(session, kb)
    await session.flush()
    await session.refresh(kb)
    return to_read(kb)


async def _reindex_all(session: AsyncSession, kb: KnowledgeBase) -> None:
    doc_ids = await repository.requeue_all(session, kb.id)
    await repository.refresh_counts(session, kb.id)
    jobs.submit_on_commit(session, doc_ids)


async def get(session: AsyncSession, user: User, kb_id: str) -> KnowledgeBaseRead:
    return to_read(await visible_kb(session, user, kb_id))


async def delete(session: AsyncSession, user: User, kb_id: str) -> None:
    kb = await visible_kb(session, user, kb_id)
    await repository.lock_kb(session, kb.id)
    await stores.current().remove(session, kb.id)
    await grants_repository.delete_grants_for(session, "knowledge_base", kb.id)
    await repository.delete_kb(session, kb.id)
    files.remove_kb(kb.id)


# --- documents --------------------------------------------------------------------------------


async def list_documents(session: AsyncSession, user: User, kb_id: str) -> DocumentList:
    kb = await visible_kb(session, user, kb_id)
    docs = await repository.documents(session, kb.id)
    return DocumentList(items=[document_read(doc) for doc in docs], total=len(docs))


async def get_document(session: AsyncSession, user: User, kb_id: str, doc_id: str) -> DocumentRead:
    kb = await visible_kb(session, user, kb_id)
    return document_read(await _document(session, kb, doc_id))


async def delete_document(session: AsyncSession, user: User, kb_id: str, doc_id: str) -> None:
    kb = await visible_kb(session, user, kb_id)
    await repository.lock_kb(session, kb.id)
    doc = await _document(session, kb, doc_id)
    await stores.current().remove(session, kb.id, doc.id)
    await repository.delete_document(session, doc.id)
    await repository.refresh_counts(session, kb.id)
    files.remove_document(kb.id, doc.id)


async def requeue_document(
    session: AsyncSession, user: User, kb_id: str, doc_id: str, *, only_failed: bool
) -> DocumentRead:
    """retry (only_failed): a failed document runs again; reindex: any document does."""
    kb = await visible_kb(session, user, kb_id)
    await repository.lock_kb(session, kb.id)
    doc = await _document(session, kb, doc_id)
    if only_failed and doc.status != "failed":
        raise Conflict(
            f"Only failed documents can be retried; this one is {doc.status}",
            code="DOCUMENT_NOT_FAILED",
        )
    if doc.status in repository.RUNNING:
        raise Conflict("This document is being indexed right now", code="DOCUMENT_BUSY")
    was_ready = doc.status == "ready"
    await repository.requeue(session, doc.id)
    if was_ready:
        await repository.refresh_counts(session, kb.id)
    jobs.submit_on_commit(session, [doc.id])
    await session.refresh(doc)
    return document_read(doc)
