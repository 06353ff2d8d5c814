"""/knowledge-bases: knowledge bases, their documents, search and answers with citations."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from tiangong.auth.deps import CurrentUser
from tiangong.chat.sse import HEADERS as SSE_HEADERS
from tiangong.config import get_settings
from tiangong.db.session import SessionDep
from tiangong.errors import AppError, ValidationFailed
from tiangong.knowledge import intake, rag, search, service
from tiangong.knowledge.files import FileTooLarge
from tiangong.knowledge.models import KnowledgeBase
from tiangong.knowledge.schemas import (
    DocumentList,
    DocumentRead,
    DocumentsQueued,
    KnowledgeBaseCreate,
    KnowledgeBaseList,
    KnowledgeBaseRead,
    KnowledgeBaseUpdate,
    RagAnswer,
    RagRequest,
    SearchRequest,
    SearchResult,
    TextOrUrlDocument,
)

router = APIRouter(prefix="/knowledge-bases", tags=["knowledge"])

# Files one multipart request may carry; the body may be at most this many file limits.
MAX_FILES = 10

_DOCUMENT_BODIES: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "txt, md, html, pdf, docx, csv, xlsx or json",
                        },
                        "text": {"type": "string"},
                        "url": {"type": "string"},
                        "name": {"type": "string"},
                    },
                }
            },
            "application/json": {"schema": TextOrUrlDocument.model_json_schema()},
        },
    }
}


@router.get("", response_model=KnowledgeBaseList)
async def list_knowledge_bases(
    session: SessionDep,
    user: CurrentUser,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> KnowledgeBaseList:
    return await service.list_kbs(session, user, page, page_size)


@router.post("", response_model=KnowledgeBaseRead, status_code=201)
async def create_knowledge_base(
    data: KnowledgeBaseCreate, session: SessionDep, user: CurrentUser
) -> KnowledgeBaseRead:
    return await service.create(session, user, data)


@router.get("/{kb_id}", response_model=KnowledgeBaseRead)
async def get_knowledge_base(
    kb_id: str, session: SessionDep, user: CurrentUser
) -> KnowledgeBaseRead:
    return await service.get(session, user, kb_id)


@router.put("/{kb_id}", response_model=KnowledgeBaseRead)
async def update_knowledge_base(
    kb_id: str, data: KnowledgeBaseUpdate, session: SessionDep, user: CurrentUser
) -> KnowledgeBaseRead:
    """Changing chunking or the embedding model re-indexes every document."""
    return await service.update(session, user, kb_id, data)


@router.delete("/{kb_id}", status_code=204)
async def delete_knowledge_base(kb_id: str, session: SessionDep, user: CurrentUser) -> Response:
    await service.delete(session, user, kb_id)
    return Response(status_code=204)


@router.get("/{kb_id}/documents", response_model=DocumentList)
async def list_documents(kb_id: str, session: SessionDep, user: CurrentUser) -> DocumentList:
    return await service.list_documents(session, user, kb_id)


def _check_length(request: Request, limit: int) -> None:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise FileTooLarge(f"The request is larger than the limit of {limit} bytes")


async def _json_document(request: Request) -> TextOrUrlDocument:
    try:
        return TextOrUrlDocument.model_validate_json(await request.body())
    except ValidationError as exc:
        fields = [
            {"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]}
            for e in exc.errors()
        ]
        summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
        raise ValidationFailed(f"Invalid request: {summary}", details=fields) from None


async def _from_json(
    session: SessionDep, kb: KnowledgeBase, request: Request
) -> list[DocumentRead]:
    _check_length(request, get_settings().knowledge_max_text_chars * 4 + 4096)
    body = await _json_document(request)
    if body.url is not None:
        return await intake.add_url(session, kb, body.url, body.name)
    return await intake.add_text(session, kb, body.text or "", body.name)


async def _from_form(
    session: SessionDep, kb: KnowledgeBase, request: Request
) -> list[DocumentRead]:
    settings = get_settings()
    _check_length(request, settings.knowledge_max_file_bytes * MAX_FILES + 1024 * 1024)
    async with request.form(
        max_files=MAX_FILES, max_part_size=settings.knowledge_max_text_chars * 4 + 4096
    ) as form:
        uploads = [
            intake.Upload(item.filename or "upload", item.content_type, item.file)
            for item in form.getlist("file")
            if isinstance(item, UploadFile)
        ]
        text, url, name = (form.get(key) for key in ("text", "url", "name"))
        given = [kind for kind, value in (("file", uploads), ("text", text), ("url", url)) if value]
        if len(given) != 1 or not all(isinstance(v, str | None) for v in (text, url, name)):
            raise ValidationFailed("Give exactly one of 'file', 'text' or 'url'")
        label = name if isinstance(name, str) and name else None
        if uploads:
            return await intake.add_uploads(session, kb, uploads)
        if isinstance(url, str):
            return await intake.add_url(session, kb, url, label)
        return await intake.add_text(session, kb, str(text), label)


@router.post(
    "/{kb_id}/documents",
    response_model=DocumentsQueued,
    status_code=202,
    openapi_extra=_DOCUMENT_BODIES,
)
async def add_documents(
    kb_id: str, request: Request, session: SessionDep, user: CurrentUser
) -> DocumentsQueued:
    """Queue documents: multipart `file` (repeatable), `text` or `url` (with optional `name`),
    or JSON `{"text"|"url", "name"}`. Each is parsed, chunked and embedded in the background;
    poll the document for its status."""
    kb = await service.visible_kb(session, user, kb_id)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "application/json":
        return DocumentsQueued(items=await _from_json(session, kb, request))
    if media in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return DocumentsQueued(items=await _from_form(session, kb, request))
    raise AppError(
        "Send multipart/form-data (file, text or url) or application/json (text or url)",
        code="UNSUPPORTED_MEDIA_TYPE",
        status=415,
    )


@router.get("/{kb_id}/documents/{doc_id}", response_model=DocumentRead)
async def get_document(
    kb_id: str, doc_id: str, session: SessionDep, user: CurrentUser
) -> DocumentRead:
    return await service.get_document(session, user, kb_id, doc_id)


@router.delete("/{kb_id}/documents/{doc_id}", status_code=204)
async def delete_document(
    kb_id: str, doc_id: str, session: SessionDep, user: CurrentUser
) -> Response:
    await service.delete_document(session, user, kb_id, doc_id)
    return Response(status_code=204)


@router.post("/{kb_id}/documents/{doc_id}/retry", response_model=DocumentRead, status_code=202)
async def retry_document(
    kb_id: str, doc_id: str, session: SessionDep, user: CurrentUser
) -> DocumentRead:
    """Run a failed document again."""
    return await service.requeue_document(session, user, kb_id, doc_id, only_failed=True)


@router.post("/{kb_id}/documents/{doc_id}/reindex", response_model=DocumentRead, status_code=202)
async def reindex_document(
    kb_id: str, doc_id: str, session: SessionDep, user: CurrentUser
) -> DocumentRead:
    """Parse, chunk and embed a document again from its stored bytes."""
    return await service.requeue_document(session, user, kb_id, doc_id, only_failed=False)


@router.post("/{kb_id}/search", response_model=SearchResult)
async def search_knowledge_base(
    kb_id: str, data: SearchRequest, session: SessionDep, user: CurrentUser
) -> SearchResult:
    return await search.search(session, user, kb_id, data)


@router.post("/{kb_id}/rag", response_model=None)
async def answer_question(
    kb_id: str, data: RagRequest, session: SessionDep, user: CurrentUser
) -> RagAnswer | StreamingResponse:
    """Answer from the knowledge base with numbered citations. With `stream: true`, SSE:
    `citations`, then `token`s, then `done` (or `error`)."""
    prepared = await rag.prepare(session, user, kb_id, data)
    if data.stream:
        return StreamingResponse(
            rag.stream(prepared), media_type="text/event-stream", headers=SSE_HEADERS
        )
    return await rag.answer(prepared)
