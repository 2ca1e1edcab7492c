"""Memory against real servers: a redis-server subprocess (started here, per module) and the
moto server (DynamoDB over HTTP). Every test gets fresh table names, so no reset is needed.

The model is a tiny scripted backend that answers EXTRACT_FACTS prompts with a JSON array.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import socket
import subprocess
import time
import uuid

import numpy as np
import pytest

from orchestrator.memory._dynamo_http import DynamoHttp
from orchestrator.memory.dynamo_sessions import DynamoSessions
from orchestrator.memory.episodic import EmbeddedEpisodicIndex
from orchestrator.memory.consolidation import ConsolidationPipeline
from orchestrator.memory.interactions import DynamoInteractionLog
from orchestrator.memory.semantic import SemanticMemory
from orchestrator.memory.service import GlobalMemoryService
from orchestrator.memory.working import _APPEND, WorkingMemoryStore
from orchestrator.ports import Completion, Fact, Message, ModelTier


pytestmark = pytest.mark.integration
REGION = "us-east-1"


# -- servers -------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                if self.client().ping():
                    return
            except Exception:  # noqa: BLE001 — not up yet
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.02)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None

    def client(self):
        import redis
        return redis.Redis.from_url(self.url, socket_timeout=1)


@pytest.fixture(scope="module")
def redis_server():
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def aws(monkeypatch, moto_server):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CATO_TEST_MOTO_URL", moto_server)
    return moto_server


def table(kind: str) -> str:
    return f"cato-{kind}-{uuid.uuid4().hex[:12]}"


def sid() -> str:
    return f"s-{uuid.uuid4().hex[:8]}"


def turns(n: int, start: int = 0) -> list[Message]:
    return [Message("user" if i % 2 == 0 else "assistant", f"turn {i} — é") for i in range(start, start + n)]


async def make_working(aws_url: str, redis_url: str, **kw) -> tuple[WorkingMemoryStore, DynamoSessions]:
    durable = DynamoSessions(table("sessions"), REGION, aws_url)
    await durable.ensure_table()
    return WorkingMemoryStore(redis_url, durable=durable, **kw), durable


class ExtractFactsBackend:
    """Answers EXTRACT_FACTS prompts with the next scripted fact list (wrapped in prose)."""

    tier = ModelTier.SHADOW_SELF

    def __init__(self, *fact_lists: list[dict]):
        self.fact_lists, self.requests = list(fact_lists), []

    async def complete(self, messages, *, max_tokens=256, temperature=0.0):
        self.requests.append(list(messages))
        assert messages[0].role == "system" and messages[0].content.startswith("EXTRACT_FACTS")
        text = "Extracted facts:\n" + json.dumps(self.fact_lists.pop(0)) + "\nThat is all."
        return Completion(text=text, tier=self.tier, model_id="fake-extractor")

    async def stream(self, messages, *, max_tokens=256, temperature=0.0):
        yield (await self.complete(messages)).text

    async def close(self):
        pass


class HashEmbedder:
    """Deterministic bag-of-words embedding (64-d), enough to rank lexical overlap."""

    def embed(self, text: str) -> list[float]:
        v = np.zeros(64, dtype=np.float32)
        for word in text.lower().replace("?", " ").replace(".", " ").split():
            v[int(hashlib.sha1(word.encode()).hexdigest(), 16) % 64] += 1.0
        return v.tolist()


# -- working memory --------------------------------------------------------------------------------
def test_history_round_trip_ttl_and_durable_items(aws, redis_server):
    async def run():
        store, durable = await make_working(aws, redis_server.url, ttl_s=120)
        session, msgs = sid(), turns(3)
        for m in msgs:
            await store.append(session, m)
        assert await store.history(session) == msgs
        assert await store.history(session, limit=2) == msgs[1:]
        assert await durable.load(session, 10) == [(1, msgs[0]), (2, msgs[1]), (3, msgs[2])]
        items = raw_items(durable, session)
        assert [i["seq"]["S"] for i in items] == ["000000000001", "000000000002", "000000000003"]
        assert all(int(i["expires_at"]["N"]) > time.time() + 29 * 86400 for i in items)
        await store.close()
        return store.keys(session)

    turns_key, seq_key = asyncio.run(run())
    r = redis_server.client()
    assert 0 < r.ttl(turns_key) <= 120 and 0 < r.ttl(seq_key) <= 120
    assert r.llen(turns_key) == 3


def test_flushall_loses_nothing_and_rewarms_redis(aws, redis_server):
    async def run():
        store, _ = await make_working(aws, redis_server.url)
        session, msgs = sid(), turns(4)
        for m in msgs[:3]:
            await store.append(session, m)
        redis_server.client().flushall()
        await store.append(session, msgs[3])           # lands in DynamoDB; Redis list is gone
        assert await store.history(session) == msgs    # reloaded from DynamoDB
        assert redis_server.client().llen(store.keys(session)[0]) == 4   # re-warmed
        more = turns(2, start=4)
        for m in more:
            await store.append(session, m)             # contiguous again: pushed to Redis
        assert redis_server.client().llen(store.keys(session)[0]) == 6
        assert await store.history(session) == msgs + more
        await store.close()

    asyncio.run(run())


def test_redis_restart_and_outage_lose_nothing(aws, redis_server):
    async def run():
        store, _ = await make_working(aws, redis_server.url, socket_timeout=0.5)
        session, msgs = sid(), turns(5)
        for m in msgs[:2]:
            await store.append(session, m)
        redis_server.stop()
        await store.append(session, msgs[2])              # Redis down: durable write, no raise
        assert await store.history(session) == msgs[:3]   # Redis down: read from DynamoDB
        redis_server.start()                              # empty: --save "" --appendonly no
        assert await store.history(session) == msgs[:3]
        await store.append(session, msgs[3])
        await store.append(session, msgs[4])
        assert await store.history(session) == msgs
        assert redis_server.client().llen(store.keys(session)[0]) == 5
        await store.close()

    asyncio.run(run())


def test_stale_redis_list_is_never_served(aws, redis_server):
    """A write that reached DynamoDB but not Redis (another process, say) must not leave Redis
    serving a history without it: the next contiguous check drops the list."""
    async def run():
        store, durable = await make_working(aws, redis_server.url)
        session, msgs = sid(), turns(4)
        for m in msgs[:2]:
            await store.append(session, m)
        await durable.append(session, msgs[2])   # bypasses Redis, as a failed Redis write would
        await store.append(session, msgs[3])     # seq 4 after 2: gap -> list dropped
        assert await store.history(session) == msgs
        await store.close()

    asyncio.run(run())


def test_trim_to_max_turns_and_longer_history_from_durable(aws, redis_server):
    async def run():
        store, _ = await make_working(aws, redis_server.url, max_turns=5)
        session, msgs = sid(), turns(8)
        for m in msgs:
            await store.append(session, m)
        assert redis_server.client().llen(store.keys(session)[0]) == 5
        assert await store.history(session, limit=5) == msgs[-5:]
        assert await store.history(session, limit=20) == msgs
        await store.close()

    asyncio.run(run())


def test_concurrent_appends_get_distinct_sequence_numbers(aws, redis_server):
    async def run():
        store, durable = await make_working(aws, redis_server.url)
        session, msgs = sid(), turns(8)
        await asyncio.gather(*(store.append(session, m) for m in msgs))
        stored = await durable.load(session, 20)
        assert [seq for seq, _ in stored] == list(range(1, 9))
        assert sorted(m.content for _, m in stored) == sorted(m.content for m in msgs)
        assert await store.history(session) == [m for _, m in stored]
        await store.close()

    asyncio.run(run())


def test_redis_only_store_round_trip_and_reads_never_raise(redis_server):
    async def run():
        store = WorkingMemoryStore(redis_server.url, ttl_s=60, max_turns=3)
        session, msgs = sid(), turns(4)
        for m in msgs:
            await store.append(session, m)
        assert await store.history(session, limit=10) == msgs[-3:]   # trimmed, nothing behind it
        assert 0 < redis_server.client().ttl(store.keys(session)[0]) <= 60
        await store.close()

        down = WorkingMemoryStore(f"redis://127.0.0.1:{free_port()}/0", socket_timeout=0.3)
        assert await down.history("s") == []                         # logged, not raised
        with pytest.raises(Exception):                                # the only copy: the writer must know
            await down.append("s", Message("user", "hi"))
        await down.close()

    asyncio.run(run())


def test_many_concurrent_commands_share_a_bounded_pool_of_redis_connections(redis_server):
    """2,000 requests in flight must not open 2,000 Redis connections: commands wait for one of
    `max_connections` instead (redis-py's default pool opens one per command in flight)."""
    def clients() -> int:
        return int(redis_server.client().info("clients")["connected_clients"])

    async def run():
        store = WorkingMemoryStore(redis_server.url, ttl_s=60, max_connections=8)
        session = sid()
        await store.append(session, Message("user", "hello"))
        before = clients()
        seen = []

        async def read():
            assert await store.history(session) == [Message("user", "hello")]

        async def watch():
            for _ in range(20):
                seen.append(clients())
                await asyncio.sleep(0.005)

        await asyncio.gather(watch(), *(read() for _ in range(500)))
        await store.close()
        return before, max(seen)

    before, peak = asyncio.run(run())
    assert peak - before <= 8, f"{peak - before} connections opened for 500 concurrent reads"


# -- one write per exchange ------------------------------------------------------------------------
class CountingClient(DynamoHttp):
    """The stores' own DynamoDB client, recording every operation sent through it."""

    def __init__(self, region: str, url: str):
        super().__init__(region, url)
        self.calls: list[tuple[str, dict]] = []

    async def call(self, op, params):
        self.calls.append((op, params))
        return await super().call(op, params)

    def ops(self) -> list[str]:
        return [("query:consistent" if kw.get("ConsistentRead") else op) if op == "query" else op
                for op, kw in self.calls]


def count_redis(store: WorkingMemoryStore) -> list[str]:
    """Record the name of every Redis command the store's client sends (after this call)."""
    client, sent = store.redis, []
    original = client.execute_command

    async def counted(*args, **kwargs):
        sent.append(str(args[0]).upper())
        return await original(*args, **kwargs)
    client.execute_command = counted
    return sent


async def make_counted(aws_url: str, redis_url: str, name: str | None = None, **kw):
    client = CountingClient(REGION, aws_url)
    durable = DynamoSessions(name or table("sessions"), REGION, client=client)
    await durable.ensure_table()
    client.calls.clear()
    return WorkingMemoryStore(redis_url, durable=durable, **kw), durable, client


def exchanges(n: int, tag: str = "") -> list[tuple[Message, Message]]:
    return [(Message("user", f"{tag}q{i} — é"), Message("assistant", f"{tag}a{i} — ü")) for i in range(n)]


def boto_dynamodb():
    """A boto3 client of the test's own, to read and plant items behind the store's back."""
    import boto3

    return boto3.client("dynamodb", region_name=REGION, endpoint_url=os.environ["CATO_TEST_MOTO_URL"])


def raw_items(durable: DynamoSessions, session: str) -> list[dict]:
    return boto_dynamodb().query(TableName=durable.table, KeyConditionExpression="session_id = :s",
                        ExpressionAttributeValues={":s": {"S": session}}, ConsistentRead=True)["Items"]


def test_one_put_and_one_script_call_per_exchange(aws, redis_server):
    """Before: per exchange 2 consistent Queries + 2 PutItems + 2 EVALSHAs (two `append`s).
    After: 1 PutItem + 1 EVALSHA; the consistent read only for a session's first write here."""
    async def run():
        store, durable, client = await make_counted(aws, redis_server.url)
        sent = count_redis(store)
        await store.append_exchange(sid(), *exchanges(1, "warm-up ")[0])   # loads the script
        client.calls.clear(), sent.clear()

        # the per-turn path, for comparison
        legacy = sid()
        await store.append(legacy, Message("user", "q")), await store.append(legacy, Message("assistant", "a"))
        assert client.ops() == ["query:consistent", "put_item"] * 2 and sent == ["EVALSHA"] * 2
        client.calls.clear(), sent.clear()

        session, pairs = sid(), exchanges(3)
        await store.append_exchange(session, *pairs[0])           # first write of the session here
        assert client.ops() == ["query:consistent", "put_item"] and sent == ["EVALSHA"]
        for pair in pairs[1:]:
            client.calls.clear(), sent.clear()
            await store.append_exchange(session, *pair)
            assert client.ops() == ["put_item"] and sent == ["EVALSHA"]   # no read at all

        flat = [m for pair in pairs for m in pair]
        assert await store.history(session) == flat
        assert await durable.load(session, 10) == list(enumerate(flat, start=1))
        items = raw_items(durable, session)
        assert [i["seq"]["S"] for i in items] == [f"{k:012d}" for k in (2, 4, 6)]
        assert all(i["role"]["S"] == "assistant" and i["before"]["L"][0]["M"]["role"]["S"] == "user"
                   for i in items)
        assert redis_server.client().llen(store.keys(session)[0]) == 6
        assert int(redis_server.client().get(store.keys(session)[1])) == 6
        await store.close()

    asyncio.run(run())


def test_a_history_read_makes_the_first_write_free_of_reads(aws, redis_server):
    async def run():
        store, durable, client = await make_counted(aws, redis_server.url)
        session = sid()
        assert await store.history(session) == []            # Redis miss -> one consistent Query
        client.calls.clear()
        await store.append_exchange(session, *exchanges(1)[0])
        assert client.ops() == ["put_item"]
        await store.close()

    asyncio.run(run())


def test_items_written_per_turn_still_read_back_with_exchanges(aws, redis_server):
    """Sessions stored before exchange items (one item per turn) read back, and continue."""
    async def run():
        store, durable = await make_working(aws, redis_server.url)
        session, old = sid(), turns(3)
        now = int(time.time())
        for seq, m in enumerate(old, start=1):   # the exact shape the per-turn writer stored
            boto_dynamodb().put_item(TableName=durable.table, Item={
                "session_id": {"S": session}, "seq": {"S": f"{seq:012d}"}, "role": {"S": m.role},
                "content": {"S": m.content}, "created_at": {"N": str(now)},
                "expires_at": {"N": str(now + 86400)}})
        assert await durable.load(session, 10) == [(1, old[0]), (2, old[1]), (3, old[2])]
        assert await store.history(session) == old             # from DynamoDB, re-warms Redis
        pairs = exchanges(2)
        for pair in pairs:
            await store.append_exchange(session, *pair)
        flat = old + [m for pair in pairs for m in pair]
        assert await store.history(session) == flat
        assert redis_server.client().llen(store.keys(session)[0]) == 7
        assert await durable.load(session, 10) == list(enumerate(flat, start=1))
        assert [m for _, m in await durable.load(session, 4)] == flat[-4:]   # limit in turns
        assert [m for _, m in await durable.load(session, 5)] == flat[-5:]   # cuts an exchange item
        await store.close()

        fresh, _ = await make_working(aws, redis_server.url)    # another process, Redis flushed
        fresh.durable = DynamoSessions(durable.table, REGION, aws)
        redis_server.client().flushall()
        assert await fresh.history(session, limit=6) == flat[-6:]
        await fresh.close()

    asyncio.run(run())


def test_second_replica_on_the_same_session_is_detected_and_retried(aws, redis_server):
    async def run():
        name = table("sessions")
        a, durable_a, client_a = await make_counted(aws, redis_server.url, name)
        b, durable_b, _ = await make_counted(aws, redis_server.url, name)
        session, pairs = sid(), exchanges(3)
        await a.append_exchange(session, *pairs[0])      # A: seqs 1-2, remembers 2
        await b.append_exchange(session, *pairs[1])      # B: reads 2, seqs 3-4
        client_a.calls.clear()
        await a.append_exchange(session, *pairs[2])      # A believes 2: key 4 is taken -> re-read
        assert client_a.ops() == ["put_item", "query:consistent", "put_item"]
        flat = [m for pair in pairs for m in pair]
        assert await durable_a.load(session, 20) == list(enumerate(flat, start=1))
        assert await a.history(session) == flat == await b.history(session)
        assert redis_server.client().llen(a.keys(session)[0]) == 6
        await a.close(), await b.close()

    asyncio.run(run())


def test_concurrent_exchanges_from_two_replicas_lose_and_duplicate_nothing(aws, redis_server):
    async def run():
        name = table("sessions")
        a, durable_a, _ = await make_counted(aws, redis_server.url, name)
        b, durable_b, _ = await make_counted(aws, redis_server.url, name)
        durable_a.max_retries = durable_b.max_retries = 30
        session = sid()
        await a.append_exchange(session, *exchanges(1, "seed ")[0])
        await b.append_exchange(session, *exchanges(1, "seed2 ")[0])   # A's number is now stale
        from_a, from_b = exchanges(5, "A"), exchanges(5, "B")

        async def replica(store, pairs):
            for pair in pairs:                # in order per replica, as the write-behind queue does
                await store.append_exchange(session, *pair)

        await asyncio.gather(replica(a, from_a), replica(b, from_b))
        stored = await durable_a.load(session, 50)
        assert [seq for seq, _ in stored] == list(range(1, 25))
        msgs = [m for _, m in stored]
        assert len(set(msgs)) == 24 and set(msgs) >= {m for p in from_a + from_b for m in p}
        assert all(msgs[i].role == "user" and msgs[i + 1].content == msgs[i].content.replace("q", "a", 1)
                   .replace("é", "ü") for i in range(0, 24, 2))                  # pairs stay together
        assert [m for m in msgs if m.content.startswith("A")] == [m for p in from_a for m in p]
        assert await a.history(session, limit=50) == msgs == await b.history(session, limit=50)
        await a.close(), await b.close()

    asyncio.run(run())


def test_flushall_then_history_reloads_exchanges_in_order(aws, redis_server):
    async def run():
        store, _ = await make_working(aws, redis_server.url)
        session, pairs = sid(), exchanges(3)
        for pair in pairs:
            await store.append_exchange(session, *pair)
        redis_server.client().flushall()
        flat = [m for pair in pairs for m in pair]
        assert await store.history(session) == flat
        assert redis_server.client().llen(store.keys(session)[0]) == 6     # re-warmed
        more = exchanges(1, "more ")[0]
        await store.append_exchange(session, *more)                           # contiguous: pushed
        assert redis_server.client().llen(store.keys(session)[0]) == 8
        assert await store.history(session) == flat + list(more)
        await store.close()

    asyncio.run(run())


def test_a_gap_before_an_exchange_deletes_the_redis_list(aws, redis_server):
    async def run():
        store, durable = await make_working(aws, redis_server.url)
        session, pairs = sid(), exchanges(3)
        await store.append_exchange(session, *pairs[0])
        await durable.append_exchange(session, *pairs[1])     # durable, never pushed to Redis (3-4)
        keys = store.keys(session)
        assert redis_server.client().llen(keys[0]) == 2
        script = store._script("append", _APPEND)
        gap = await script(keys=list(keys), args=[5, 60, 50, '{"s": 5, "r": "user", "c": "x"}',
                                                  '{"s": 6, "r": "assistant", "c": "y"}'])
        assert gap == -1 and redis_server.client().llen(keys[0]) == 0   # dropped, not left partial
        assert await store.history(session) == [*pairs[0], *pairs[1]]   # reloaded from DynamoDB
        await store.close()

    asyncio.run(run())


def test_a_gapped_list_is_never_served_after_an_exchange(aws, redis_server):
    async def run():
        store, durable = await make_working(aws, redis_server.url)
        session, pairs = sid(), exchanges(3)
        await store.append_exchange(session, *pairs[0])
        await durable.append_exchange(session, *pairs[1])     # as a failed Redis write would leave it
        await store.append_exchange(session, *pairs[2])       # first seq 5 after 2: list deleted
        flat = [m for pair in pairs for m in pair]
        assert await store.history(session) == flat
        assert redis_server.client().llen(store.keys(session)[0]) == 6
        await store.close()

    asyncio.run(run())


def test_an_oversized_exchange_is_stored_whole_as_two_items(aws, redis_server):
    async def run():
        store, durable, client = await make_counted(aws, redis_server.url)
        session = sid()
        user, answer = Message("user", "é" * 100_000), Message("assistant", "x" * 190_000)  # 390 kB
        await store.append_exchange(session, *exchanges(1)[0])
        client.calls.clear()
        await store.append_exchange(session, user, answer)
        assert client.ops() == ["transact_write_items"]
        await store.append_exchange(session, *exchanges(1, "after ")[0])
        items = raw_items(durable, session)
        assert [(i["seq"]["S"][-1], "before" in i) for i in items] == [
            ("2", True), ("3", False), ("4", False), ("6", True)]
        expected = [*exchanges(1)[0], user, answer, *exchanges(1, "after ")[0]]
        assert await durable.load(session, 10) == list(enumerate(expected, start=1))
        assert await store.history(session) == expected
        redis_server.client().flushall()
        assert await store.history(session) == expected
        await store.close()

    asyncio.run(run())


def test_redis_only_store_pushes_an_exchange(redis_server):
    async def run():
        store = WorkingMemoryStore(redis_server.url, ttl_s=60, max_turns=3)
        session = sid()
        for pair in exchanges(2):
            await store.append_exchange(session, *pair)
        assert [m.content for m in await store.history(session, limit=10)] == ["a0 — ü", "q1 — é", "a1 — ü"]
        await store.close()

    asyncio.run(run())


# -- semantic memory --------------------------------------------------------------------------------
class Clock:
    def __init__(self, t: float = 1_800_000_000.0):
        self.t = t

    def __call__(self) -> float:
        self.t += 1.0
        return self.t


async def make_semantic(aws_url: str, clock=None) -> SemanticMemory:
    semantic = SemanticMemory(table("facts"), REGION, aws_url, clock=clock or Clock())
    await semantic.ensure_table()
    return semantic


def test_facts_by_domain_with_provenance(aws):
    async def run():
        semantic = await make_semantic(aws)
        a = await semantic.put_fact(Fact("ai", "machine learning", "Machine learning is a subset of AI.",
                                         "ix-1", 0.0, extra={"model_id": "m"}))
        b = await semantic.put_fact(Fact("ai", "transformers", "Transformers use attention.", "ix-2", 0.0))
        await semantic.put_fact(Fact("billing", "invoices", "Invoices are monthly.", "ix-3", 0.0))
        again = await semantic.put_fact(Fact("ai", "Machine  Learning", "machine learning is a subset of AI",
                                             "ix-4", 0.0))
        assert again == a                                  # same fact: not duplicated
        facts = await semantic.facts_by_domain("ai")
        assert [(f.fact_id, f.subject, f.source, f.extra) for f in facts] == [
            (a.fact_id, "machine learning", "ix-1", {"model_id": "m"}), (b.fact_id, "transformers", "ix-2", {})]
        assert all(f.created_at > 0 and f.superseded_by is None for f in facts)
        assert await semantic.facts_by_domain("nothing") == []

    asyncio.run(run())


def test_contradicting_fact_supersedes_the_old_one(aws):
    async def run():
        clock = Clock()
        semantic = await make_semantic(aws, clock)
        memory = GlobalMemoryService(working=None, semantic=semantic)   # type: ignore[arg-type]
        old = await semantic.put_fact(Fact("geo", "capital of X", "The capital of X is Foo.", "ix-1", 0.0))
        other = await semantic.put_fact(Fact("geo", "capital of Y", "The capital of Y is Bar.", "ix-2", 0.0))
        new = await semantic.put_fact(Fact("geo", "capital of X", "The capital of X is Baz.", "ix-3", 0.0))
        current = await memory.getFactsByDomain("geo")
        assert [f.fact_id for f in current] == [other.fact_id, new.fact_id]
        everything = {f.fact_id: f for f in await semantic.facts_by_domain("geo", include_superseded=True)}
        superseded = everything[old.fact_id]
        assert superseded.superseded_by == new.fact_id
        assert new.created_at < superseded.superseded_at <= clock.t
        assert superseded.text == "The capital of X is Foo." and superseded.source == "ix-1"

    asyncio.run(run())


class RacingDetector:
    """Lexical answers, but makes two writers race: both must read the same current facts
    before either writes, and the second writes only after the first has committed. (Truly
    parallel transactions cannot be tested on moto: its TransactWriteItems rolls back by
    restoring a copy of the whole table, which can undo another thread's committed write.)"""

    def __init__(self, first: str, second: str):
        self.first, self.second = first, second
        self.arrived: set[str] = set()
        self.both_read, self.first_done = asyncio.Event(), asyncio.Event()

    async def relation(self, premise: str, hypothesis: str):
        from orchestrator.memory.contradiction import lexical_relation

        if hypothesis not in self.arrived:        # first look: wait for the other writer's read
            self.arrived.add(hypothesis)
            if len(self.arrived) == 2:
                self.both_read.set()
            await self.both_read.wait()
            if hypothesis == self.second:
                await self.first_done.wait()
        return lexical_relation(premise, hypothesis)


def test_racing_contradictions_leave_exactly_one_current_fact(aws):
    async def run():
        semantic = await make_semantic(aws, clock=time.time)
        await semantic.put_fact(Fact("geo", "capital of X", "The capital of X is Foo.", "ix-0", 0.0))
        first, second = "The capital of X is Bar.", "The capital of X is Baz."
        semantic.detector = detector = RacingDetector(first, second)

        async def put_first():
            fact = await semantic.put_fact(Fact("geo", "capital of X", first, "ix-1", 0.0))
            detector.first_done.set()
            return fact

        bar, baz = await asyncio.gather(
            put_first(), semantic.put_fact(Fact("geo", "capital of X", second, "ix-2", 0.0)))
        # the second writer's transaction was cancelled (Foo already superseded), so it re-read
        # and superseded Bar instead of leaving Bar and Baz both current
        assert [f.text for f in await semantic.facts_by_domain("geo")] == [second]
        history = {f.text: f for f in await semantic.facts_by_domain("geo", include_superseded=True)}
        assert history["The capital of X is Foo."].superseded_by == bar.fact_id
        assert history[first].superseded_by == baz.fact_id

    asyncio.run(run())


# -- the runbook's week-11 flow ----------------------------------------------------------------------
def test_week11_store_interaction_extract_facts_get_facts_by_domain(aws, redis_server):
    async def run():
        working, _ = await make_working(aws, redis_server.url)
        semantic = await make_semantic(aws)
        interactions = DynamoInteractionLog(table("interactions"), REGION, aws)
        await interactions.ensure_table()
        backend = ExtractFactsBackend(
            [{"subject": "machine learning", "fact": "Machine learning is a subset of AI."}],
            [{"subject": "machine learning", "fact": "Machine learning is a branch of statistics."}])
        consolidation_pipeline = ConsolidationPipeline(backend, semantic)
        memory = GlobalMemoryService(working, semantic, consolidation=consolidation_pipeline,
                                     interactions=interactions)

        interaction = {"query": "What is machine learning?", "response": "Machine learning is...",
                       "domain": "ai"}
        interaction_id = await memory.storeInteraction(interaction)
        facts = await consolidation_pipeline.extract_facts(interaction)
        stored = await memory.getFactsByDomain("ai")
        assert len(stored) > 0
        assert [(f.text, f.source) for f in stored] == [("Machine learning is a subset of AI.", interaction_id)]
        assert facts == stored
        user = backend.requests[0][1].content
        assert "What is machine learning?" in user and "Machine learning is..." in user
        record = await memory.get_interaction(interaction_id)
        assert (record["query"], record["domain"], record["id"]) == (
            "What is machine learning?", "ai", interaction_id)

        # a later interaction contradicts it: only the new fact stays current
        second = {"query": "And really?", "response": "ML is a branch of statistics.", "domain": "ai"}
        await memory.store_interaction(second)
        await memory.consolidate(second["id"])
        current = await memory.get_facts_by_domain("ai")
        assert [(f.text, f.source) for f in current] == [
            ("Machine learning is a branch of statistics.", second["id"])]
        await working.close()

    asyncio.run(run())


# -- episodic memory ----------------------------------------------------------------------------------
def test_embedded_episodic_search_returns_the_nearest(tmp_path):
    async def run():
        index = EmbeddedEpisodicIndex(path=tmp_path / "episodes.npz", use_hnsw=False)
        rng = np.random.default_rng(7)
        vectors = rng.normal(size=(50, 16))
        for i, v in enumerate(vectors):
            await index.add(f"ep-{i}", f"text {i}", v, {"user_id": f"u{i % 2}", "i": i})
        probe = vectors[17] + 0.01 * rng.normal(size=16)
        hits = await index.search(probe, k=3)
        assert hits[0][0] == "ep-17" and hits[0][1] > 0.99 and hits[0][2] == {"user_id": "u1", "i": 17}
        assert [h[1] for h in hits] == sorted((h[1] for h in hits), reverse=True)
        only_u0 = await index.search(probe, k=5, filter_user="u0")
        assert len(only_u0) == 5 and all(m["user_id"] == "u0" for _, _, m in only_u0)
        await index.add("ep-17", "replaced", -vectors[17], {"user_id": "u1"})   # upsert
        assert (await index.search(probe, k=1))[0][0] != "ep-17" and len(index) == 50
        index.save()
        reloaded = EmbeddedEpisodicIndex(path=tmp_path / "episodes.npz")
        assert len(reloaded) == 50 and reloaded.text("ep-17") == "replaced"
        assert await reloaded.search(vectors[3], k=2) == await index.search(vectors[3], k=2)

    asyncio.run(run())


def test_embedded_episodic_hnsw_agrees_with_exact_search():
    pytest.importorskip("hnswlib")

    async def run():
        exact, approx = EmbeddedEpisodicIndex(use_hnsw=False), EmbeddedEpisodicIndex(use_hnsw=True)
        rng = np.random.default_rng(3)
        vectors = rng.normal(size=(300, 32))
        for i, v in enumerate(vectors):
            for index in (exact, approx):
                await index.add(f"ep-{i}", "", v, {})
        for i in (0, 99, 250):
            a, b = await exact.search(vectors[i], k=1), await approx.search(vectors[i], k=1)
            assert a[0][0] == b[0][0] == f"ep-{i}" and abs(a[0][1] - b[0][1]) < 1e-4
        # the built graph follows later adds and replacements
        more = rng.normal(size=(5, 32))
        for i, v in enumerate(more):
            await approx.add(f"late-{i}", "", v, {})
        await approx.add("ep-0", "", more[0] * -1, {})
        assert (await approx.search(more[3], k=1))[0][0] == "late-3"
        assert (await approx.search(-more[0], k=1))[0][0] == "ep-0"

    asyncio.run(run())


def test_service_indexes_interactions_episodically(aws):
    async def run():
        semantic = await make_semantic(aws)
        memory = GlobalMemoryService(None, semantic, EmbeddedEpisodicIndex(), HashEmbedder())  # type: ignore[arg-type]
        ml = await memory.storeInteraction({"query": "What is machine learning?", "user_id": "alice",
                                            "response": "Machine learning learns from data.", "domain": "ai"})
        await memory.storeInteraction({"query": "How do I pay an invoice?", "user_id": "alice",
                                       "response": "Invoices are paid by card.", "domain": "billing"})
        bob = await memory.storeInteraction({"query": "What is machine learning exactly?", "user": "bob",
                                             "response": "Machine learning learns from data.", "domain": "ai"})
        hits = await memory.searchEpisodes("machine learning", k=2, user_id="alice")
        assert hits[0][0] == ml and hits[0][2]["domain"] == "ai" and all(h[0] != bob for h in hits)
        assert (await memory.search_episodes("machine learning exactly", k=1))[0][0] == bob

    asyncio.run(run())
