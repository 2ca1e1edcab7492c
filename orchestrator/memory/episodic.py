"""Episodic memory: past interactions, searchable by embedding similarity.

`EpisodicIndex` is the port. Metadata must be JSON-serialisable; the key "user_id" is what
`search(filter_user=...)` filters on, so one user's episodes are never returned to another.

* `EmbeddedEpisodicIndex`: in process. Vectors live in a numpy matrix (exact cosine search,
  ~45 ms a query for 100k x 384 measured here; a filtered search scans only that user's rows);
  when hnswlib is importable and the index holds 20k+ rows, an HNSW graph over the same rows
  answers unfiltered searches approximately. Optionally persisted to one `.npz`
  file (`save()` writes it atomically, the constructor loads it).
* `OpenSearchEpisodicIndex` (production, `opensearch_episodic.py`): k-NN on OpenSearch.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np

Hit = tuple[str, float, dict]


class EpisodicIndex(Protocol):
    async def add(self, episode_id: str, text: str, vector: Sequence[float], metadata: dict) -> None: ...
    async def search(self, vector: Sequence[float], k: int = 5,
                     filter_user: str | None = None) -> list[Hit]: ...


class Embedder(Protocol):
    """Text -> vector. `embed` may be sync or async; `GlobalMemoryService` accepts both."""

    def embed(self, text: str) -> Any: ...


def _unit(vector: Sequence[float] | np.ndarray) -> np.ndarray:
    v = np.asarray(vector, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(v))
    if norm == 0.0 or not np.isfinite(norm):
        raise ValueError("vector must be non-zero and finite")
    return v / norm


class EmbeddedEpisodicIndex:
    """Exact cosine search over unit vectors (score = cosine similarity, higher is closer).
    Adding an existing episode id replaces it."""

    HNSW_MIN_SIZE = 20_000   # below this, exact numpy search is as fast and has full recall

    def __init__(self, dim: int | None = None, *, path: str | os.PathLike | None = None,
                 use_hnsw: bool | None = None):
        self.dim, self.path = dim, Path(path) if path else None
        self._vectors = np.zeros((0, dim or 0), dtype=np.float32)
        self._buf: np.ndarray | None = None
        self._ids: list[str] = []
        self._texts: list[str] = []
        self._meta: list[dict] = []
        self._row: dict[str, int] = {}
        self._by_user: dict[str, set[int]] = {}   # user_id -> rows, for filtered searches
        self._use_hnsw = use_hnsw
        self._hnsw: Any = None
        if self.path and self.path.exists():
            self._load(self.path)

    def __len__(self) -> int:
        return len(self._ids)

    async def add(self, episode_id: str, text: str, vector: Sequence[float], metadata: dict) -> None:
        v = _unit(vector)
        if self.dim is None:
            self.dim, self._vectors = v.shape[0], np.zeros((0, v.shape[0]), dtype=np.float32)
        if v.shape[0] != self.dim:
            raise ValueError(f"vector has {v.shape[0]} dimensions, index has {self.dim}")
        meta = json.loads(json.dumps(metadata))  # a private, JSON-clean copy
        row = self._row.get(episode_id)
        if row is None:
            row = len(self._ids)
            self._grow(row + 1)
            self._buf[row] = v
            self._vectors = self._buf[: row + 1]
            self._ids.append(episode_id), self._texts.append(text), self._meta.append(meta)
            self._row[episode_id] = row
        else:
            self._by_user.get(self._meta[row].get("user_id"), set()).discard(row)
            self._vectors[row], self._texts[row], self._meta[row] = v, text, meta
        self._index_user(row)
        if self._hnsw is not None:   # keep the graph in step (hnswlib updates an existing label)
            if row >= self._hnsw.get_max_elements():
                self._hnsw.resize_index(max(2 * self._hnsw.get_max_elements(), row + 1))
            self._hnsw.add_items(v[None, :], np.array([row]))

    async def search(self, vector: Sequence[float], k: int = 5, filter_user: str | None = None) -> list[Hit]:
        if not self._ids or k <= 0:
            return []
        q = _unit(vector)
        if q.shape[0] != self.dim:
            raise ValueError(f"query has {q.shape[0]} dimensions, index has {self.dim}")
        if filter_user is None and self._hnsw_wanted():
            rows, scores = self._hnsw_search(q, k)
        else:
            if filter_user is None:
                candidates = np.arange(len(self._ids))
            else:
                candidates = np.fromiter(sorted(self._by_user.get(filter_user, ())), dtype=np.int64)
            if candidates.size == 0:
                return []
            sims = self._vectors[candidates] @ q if filter_user is not None else self._vectors @ q
            k = min(k, candidates.size)
            top = np.argpartition(-sims, k - 1)[:k]
            top = top[np.argsort(-sims[top], kind="stable")]
            rows = [int(candidates[i]) for i in top]
            scores = [float(sims[i]) for i in top]
        return [(self._ids[r], s, dict(self._meta[r])) for r, s in zip(rows, scores)]

    def _index_user(self, row: int) -> None:
        user = self._meta[row].get("user_id")
        if user is not None:
            self._by_user.setdefault(user, set()).add(row)

    def _grow(self, rows: int) -> None:
        """Amortised O(1) appends: the matrix is a view on a buffer that doubles when full."""
        buf = self._buf
        if buf is None or buf.shape[0] < rows or buf.shape[1] != self.dim:
            new = np.zeros((max(rows, 2 * (0 if buf is None else buf.shape[0]), 64), self.dim), np.float32)
            new[: len(self._ids)] = self._vectors
            self._buf = new

    def text(self, episode_id: str) -> str | None:
        row = self._row.get(episode_id)
        return None if row is None else self._texts[row]

    # -- optional HNSW ----------------------------------------------------------------------------
    def _hnsw_wanted(self) -> bool:
        if self._use_hnsw is False or (self._use_hnsw is None and len(self._ids) < self.HNSW_MIN_SIZE):
            return False
        try:
            import hnswlib  # noqa: F401  (optional accelerator)
        except ImportError:
            return False
        return True

    def _hnsw_search(self, q: np.ndarray, k: int) -> tuple[list[int], list[float]]:
        import hnswlib

        if self._hnsw is None:
            index = hnswlib.Index(space="cosine", dim=self.dim)
            index.init_index(max_elements=max(2 * len(self._ids), 1024), ef_construction=200, M=16)
            index.add_items(self._vectors, np.arange(len(self._ids)))
            self._hnsw = index
        k = min(k, len(self._ids))
        self._hnsw.set_ef(max(64, 2 * k))
        labels, distances = self._hnsw.knn_query(q[None, :], k=k)
        return [int(x) for x in labels[0]], [float(1.0 - d) for d in distances[0]]

    # -- persistence ----------------------------------------------------------------------------
    def save(self, path: str | os.PathLike | None = None) -> Path:
        target = Path(path) if path else self.path
        if target is None:
            raise ValueError("no path to save the episodic index to")
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".tmp.npz")
        os.close(fd)
        try:
            np.savez(tmp, vectors=self._vectors, ids=np.array(self._ids, dtype=str),
                     texts=np.array(self._texts, dtype=str),
                     meta=np.array([json.dumps(m) for m in self._meta], dtype=str),
                     dim=np.array(self.dim or 0))
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return target

    def _load(self, path: Path) -> None:
        with np.load(path, allow_pickle=False) as data:
            self._vectors = data["vectors"].astype(np.float32)
            self._buf = self._vectors
            self._ids = [str(x) for x in data["ids"]]
            self._texts = [str(x) for x in data["texts"]]
            self._meta = [json.loads(str(x)) for x in data["meta"]]
            self.dim = int(data["dim"]) or self.dim
        self._row = {eid: i for i, eid in enumerate(self._ids)}
        for row in range(len(self._ids)):
            self._index_user(row)


def __getattr__(name: str) -> Any:   # the production adapter lives in its own module
    if name == "OpenSearchEpisodicIndex":
        from .opensearch_episodic import OpenSearchEpisodicIndex
        return OpenSearchEpisodicIndex
    raise AttributeError(name)
