"""Working memory: the recent turns of each session in Redis, backed by a durable copy.

Redis holds, per session, two keys with the same hash tag (so they share a cluster slot)::

    wm:{<session>}:turns   list of JSON turns {"s": seq, "r": role, "c": content}, oldest first,
                           trimmed to the last `max_turns`, TTL `ttl_s` refreshed on every write
    wm:{<session>}:seq     highest seq this Redis has seen for the session (same TTL)

With a durable store (`DynamoSessions`), the durable copy is written first and is the source of
truth; Redis is a cache of a contiguous suffix of it, kept honest by two Lua scripts:

* append pushes a run of turns (one turn, or the two of an exchange, in one script call) whose
  first seq is `first` only if the list ends at `first - 1` (or starts a new session at 1);
  a gap or an out-of-order write deletes the list instead, so it is never silently partial;
* re-warm (after a miss) fills the list from DynamoDB only if no newer turn was appended
  meanwhile and nobody else warmed it first.

Each turn stays one list entry with its own seq (an exchange is two entries, seqs n-1 and n), so
the list format, `history`'s limit in turns and the contiguity check are those of the per-turn
writer, and replicas of either version can share the same Redis.

So after FLUSHALL, a restart, eviction or TTL expiry, `history()` reloads from DynamoDB and
re-warms Redis: losing Redis loses no conversation. Redis errors never reach a reader: reads
fall back to DynamoDB (or return [] with an error logged when there is no durable copy). A
write whose durable part succeeded but whose Redis part failed is logged, and this process
reads that session from DynamoDB until a re-warm succeeds.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Protocol

from orchestrator.ports import Message

log = logging.getLogger(__name__)

_APPEND = """
local first = tonumber(ARGV[1])
local top = first + #ARGV - 4
local known = tonumber(redis.call('GET', KEYS[2]) or '0')
if top > known then redis.call('SET', KEYS[2], top, 'EX', ARGV[2])
else redis.call('EXPIRE', KEYS[2], ARGV[2]) end
local last = redis.call('LINDEX', KEYS[1], -1)
if not last then
  if first ~= 1 then return 0 end
else
  local prev = cjson.decode(last)['s']
  if type(prev) ~= 'number' or first ~= prev + 1 then redis.call('DEL', KEYS[1]) return -1 end
end
redis.call('RPUSH', KEYS[1], unpack(ARGV, 4))
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[3]), -1)
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""

_WARM = """
local top = tonumber(ARGV[1])
local known = tonumber(redis.call('GET', KEYS[2]) or '0')
if known > top then return 0 end
if ARGV[3] == '1' then redis.call('DEL', KEYS[1])
elseif redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('RPUSH', KEYS[1], unpack(ARGV, 4))
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], top, 'EX', ARGV[2])
return 1
"""


class DurableSessions(Protocol):
    """The durable copy of working memory (DynamoDB in production: `DynamoSessions`)."""

    async def append(self, session_id: str, message: Message) -> int: ...   # returns the turn's seq
    # both turns in one durable write; returns the assistant turn's seq (the user's is one less)
    async def append_exchange(self, session_id: str, user: Message, assistant: Message) -> int: ...
    async def load(self, session_id: str, limit: int) -> list[tuple[int, Message]]: ...


def _encode(seq: int | None, message: Message) -> str:
    return json.dumps({"s": seq, "r": message.role, "c": message.content}, ensure_ascii=False)


def _decode(raw: bytes | str) -> Message:
    d = json.loads(raw)
    return Message(d["r"], d["c"])


