"""Dual-write's ingest over real HTTP: the Serve app's routes (uvicorn, no Ray), the real core,
simulator, redis-server (the idempotency ledger and working memory) and moto (the durable copy).

A user LiteLLM served says "My name is Alice."; the exchange is ingested; the same user's next
request to the orchestrator sends only its new turn and is answered with Alice."""
from __future__ import annotations

import httpx
import pytest

from orchestrator.identity import key_hash
from tests.orch_http import serve_on_a_sandbox

pytestmark = pytest.mark.integration
KEY, OTHER_KEY = "sk-ingest-acme", "sk-ingest-zeta"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from serve_on_a_sandbox(
        tmp_path_factory.mktemp("ingest-http") / ".cato-migrate", cache={"enabled": False},  # no embedding model to load
        api_keys=[{"principal": "acme", "sha256": key_hash(KEY)}, {"principal": "zeta", "sha256": key_hash(OTHER_KEY)}])


def ingest(srv, doc, key=KEY):
    return httpx.post(srv.url + "/v1/cato/exchanges", json=doc, trust_env=False, timeout=30,
                      headers={"Authorization": f"Bearer {key}"} if key else {})


def chat(srv, user, text, key=KEY):
    r = httpx.post(srv.url + "/v1/chat/completions", trust_env=False, timeout=60,
                   headers={"Authorization": f"Bearer {key}"},
                   json={"model": "claude-3-haiku", "user": user, "messages": [{"role": "user", "content": text}]})
    assert r.status_code == 200, r.text
    return r.json()["choices"][0]["message"]["content"]


def history(srv, session_key):
    import asyncio

    return asyncio.run_coroutine_threadsafe(srv.orch.working.history(session_key, 50), srv.loop).result(30)


EXCHANGE = {"id": "gw-http-1", "user": "alice-http", "model": "claude-3-haiku",
            "messages": [{"role": "user", "content": "My name is Alice."}], "answer": "Hello Alice, noted."}


def test_an_ingested_legacy_exchange_is_the_history_of_the_users_next_chat(server):
    r = ingest(server, EXCHANGE)
    assert r.status_code == 200 and r.json()["stored"] is True, r.text
    assert "Alice" in chat(server, "alice-http", "What is my name?")
    # the other principal's user of the same name sees nothing of it
    assert "Alice" not in chat(server, "alice-http", "What is my name?", key=OTHER_KEY)


def test_a_retried_ingest_stores_once(server):
    doc = {**EXCHANGE, "id": "gw-http-2", "user": "bob-http", "messages": [{"role": "user", "content": "I like tea."}]}
    assert ingest(server, doc).json()["stored"] is True
    again = ingest(server, doc)
    assert again.status_code == 200 and again.json() == {**again.json(), "stored": False, "duplicate": True}
    assert [m.content for m in history(server, "acme/bob-http")] == ["I like tea.", "Hello Alice, noted."]


def test_wrong_key_is_401_and_bad_input_400_both_in_openai_shape(server):
    for key, status, code in ((None, 401, "missing_api_key"), ("sk-wrong", 401, "invalid_api_key")):
        r = ingest(server, EXCHANGE, key=key)
        assert r.status_code == status and r.json()["error"]["code"] == code
    r = ingest(server, {**EXCHANGE, "id": "gw-http-3", "answer": 42})
    assert r.status_code == 400 and r.json()["error"]["param"] == "answer"
    r = httpx.post(server.url + "/v1/cato/exchanges", content=b"{nope", trust_env=False,
                   headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"
    metrics = httpx.get(server.url + "/metrics", trust_env=False).text
    assert 'cato_ingested_exchanges_total{result="refused"}' in metrics


def test_the_edge_dual_writer_stores_a_streamed_legacy_exchange_the_orchestrator_then_uses(server):
    """The edge's writer (cato_migrate/edge/dual_write.py) against the real ingest endpoint."""
    import asyncio
    import json

    import aiohttp

    from cato_migrate.edge.dual_write import DualWriter, ServedExchange

    def event(text):
        return b"data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": text}}]}).encode() + b"\n\n"

    request = {"model": "claude-3-haiku", "user": "carol-http", "stream": True,
               "messages": [{"role": "user", "content": "My name is Alice."}]}
    served = ServedExchange(request, event("Hello ") + event("Alice.") + b"data: [DONE]\n\n", streamed=True,
                            authorization=f"Bearer {KEY}")

    async def go():
        writer = DualWriter(lambda: server.url, workers=1)
        async with aiohttp.ClientSession() as session:
            await writer.start(session)
            writer.offer(served)
            writer.offer(served)        # the same exchange twice (a retry): stored once
            await writer.close(drain_s=10)
        return writer

    writer = asyncio.run(go())
    assert writer.counts["stored"] == 2 and writer.counts["failed"] == 0, writer.status()
    assert [m.content for m in history(server, "acme/carol-http")] == ["My name is Alice.", "Hello Alice."]
    assert "Alice" in chat(server, "carol-http", "What is my name?")
