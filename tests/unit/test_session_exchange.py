"""One durable write per exchange (issue 9): DynamoSessions on an in-memory DynamoDB stand-in,
WorkingMemoryStore's routing to one Redis script call, and the core's `_remember`.

The real servers (moto, redis-server) are exercised in tests/integration/test_memory.py."""
from __future__ import annotations

import asyncio
import json

import pytest
from botocore.exceptions import ClientError

from orchestrator.core import CatoOrchestrator
from orchestrator.memory._dynamo import MemoryStoreError
from orchestrator.memory.dynamo_sessions import DynamoSessions, item_size, item_turns
from orchestrator.memory.working import WorkingMemoryStore
from orchestrator.ports import Message, ModelTier
from tests.fakes_orch import FakeBackend, FakeWorking


def _conflict(op: str, item: dict | None = None) -> ClientError:
    response: dict = {"Error": {"Code": "ConditionalCheckFailedException", "Message": "taken"}}
    if item is not None:
        response["Item"] = item
    return ClientError(response, op)


class FakeDynamo:
    """The few DynamoDB operations DynamoSessions uses, on dicts; shared by "replicas"."""

    def __init__(self):
        self.items: dict[tuple[str, str], dict] = {}
        self.calls: list[str] = []
        self.fail_next: Exception | None = None
        self.commit_then_conflict = False   # a put that lands, then botocore's retry of it conflicts

    def ops(self) -> list[str]:
        out, self.calls = self.calls, []
        return out

    def query(self, *, TableName, KeyConditionExpression, ExpressionAttributeValues, ScanIndexForward=True,
              Limit=None, ConsistentRead=False, ProjectionExpression=None):
        self.calls.append("query:consistent" if ConsistentRead else "query")
        session = ExpressionAttributeValues[":s"]["S"]
        rows = sorted((k[1], v) for k, v in self.items.items() if k[0] == session)
        if not ScanIndexForward:
            rows.reverse()
        return {"Items": [dict(v) for _, v in rows[:Limit]]}

    def put_item(self, *, TableName, Item, ConditionExpression=None, ReturnValuesOnConditionCheckFailure=None):
        self.calls.append("put_item")
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise exc
        key = (Item["session_id"]["S"], Item["seq"]["S"])
        if key in self.items:
            raise _conflict("PutItem", self.items[key] if ReturnValuesOnConditionCheckFailure else None)
        self.items[key] = dict(Item)
        if self.commit_then_conflict:
            self.commit_then_conflict = False
            raise _conflict("PutItem", dict(Item))
        return {}

    def transact_write_items(self, *, TransactItems):
        self.calls.append("transact_write_items")
        keys = [(p["Put"]["Item"]["session_id"]["S"], p["Put"]["Item"]["seq"]["S"]) for p in TransactItems]
        if any(k in self.items for k in keys):
            raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"}},
                              "TransactWriteItems")
        for k, p in zip(keys, TransactItems):
            self.items[k] = dict(p["Put"]["Item"])
        return {}


def run(coro):
    return asyncio.run(coro)


def pair(i: int, tag: str = "") -> tuple[Message, Message]:
    return Message("user", f"{tag}q{i}"), Message("assistant", f"{tag}a{i}")


def seqs(db: FakeDynamo, session: str) -> list[int]:
    return sorted(int(k[1]) for k in db.items if k[0] == session)


def test_one_put_per_exchange_and_one_read_per_session_per_process():
    db = FakeDynamo()
    d = DynamoSessions("t", "r", client=db)

    async def scenario():
        assert await d.append_exchange("s", *pair(0)) == 2
        assert db.ops() == ["query:consistent", "put_item"]
        for i in (1, 2, 3):
            assert await d.append_exchange("s", *pair(i)) == 2 * i + 2
            assert db.ops() == ["put_item"]   # the seq comes from this process's memory
        assert await d.load("s", 100) == [(k + 1, m) for k, m in enumerate(m for i in range(4) for m in pair(i))]

    run(scenario())
    assert seqs(db, "s") == [2, 4, 6, 8]
    item = db.items[("s", "000000000002")]
    assert (item["role"]["S"], item["content"]["S"]) == ("assistant", "a0")
    assert item["before"] == {"L": [{"M": {"role": {"S": "user"}, "content": {"S": "q0"}}}]}


