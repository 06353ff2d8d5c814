"""Search over a bigger knowledge base (rows written straight to the tables): the hits, scores
and highlights the service returns equal what the RAG engine's indexes compute over the same
rows, only chunks of ready documents come back, and indexes follow ingestion and deletion.
Functional checks only: no timing asserts."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import insert, update

from tiangong.db.base import new_id
from tiangong.db.engine import session_factory
from tiangong.knowledge import repository, retrieval
from tiangong.knowledge.engines import tokenizer
from tiangong.knowledge.models import Chunk, Document
from tiangong.runtime.rag.fusion import rrf
from tiangong.runtime.rag.highlight import highlights
from tiangong.runtime.rag.index import BM25Index, DenseIndex

KB = "/api/v1/knowledge-bases"
DIM = 384
WORDS = (
    "retrieval ranking index vector keyword cosine search engine query document chunk "
    "latency throughput database cache embedding model token stem phrase corpus score"
).split()


class FixedEmbedder:
    """Stands in for the embeddings provider: one known query vector."""

    def __init__(self, vector: Sequence[float]) -> None:
        self.vector = [float(v) for v in vector]

    @property
    def model(self) -> str:
        return "fixed"

    @property
    def dim(self) -> int:
        return DIM

    async def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        return [self.vector for _ in texts]

    async def embed_query(self, text: str) -> list[float]:
        return self.vector


async def _kb(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await client.post(KB, json={"name": f"kb-{new_id()[:8]}"}, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _add_document(
    kb_id: str, name: str, size: int, seed: int, extra: str = ""
) -> list[dict[str, Any]]:
    """A ready document of `size` chunk rows with random words (and `extra`) and unit
    vectors."""
    rng, words = np.random.default_rng(seed), random.Random(seed)
    doc_id = new_id()
    rows = []
    for i in range(size):
        text = " ".join(words.choice(WORDS) for _ in range(words.randint(5, 30))) + extra
        vector = rng.normal(size=DIM).astype("<f4")
        rows.append(
            {
                "id": new_id(),
                "kb_id": kb_id,
                "document_id": doc_id,
                "position": i,
                "text": text,
                "keywords": " ".join(tokenizer().tokens(text)),
                "embedding": (vector / np.linalg.norm(vector)).astype("<f4").tobytes(),
            }
        )
    async with session_factory()() as session:
        session.add(
            Document(
                id=doc_id,
                kb_id=kb_id,
                name=name,
                source="text",
                status="ready",
                chunk_count=size,
                progress=1.0,
            )
        )
        await session.flush()
        for i in range(0, size, 500):
            await session.execute(insert(Chunk), rows[i : i + 500])
        await repository.refresh_counts(session, kb_id)
        await session.commit()
    for row in rows:
        row["name"] = name
    return rows


async def _expected(
    kb_id: str, query: str, vector: Sequence[float], mode: str, k: int
) -> list[tuple[str, float, float | None, float | None]]:
    """(chunk id, score, vector score, keyword score) as the engine ranks the searchable rows,
    read in the order the store reads them (equal scores keep that order)."""
    async with session_factory()() as session:
        rows = await repository.searchable_chunks(session, kb_id, with_embeddings=True)
    tokens = tokenizer().tokens(query)
    wanted = k * retrieval.CANDIDATES_PER_HIT
    bm25, dense = BM25Index(), DenseIndex(DIM)
    for chunk_id, keywords, _ in rows:
        bm25.add(chunk_id, keywords.split())
    dense.add([r[0] for r in rows], np.vstack([np.frombuffer(r[2], "<f4") for r in rows]))
    by_dense = dense.search(vector, wanted) if mode != "keyword" else []
    by_keyword = bm25.search(tokens, wanted) if mode != "vector" else []
    ranked = {"vector": by_dense, "keyword": by_keyword}.get(mode) or rrf([by_dense, by_keyword])
    vs = {h.id: h.score for h in by_dense}
    ks = {h.id: h.score for h in by_keyword}
    return [(h.id, h.score, vs.get(h.id), ks.get(h.id)) for h in ranked[:k]]


async def _search(
    client: httpx.AsyncClient, headers: dict[str, str], kb_id: str, **body: Any
) -> dict[str, Any]:
    response = await client.post(f"{KB}/{kb_id}/search", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def assert_same_ranking(got: list[tuple[str, float]], expected: list[tuple[str, float]]) -> None:
    """Same scores in the same order, and the same chunks for every score, except that chunks
    tied on the last score may differ (ties are ordered by index slot, which follows the order
    the database returned the rows in, and the cut-off may fall inside a tie)."""
    assert [g[1] for g in got] == pytest.approx([e[1] for e in expected], rel=1e-6)
    last = got[-1][1] if got else None
    for score in {g[1] for g in got}:
        if score == last:
            continue
        mine = {g[0] for g in got if g[1] == score}
        theirs = {e[0] for e in expected if e[1] == score}
        assert mine == theirs, score


@pytest.mark.parametrize("mode", ["vector", "keyword", "hybrid"])
async def test_hits_scores_and_highlights_match_the_engine(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
) -> None:
    kb_id = await _kb(client, user_headers)
    rows = await _add_document(kb_id, "big.md", 2500, seed=1)
    rows += await _add_document(kb_id, "small.md", 40, seed=2)
    query_vector = np.frombuffer(rows[7]["embedding"], "<f4").tolist()
    monkeypatch.setattr(retrieval, "embedder_for", lambda kb: FixedEmbedder(query_vector))
    query = "keyword search latency of the embedding cache"
    found = await _search(client, user_headers, kb_id, query=query, mode=mode, top_k=50)
    expected = await _expected(kb_id, query, query_vector, mode, 50)
    assert len(found["hits"]) == 50
    got = [
        (h["chunk_id"], h["score"], h["vector_score"], h["keyword_score"]) for h in found["hits"]
    ]
    assert_same_ranking([(g[0], g[1]) for g in got], [(e[0], e[1]) for e in expected])
    by_expected = {e[0]: e for e in expected}
    for g in got:
        if g[0] in by_expected:
            # JSON carries the float64 of each float32 score exactly.
            assert g[1:] == by_expected[g[0]][1:], (g, by_expected[g[0]])
    by_id = {row["id"]: row for row in rows}
    tokens = tokenizer().tokens(query)
    for hit in found["hits"]:
        row = by_id[hit["chunk_id"]]
        assert (hit["document_id"], hit["document_name"], hit["position"], hit["text"]) == (
            row["document_id"],
            row["name"],
            row["position"],
            row["text"],
        )
        assert hit["highlights"] == highlights(row["text"], tokens, tokenizer())
    if mode == "vector":
        assert found["hits"][0]["chunk_id"] == rows[7]["id"]


async def test_only_chunks_of_ready_documents_are_returned(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    kb_id = await _kb(client, user_headers)
    big = await _add_document(kb_id, "big.md", 1500, seed=3)
    small = await _add_document(kb_id, "small.md", 30, seed=4, extra=" zebra")
    query = "zebra vector ranking corpus"
    before = await _search(client, user_headers, kb_id, query=query, mode="keyword", top_k=100)
    assert {h["document_name"] for h in before["hits"]} == {"big.md", "small.md"}
    # The document leaves "ready" without an index refresh: the cached index still has its
    # chunks, and the row lookup must drop them.
    async with session_factory()() as session:
        await session.execute(
            update(Document).where(Document.id == big[0]["document_id"]).values(status="queued")
        )
        await session.commit()
    after = await _search(client, user_headers, kb_id, query=query, mode="keyword", top_k=100)
    small_ids = {row["id"] for row in small}
    assert after["hits"] and {h["chunk_id"] for h in after["hits"]} <= small_ids
    assert [h["chunk_id"] for h in after["hits"]] == [
        h["chunk_id"] for h in before["hits"] if h["chunk_id"] in small_ids
    ]


async def test_row_lookup_returns_what_hits_show(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    kb_id = await _kb(client, user_headers)
    rows = await _add_document(kb_id, "a.md", 20, seed=5)
    wanted = [rows[3]["id"], rows[0]["id"], rows[3]["id"], "no-such-chunk"]
    async with session_factory()() as session:
        found = await repository.chunks_with_documents(session, wanted)
        assert await repository.chunks_with_documents(session, []) == {}
    assert set(found) == {rows[0]["id"], rows[3]["id"]}
    shown = found[rows[3]["id"]]
    assert (shown.document_id, shown.document_name, shown.position, shown.heading, shown.text) == (
        rows[3]["document_id"],
        "a.md",
        3,
        None,
        rows[3]["text"],
    )


async def test_index_follows_new_and_deleted_documents(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    kb_id = await _kb(client, user_headers)
    first = await _add_document(kb_id, "first.md", 300, seed=6)
    query = "throughput phrase stem"
    await _search(client, user_headers, kb_id, query=query, mode="keyword", top_k=100)
    await _add_document(kb_id, "second.md", 300, seed=7)
    both = await _search(client, user_headers, kb_id, query=query, mode="keyword", top_k=100)
    expected = await _expected(kb_id, query, [1.0] * DIM, "keyword", 100)
    assert_same_ranking(
        [(h["chunk_id"], h["score"]) for h in both["hits"]], [(e[0], e[1]) for e in expected]
    )
    doc_id = first[0]["document_id"]
    response = await client.delete(f"{KB}/{kb_id}/documents/{doc_id}", headers=user_headers)
    assert response.status_code == 204, response.text
    left = await _search(client, user_headers, kb_id, query=query, mode="keyword", top_k=100)
    expected = await _expected(kb_id, query, [1.0] * DIM, "keyword", 100)
    assert_same_ranking(
        [(h["chunk_id"], h["score"]) for h in left["hits"]], [(e[0], e[1]) for e in expected]
    )
