"""Nearest-neighbour search over unit vectors (inner product = cosine), with ids -> payload.

Small indexes are searched exactly with numpy (a matrix product is faster than any graph below a
few thousand rows); past `brute_force_max` entries the index moves once to an HNSW graph
(hnswlib, inner-product space), which stays well under a millisecond a query at 100k entries.
The graph grows by doubling; removed entries are marked deleted and their slots reused.
Not thread-safe: the cache service serialises calls.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

try:                                    # optional: without it the index stays exact (numpy)
    import hnswlib
except ImportError:                     # pragma: no cover - hnswlib ships with the orchestrator extra
    hnswlib = None


@dataclass(frozen=True)
class Neighbour:
    id: int
    similarity: float
    payload: Any


class VectorIndex:
    def __init__(self, dim: int = 384, *, brute_force_max: int = 4096, initial_capacity: int = 1024,
                 m: int = 16, ef_construction: int = 100, ef_search: int = 64, ef_retry: int = 400,
                 threads: int = 1):
        self.dim, self.brute_force_max = dim, brute_force_max
        self._m, self._ef_construction, self._threads = m, ef_construction, threads
        self._ef_search, self._ef_retry = ef_search, ef_retry
        self._payload: dict[int, Any] = {}
        self._next_id = 0
        # exact backend: rows of _matrix; _row_of[id] -> row, _id_of_row[row] -> id (-1 when free)
        self._matrix = np.zeros((max(initial_capacity, 1), dim), dtype=np.float32)
        self._id_of_row = np.full(len(self._matrix), -1, dtype=np.int64)
        self._row_of: dict[int, int] = {}
        self._free_rows: list[int] = []
        self._rows_used = 0
        self._graph = None              # hnswlib.Index once migrated
        self._deleted_in_graph = 0

    # -- public -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._payload)

    def __contains__(self, item_id: int) -> bool:
        return item_id in self._payload

    @property
    def backend(self) -> str:
        return "hnsw" if self._graph is not None else "numpy"

    def payload(self, item_id: int) -> Any:
        return self._payload[item_id]

    def set_payload(self, item_id: int, payload: Any) -> None:
        if item_id not in self._payload:
            raise KeyError(item_id)
        self._payload[item_id] = payload

    def add(self, vector: np.ndarray, payload: Any = None) -> int:
        return self.add_many(np.asarray(vector, dtype=np.float32).reshape(1, -1), [payload])[0]

    def add_many(self, vectors: np.ndarray, payloads: Iterable[Any] | None = None) -> list[int]:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        payloads = list(payloads) if payloads is not None else [None] * len(vectors)
        if len(payloads) != len(vectors):
            raise ValueError("one payload per vector")
        ids = list(range(self._next_id, self._next_id + len(vectors)))
        self._next_id += len(vectors)
        if self._graph is None and hnswlib is not None and len(self) + len(vectors) > self.brute_force_max:
            self._migrate(extra=len(vectors))
        if self._graph is None:
            self._add_exact(vectors, ids)
        else:
            self._add_graph(vectors, ids)
        self._payload.update(zip(ids, payloads))
        return ids

    def remove(self, item_id: int) -> None:
        if self._payload.pop(item_id, _MISSING) is _MISSING:
            return
        if self._graph is None:
            row = self._row_of.pop(item_id)
            self._id_of_row[row] = -1
            self._free_rows.append(row)
        else:
            self._graph.mark_deleted(item_id)
            self._deleted_in_graph += 1

    def search(self, vector: np.ndarray, k: int = 1, *, min_similarity: float | None = None) -> list[Neighbour]:
        """Up to k nearest entries, most similar first.

        With `min_similarity`, a graph search whose best result falls short is run once more with a
        wider beam (`ef_retry`): HNSW can miss an entry that sits alone, far from the dense regions
        the greedy walk goes through, and that lone entry is often the one a lookup wants."""
        k = min(k, len(self))
        if k <= 0:
            return []
        query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        if self._graph is None:
            return self._search_exact(query[0], k)
        found = self._search_graph(query, k, self._ef_search)
        if min_similarity is not None and (not found or found[0].similarity < min_similarity) \
                and self._ef_retry > self._ef_search:
            found = self._search_graph(query, k, self._ef_retry)
        return found

    def _search_graph(self, query: np.ndarray, k: int, ef: int) -> list[Neighbour]:
        self._graph.set_ef(max(ef, k))
        labels, distances = self._graph.knn_query(query, k=k, num_threads=1)
        return [Neighbour(int(i), float(1.0 - d), self._payload[int(i)])
                for i, d in zip(labels[0], distances[0]) if int(i) in self._payload]

    # -- exact (numpy) ------------------------------------------------------------------------
    def _add_exact(self, vectors: np.ndarray, ids: list[int]) -> None:
        for vector, item_id in zip(vectors, ids):
            if self._free_rows:
                row = self._free_rows.pop()
            else:
                if self._rows_used == len(self._matrix):
                    self._grow_matrix()
                row, self._rows_used = self._rows_used, self._rows_used + 1
            self._matrix[row] = vector
            self._id_of_row[row] = item_id
            self._row_of[item_id] = row

    def _grow_matrix(self) -> None:
        size = len(self._matrix) * 2
        matrix = np.zeros((size, self.dim), dtype=np.float32)
        matrix[: len(self._matrix)] = self._matrix
        id_of_row = np.full(size, -1, dtype=np.int64)
        id_of_row[: len(self._id_of_row)] = self._id_of_row
        self._matrix, self._id_of_row = matrix, id_of_row

    def _search_exact(self, query: np.ndarray, k: int) -> list[Neighbour]:
        used = self._rows_used
        sims = self._matrix[:used] @ query
        sims[self._id_of_row[:used] < 0] = -np.inf
        top = np.argpartition(-sims, k - 1)[:k] if k < used else np.arange(used)
        top = top[np.argsort(-sims[top])][:k]
        return [Neighbour(int(self._id_of_row[r]), float(sims[r]), self._payload[int(self._id_of_row[r])])
                for r in top if self._id_of_row[r] >= 0]

    # -- graph (hnswlib) ----------------------------------------------------------------------
    def _migrate(self, extra: int) -> None:
        live_rows = np.flatnonzero(self._id_of_row[: self._rows_used] >= 0)
        capacity = max(1024, 2 * (len(live_rows) + extra))
        graph = hnswlib.Index(space="ip", dim=self.dim)
        graph.init_index(max_elements=capacity, ef_construction=self._ef_construction, M=self._m,
                         allow_replace_deleted=True)
        graph.set_num_threads(self._threads)
        if len(live_rows):
            graph.add_items(self._matrix[live_rows], self._id_of_row[live_rows], num_threads=self._threads)
        self._graph = graph
        self._matrix = np.zeros((0, self.dim), dtype=np.float32)
        self._id_of_row = np.zeros(0, dtype=np.int64)
        self._row_of.clear()
        self._free_rows.clear()
        self._rows_used = 0

    def _add_graph(self, vectors: np.ndarray, ids: list[int]) -> None:
        reuse = min(self._deleted_in_graph, len(vectors))
        fresh = len(vectors) - reuse
        needed = self._graph.get_current_count() + fresh
        if needed > self._graph.get_max_elements():
            self._graph.resize_index(max(needed, 2 * self._graph.get_max_elements()))
        if reuse:
            self._graph.add_items(vectors[:reuse], ids[:reuse], num_threads=1, replace_deleted=True)
            self._deleted_in_graph -= reuse
        if fresh:
            self._graph.add_items(vectors[reuse:], ids[reuse:], num_threads=self._threads)


_MISSING = object()
