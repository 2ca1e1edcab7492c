"""The edge's dual-write (cato_migrate/edge/dual_write.py) without a network: the policy, the
answer's text from JSON and SSE, and a writer that never blocks or raises, retries with backoff,
keeps a session's order and counts what became of every exchange."""
from __future__ import annotations

import asyncio
import json

import pytest

from cato_migrate.edge.dual_write import (DualWriter, RollbackWindow, ServedExchange, answer_from_json,
                                          answer_from_sse, backoff_s, dual_write_active, exchange_body)

H = 3600.0


@pytest.mark.parametrize("pct,zero_since,now,active", [
    (0, None, 0.0, False),          # never raised: nothing to protect
    (10, None, 0.0, True), (50, None, 0.0, True), (99, None, 0.0, True),
    (100, None, 0.0, False),        # everyone is on the new stack: legacy serves nobody
    (0, 100.0, 100.0 + H - 1, True),  # within the rollback window
    (0, 100.0, 100.0 + H, False),     # the window is over
])
def test_the_policy(pct, zero_since, now, active):
    assert dual_write_active(pct, zero_since, now, window_s=H) is active


def test_the_rollback_window_starts_when_the_flag_falls_to_zero_from_above():
    w = RollbackWindow(window_s=H)
    assert not w.observe(0, 0.0)           # 0 from the start: no window
    assert w.observe(10, 10.0) and w.observe(100, 20.0) is False
    assert w.observe(0, 30.0)              # rolled back from 100: the window opens
    assert w.observe(0, 30.0 + H - 1) and not w.observe(0, 30.0 + H)
    assert w.observe(50, 40.0 + H) and w.observe(0, 50.0 + H) and w.zero_since == 50.0 + H


