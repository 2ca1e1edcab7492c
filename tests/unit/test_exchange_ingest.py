"""Dual-write's ingest on the orchestrator (orchestrator/ingest.py, memory/ingest_ledger.py), pure:
bad bodies are refused before anything is written, an ingested exchange fills in a later chat's
history, ids are idempotent per principal, and one principal cannot write another's history."""
from __future__ import annotations

import asyncio

import pytest

from orchestrator.api_errors import ApiError
from orchestrator.chat_request import parse_chat
from orchestrator.core import CatoOrchestrator
from orchestrator.ingest import ingest, parse_exchange
from orchestrator.memory.ingest_ledger import Claim, InMemoryIngestLedger, RedisIngestLedger, ledger_for
from orchestrator.ports import Message, ModelTier
from tests.fakes_orch import FakeBackend, FakeWorking


def run(coro):
    return asyncio.run(coro)


def body(**over):
    doc = {"id": "ex-1", "user": "alice", "model": "claude-3-haiku",
           "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "My name is Alice."}],
           "answer": "Nice to meet you, Alice."}
    doc.update(over)
    return {k: v for k, v in doc.items() if v is not ...}


def make_orch():
    backends = {t: FakeBackend(t) for t in ModelTier}
    return CatoOrchestrator(None, backends=backends, working=FakeWorking())


BAD = [
    ("array body", [], 400, None),
    ("unknown field", body(extra=1), 400, "extra"),
    ("no id", body(id=...), 400, "id"),
    ("id a number", body(id=7), 400, "id"),
    ("id empty", body(id=" "), 400, "id"),
    ("id of 2 KB", body(id="x" * 2048), 400, "id"),
    ("id with a newline", body(id="a\nb"), 400, "id"),
    ("no user nor session", body(user=...), 400, "user"),
    ("user an object", body(user={}), 400, "user"),
    ("no messages", body(messages=...), 400, "messages"),
    ("empty messages", body(messages=[]), 400, "messages"),
    ("last message the assistant's", body(messages=[{"role": "assistant", "content": "hi"}]), 400, "messages[0].role"),
    ("image part", body(messages=[{"role": "user", "content": [{"type": "image_url"}]}]), 400, "messages[0].content[0].type"),
    ("answer missing", body(answer=...), 400, "answer"),
    ("answer a list", body(answer=["a"]), 400, "answer"),
    ("answer empty", body(answer="  "), 400, "answer"),
    ("model a number", body(model=3), 400, "model"),
    ("turn over 200 kB", body(messages=[{"role": "user", "content": "x" * 200_001}]), 413, "messages"),
    ("answer over 200 kB", body(answer="y" * 200_001), 413, "answer"),
]


@pytest.mark.parametrize("case,doc,status,param", BAD, ids=[c[0] for c in BAD])
def test_a_bad_body_is_refused_in_openai_shape_and_writes_nothing(case, doc, status, param):
    orch = make_orch()
    with pytest.raises(ApiError) as err:
        run(ingest(orch, InMemoryIngestLedger(), "acme", parse_exchange(doc)))
    assert err.value.status == status and err.value.param == param
    shape = err.value.body()["error"]
    assert set(shape) == {"message", "type", "param", "code"} and shape["code"]
    assert orch.working.sessions == {}


def test_the_session_is_chosen_as_a_chat_request_would_choose_it():
    assert parse_exchange(body()).session_id == "alice"
    assert parse_exchange(body(session_id="s-9")).session_id == "s-9"
    assert parse_exchange(body(user=..., session_id="s-9")).session_id == "s-9"
    # the same rule as parse_chat: x-session-id, else user
    chat = parse_chat({"messages": [{"role": "user", "content": "hi"}], "user": "alice"}, session_header="s-9")
    assert chat.session_id == "s-9"


def test_an_ingested_exchange_fills_in_a_later_chat_that_sends_only_its_new_turn():
    orch = make_orch()
    answer = run(ingest(orch, InMemoryIngestLedger(), "acme", parse_exchange(body())))
    assert answer == {"object": "cato.exchange", "id": "ex-1", "session_id": "alice", "stored": True,
                      "duplicate": False}
    # the system message is not a turn; only the user's turn and the answer are kept, as for a chat
    assert orch.working.sessions["acme/alice"] == [Message("user", "My name is Alice."),
                                                   Message("assistant", "Nice to meet you, Alice.")]
    assert orch.working.exchanges == 1   # one durable write for both turns
    later = parse_chat({"user": "alice", "messages": [{"role": "user", "content": "What is my name?"}]})
    reply = run(orch.chat(later, "acme", write_behind=False))
    assert "My name is Alice." in reply["response"] and "Nice to meet you, Alice." in reply["response"]


def test_a_retried_ingest_stores_once():
    orch, ledger = make_orch(), InMemoryIngestLedger()
    first = run(ingest(orch, ledger, "acme", parse_exchange(body())))
    again = run(ingest(orch, ledger, "acme", parse_exchange(body())))
    assert first["stored"] and not again["stored"] and again["duplicate"]
    assert len(orch.working.sessions["acme/alice"]) == 2


