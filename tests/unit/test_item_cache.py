"""The local read path's item cache keeps DAX's item-cache semantics: TTL, write-through, LRU,
and cached misses; SemanticMemory's writes keep it in step (pure, no DynamoDB)."""
from __future__ import annotations

import asyncio

from orchestrator.memory.item_cache import ItemCache, make_read_path
from orchestrator.memory.semantic import SemanticMemory
from orchestrator.ports import Fact


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_entries_expire_after_the_ttl_and_the_oldest_is_evicted():
    clock = Clock()
    cache = ItemCache(ttl_s=10, max_items=2, clock=clock)
    cache.put("a", {"x": 1})
    cache.put("missing", None)
    assert cache.get("a") == (True, {"x": 1}) and cache.get("missing") == (True, None)
    clock.t = 10.0
    assert cache.get("a") == (False, None)
    cache.put("b", 1), cache.put("c", 2), cache.put("d", 3)
    assert cache.get("b") == (False, None) and cache.get("d") == (True, 3)
    assert cache.stats()["items"] == 2


class FakeDynamo:
    """Just enough of the DynamoDB client for put/get/delete of one fact."""

    def __init__(self):
        self.items, self.gets = {}, 0

    def _key(self, key):
        return key["domain"]["S"], key["fact_id"]["S"]

    def query(self, **kw):
        return {"Items": []}

    def put_item(self, **kw):
        item = kw["Item"]
        self.items[(item["domain"]["S"], item["fact_id"]["S"])] = item
        return {}

    def get_item(self, **kw):
        self.gets += 1
        item = self.items.get(self._key(kw["Key"]))
        return {"Item": item} if item else {}

    def delete_item(self, **kw):
        self.items.pop(self._key(kw["Key"]), None)
        return {}


def test_semantic_memory_reads_through_the_cache_and_writes_through_it():
    db = FakeDynamo()
    path = make_read_path(dax_endpoint=None, item_cache=True, ttl_s=300, region="us-east-1", endpoint_url=None)
    mem = SemanticMemory("facts", "us-east-1", client=db, read_path=path)

    async def run():
        fact = await mem.put_fact(Fact(domain="ai", subject="x", text="X is a thing.", source="ix-1", created_at=1.0))
        for _ in range(5):
            assert (await mem.get_fact("ai", fact.fact_id)).text == "X is a thing."
        assert db.gets == 0                      # written through: never read from DynamoDB
        await mem.delete_fact("ai", fact.fact_id)
        assert await mem.get_fact("ai", fact.fact_id) is None and db.gets == 1
        assert await mem.get_fact("ai", fact.fact_id) is None and db.gets == 1   # a cached miss
    asyncio.run(run())
    assert path.name == "item-cache" and "not DAX" in path.label


def test_without_the_cache_every_read_goes_to_dynamodb():
    db = FakeDynamo()
    path = make_read_path(dax_endpoint=None, item_cache=False, ttl_s=300, region="us-east-1", endpoint_url=None)
    mem = SemanticMemory("facts", "us-east-1", client=db, read_path=path)

    async def run():
        fact = await mem.put_fact(Fact(domain="ai", subject="x", text="X is a thing.", source="ix-1", created_at=1.0))
        for _ in range(3):
            await mem.get_fact("ai", fact.fact_id)
    asyncio.run(run())
    assert db.gets == 3 and path.name == "dynamodb"