class WorkingMemoryStore:
    """`WorkingMemory` on `redis.asyncio`, optionally backed by `DurableSessions`."""

    def __init__(self, redis_url: str, *, ttl_s: int = 3600, durable: DurableSessions | None = None,
                 max_turns: int = 50, key_prefix: str = "wm", socket_timeout: float = 1.0,
                 max_connections: int = 64, redis_client: Any = None):
        if max_turns < 1 or ttl_s < 1:
            raise ValueError("max_turns and ttl_s must be positive")
        self.redis_url, self.ttl_s, self.durable, self.max_turns = redis_url, ttl_s, durable, max_turns
        self.key_prefix, self.socket_timeout, self.max_connections = key_prefix, socket_timeout, max_connections
        self._redis = redis_client
        self._scripts: dict[str, Any] = {}
        self._stale: set[str] = set()   # sessions whose last Redis write failed in this process

    # -- Redis plumbing ---------------------------------------------------------------------
    @property
    def redis(self) -> Any:
        if self._redis is None:
            import redis.asyncio as aioredis  # lazy
            # A bounded pool: redis-py's default opens one more connection for every command in flight
            # (2,000 at 2,000 concurrent requests, a connect each, on a Redis whose maxclients is shared
            # by every replica); commands wait up to `socket_timeout` for a free one instead.
            pool = aioredis.BlockingConnectionPool.from_url(
                self.redis_url, max_connections=self.max_connections, timeout=self.socket_timeout,
                socket_timeout=self.socket_timeout, socket_connect_timeout=self.socket_timeout)
            self._redis = aioredis.Redis.from_pool(pool)  # closing the client closes the pool
        return self._redis

    def _script(self, name: str, source: str) -> Any:
        if name not in self._scripts:
            self._scripts[name] = self.redis.register_script(source)
        return self._scripts[name]

    def keys(self, session_id: str) -> tuple[str, str]:
        tag = f"{self.key_prefix}:{{{session_id}}}"
        return f"{tag}:turns", f"{tag}:seq"

    @staticmethod
    def _redis_errors() -> tuple[type[BaseException], ...]:
        from redis.exceptions import RedisError
        return (RedisError, OSError)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
            self._scripts.clear()

    # -- WorkingMemory ------------------------------------------------------------------------
    async def append(self, session_id: str, message: Message) -> None:
        await self._append(session_id, [message])

    async def append_exchange(self, session_id: str, user: Message, assistant: Message) -> None:
        """A user turn and its answer: one durable write (one DynamoDB item) and one Redis script
        call for both."""
        await self._append(session_id, [user, assistant])

    async def _append(self, session_id: str, messages: list[Message]) -> None:
        turns = self.keys(session_id)[0]
        if self.durable is None:   # Redis is the only copy: its errors are the caller's to see
            pipe = self.redis.pipeline(transaction=True)
            pipe.rpush(turns, *(_encode(None, m) for m in messages)).ltrim(turns, -self.max_turns, -1)
            pipe.expire(turns, self.ttl_s)
            await pipe.execute()
            return
        exchange = getattr(self.durable, "append_exchange", None)
        if len(messages) == 2 and exchange is not None:
            top = await exchange(session_id, *messages)   # source of truth first
            await self._push(session_id, top - 1, messages)
            return
        for message in messages:   # one turn, or a durable copy without exchanges
            await self._push(session_id, await self.durable.append(session_id, message), [message])

    async def _push(self, session_id: str, first: int, messages: list[Message]) -> None:
        """Push turns `first`, `first + 1`, ... onto the Redis list if it ends at `first - 1`."""
        keys = list(self.keys(session_id))
        args: list[Any] = [first, self.ttl_s, self.max_turns]
        args += [_encode(first + i, m) for i, m in enumerate(messages)]
        try:
            await self._script("append", _APPEND)(keys=keys, args=args)
        except self._redis_errors() as exc:
            self._stale.add(session_id)
            log.warning("working memory: Redis write for session %s failed (%s); turns %d..%d are "
                        "durable, reads go to DynamoDB until Redis is re-warmed", session_id, exc,
                        first, first + len(messages) - 1)

    async def history(self, session_id: str, limit: int = 20) -> list[Message]:
        if limit <= 0:
            return []
        if session_id not in self._stale:
            try:
                cached = await self._cached(session_id, limit)
            except self._redis_errors() as exc:
                if self.durable is None:
                    log.error("working memory: Redis read for session %s failed (%s) and there is "
                              "no durable copy; returning no history", session_id, exc)
                    return []
                log.warning("working memory: Redis read for session %s failed (%s); "
                            "reading the durable copy", session_id, exc)
                return await self._from_durable(session_id, limit, warm=False)
            if cached is not None:
                return cached
        return await self._from_durable(session_id, limit, warm=True)

    async def cached_history(self, session_id: str, limit: int = 20) -> list[Message] | None:
        """The history if Redis alone answers it; None when `history` would read the durable copy
        (a new session, or one Redis no longer holds), so the caller can start other work first."""
        if limit <= 0:
            return []
        if session_id in self._stale:
            return None
        try:
            return await self._cached(session_id, limit)
        except self._redis_errors():
            return None

    async def _cached(self, session_id: str, limit: int) -> list[Message] | None:
        raw = await self.redis.lrange(self.keys(session_id)[0], -min(limit, self.max_turns), -1)
        complete = len(raw) >= limit or len(raw) < self.max_turns
        if raw and (complete or self.durable is None):
            return [_decode(r) for r in raw]
        return None if self.durable is not None else []

    # -- miss path ----------------------------------------------------------------------------
    async def _from_durable(self, session_id: str, limit: int, *, warm: bool) -> list[Message]:
        if self.durable is None:
            return []   # a miss with nothing behind it: a new (or expired) session
        turns = await self.durable.load(session_id, max(limit, self.max_turns))
        if warm and turns:
            await self._rewarm(session_id, turns[-self.max_turns:])
        return [m for _, m in turns[-limit:]]

    async def _rewarm(self, session_id: str, turns: list[tuple[int, Message]]) -> None:
        force = session_id in self._stale
        keys = list(self.keys(session_id))
        args: list[Any] = [turns[-1][0], self.ttl_s, "1" if force else "0"]
        args += [_encode(seq, m) for seq, m in turns]
        try:
            await self._script("warm", _WARM)(keys=keys, args=args)
            self._stale.discard(session_id)
        except self._redis_errors() as exc:
            log.warning("working memory: re-warming Redis for session %s failed (%s)", session_id, exc)