def test_one_principal_cannot_write_or_block_another_principals_history():
    orch, ledger = make_orch(), InMemoryIngestLedger()
    run(ingest(orch, ledger, "zeta", parse_exchange(body(answer="Hello, Mallory."))))
    # zeta's exchange lives in zeta's namespace; acme's session of the same name is untouched
    assert "acme/alice" not in orch.working.sessions and "zeta/alice" in orch.working.sessions
    # and the same id sent by another principal is that principal's own exchange, not a duplicate
    assert run(ingest(orch, ledger, "acme", parse_exchange(body())))["stored"]
    later = parse_chat({"user": "alice", "messages": [{"role": "user", "content": "What is my name?"}]})
    assert "Mallory" not in run(orch.chat(later, "acme", write_behind=False))["response"]


class BrokenWorking(FakeWorking):
    def __init__(self, failures: int):
        super().__init__()
        self.failures = failures

    async def append_exchange(self, session_id, user, assistant):
        if self.failures:
            self.failures -= 1
            raise OSError("planted: DynamoDB unreachable")
        await super().append_exchange(session_id, user, assistant)


def test_a_failed_write_is_a_503_and_its_retry_stores():
    orch = make_orch()
    orch.working = BrokenWorking(failures=1)
    ledger = InMemoryIngestLedger()
    with pytest.raises(ApiError) as err:
        run(ingest(orch, ledger, "acme", parse_exchange(body())))
    assert err.value.status == 503 and err.value.headers["Retry-After"] == "1"
    assert orch.working.sessions == {}
    assert run(ingest(orch, ledger, "acme", parse_exchange(body())))["stored"]   # the claim was released
    assert len(orch.working.sessions["acme/alice"]) == 2


def test_an_ingest_in_progress_elsewhere_is_a_409_until_its_claim_expires():
    now = [0.0]
    ledger = InMemoryIngestLedger(pending_ttl_s=60, clock=lambda: now[0])
    assert run(ledger.claim("acme/ex-1")) is Claim.NEW   # another replica is writing it
    with pytest.raises(ApiError) as err:
        run(ingest(make_orch(), ledger, "acme", parse_exchange(body())))
    assert err.value.status == 409 and err.value.code == "ingest_in_progress"
    now[0] = 61.0   # that replica died mid-write: its claim expires and the retry stores
    assert run(ingest(make_orch(), ledger, "acme", parse_exchange(body())))["stored"]


def test_done_marks_expire_and_the_ledger_is_bounded():
    now = [0.0]
    ledger = InMemoryIngestLedger(done_ttl_s=10, max_keys=2, clock=lambda: now[0])
    for key in ("a", "b", "c"):
        run(ledger.claim(key))
        run(ledger.done(key))
    assert run(ledger.claim("c")) is Claim.DONE
    assert run(ledger.claim("a")) is Claim.NEW   # evicted: the oldest goes first
    now[0] = 11.0
    assert run(ledger.claim("c")) is Claim.NEW


class FakeRedis:
    """The three commands the Redis ledger uses, with SET NX semantics; `down` raises like redis-py."""

    def __init__(self):
        self.data, self.down = {}, False

    def _check(self):
        if self.down:
            from redis.exceptions import ConnectionError as RedisConnectionError
            raise RedisConnectionError("planted: Redis down")

    async def set(self, key, value, nx=False, ex=None):
        self._check()
        if nx and key in self.data:
            return None
        self.data[key] = value.encode()
        return True

    async def get(self, key):
        self._check()
        return self.data.get(key)

    async def delete(self, key):
        self._check()
        self.data.pop(key, None)


def test_the_redis_ledger_claims_once_and_stores_anyway_when_redis_is_down():
    r = FakeRedis()
    ledger = RedisIngestLedger(lambda: r)
    assert run(ledger.claim("acme/1")) is Claim.NEW
    assert run(ledger.claim("acme/1")) is Claim.BUSY
    run(ledger.done("acme/1"))
    assert run(ledger.claim("acme/1")) is Claim.DONE
    run(ledger.claim("acme/2"))
    run(ledger.release("acme/2"))
    assert run(ledger.claim("acme/2")) is Claim.NEW
    r.down = True
    assert run(ledger.claim("acme/3")) is Claim.UNCHECKED
    run(ledger.done("acme/3"))      # never raises: the exchange is stored already
    run(ledger.release("acme/3"))
    orch = make_orch()               # unchecked: stored at least once rather than lost
    assert run(ingest(orch, ledger, "acme", parse_exchange(body(id="ex-9"))))["stored"]


def test_the_ledger_follows_the_working_memory():
    from orchestrator.memory.working import WorkingMemoryStore

    assert isinstance(ledger_for(WorkingMemoryStore("redis://127.0.0.1:1")), RedisIngestLedger)
    assert isinstance(ledger_for(FakeWorking()), InMemoryIngestLedger)
