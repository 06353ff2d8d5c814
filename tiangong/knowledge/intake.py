"""Adding documents: uploads, raw text and URLs become queued documents with their bytes on
disk (a URL's are fetched by the job). Bad input is refused here, before anything is queued."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import BinaryIO

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.config import get_settings
from tiangong.db.base import new_id, utcnow
from tiangong.errors import AppError
from tiangong.knowledge import files, jobs, repository
from tiangong.knowledge.models import Document, KnowledgeBase
from tiangong.knowledge.schemas import DocumentRead
from tiangong.knowledge.service import document_read
from tiangong.net import check_url
from tiangong.runtime.rag.errors import EmptyDocument
from tiangong.runtime.rag.parsers import parse

TEXT_TYPE = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str | None
    file: BinaryIO


class TextTooLarge(AppError):
    code = "TEXT_TOO_LARGE"
    status = 413


def _check_type(name: str, content_type: str | None) -> None:
    """Refuse a format the parser does not know now, not after queueing. The parser checks the
    type before the content, so parsing no bytes answers EmptyDocument for a known type."""
    try:
        parse(name, b"", content_type)
    except EmptyDocument:
        return


def _document(kb: KnowledgeBase, name: str, source: str, **values: object) -> Document:
    return Document(
        id=new_id(),
        kb_id=kb.id,
        name=name[:255],
        source=source,
        status="queued",
        heartbeat_at=utcnow(),
        **values,
    )


async def _queue(
    session: AsyncSession, kb: KnowledgeBase, docs: list[Document]
) -> list[DocumentRead]:
    await repository.lock_kb(session, kb.id)
    session.add_all(docs)
    await session.flush()
    await repository.refresh_counts(session, kb.id)
    jobs.submit_on_commit(session, [doc.id for doc in docs])
    for doc in docs:
        await session.refresh(doc)
    return [document_read(doc) for doc in docs]


async def add_uploads(
    session: AsyncSession, kb: KnowledgeBase, uploads: Sequence[Upload]
) -> list[DocumentRead]:
    limit = get_settings().knowledge_max_file_bytes
    docs: list[Document] = []
    try:
        for upload in uploads:
            name = PurePath(upload.filename or "upload").name or "upload"
            _check_type(name, upload.content_type)
            doc = _document(kb, name, "upload", content_type=(upload.content_type or "")[:100])
            docs.append(doc)
            doc.size, doc.content_hash = await files.save_stream(kb.id, doc.id, upload.file, limit)
            if doc.size == 0:
                raise EmptyDocument(f"'{name}' is empty.")
    except BaseException:
        for doc in docs:
            files.remove_document(kb.id, doc.id)
        raise
    return await _queue(session, kb, docs)


async def add_text(
    session: AsyncSession, kb: KnowledgeBase, text: str, name: str | None
) -> list[DocumentRead]:
    settings = get_settings()
    if len(text) > settings.knowledge_max_text_chars:
        raise TextTooLarge(
            f"The text is longer than the limit of {settings.knowledge_max_text_chars} characters"
        )
    data = text.encode()
    if len(data) > settings.knowledge_max_file_bytes:
        raise files.FileTooLarge(
            f"The text is larger than the limit of {settings.knowledge_max_file_bytes} bytes"
        )
    if not text.strip():
        raise EmptyDocument("The text is empty.")
    title = name or (text.strip().splitlines()[0][:80] + ".txt")
    _check_type(title, TEXT_TYPE)
    doc = _document(
        kb, title, "text", content_type=TEXT_TYPE, size=len(data), content_hash=files.sha256(data)
    )
    await files.save(kb.id, doc.id, data)
    try:
        return await _queue(session, kb, [doc])
    except BaseException:
        files.remove_document(kb.id, doc.id)
        raise


async def add_url(
    session: AsyncSession, kb: KnowledgeBase, url: str, name: str | None
) -> list[DocumentRead]:
    # The check resolves the host: no transaction stays open meanwhile. The fetch (in the job)
    # is checked again, address by address, by the SSRF-safe client.
    await session.commit()
    await check_url(url)
    doc = _document(kb, name or url, "url", url=url)
    return await _queue(session, kb, [doc])
