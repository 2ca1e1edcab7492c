"""The orchestrator's OpenAI API over real HTTP (the Serve app's FastAPI routes via uvicorn, the
real core, simulator, redis-server and moto): keys, models, usage, and bad input that never
reaches a 500 and leaves nothing behind in memory or the cache."""
from __future__ import annotations

import json

import httpx
import pytest

from orchestrator.identity import key_hash
from tests.orch_http import serve_on_a_sandbox

pytestmark = pytest.mark.integration
KEY, OTHER_KEY, TOKEN = "sk-http-acme", "sk-http-zeta", "admin-http"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from serve_on_a_sandbox(
        tmp_path_factory.mktemp("chat-http") / ".cato-migrate", admin_token=TOKEN, max_body_bytes=64 * 1024,
        api_keys=[{"principal": "acme", "sha256": key_hash(KEY)}, {"principal": "zeta", "sha256": key_hash(OTHER_KEY)}])


def post(srv, body, *, key=KEY, headers=None, raw: bytes | None = None):
    h = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {}), **(headers or {})}
    return httpx.post(srv.url + "/v1/chat/completions", content=raw if raw is not None else json.dumps(body),
                      headers=h, timeout=60, trust_env=False)


def test_models_are_listed_and_retrieved_with_a_key(server):
    h = {"Authorization": f"Bearer {KEY}"}
    listing = httpx.get(server.url + "/v1/models", headers=h, trust_env=False).json()
    assert {"cato", "claude-3-haiku", "claude-3-5-sonnet"} <= {m["id"] for m in listing["data"]}
    assert httpx.get(server.url + "/v1/models/claude-3-haiku", headers=h, trust_env=False).json()["id"] == "claude-3-haiku"
    missing = httpx.get(server.url + "/v1/models/gpt-4o", headers=h, trust_env=False)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"
    assert httpx.get(server.url + "/v1/models", trust_env=False).status_code == 401


def test_real_usage_and_the_pinned_name_come_back(server):
    r = post(server, {"model": "claude-3-haiku", "messages": [
        {"role": "system", "content": "My name is Alice."}, {"role": "user", "content": "What is my name?"}]})
    doc = r.json()
    assert r.status_code == 200 and doc["model"] == "claude-3-haiku" and doc["cato"]["tier"] == "bedrock_haiku"
    assert "Alice" in doc["choices"][0]["message"]["content"]  # the system prompt reached the model
    u = doc["usage"]
    assert u["prompt_tokens"] > 0 and u["completion_tokens"] > 0
    assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]