def test_a_history_load_seeds_the_next_write():
    db = FakeDynamo()
    d = DynamoSessions("t", "r", client=db)

    async def scenario():
        assert await d.load("new", 20) == []
        await d.append_exchange("new", *pair(0))
        assert db.ops() == ["query:consistent", "put_item"]   # the load's read, then the write alone

    run(scenario())


def test_a_second_replica_is_detected_and_the_writer_retries():
    db = FakeDynamo()
    a, b = DynamoSessions("t", "r", client=db), DynamoSessions("t", "r", client=db)

    async def scenario():
        await a.append_exchange("s", *pair(0, "A"))
        await b.append_exchange("s", *pair(0, "B"))          # b reads 2, writes 3-4
        db.ops()
        assert await a.append_exchange("s", *pair(1, "A")) == 6   # a's "2" is stale: key 4 taken
        assert db.ops() == ["put_item", "query:consistent", "put_item"]
        assert [m.content for _, m in await a.load("s", 20)] == ["Aq0", "Aa0", "Bq0", "Ba0", "Aq1", "Aa1"]

    run(scenario())


def test_a_retried_put_that_had_landed_is_not_written_twice():
    db = FakeDynamo()
    d = DynamoSessions("t", "r", client=db)

    async def scenario():
        await d.append_exchange("s", *pair(0))
        db.commit_then_conflict, _ = True, db.ops()
        assert await d.append_exchange("s", *pair(1)) == 4
        assert db.ops() == ["put_item"]   # no re-read, no second item: the conflicting item was our own
        assert seqs(db, "s") == [2, 4]

    run(scenario())


def test_items_of_one_turn_read_back_beside_exchange_items():
    db = FakeDynamo()
    d = DynamoSessions("t", "r", client=db)

    async def scenario():
        for turn in (Message("user", "old q"), Message("assistant", "old a"), Message("user", "lone q")):
            await d.append("s", turn)         # the per-turn writer's items: keys 1, 2, 3
        await d.append_exchange("s", *pair(0))               # keys 4-5 in one item keyed 5
        got = await d.load("s", 10)
        assert [(k, m.content) for k, m in got] == [(1, "old q"), (2, "old a"), (3, "lone q"), (4, "q0"), (5, "a0")]
        assert [m.content for _, m in await d.load("s", 1)] == ["a0"]
        assert [m.content for _, m in await d.load("s", 3)] == ["lone q", "q0", "a0"]

    run(scenario())
    assert item_turns(db.items[("s", "000000000003")]) == [(3, Message("user", "lone q"))]


def test_expired_items_are_skipped_on_read():
    db = FakeDynamo()
    clock = [1000.0]
    d = DynamoSessions("t", "r", client=db, ttl_s=10, clock=lambda: clock[0])

    async def scenario():
        await d.append_exchange("s", *pair(0))
        clock[0] += 20
        await d.append_exchange("s", *pair(1))
        assert [(k, m.content) for k, m in await d.load("s", 10)] == [(3, "q1"), (4, "a1")]

    run(scenario())


def test_an_oversized_exchange_becomes_two_items_in_one_transaction():
    db = FakeDynamo()
    d = DynamoSessions("t", "r", client=db, exchange_max_bytes=1_000)
    big = (Message("user", "u" * 600), Message("assistant", "a" * 600))
    assert item_size(big) > 1_000

    async def scenario():
        await d.append_exchange("s", *pair(0))
        db.ops()
        assert await d.append_exchange("s", *big) == 4
        assert db.ops() == ["transact_write_items"]
        await d.append_exchange("s", *pair(1))
        assert [m for _, m in await d.load("s", 10)] == [*pair(0), *big, *pair(1)]

    run(scenario())
    assert seqs(db, "s") == [2, 3, 4, 6] and "before" not in db.items[("s", "000000000003")]


