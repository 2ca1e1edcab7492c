"""ChatFastPath: POST to a chat path reaches the replica's chat_response without FastAPI's routing;
everything else (other paths, other methods, a mount's root_path) goes through the app as before."""
from __future__ import annotations

import asyncio
import types

import pytest
from starlette.responses import JSONResponse

from orchestrator import serve_app


class _Replica:
    def __init__(self):
        self.seen = []

    async def chat_response(self, request):
        self.seen.append((request.method, request.url.path, await request.body()))
        return JSONResponse({"served": "fast"})


def _call(scope, replica, monkeypatch):
    monkeypatch.setattr(serve_app.serve, "get_replica_context",
                        lambda: types.SimpleNamespace(servable_object=replica))
    through_app, sent = [], []

    async def app(scope, receive, send):
        through_app.append(scope["path"])
        await JSONResponse({"served": "app"})(scope, receive, send)

    async def receive():
        return {"type": "http.request", "body": b'{"x": 1}', "more_body": False}

    async def send(message):
        sent.append(message)

    full = {"type": "http", "headers": [], "query_string": b"", "root_path": "", **scope}
    asyncio.run(serve_app.ChatFastPath(app)(full, receive, send))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return through_app, body


@pytest.mark.parametrize("path,root", [("/v1/chat/completions", ""), ("/chat/completions", ""),
                                       ("/api/v1/chat/completions", "/api")])
def test_a_chat_post_is_served_by_the_replica_without_the_router(path, root, monkeypatch):
    replica = _Replica()
    through_app, body = _call({"method": "POST", "path": path, "root_path": root}, replica, monkeypatch)
    assert through_app == [] and body == b'{"served":"fast"}'
    assert replica.seen == [("POST", path, b'{"x": 1}')]


@pytest.mark.parametrize("method,path", [("GET", "/v1/chat/completions"), ("POST", "/v1/cato/exchanges"),
                                         ("POST", "/v1/chat/completions/extra"), ("GET", "/healthz")])
def test_anything_else_goes_through_the_app(method, path, monkeypatch):
    replica = _Replica()
    through_app, body = _call({"method": method, "path": path}, replica, monkeypatch)
    assert through_app == [path] and body == b'{"served":"app"}' and replica.seen == []


def test_the_fast_path_sits_inside_fastapis_error_middleware():
    # an unexpected error on the fast path still becomes the app's OpenAI-shaped 500 (ServerErrorMiddleware)
    kinds = [m.cls for m in serve_app.api.user_middleware]
    assert serve_app.ChatFastPath in kinds
