"""The interaction log: every query/response the gateway served, retrievable by id.

* `InMemoryInteractionLog`: bounded (oldest evicted first); for tests and a single process.
* `DynamoInteractionLog`: one item per interaction. Table design::

      interaction_id (HASH)   "ix-<32 hex>" unless the caller chose one
      record_json             the whole record as JSON (schema-free)
      domain, user_id, session_id (S, when present), created_at (N)
      expires_at (N)          DynamoDB TTL attribute
"""
from __future__ import annotations

import json
import time
from collections import OrderedDict
from typing import Any, Callable, Protocol

from ._dynamo import call, ensure_table, get_s, make_client, n, s


class InteractionLog(Protocol):
    async def put(self, record: dict) -> None: ...
    async def get(self, interaction_id: str) -> dict | None: ...


class InMemoryInteractionLog:
    def __init__(self, max_items: int = 10_000):
        self.max_items = max_items
        self._items: OrderedDict[str, str] = OrderedDict()

    async def put(self, record: dict) -> None:
        self._items[record["id"]] = json.dumps(record, default=str)
        self._items.move_to_end(record["id"])
        while len(self._items) > self.max_items:
            self._items.popitem(last=False)

    async def get(self, interaction_id: str) -> dict | None:
        raw = self._items.get(interaction_id)
        return None if raw is None else json.loads(raw)


class DynamoInteractionLog:
    def __init__(self, table: str, region: str, endpoint_url: str | None = None, *,
                 ttl_s: int = 90 * 86400, client: Any = None, clock: Callable[[], float] = time.time):
        self.table, self.ttl_s, self.clock = table, ttl_s, clock
        self._client, self._region, self._endpoint_url = client, region, endpoint_url

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = make_client(self._region, self._endpoint_url)
        return self._client

    async def ensure_table(self) -> None:
        await ensure_table(self.client, self.table, "interaction_id", ttl_attribute="expires_at")

    async def put(self, record: dict) -> None:
        item = {"interaction_id": s(record["id"]), "record_json": s(json.dumps(record, default=str)),
                "created_at": n(float(record.get("created_at") or self.clock())),
                "expires_at": n(int(self.clock()) + self.ttl_s)}
        for key in ("domain", "user_id", "session_id"):
            if record.get(key):
                item[key] = s(str(record[key]))
        await call(self.client, "put_item", TableName=self.table, Item=item)

    async def get(self, interaction_id: str) -> dict | None:
        resp = await call(self.client, "get_item", TableName=self.table, ConsistentRead=True,
                          Key={"interaction_id": s(interaction_id)})
        raw = get_s(resp.get("Item", {}), "record_json")
        return None if raw is None else json.loads(raw)
