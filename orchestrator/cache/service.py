"""SemanticCacheService: the SemanticCache port on MiniLM embeddings, one index per scope.

A lookup embeds the query (in a worker thread: onnxruntime releases the GIL), takes the few
nearest cached questions of the same scope, and serves the first one whose cosine reaches the
threshold and which the paraphrase guard accepts as the same question. An identical question
(case, spacing and end punctuation aside) is served without embedding. Scopes never mix: an
answer stored under "user:alice" is invisible to "user:bob" and to "global". Past `max_entries`
or `max_bytes` (all scopes together) the oldest entries are evicted first; an entry older than
`ttl_s` is never served (it is evicted when a lookup finds it). Which scope an answer belongs in
is `orchestrator.cache_policy`'s decision.
"""
from __future__ import annotations

import asyncio
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

from orchestrator.cache.guard import GuardDecision, ParaphraseGuard
from orchestrator.cache.batcher import EmbeddingBatcher
from orchestrator.cache.index import VectorIndex
from orchestrator.ports import CacheHit

CANDIDATES = 4          # nearest cached questions the guard may look at per lookup


class TextEmbedder(Protocol):
    def embed(self, texts: list[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Entry:
    query: str
    answer: str
    stored_at: float
    usage: dict | None = None
    size: int = 0            # bytes it holds: question, answer and vector


@dataclass(frozen=True)
class LookupTrace:
    """Why a lookup hit or missed: the best candidate seen and the guard's word on it."""
    hit: CacheHit | None
    best_query: str | None = None
    best_similarity: float | None = None
    decision: GuardDecision | None = None
    reason: str = ""


RECENT_VECTORS = 1024


class ExactScope:
    """A scope whose entries are found only by their exact question (a private context's scope):
    no vectors and no preallocated matrix, so its memory is what the entries' `size` counts. A
    VectorIndex there cost 16 x 384 floats (24 KB) per scope for an entry counted as 1.5 KB, so the
    byte cap undercounted a cache of session scopes about sixteenfold."""

    def __init__(self) -> None:
        self._payload: dict[int, Entry] = {}
        self._next_id = 0

    def __len__(self) -> int:
        return len(self._payload)

    def payload(self, item_id: int) -> Entry:
        return self._payload[item_id]

    def set_payload(self, item_id: int, payload: Entry) -> None:
        if item_id not in self._payload:
            raise KeyError(item_id)
        self._payload[item_id] = payload

    def add(self, vector: None, payload: Entry) -> int:
        item_id, self._next_id = self._next_id, self._next_id + 1
        self._payload[item_id] = payload
        return item_id

    def remove(self, item_id: int) -> None:
        del self._payload[item_id]

    def search(self, vector: np.ndarray, k: int, *, min_similarity: float = 0.0) -> list:
        return []


def normalise(query: str) -> str:
    return re.sub(r"\s+", " ", query).strip().rstrip("?!. ").lower()


class SemanticCacheService:
    def __init__(self, embedder: TextEmbedder | None = None, threshold: float = 0.80,
                 max_entries: int = 100_000, guard: bool | Callable[[str, str], GuardDecision] = True,
                 *, candidates: int = CANDIDATES, brute_force_max: int = 4096,
                 max_bytes: int = 256 * 1024 * 1024, ttl_s: float | None = None,
                 clock: Callable[[], float] = time.time):
        if not 0.0 < threshold <= 1.0:
            raise ValueError("threshold is a cosine similarity in (0, 1]")
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("max_entries and max_bytes must be at least 1")
        if ttl_s is not None and ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        self.max_bytes, self.ttl_s, self._clock = max_bytes, ttl_s, clock
        self._bytes = 0
        if embedder is None:
            from orchestrator.cache.embedder import Embedder
            embedder = Embedder()
        self.embedder, self.threshold, self.max_entries = embedder, threshold, max_entries
        self.guard = ParaphraseGuard() if guard is True else (guard or None)
        self.candidates, self._brute_force_max = candidates, brute_force_max
        self._indexes: dict[str, VectorIndex | ExactScope] = {}
        self._exact: dict[str, dict[str, int]] = {}          # scope -> normalised query -> id
        self._age: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = self._misses = self._refused = self._evicted = 0
        # A miss is usually followed by a store of the same query: keep its vector so the
        # request pays for one embedding, not two (embedding is most of the cache's CPU).
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self._batchers: dict[int, EmbeddingBatcher] = {}  # one per event loop

    # -- SemanticCache port -------------------------------------------------------------------
    async def lookup(self, query: str, *, scope: str = "global", exact_only: bool = False) -> CacheHit | None:
        """`exact_only`: the same question (case, spacing, end punctuation aside) or nothing, with no
        embedding: for scopes where a paraphrase hit is unlikely enough not to pay ~5 ms of CPU for."""
        return (await self.lookup_traced(query, scope=scope, exact_only=exact_only)).hit

    async def store(self, query: str, answer: str, *, scope: str = "global", usage: dict | None = None,
                    exact_only: bool = False) -> None:
        key = normalise(query)
        with self._lock:
            known = self._exact.get(scope, {}).get(key)
            if known is not None:                                # same question again: new answer
                self._replace(scope, known, query, answer, usage)
                return
        vector = None if exact_only else await self._vector(query)
        with self._lock:
            index = self._indexes.get(scope)
            if index is None:
                # exact-only scopes (one user's or one session's context) hold no vectors at all; others
                # start small: most hold a handful of entries
                index = self._indexes[scope] = (ExactScope() if exact_only else
                                                VectorIndex(vector.shape[-1], brute_force_max=self._brute_force_max,
                                                            initial_capacity=16))
                self._exact[scope] = {}
            known = self._exact[scope].get(key)
            if known is not None:                                # stored meanwhile by another task
                self._replace(scope, known, query, answer, usage)
                return
            # an exact-only scope keeps no vectors; in a scope of embedded entries an exact-only one gets
            # a zero vector: cosine 0 with everything, so only the exact path finds it
            if isinstance(index, ExactScope):
                vector = None
            elif vector is None:
                vector = np.zeros(index.dim, dtype=np.float32)
            entry = self._entry(query, answer, usage, 0 if vector is None else vector.nbytes)
            item_id = index.add(vector, entry)
            self._exact[scope][key] = item_id
            self._age[(scope, item_id)] = None
            self._bytes += entry.size
            self._trim()

    def _entry(self, query: str, answer: str, usage: dict | None, vector_bytes: int) -> Entry:
        size = len(query.encode("utf-8", "surrogatepass")) + len(answer.encode("utf-8", "surrogatepass")) + vector_bytes
        return Entry(query, answer, self._clock(), usage, size)

    def _replace(self, scope: str, item_id: int, query: str, answer: str, usage: dict | None) -> None:
        index = self._indexes[scope]
        old = index.payload(item_id)
        vector_bytes = old.size - len(old.query.encode("utf-8", "surrogatepass")) - len(old.answer.encode("utf-8", "surrogatepass"))
        entry = self._entry(query, answer, usage, max(0, vector_bytes))
        index.set_payload(item_id, entry)
        self._bytes += entry.size - old.size
        self._age.move_to_end((scope, item_id))
        self._trim()

    def _trim(self) -> None:
        while self._age and (len(self._age) > self.max_entries or self._bytes > self.max_bytes):
            self._evict_oldest()

    def _expired(self, entry: Entry) -> bool:
        return self.ttl_s is not None and self._clock() - entry.stored_at > self.ttl_s

    def _evict(self, scope: str, item_id: int) -> None:
        self._age.pop((scope, item_id), None)
        self._drop(scope, item_id)

    # -- explained lookup ---------------------------------------------------------------------
    async def lookup_traced(self, query: str, *, scope: str = "global", exact_only: bool = False) -> LookupTrace:
        trace = await self._lookup(query, scope, exact_only)
        with self._lock:
            if trace.hit is not None:
                self._hits += 1
            else:
                self._misses += 1
                self._refused += trace.decision is not None and not trace.decision.same
        return trace

    async def _lookup(self, query: str, scope: str, exact_only: bool = False) -> LookupTrace:
        with self._lock:
            index = self._indexes.get(scope)
            if index is None or not len(index):
                return LookupTrace(None, reason=f"nothing cached in scope {scope!r}")
            known = self._exact[scope].get(normalise(query))
            if known is not None:
                entry = index.payload(known)
                if self._expired(entry):
                    self._evict(scope, known)
                    return LookupTrace(None, entry.query, 1.0, None, f"expired: older than {self.ttl_s:g}s")
                hit = CacheHit(entry.answer, 1.0, entry.query, scope, entry.usage)
                return LookupTrace(hit, entry.query, 1.0, None, "same question")
        if exact_only:
            return LookupTrace(None, reason="exact-only scope: no identical question cached")
        vector = await self._vector(query)
        with self._lock:
            index = self._indexes.get(scope)
            neighbours = index.search(vector, self.candidates, min_similarity=self.threshold) if index else []
        if not neighbours:
            return LookupTrace(None, reason=f"nothing cached in scope {scope!r}")
        best = neighbours[0]
        first_refusal: tuple[Entry, float, GuardDecision] | None = None
        for n in neighbours:
            if n.similarity < self.threshold:
                break
            if self._expired(n.payload):
                with self._lock:
                    if self._indexes.get(scope) is index and (scope, n.id) in self._age:
                        self._evict(scope, n.id)
                continue
            decision = self.guard(query, n.payload.query) if self.guard is not None else None
            if decision is None or decision.same:
                hit = CacheHit(n.payload.answer, float(n.similarity), n.payload.query, scope, n.payload.usage)
                return LookupTrace(hit, n.payload.query, float(n.similarity), decision,
                                   decision.reason if decision is not None else "cosine above threshold")
            first_refusal = first_refusal or (n.payload, float(n.similarity), decision)
        if first_refusal is not None:
            entry, similarity, decision = first_refusal
            return LookupTrace(None, entry.query, similarity, decision, f"guard refused: {decision.reason}")
        return LookupTrace(None, best.payload.query, float(best.similarity), None,
                           f"similarity {best.similarity:.3f} below threshold {self.threshold:.2f}")

    # -- housekeeping -------------------------------------------------------------------------
    @property
    def embeddings_waiting(self) -> int:
        """Texts waiting for the embedding model, over every event loop of the process."""
        return sum(b.waiting for b in list(self._batchers.values()))

    def stats(self) -> dict:
        with self._lock:
            lookups = self._hits + self._misses
            return {"hits": self._hits, "misses": self._misses, "entries": len(self._age), "bytes": self._bytes,
                    "max_bytes": self.max_bytes, "ttl_s": self.ttl_s,
                    "hit_rate": round(self._hits / lookups, 4) if lookups else 0.0,
                    "refused_by_guard": self._refused, "evicted": self._evicted,
                    "scopes": {scope: len(index) for scope, index in self._indexes.items()},
                    "threshold": self.threshold, "max_entries": self.max_entries}

    def clear(self, scope: str | None = None) -> None:
        with self._lock:
            for name in [scope] if scope is not None else list(self._indexes):
                index = self._indexes.get(name)
                if index is not None:
                    self._bytes -= sum(index.payload(i).size for (sc, i) in self._age if sc == name)
                self._indexes.pop(name, None)
                self._exact.pop(name, None)
            self._age = OrderedDict((k, None) for k in self._age if k[0] in self._indexes)

    def _evict_oldest(self) -> None:
        (scope, item_id), _ = self._age.popitem(last=False)
        self._drop(scope, item_id)
        self._evicted += 1

    def _drop(self, scope: str, item_id: int) -> None:
        index = self._indexes[scope]
        entry = index.payload(item_id)
        self._bytes -= entry.size
        index.remove(item_id)
        exact = self._exact[scope]
        if exact.get(normalise(entry.query)) == item_id:
            del exact[normalise(entry.query)]
        if not len(index):
            del self._indexes[scope], self._exact[scope]

    async def _vector(self, text: str) -> np.ndarray:
        key = normalise(text)
        with self._lock:
            vec = self._recent.pop(key, None)
        if vec is None:
            loop = asyncio.get_running_loop()
            batcher = self._batchers.get(id(loop))
            if batcher is None:
                batcher = self._batchers[id(loop)] = EmbeddingBatcher(self.embedder.embed)
            vec = await batcher.embed(text)
        with self._lock:
            self._recent[key] = vec
            while len(self._recent) > RECENT_VECTORS:
                self._recent.popitem(last=False)
        return vec