def completion(content) -> bytes:
    return json.dumps({"id": "c1", "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                                "finish_reason": "stop"}]}).encode()


def sse(*events) -> bytes:
    return b"".join(b"data: " + (e if isinstance(e, bytes) else json.dumps(e).encode()) + b"\n\n" for e in events)


def delta(text, index=0):
    return {"id": "c1", "choices": [{"index": index, "delta": {"content": text}}]}


def test_the_answer_of_a_json_completion():
    assert answer_from_json(completion("The answer is 4.")) == "The answer is 4."
    assert answer_from_json(completion([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}])) == "a\nb"
    for bad in (b"{nope", b"[]", b'{"choices": []}', completion(None), b'{"error": {"message": "x"}}'):
        assert answer_from_json(bad) is None


def test_the_answer_of_an_sse_stream():
    litellm_like = sse({"id": "c1", "choices": [{"index": 0, "delta": {"role": "assistant"}}]},
                       delta("The answer"), delta(" is 4."), delta("ignored", index=1),
                       {"id": "c1", "choices": [{"index": 0, "delta": {}}], "usage": {"total_tokens": 9}}, b"[DONE]")
    assert answer_from_sse(litellm_like) == "The answer is 4."
    crlf = litellm_like.replace(b"\n", b"\r\n")
    assert answer_from_sse(b": keep-alive\r\n\r\n" + crlf) == "The answer is 4."
    # the orchestrator's usage chunk has no choices at all
    assert answer_from_sse(sse(delta("ok"), {"choices": [], "usage": {}}, b"[DONE]")) == "ok"


@pytest.mark.parametrize("raw", [
    sse(delta("half")) + b'data: {"choices": [{"index": 0, "delta": {"content": "cu',   # cut mid-event
    sse(delta("half"), {"error": {"message": "upstream failed"}}),                      # error mid-stream
    sse(b"[DONE]"), b"", b"\xff\xfe",
])
def test_a_partial_or_failed_stream_has_no_answer(raw):
    assert answer_from_sse(raw) is None


REQ = {"model": "claude-3-haiku", "user": "alice", "messages": [{"role": "user", "content": "My name is Alice."}]}


def test_the_ingest_body():
    ex = ServedExchange(REQ, completion("Hi Alice."), streamed=False, authorization="Bearer sk-1")
    assert exchange_body(ex) == {"id": ex.id, "messages": REQ["messages"], "answer": "Hi Alice.",
                                 "user": "alice", "model": "claude-3-haiku"}
    with_header = ServedExchange(REQ, sse(delta("Hi.")), streamed=True, session_header="s-1")
    assert exchange_body(with_header)["session_id"] == "s-1" and exchange_body(with_header)["answer"] == "Hi."
    assert "sk-1" not in repr(ex)   # the key never reaches a log line
    anonymous = ServedExchange({"messages": REQ["messages"]}, completion("x"), streamed=False)
    assert anonymous.session is None and exchange_body(anonymous) is None
    assert exchange_body(ServedExchange(REQ, completion(""), streamed=False)) is None
    assert exchange_body(ServedExchange({**REQ, "messages": "x"}, completion("a"), streamed=False)) is None


def test_backoff_grows_and_is_capped():
    assert backoff_s(1, 0.2, 5.0, 0.0) == pytest.approx(0.1)
    assert backoff_s(3, 0.2, 5.0, 0.999) == pytest.approx(0.8, rel=1e-3)
    assert backoff_s(10, 0.2, 5.0, 0.999) <= 5.0


class FakeResponse:
    def __init__(self, status):
        self.status = status

    async def text(self):
        return "planted"

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return False


class FakeSession:
    """Answers posts from a script of statuses (or exceptions); records what was posted."""

    def __init__(self, script=(), gate: asyncio.Event | None = None):
        self.script, self.posts, self.gate = list(script), [], gate

    def post(self, url, *, json, headers, timeout):
        self.posts.append((url, json, headers))
        outcome = self.script.pop(0) if self.script else 200
        if isinstance(outcome, Exception):
            raise outcome
        return _Gated(FakeResponse(outcome), self.gate)


class _Gated:
    def __init__(self, resp, gate):
        self.resp, self.gate = resp, gate

    async def __aenter__(self):
        if self.gate is not None:
            await self.gate.wait()
        return self.resp

    async def __aexit__(self, *exc):
        return False


def writer(**kw):
    sleeps: list[float] = []

    async def fake_sleep(s):
        sleeps.append(s)

    kw.setdefault("workers", 2)
    w = DualWriter(lambda: "http://new:8000/", sleep=fake_sleep, rng=lambda: 0.0, **kw)
    return w, sleeps


def served(user="alice", text="Hi.", **kw):
    return ServedExchange({**REQ, "user": user}, completion(text), streamed=False, authorization="Bearer sk-1", **kw)


async def drain(w, session):
    await w.start(session)
    await w.close(drain_s=5)


def test_an_exchange_is_posted_with_the_clients_key_and_counted_stored():
    async def go():
        w, _ = writer()
        s = FakeSession()
        assert w.offer(served())
        await drain(w, s)
        return w, s
    w, s = asyncio.run(go())
    url, body, headers = s.posts[0]
    assert url == "http://new:8000/v1/cato/exchanges" and headers == {"Authorization": "Bearer sk-1"}
    assert body["answer"] == "Hi." and body["user"] == "alice"
    assert w.served == 1 and w.counts["stored"] == 1 and w.status()["queued"] == 0


def test_failures_are_retried_with_backoff_under_the_same_id_then_counted():
    import aiohttp

    async def go():
        w, sleeps = writer(attempts=4, workers=1)   # one worker: alice's retries run before bob
        s = FakeSession([503, aiohttp.ClientConnectionError("refused"), 409, 200])
        w.offer(served())
        w.offer(served(user="bob"))    # then the orchestrator is down for good
        s2 = FakeSession([503] * 4)
        await drain(w, s)
        w2, _ = writer(attempts=4)
        w2.offer(served())
        await drain(w2, s2)
        return w, s, sleeps, w2
    w, s, sleeps, w2 = asyncio.run(go())
    ids = {p[1]["id"] for p in s.posts if p[1]["user"] == "alice"}
    assert len(ids) == 1 and len([p for p in s.posts if p[1]["user"] == "alice"]) == 4   # one id, 4 attempts
    assert sleeps[:3] == pytest.approx([0.1, 0.2, 0.4])
    assert w.counts["stored"] == 2 and w2.counts["failed"] == 1 and "503" in w2.last_error


@pytest.mark.parametrize("status,result,posts", [(400, "refused", 1), (413, "refused", 1), (401, "failed", 1),
                                                 (404, "failed", 1)])
def test_permanent_answers_are_not_retried(status, result, posts):
    async def go():
        w, _ = writer()
        s = FakeSession([status])
        w.offer(served())
        await drain(w, s)
        return w, s
    w, s = asyncio.run(go())
    assert w.counts[result] == 1 and len(s.posts) == posts


def test_no_url_for_the_new_stack_is_retried_then_failed():
    async def go():
        w = DualWriter(lambda: None, workers=1, attempts=3, sleep=lambda s: asyncio.sleep(0))
        w.offer(served())
        await drain(w, FakeSession())
        return w
    w = asyncio.run(go())
    assert w.counts["failed"] == 1 and "no URL" in w.last_error


def test_a_full_queue_drops_and_counts_and_offer_never_blocks_or_raises():
    async def go():
        gate = asyncio.Event()      # the orchestrator hangs: nothing completes
        w, _ = writer(workers=1, queue_size=2)
        await w.start(FakeSession(gate=gate))
        results = [w.offer(served(text=f"t{i}")) for i in range(6)]
        await asyncio.sleep(0)      # the worker takes one; the queue holds 2 more
        results.append(w.offer(served(text="late")))
        broken = ServedExchange(None, b"", streamed=False)   # a malformed exchange: still no exception
        results.append(w.offer(broken))
        gate.set()
        await w.close(drain_s=5)
        return w, results
    w, results = asyncio.run(go())
    assert results[:2] == [True, True] and results[-1] is False
    assert w.served == 8 and w.counts["dropped"] >= 4
    assert sum(w.counts.values()) == w.served      # every served exchange is accounted for


def test_anonymous_exchanges_are_skipped_and_a_session_keeps_its_order():
    async def go():
        w, _ = writer(workers=4)
        s = FakeSession()
        w.offer(ServedExchange({"messages": REQ["messages"]}, completion("x"), streamed=False))
        for i in range(20):
            w.offer(served(user="carol", text=f"turn {i}"))
        await drain(w, s)
        return w, s
    w, s = asyncio.run(go())
    assert w.counts["skipped"] == 1 and w.counts["stored"] == 20
    assert [p[1]["answer"] for p in s.posts] == [f"turn {i}" for i in range(20)]


def test_exposition_and_status():
    w, _ = writer()
    assert w.active(10)
    w.offer(ServedExchange({"messages": []}, b"", streamed=False))
    text = w.exposition()
    assert "cato_gateway_dual_write_served_total 1" in text
    assert 'cato_gateway_dual_write_total{result="skipped"} 1' in text
    assert 'cato_gateway_dual_write_total{result="stored"} 0' in text and "cato_gateway_dual_write_active 1" in text
    for line in text.splitlines():
        assert line.startswith("#") or len(line.split(" ")) == 2
    st = w.status()
    assert st["served"] == 1 and st["skipped"] == 1 and "authorization" not in json.dumps(st).lower()
    assert not w.active(100) and w.active("junk") is False   # a bad percentage never raises
