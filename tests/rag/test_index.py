"""Exact cosine search and BM25: correct order, updates, removals, id filters, and speed."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tiangong.runtime.rag.index import BM25Index, DenseIndex


def test_dense_search_ranks_by_cosine() -> None:
    index = DenseIndex(3)
    index.add(["x", "y", "xy", "neg"], [[1, 0, 0], [0, 5, 0], [1, 1, 0], [-1, 0, 0]])
    hits = index.search([2, 0, 0], 4)
    assert [h.id for h in hits] == ["x", "xy", "y", "neg"]
    assert hits[0].score == pytest.approx(1.0)
    assert hits[1].score == pytest.approx(2**-0.5)
    assert hits[3].score == pytest.approx(-1.0)
    assert [h.id for h in index.search([0, 1, 0], 1)] == ["y"]


def test_dense_add_replaces_and_remove_keeps_the_rest_searchable() -> None:
    index = DenseIndex(2)
    index.add(["a", "b", "c"], [[1, 0], [0, 1], [1, 1]])
    index.add(["a"], [[0, -1]])
    assert len(index) == 3
    assert index.search([0, -1], 1)[0].id == "a"
    index.remove(["b", "missing"])
    assert len(index) == 2
    assert "b" not in index
    assert {h.id for h in index.search([0, 1], 10)} == {"a", "c"}
    index.remove(["a", "c"])
    assert index.search([0, 1], 10) == []


def test_dense_allowed_ids_filter_small_and_large() -> None:
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((1000, 16)).astype(np.float32)
    ids = [f"d{i}" for i in range(1000)]
    index = DenseIndex(16)
    index.add(ids, vectors)
    query = vectors[10]
    for allowed in ({"d3", "d10", "nope"}, {f"d{i}" for i in range(0, 1000, 2)}):
        hits = index.search(query, 5, allowed_ids=allowed)
        assert {h.id for h in hits} <= allowed
        assert hits[0].id == "d10"
        expected = sorted(
            (a for a in allowed if a in index),
            key=lambda a: -float(vectors[int(a[1:])] @ query / np.linalg.norm(vectors[int(a[1:])])),
        )[:5]
        assert [h.id for h in hits] == expected
    assert index.search(query, 5, allowed_ids=set()) == []


def test_dense_rejects_wrong_dimensions() -> None:
    index = DenseIndex(4)
    with pytest.raises(ValueError):
        index.add(["a"], [[1.0, 2.0]])
    index.add(["a"], [[1.0, 0, 0, 0]])
    with pytest.raises(ValueError):
        index.search([1.0], 1)


def test_dense_search_at_50k_by_384_is_fast() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((50_000, 384)).astype(np.float32)
    index = DenseIndex(384)
    index.add([str(i) for i in range(50_000)], vectors)
    queries = rng.standard_normal((20, 384)).astype(np.float32)
    index.search(queries[0], 10)
    samples = []
    for query in queries:
        started = time.perf_counter()
        hits = index.search(query, 10)
        samples.append(time.perf_counter() - started)
        assert len(hits) == 10
    median_ms = sorted(samples)[len(samples) // 2] * 1000
    print(f"dense search 50k x 384: median {median_ms:.1f} ms")
    # Informational: ~5-15 ms on 2 busy cores. The bound only catches a Python loop.
    assert median_ms < 150


def test_bm25_scores_only_documents_with_a_query_term() -> None:
    index = BM25Index()
    index.add("cats", ["cat", "sat", "mat"])
    index.add("dogs", ["dog", "dog", "bark"])
    index.add("both", ["cat", "dog"])
    hits = index.search(["dog"], 10)
    assert [h.id for h in hits] == ["dogs", "both"]
    assert all(h.score > 0 for h in hits)
    assert index.search(["unicorn"], 10) == []


def test_bm25_rare_terms_and_short_documents_weigh_more() -> None:
    index = BM25Index()
    for i in range(20):
        index.add(f"common{i}", ["the", "common", "word"] + ["filler"] * i)
    index.add("rare", ["rare", "common"] + ["filler"] * 10)
    assert index.search(["rare", "common"], 1)[0].id == "rare"
    hits = index.search(["common"], 3)
    assert [h.id for h in hits] == ["common0", "common1", "common2"]


def test_bm25_matches_the_formula() -> None:
    index = BM25Index(k1=1.2, b=0.75)
    index.add("a", ["x", "x", "y"])
    index.add("b", ["y"])
    (hit,) = index.search(["x"], 1)
    n, df, tf, dl, avgdl = 2, 1, 2, 3, 2.0
    idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
    expected = idf * tf * 2.2 / (tf + 1.2 * (1 - 0.75 + 0.75 * dl / avgdl))
    assert hit.score == pytest.approx(expected, rel=1e-5)


def test_bm25_update_remove_and_allowed_ids() -> None:
    index = BM25Index()
    index.add("a", ["apple", "pie"])
    index.add("b", ["apple", "tart"])
    index.add("c", ["cherry"])
    assert {h.id for h in index.search(["apple"], 10)} == {"a", "b"}
    assert [h.id for h in index.search(["apple"], 10, allowed_ids={"b", "c"})] == ["b"]
    index.add("a", ["cherry", "pie"])  # replaced: no longer about apples
    assert [h.id for h in index.search(["apple"], 10)] == ["b"]
    index.remove(["b"])
    assert index.search(["apple"], 10) == []
    assert len(index) == 2
    index.add("d", ["apple"])  # reuses the freed slot
    assert [h.id for h in index.search(["apple", "cherry"], 1, allowed_ids={"d"})] == ["d"]


def test_dense_repeated_id_in_one_call_keeps_the_last_vector() -> None:
    index = DenseIndex(2)
    index.add(["a", "b", "a"], [[1, 0], [0, 1], [-1, 0]])
    assert len(index) == 2
    assert index.search([-1, 0], 1)[0].id == "a"
    assert index.search([-1, 0], 1)[0].score == pytest.approx(1.0)
