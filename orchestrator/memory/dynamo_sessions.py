"""Durable copy of working memory in DynamoDB: one item per exchange (older items: one per turn).

Table design (string keys)::

    session_id (HASH)   the session
    seq        (RANGE)  the seq of the item's LAST turn, zero-padded to 12 digits ("000000000002"),
                        so the sort key orders turns and the highest key is the session's last seq
    role, content       that last turn (the assistant's answer in an exchange item)
    before     (L)      exchange items only: the item's earlier turns, oldest first, as
                        [{"M": {"role": S, "content": S}}]; they hold seqs seq-len(before) .. seq-1
    created_at (N)      epoch seconds of the write
    expires_at (N)      DynamoDB TTL attribute (epoch seconds); reads also skip expired items,
                        since DynamoDB deletes them lazily
    wid        (S)      a random id of the write, to recognise our own write after a client retry

Turn seqs are gap-free per session (1, 2, 3, ...); the Redis layer (`working.py`) relies on that
contiguity to detect a stale cache. Items tile the seqs without overlap: an item written over a
session whose last seq is L holds L+1 .. L+n and is keyed L+n. Items written before exchange items
existed (one turn each, no `before`) read back unchanged, and a reader that predates exchange
items still finds the last seq as the highest key (it reads only the last turn of an exchange).

One write per exchange (`append_exchange`): ONE PutItem of one item holding both turns. That is
the cheapest durable write there is: one request, one write unit for an exchange under 1 KB
(BatchWriteItem bills per item and takes no condition; TransactWriteItems bills double), and it is
atomic, so a reader never sees half an exchange.

Sequence numbers without a read per write: the writer remembers, per session, the last seq it wrote
or read (an LRU in this process; entries older than `seq_cache_max_age_s` are re-read). Within a
replica, the orchestrator's write-behind queue already orders a session's writes, so that number is
current; only the first write of a session in this process (unless a history read already loaded
it) pays a Query with ConsistentRead. The put's `attribute_not_exists(seq)` condition still catches
a writer on another replica: since every exchange is keyed at the end of its two seqs, a writer
whose number is stale (L while another replica appended L+1, L+2) targets key L+2, which exists,
so its put fails; it then re-reads the last seq and retries, as before. A failed put that returns
our own `wid` (botocore retried a put that had in fact succeeded) counts as written, not as a race.

Oversized exchanges: an exchange whose item would exceed `EXCHANGE_MAX_BYTES` (~380 KB, under
DynamoDB's 400 KB item limit) is stored as two one-turn items keyed L+1 and L+2, written together
by one TransactWriteItems with the same condition on each: nothing is truncated. A single turn
that alone exceeds the item limit is refused by DynamoDB (MemoryStoreError), as before.

Caveat: `append` (one turn, the pre-exchange API, kept for compatibility) reads the last seq
consistently and keys its item L+1. Its own write is always correctly guarded; but a concurrent
exchange writer on another replica holding the stale number L would target L+2, which a lone
single turn does not occupy. So the serving path writes exchanges only; mixing `append` and
`append_exchange` on the same session from two replicas at once (or a rolling deploy from the
per-turn writer while the same session is served by both versions at the same instant) can
overlap a seq. Readers then still return every turn.
"""
from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from typing import Any, Callable, Sequence

from orchestrator.ports import Message

from ._dynamo import (ConditionFailed, MemoryStoreError, backoff, call, close_client, ensure_table, get_n, get_s,
                      make_client, n, s)

SEQ_WIDTH = 12
DEFAULT_TTL_S = 30 * 86400
EXCHANGE_MAX_BYTES = 380_000   # above this, an exchange is stored as two items (DynamoDB caps items at 400 KB)
_ITEM_OVERHEAD = 200           # keys, numbers, attribute names: generous


def seq_key(seq: int) -> str:
    return f"{seq:0{SEQ_WIDTH}d}"


