"""Durable copy of working memory: one DynamoDB item per conversation turn.

Table design (string keys)::

    session_id (HASH)   the session
    seq        (RANGE)  turn number, zero-padded to 12 digits ("000000000001"), so the sort
                        key orders turns and a descending Query with Limit=n reads the last n
    role, content       the Message
    created_at (N)      epoch seconds of the write
    expires_at (N)      DynamoDB TTL attribute (epoch seconds); reads also skip expired items,
                        since DynamoDB deletes them lazily

Sequence numbers are gap-free and per session: `append` reads the latest seq and writes
seq+1 with `attribute_not_exists` on the key, retrying when a concurrent writer took it. The
Redis layer (`working.py`) relies on that contiguity to detect a stale cache.
"""
from __future__ import annotations

import time
from typing import Any, Callable

from orchestrator.ports import Message

from ._dynamo import (ConditionFailed, MemoryStoreError, backoff, call, ensure_table, get_n, get_s,
                      make_client, n, s)

SEQ_WIDTH = 12
DEFAULT_TTL_S = 30 * 86400


def seq_key(seq: int) -> str:
    return f"{seq:0{SEQ_WIDTH}d}"


class DynamoSessions:
    """`DurableSessions` on DynamoDB (see `working.DurableSessions`)."""

    def __init__(self, table: str, region: str, endpoint_url: str | None = None, *,
                 ttl_s: int = DEFAULT_TTL_S, client: Any = None,
                 clock: Callable[[], float] = time.time, max_retries: int = 8):
        self.table, self.ttl_s, self.clock, self.max_retries = table, ttl_s, clock, max_retries
        self._client = client
        self._region, self._endpoint_url = region, endpoint_url

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = make_client(self._region, self._endpoint_url)
        return self._client

    async def ensure_table(self) -> None:
        await ensure_table(self.client, self.table, "session_id", "seq", ttl_attribute="expires_at")

    async def last_seq(self, session_id: str) -> int:
        page = await call(self.client, "query", TableName=self.table, ConsistentRead=True,
                          KeyConditionExpression="session_id = :s",
                          ExpressionAttributeValues={":s": s(session_id)},
                          ScanIndexForward=False, Limit=1, ProjectionExpression="seq")
        items = page.get("Items", [])
        return int(items[0]["seq"]["S"]) if items else 0

    async def append(self, session_id: str, message: Message) -> int:
        """Store one turn; returns its seq (1, 2, 3, ... per session)."""
        for attempt in range(self.max_retries):
            if attempt:
                await backoff(attempt)
            seq = await self.last_seq(session_id) + 1
            now = self.clock()
            item = {"session_id": s(session_id), "seq": s(seq_key(seq)), "role": s(message.role),
                    "content": s(message.content), "created_at": n(now),
                    "expires_at": n(int(now) + self.ttl_s)}
            try:
                await call(self.client, "put_item", TableName=self.table, Item=item,
                           ConditionExpression="attribute_not_exists(seq)")
                return seq
            except ConditionFailed:
                continue  # another writer took this seq; read the new latest and try again
        raise MemoryStoreError(f"could not append to session {session_id!r}: "
                               f"{self.max_retries} concurrent-write conflicts in a row")

    async def load(self, session_id: str, limit: int) -> list[tuple[int, Message]]:
        """The last `limit` unexpired turns, oldest first, as (seq, Message)."""
        if limit <= 0:
            return []
        page = await call(self.client, "query", TableName=self.table, ConsistentRead=True,
                          KeyConditionExpression="session_id = :s",
                          ExpressionAttributeValues={":s": s(session_id)},
                          ScanIndexForward=False, Limit=limit)
        now = self.clock()
        turns: list[tuple[int, Message]] = []
        for item in page.get("Items", []):
            expires = get_n(item, "expires_at")
            if expires is not None and expires <= now:
                break  # older turns expired earlier still
            role = get_s(item, "role", "user")
            message = Message(role, get_s(item, "content", ""))  # type: ignore[arg-type]
            turns.append((int(item["seq"]["S"]), message))
        turns.reverse()
        return turns
