"""Which ingested exchanges are already stored: what makes `POST /v1/cato/exchanges` idempotent.

The gateway's dual-write (cato_migrate/edge/dual_write.py) retries an ingest it got no answer
for, so the same exchange can arrive twice; it must land in session memory once. Each ingest
claims its key (`<principal>/<id>`) before it writes:

    claim -> NEW        nobody has it: write, then `done` (or `release` if the write failed)
    claim -> DONE       stored earlier: answer "duplicate", write nothing
    claim -> BUSY       another request is writing it now: answer 409, the sender retries
    claim -> UNCHECKED  the ledger cannot be read (Redis down): write anyway

Why UNCHECKED writes: dual-write exists to prevent data loss (the runbook's one Critical risk),
so while Redis is down an exchange is stored at least once rather than refused until the
gateway gives up. A retry in that moment may store a turn twice; it never loses one.

A pending claim expires after `pending_ttl_s`, so a replica that died mid-write does not block
the sender's retry for ever; a done mark lasts `done_ttl_s`, far longer than the sender retries.
Redis (the working memory's own server) in production; in memory for tests and one process.
"""
from __future__ import annotations

import logging
import time
from collections import OrderedDict
from enum import Enum
from typing import Any, Callable, Protocol

log = logging.getLogger(__name__)

PENDING_TTL_S = 60
DONE_TTL_S = 24 * 3600
_PENDING, _DONE = "pending", "done"


class Claim(str, Enum):
    NEW = "new"
    DONE = "done"
    BUSY = "busy"
    UNCHECKED = "unchecked"


class IngestLedger(Protocol):
    async def claim(self, key: str) -> Claim: ...
    async def done(self, key: str) -> None: ...
    async def release(self, key: str) -> None: ...


class InMemoryIngestLedger:
    """One process's ledger (tests; an orchestrator whose working memory has no Redis)."""

    def __init__(self, *, pending_ttl_s: float = PENDING_TTL_S, done_ttl_s: float = DONE_TTL_S,
                 max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic):
        self.pending_ttl_s, self.done_ttl_s, self.max_keys, self.clock = pending_ttl_s, done_ttl_s, max_keys, clock
        self._keys: OrderedDict[str, tuple[str, float]] = OrderedDict()   # key -> (state, expires at)

    async def claim(self, key: str) -> Claim:
        entry = self._keys.get(key)
        if entry is not None and entry[1] > self.clock():
            return Claim.DONE if entry[0] == _DONE else Claim.BUSY
        self._set(key, _PENDING, self.pending_ttl_s)
        return Claim.NEW

    async def done(self, key: str) -> None:
        self._set(key, _DONE, self.done_ttl_s)

    async def release(self, key: str) -> None:
        self._keys.pop(key, None)

    def _set(self, key: str, state: str, ttl: float) -> None:
        self._keys[key] = (state, self.clock() + ttl)
        self._keys.move_to_end(key)
        while len(self._keys) > self.max_keys:
            self._keys.popitem(last=False)


class RedisIngestLedger:
    """The ledger in Redis: SET NX claims atomically across replicas; TTLs expire the marks."""

    def __init__(self, redis: Callable[[], Any], *, prefix: str = "ingest",
                 pending_ttl_s: int = PENDING_TTL_S, done_ttl_s: int = DONE_TTL_S):
        self._redis, self.prefix = redis, prefix   # a callable: the working memory opens its client lazily
        self.pending_ttl_s, self.done_ttl_s = pending_ttl_s, done_ttl_s

    def _key(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    @staticmethod
    def _errors() -> tuple[type[BaseException], ...]:
        from redis.exceptions import RedisError
        return (RedisError, OSError)

    async def claim(self, key: str) -> Claim:
        r = self._redis()
        try:
            for _ in range(2):   # a mark that expires between SET NX and GET: claim again
                if await r.set(self._key(key), _PENDING, nx=True, ex=self.pending_ttl_s):
                    return Claim.NEW
                state = await r.get(self._key(key))
                if state is not None:
                    return Claim.DONE if _text(state) == _DONE else Claim.BUSY
            return Claim.BUSY
        except self._errors() as exc:
            log.warning("ingest ledger: Redis unreachable (%s); storing %s without a duplicate check", exc, key)
            return Claim.UNCHECKED

    async def done(self, key: str) -> None:
        try:
            await self._redis().set(self._key(key), _DONE, ex=self.done_ttl_s)
        except self._errors() as exc:   # stored already; only a retry of it could now store twice
            log.warning("ingest ledger: could not mark %s done (%s)", key, exc)

    async def release(self, key: str) -> None:
        try:
            await self._redis().delete(self._key(key))
        except self._errors() as exc:   # the pending mark expires by itself
            log.warning("ingest ledger: could not release %s (%s)", key, exc)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def ledger_for(working: Any) -> IngestLedger:
    """The ledger beside a working memory: its Redis when it has one, else one in this process."""
    if hasattr(working, "redis_url") and hasattr(working, "redis"):
        return RedisIngestLedger(lambda: working.redis)
    return InMemoryIngestLedger()