def test_a_stream_ends_with_usage_when_asked(server):
    body = {"model": "claude-3-5-sonnet", "stream": True, "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": "What is 2+2? (stream usage probe)"}]}
    with httpx.stream("POST", server.url + "/v1/chat/completions", json=body, trust_env=False, timeout=60,
                      headers={"Authorization": f"Bearer {KEY}"}) as r:
        lines = [ln[6:] for ln in r.iter_lines() if ln.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    chunks = [json.loads(x) for x in lines[:-1]]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "The answer is 4."


def test_a_session_id_is_bound_to_its_principal(server):
    sid = {"x-session-id": "http-shared-session"}
    assert post(server, {"messages": [{"role": "user", "content": "My name is Alice."}]}, headers=sid).status_code == 200
    mine = post(server, {"messages": [{"role": "user", "content": "What is my name?"}]}, headers=sid).json()
    theirs = post(server, {"messages": [{"role": "user", "content": "What is my name?"}]}, key=OTHER_KEY,
                  headers=sid).json()
    assert "Alice" in mine["choices"][0]["message"]["content"]
    assert "Alice" not in theirs["choices"][0]["message"]["content"]


OK_TURN = [{"role": "user", "content": "hello there"}]
BAD_HTTP = [
    # (case, body or raw bytes, extra headers, key, expected status)
    ("array body", b"[]", {}, KEY, 400),
    ("string body", b'"hi"', {}, KEY, 400),
    ("not JSON", b"{nope", {}, KEY, 400),
    ("not UTF-8", b'{"messages": "\xff"}', {}, KEY, 400),
    ("max_tokens abc", {"messages": OK_TURN, "max_tokens": "abc"}, {}, KEY, 400),
    ("max_tokens NaN", b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": NaN}', {}, KEY, 400),
    ("max_tokens 1e400", b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1e400}', {}, KEY, 400),
    ("user an object", {"messages": OK_TURN, "user": {}}, {}, KEY, 400),
    ("domain a list", {"messages": OK_TURN, "metadata": {"domain": []}}, {}, KEY, 400),
    ("session id of 2 KB", {"messages": OK_TURN}, {"x-session-id": "s" * 2048}, KEY, 400),
    ("image part", {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
     {}, KEY, 400),
    ("n=2", {"messages": OK_TURN, "n": 2}, {}, KEY, 400),
    ("unknown model", {"model": "gpt-9", "messages": OK_TURN}, {}, KEY, 404),
    ("no key", {"messages": OK_TURN}, {}, None, 401),
    ("wrong key", {"messages": OK_TURN}, {}, "sk-wrong", 401),
    ("body over the limit", {"messages": [{"role": "user", "content": "x" * 70_000}]}, {}, KEY, 413),
]


def _on_server_loop(server, coro):
    import asyncio

    return asyncio.run_coroutine_threadsafe(coro, server.loop).result(30)


@pytest.mark.parametrize("case,body,headers,key,status", BAD_HTTP, ids=[c[0] for c in BAD_HTTP])
def test_bad_input_is_a_4xx_in_openai_shape_and_leaves_nothing_behind(server, case, body, headers, key, status):
    _on_server_loop(server, server.deployment.orch.writes.flush())  # earlier tests' writes behind replies
    before = server.deployment.orch.cache.stats()["entries"]
    sid = {"x-session-id": f"bad-{abs(hash(case))}", **headers}
    r = post(server, body if not isinstance(body, bytes) else None, key=key, headers=sid,
             raw=body if isinstance(body, bytes) else None)
    assert r.status_code == status, (case, r.text)
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["message"]
    _on_server_loop(server, server.deployment.orch.writes.flush())
    assert server.deployment.orch.cache.stats()["entries"] == before
    if len(sid["x-session-id"]) <= 256:
        for principal in ("acme", "zeta"):
            turns = _on_server_loop(server, server.deployment.orch.working.history(
                f"{principal}/{sid['x-session-id']}", 10))
            assert turns == []


def test_non_ascii_bearer_tokens_are_401_not_500(server):
    raw = httpx.post(server.url + "/v1/chat/completions", json={"messages": OK_TURN}, trust_env=False,
                     headers={"Authorization": "Bearer é".encode("utf-8")})
    assert raw.status_code == 401 and raw.json()["error"]["type"] == "authentication_error"
    admin = httpx.get(server.url + "/admin/breakers", trust_env=False, headers={"Authorization": "Bearer é".encode()})
    assert admin.status_code == 401


def test_a_declared_oversized_body_is_refused_before_it_is_read(server):
    import socket
    from urllib.parse import urlparse

    u = urlparse(server.url)
    with socket.create_connection((u.hostname, u.port), timeout=10) as s:
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEY.encode()
                  + b"\r\nContent-Type: application/json\r\nContent-Length: 50000000\r\n\r\n{")
        head = s.recv(4096).decode("latin-1")  # answered with only one byte of 50 MB sent
    assert head.startswith("HTTP/1.1 413")


def test_admin_bad_numbers_are_400(server):
    h = {"Authorization": f"Bearer {TOKEN}"}
    r = httpx.post(server.url + "/admin/memory/read-latency", json={"n": "abc"}, headers=h, trust_env=False)
    assert r.status_code == 400 and r.json()["error"]["message"]
    r = httpx.post(server.url + "/admin/memory/episodes/search", json={"query": "x", "k": [1]}, headers=h,
                   trust_env=False)
    assert r.status_code in (400, 409)  # 409 when episodic memory is not wired; never a 500


def test_unknown_routes_are_404_in_openai_shape(server):
    r = httpx.get(server.url + "/v1/nothing-here", trust_env=False)
    assert r.status_code == 404 and r.json()["error"]["type"] == "invalid_request_error"


def test_a_full_replica_refuses_at_once_with_429_and_retry_after(server):
    admission = server.deployment.admission
    saved = admission.limit
    admission.limit = admission.in_flight  # full: every new chat request is over the limit
    try:
        r = post(server, {"messages": OK_TURN})
    finally:
        admission.limit = saved
    assert r.status_code == 429 and r.headers["retry-after"] == str(admission.retry_after_s)
    assert r.json()["error"]["type"] == "rate_limit_error" and r.json()["error"]["code"] == "at_capacity"
    assert post(server, {"messages": OK_TURN}).status_code == 200  # and serves again once there is room


def test_a_defect_on_the_chat_path_is_a_500_in_openai_shape_and_frees_its_slot(server):
    orch = server.deployment.orch
    before = server.deployment.admission.in_flight

    async def broken(*args, **kwargs):
        raise RuntimeError("planted defect")

    saved, orch.chat = orch.chat, broken
    try:
        r = post(server, {"messages": OK_TURN})
    finally:
        orch.chat = saved
    assert r.status_code == 500 and r.json()["error"]["code"] == "internal_error"
    assert "RuntimeError" in r.json()["error"]["message"] and "Traceback" not in r.text
    assert server.deployment.admission.in_flight == before
    assert post(server, {"messages": OK_TURN}).status_code == 200


def test_healthz_is_200_only_once_warm(server):
    import time

    deadline = time.monotonic() + 60
    while (r := httpx.get(server.url + "/healthz", trust_env=False)).status_code == 503 and time.monotonic() < deadline:
        assert r.json()["ok"] is False and r.json()["warm"]["ready"] is False
        time.sleep(0.2)
    assert r.status_code == 200 and r.json()["warm"]["ready"] is True and r.json()["warm"]["seconds"] is not None