def test_a_failed_write_forgets_the_remembered_seq():
    db = FakeDynamo()
    d = DynamoSessions("t", "r", client=db)

    async def scenario():
        await d.append_exchange("s", *pair(0))
        db.fail_next = ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "x"}},
                                   "PutItem")
        with pytest.raises(MemoryStoreError):
            await d.append_exchange("s", *pair(1))
        assert d.known_seq("s") is None
        db.ops()
        await d.append_exchange("s", *pair(1))
        assert db.ops() == ["query:consistent", "put_item"]

    run(scenario())


def test_the_remembered_seqs_are_bounded_and_expire():
    db = FakeDynamo()
    d = DynamoSessions("t", "r", client=db, seq_cache_size=2)

    async def scenario():
        for s in ("a", "b", "c"):
            await d.append_exchange(s, *pair(0))
        assert d.known_seq("a") is None and d.known_seq("b") == 2 and d.known_seq("c") == 2
        d.seq_cache_max_age_s = 0.0
        await asyncio.sleep(0.01)
        assert d.known_seq("c") is None

    run(scenario())


def test_endless_conflicts_give_up_with_an_error():
    class AlwaysTaken(FakeDynamo):
        def put_item(self, **kw):
            self.calls.append("put_item")
            raise _conflict("PutItem")

    d = DynamoSessions("t", "r", client=AlwaysTaken(), max_retries=3)
    with pytest.raises(MemoryStoreError, match="3 concurrent-write conflicts"):
        run(d.append_exchange("s", *pair(0)))


# -- WorkingMemoryStore: one Redis script call per exchange -----------------------------------------
class FakeScript:
    def __init__(self):
        self.calls: list[tuple[list, list]] = []

    async def __call__(self, keys, args):
        self.calls.append((keys, args))
        return 1


def store_with(durable) -> tuple[WorkingMemoryStore, FakeScript]:
    store = WorkingMemoryStore("redis://unused", durable=durable, redis_client=object(), ttl_s=60, max_turns=7)
    script = FakeScript()
    store._scripts["append"] = script
    return store, script


def test_an_exchange_is_one_script_call_with_both_turns():
    store, script = store_with(DynamoSessions("t", "r", client=FakeDynamo()))
    run(store.append_exchange("s", *pair(0)))
    run(store.append_exchange("s", *pair(1)))
    assert len(script.calls) == 2
    keys, args = script.calls[1]
    assert keys == list(store.keys("s")) and args[:3] == [3, 60, 7]
    assert [json.loads(a) for a in args[3:]] == [{"s": 3, "r": "user", "c": "q1"}, {"s": 4, "r": "assistant", "c": "a1"}]


def test_a_durable_copy_without_exchanges_gets_two_appends():
    class PerTurn:
        def __init__(self):
            self.seq = 0

        async def append(self, session_id, message):
            self.seq += 1
            return self.seq

        async def load(self, session_id, limit):
            return []

    store, script = store_with(PerTurn())
    run(store.append_exchange("s", *pair(0)))
    assert [(args[0], json.loads(args[3])["s"]) for _, args in script.calls] == [(1, 1), (2, 2)]


# -- the core ---------------------------------------------------------------------------------------
def test_the_core_stores_each_exchange_with_one_call():
    working = FakeWorking()
    orch = CatoOrchestrator(None, backends={t: FakeBackend(t) for t in ModelTier}, working=working)
    run(orch.route_query("My name is Alice", session_id="s1"))
    r = run(orch.route_query("What is my name?", session_id="s1"))
    assert "Alice" in r["response"] and working.exchanges == 2
    assert [m.role for m in working.sessions["local/s1"]] == ["user", "assistant"] * 2


def test_the_core_still_works_with_a_per_turn_working_memory():
    class PerTurnWorking:
        def __init__(self):
            self.turns: list[Message] = []

        async def append(self, session_id, message):
            self.turns.append(message)

        async def history(self, session_id, limit=20):
            return self.turns[-limit:]

    working = PerTurnWorking()
    orch = CatoOrchestrator(None, backends={t: FakeBackend(t) for t in ModelTier}, working=working)
    run(orch.route_query("hello", session_id="s1"))
    assert [m.role for m in working.turns] == ["user", "assistant"]
