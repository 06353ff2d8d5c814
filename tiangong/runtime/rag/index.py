"""In-memory search indexes for the embedded store: exact cosine and BM25.

Neither is thread-safe; the owner serializes writes against searches. Brute-force cosine over a
contiguous float32 matrix is exact and takes a few milliseconds at 50k x 384, which is simpler
and more predictable than an approximate index at the sizes the embedded store serves.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from tiangong.runtime.rag.types import ScoredId

_F32 = npt.NDArray[np.float32]
_I64 = npt.NDArray[np.int64]


def _top_k(scores: _F32, k: int) -> _I64:
    """Indices into `scores` of the k best, best first."""
    if k >= scores.shape[0]:
        return np.argsort(-scores, kind="stable")
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")]


class DenseIndex:
    """Exact cosine search. Vectors are normalized on the way in; rows stay contiguous
    (a removal moves the last row into the hole)."""

    def __init__(self, dim: int) -> None:
        if dim < 1:
            raise ValueError("dim must be at least 1")
        self.dim = dim
        self._matrix: _F32 = np.zeros((0, dim), dtype=np.float32)
        self._ids: list[str] = []
        self._row: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, item: object) -> bool:
        return item in self._row

    def add(self, ids: Sequence[str], vectors: Sequence[Sequence[float]] | _F32) -> None:
        """Adds vectors; an id already present has its vector replaced."""
        matrix = np.asarray(vectors, dtype=np.float32).reshape(len(ids), -1)
        if matrix.shape[1] != self.dim:
            raise ValueError(f"expected {self.dim}-dimensional vectors, got {matrix.shape[1]}")
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        matrix = matrix / norms
        # The last vector wins when an id repeats within the call.
        latest = {id_: i for i, id_ in enumerate(ids)}
        fresh: list[int] = []
        for id_, i in latest.items():
            row = self._row.get(id_)
            if row is None:
                self._row[id_] = len(self._ids) + len(fresh)
                fresh.append(i)
            else:
                self._matrix[row] = matrix[i]
        if not fresh:
            return
        self._ids += [ids[i] for i in fresh]
        self._reserve(len(self._ids))
        self._matrix[len(self._ids) - len(fresh) : len(self._ids)] = matrix[fresh]

    def _reserve(self, size: int) -> None:
        capacity = self._matrix.shape[0]
        if size <= capacity:
            return
        grown = np.zeros((max(size, capacity * 2, 1024), self.dim), dtype=np.float32)
        grown[:capacity] = self._matrix
        self._matrix = grown

    def remove(self, ids: Iterable[str]) -> None:
        for id_ in ids:
            row = self._row.pop(id_, None)
            if row is None:
                continue
            last = len(self._ids) - 1
            if row != last:
                moved = self._ids[last]
                self._matrix[row] = self._matrix[last]
                self._ids[row] = moved
                self._row[moved] = row
            self._ids.pop()

    def search(
        self, vector: Sequence[float] | _F32, k: int, allowed_ids: set[str] | None = None
    ) -> list[ScoredId]:
        """The k nearest by cosine, best first; only `allowed_ids` when given."""
        size = len(self._ids)
        if k < 1 or size == 0:
            return []
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        if query.shape[0] != self.dim:
            raise ValueError(f"expected a {self.dim}-dimensional query, got {query.shape[0]}")
        norm = float(np.linalg.norm(query))
        if norm == 0:
            return []
        query = query / norm
        positions: _I64 | None = None
        if allowed_ids is None:
            scores = self._matrix[:size] @ query
        else:
            positions = np.fromiter(
                (r for r in (self._row.get(i) for i in allowed_ids) if r is not None),
                dtype=np.int64,
            )
            if positions.shape[0] == 0:
                return []
            # A small subset is cheaper to gather than to score with everything else.
            if positions.shape[0] * 4 < size:
                scores = self._matrix[positions] @ query
            else:
                scores = (self._matrix[:size] @ query)[positions]
        best = _top_k(scores, k)
        rows = best if positions is None else positions[best]
        ids = self._ids
        return [
            ScoredId(ids[r], s) for r, s in zip(rows.tolist(), scores[best].tolist(), strict=True)
        ]


class BM25Index:
    """Okapi BM25 over an inverted index (Lucene's idf, which never goes negative).

    Postings live in dicts for cheap updates; each term's postings are compiled to numpy
    arrays on first use after a change, so scoring is vectorized per query term."""

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self._slot: dict[str, int] = {}
        self._ids: list[str | None] = []
        self._free: list[int] = []
        self._lengths: _F32 = np.zeros(0, dtype=np.float32)
        self._terms: dict[int, list[str]] = {}
        self._postings: dict[str, dict[int, int]] = {}
        self._compiled: dict[str, tuple[_I64, _F32]] = {}
        self._total_length = 0

    def __len__(self) -> int:
        return len(self._slot)

    def __contains__(self, item: object) -> bool:
        return item in self._slot

    def add(self, id_: str, tokens: Sequence[str]) -> None:
        """Indexes a document's tokens; an id already present is replaced."""
        if id_ in self._slot:
            self.remove([id_])
        slot = self._free.pop() if self._free else len(self._ids)
        if slot == len(self._ids):
            self._ids.append(id_)
            if slot >= self._lengths.shape[0]:
                grown = np.zeros(max(1024, 2 * self._lengths.shape[0]), dtype=np.float32)
                grown[: self._lengths.shape[0]] = self._lengths
                self._lengths = grown
        else:
            self._ids[slot] = id_
        self._slot[id_] = slot
        counts = Counter(tokens)
        self._lengths[slot] = len(tokens)
        self._total_length += len(tokens)
        self._terms[slot] = list(counts)
        for term, tf in counts.items():
            self._postings.setdefault(term, {})[slot] = tf
            self._compiled.pop(term, None)

    def remove(self, ids: Iterable[str]) -> None:
        for id_ in ids:
            slot = self._slot.pop(id_, None)
            if slot is None:
                continue
            for term in self._terms.pop(slot):
                postings = self._postings[term]
                del postings[slot]
                if not postings:
                    del self._postings[term]
                self._compiled.pop(term, None)
            self._total_length -= int(self._lengths[slot])
            self._lengths[slot] = 0
            self._ids[slot] = None
            self._free.append(slot)

    def _arrays(self, term: str) -> tuple[_I64, _F32]:
        compiled = self._compiled.get(term)
        if compiled is None:
            postings = self._postings[term]
            slots = np.fromiter(postings.keys(), dtype=np.int64, count=len(postings))
            tfs = np.fromiter(postings.values(), dtype=np.float32, count=len(postings))
            compiled = self._compiled[term] = (slots, tfs)
        return compiled

    def search(
        self, query_tokens: Sequence[str], k: int, allowed_ids: set[str] | None = None
    ) -> list[ScoredId]:
        """The k best-scoring documents that contain at least one query term."""
        count = len(self._slot)
        if k < 1 or count == 0:
            return []
        avg_length = max(self._total_length / count, 1e-9)
        scores = np.zeros(len(self._ids), dtype=np.float32)
        matched = False
        for term, weight in Counter(query_tokens).items():
            if term not in self._postings:
                continue
            slots, tfs = self._arrays(term)
            df = slots.shape[0]
            idf = math.log(1.0 + (count - df + 0.5) / (df + 0.5))
            norm = self.k1 * (1.0 - self.b + self.b * self._lengths[slots] / avg_length)
            scores[slots] += (weight * idf) * tfs * (self.k1 + 1.0) / (tfs + norm)
            matched = True
        if not matched:
            return []
        if allowed_ids is not None:
            allowed = np.zeros(len(self._ids), dtype=bool)
            rows = [s for s in (self._slot.get(i) for i in allowed_ids) if s is not None]
            allowed[rows] = True
            scores[~allowed] = 0.0
        candidates = np.flatnonzero(scores > 0)
        if candidates.shape[0] == 0:
            return []
        best = candidates[_top_k(scores[candidates], k)]
        ids = self._ids
        return [ScoredId(str(ids[s]), float(scores[s])) for s in best.tolist()]