def item_size(turns: Sequence[Message]) -> int:
    """An upper estimate of the DynamoDB size of one item holding `turns`."""
    return _ITEM_OVERHEAD + sum(len(m.role) + len(m.content.encode("utf-8")) + 24 for m in turns)


def item_turns(item: dict) -> list[tuple[int, Message]]:
    """The (seq, Message) turns of one stored item, oldest first: an exchange item or an older
    one-turn item."""
    top = int(item["seq"]["S"])
    last = Message(get_s(item, "role", "user"), get_s(item, "content", ""))  # type: ignore[arg-type]
    earlier = [Message(get_s(cell.get("M", {}), "role", "user"),  # type: ignore[arg-type]
                       get_s(cell.get("M", {}), "content", ""))
               for cell in item.get("before", {}).get("L", [])]
    group = [*earlier, last]
    first = top - len(group) + 1
    return [(first + i, m) for i, m in enumerate(group)]


class DynamoSessions:
    """`DurableSessions` on DynamoDB (see `working.DurableSessions`)."""

    def __init__(self, table: str, region: str, endpoint_url: str | None = None, *,
                 ttl_s: int = DEFAULT_TTL_S, client: Any = None,
                 clock: Callable[[], float] = time.time, max_retries: int = 8,
                 seq_cache_size: int = 50_000, seq_cache_max_age_s: float = 3600.0,
                 exchange_max_bytes: int = EXCHANGE_MAX_BYTES):
        self.table, self.ttl_s, self.clock, self.max_retries = table, ttl_s, clock, max_retries
        self._client = client
        self._region, self._endpoint_url = region, endpoint_url
        self.seq_cache_size, self.seq_cache_max_age_s = seq_cache_size, seq_cache_max_age_s
        self.exchange_max_bytes = exchange_max_bytes
        self._last: OrderedDict[str, tuple[int, float]] = OrderedDict()   # session -> (seq, when)

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = make_client(self._region, self._endpoint_url)
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await close_client(self._client)

    async def ensure_table(self) -> None:
        await ensure_table(self.client, self.table, "session_id", "seq", ttl_attribute="expires_at")

    # -- the last seq per session, remembered by this process --------------------------------
    def known_seq(self, session_id: str) -> int | None:
        """The last seq this process wrote or read for the session, if still fresh."""
        entry = self._last.get(session_id)
        if entry is None:
            return None
        if time.monotonic() - entry[1] > self.seq_cache_max_age_s:
            del self._last[session_id]
            return None
        self._last.move_to_end(session_id)
        return entry[0]

    def _note_seq(self, session_id: str, seq: int, *, only_if_unknown: bool = False) -> None:
        entry = self._last.get(session_id)
        if entry is not None and only_if_unknown:
            return
        self._last[session_id] = (max(seq, entry[0]) if entry is not None else seq, time.monotonic())
        self._last.move_to_end(session_id)
        while len(self._last) > self.seq_cache_size:
            self._last.popitem(last=False)

    def forget(self, session_id: str) -> None:
        self._last.pop(session_id, None)

    async def last_seq(self, session_id: str) -> int:
        page = await call(self.client, "query", TableName=self.table, ConsistentRead=True,
                          KeyConditionExpression="session_id = :s",
                          ExpressionAttributeValues={":s": s(session_id)},
                          ScanIndexForward=False, Limit=1, ProjectionExpression="seq")
        items = page.get("Items", [])
        return int(items[0]["seq"]["S"]) if items else 0

    # -- writes ---------------------------------------------------------------------------------
    async def append(self, session_id: str, message: Message) -> int:
        """Store one turn (an item of its own); returns its seq (1, 2, 3, ... per session).
        Always reads the last seq consistently (see the module's caveat)."""
        return await self._write(session_id, (message,), trust_known=False)

    async def append_exchange(self, session_id: str, user: Message, assistant: Message) -> int:
        """Store a user turn and its answer in one write; returns the answer's seq (the user
        turn's is one less)."""
        return await self._write(session_id, (user, assistant), trust_known=True)

    async def _write(self, session_id: str, turns: Sequence[Message], *, trust_known: bool) -> int:
        split = len(turns) > 1 and item_size(turns) > self.exchange_max_bytes
        for attempt in range(self.max_retries):
            if attempt:
                await backoff(attempt)
            known = self.known_seq(session_id) if trust_known and not attempt else None
            base = known if known is not None else await self.last_seq(session_id)
            top = base + len(turns)
            try:
                if split:
                    await self._put_each(session_id, base, turns)
                else:
                    await self._put_one(session_id, top, turns)
            except ConditionFailed:
                self.forget(session_id)
                continue  # another writer took these seqs; read the new latest and try again
            except MemoryStoreError:
                self.forget(session_id)
                raise
            self._note_seq(session_id, top)
            return top
        raise MemoryStoreError(f"could not append to session {session_id!r}: "
                               f"{self.max_retries} concurrent-write conflicts in a row")

    def _item(self, session_id: str, top: int, turns: Sequence[Message], now: float, wid: str) -> dict:
        last = turns[-1]
        item = {"session_id": s(session_id), "seq": s(seq_key(top)), "role": s(last.role),
                "content": s(last.content), "created_at": n(now),
                "expires_at": n(int(now) + self.ttl_s), "wid": s(wid)}
        if len(turns) > 1:
            item["before"] = {"L": [{"M": {"role": s(m.role), "content": s(m.content)}}
                                    for m in turns[:-1]]}
        return item

    async def _put_one(self, session_id: str, top: int, turns: Sequence[Message]) -> None:
        wid = uuid.uuid4().hex
        item = self._item(session_id, top, turns, self.clock(), wid)
        try:
            await call(self.client, "put_item", TableName=self.table, Item=item,
                       ConditionExpression="attribute_not_exists(seq)",
                       ReturnValuesOnConditionCheckFailure="ALL_OLD")
        except ConditionFailed as exc:
            if exc.item and get_s(exc.item, "wid") == wid:
                return   # our own put, retried by botocore after it had in fact succeeded
            raise

    async def _put_each(self, session_id: str, base: int, turns: Sequence[Message]) -> None:
        """The oversized-exchange fallback: one item per turn, all or none (ClientRequestToken,
        filled in by botocore, makes its own retries idempotent)."""
        now = self.clock()
        puts = [{"Put": {"TableName": self.table,
                         "Item": self._item(session_id, base + i + 1, (m,), now, uuid.uuid4().hex),
                         "ConditionExpression": "attribute_not_exists(seq)"}}
                for i, m in enumerate(turns)]
        await call(self.client, "transact_write_items", TransactItems=puts)

    # -- reads ----------------------------------------------------------------------------------
    async def load(self, session_id: str, limit: int) -> list[tuple[int, Message]]:
        """The last `limit` unexpired turns, oldest first, as (seq, Message). Reads `limit` items
        (an item holds one or two turns) in one consistent Query."""
        if limit <= 0:
            return []
        page = await call(self.client, "query", TableName=self.table, ConsistentRead=True,
                          KeyConditionExpression="session_id = :s",
                          ExpressionAttributeValues={":s": s(session_id)},
                          ScanIndexForward=False, Limit=limit)
        items = page.get("Items", [])
        # a consistent read of the newest item is the session's last seq: the next write needs no read
        self._note_seq(session_id, int(items[0]["seq"]["S"]) if items else 0, only_if_unknown=True)
        now = self.clock()
        turns: list[tuple[int, Message]] = []
        for item in items:
            expires = get_n(item, "expires_at")
            if expires is not None and expires <= now:
                break  # older turns expired earlier still
            turns[:0] = item_turns(item)
            if len(turns) >= limit:
                break
        return turns[-limit:]
