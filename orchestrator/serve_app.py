"""Ray Serve application: an OpenAI-compatible front for CatoOrchestrator.

(No `from __future__ import annotations` here: FastAPI reads the real annotations.)

POST /v1/chat/completions (streaming and not), GET /healthz, GET /metrics (Prometheus),
and /admin/* behind a bearer token. The response's `model` is the tier that served; the
object `cato` says whether it was cached, why it was routed there, and any fallback.
"""

import hmac
import json
import os
import time

from fastapi import FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from pydantic import SecretStr
from ray import serve

from orchestrator.config import OrchestratorConfig
from orchestrator.openai_format import completion_payload, sse_from_events
from orchestrator.ports import ModelTier

api = FastAPI(title="Cato orchestrator", docs_url=None, redoc_url=None)


def _last_user_message(body: dict) -> str:
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise HTTPException(400, "messages must be a non-empty list")
    for m in reversed(msgs):
        if isinstance(m, dict) and m.get("role") == "user" and isinstance(m.get("content"), str) and m["content"].strip():
            return m["content"]
    raise HTTPException(400, "messages needs a user message with text content")


# Helpers sit above the deployment: Ray pickles the ingress class with the globals it
# sees where the class is defined.
def _backend_error(exc) -> JSONResponse:
    return JSONResponse({"error": {"message": str(exc), "type": exc.kind}},
                        status_code=400 if exc.kind in ("content_filter", "client") else 502)


async def _prepend(first, events):
    yield first
    async for ev in events:
        yield ev


async def _memory_admin(fn, *args):
    """Run an orchestrator.memory.admin operation; its AdminError becomes the HTTP answer."""
    from orchestrator.memory.admin import AdminError

    try:
        return await fn(*args)
    except AdminError as exc:
        return JSONResponse({"error": {"message": exc.message, "type": "memory_admin"}}, status_code=exc.status)


async def _json_body(request: Request) -> dict:
    try:
        body = await request.json()
    except ValueError:
        raise HTTPException(400, "body must be JSON")
    if not isinstance(body, dict):
        raise HTTPException(400, "body must be a JSON object")
    return body


ADMIN_TOKEN_ENV = "CATO_ORCHESTRATOR_ADMIN_TOKEN"


def _with_env_token(config: OrchestratorConfig) -> OrchestratorConfig:
    """On Kubernetes the admin token comes from a Secret as an env var, never from the manifest."""
    token = os.environ.get(ADMIN_TOKEN_ENV, "")
    if token and not config.admin_token.get_secret_value():
        return config.model_copy(update={"admin_token": SecretStr(token)})
    return config


@serve.deployment(name="CatoOrchestrator")
@serve.ingress(api)
class OrchestratorDeployment:
    def __init__(self, config_json: str):
        from orchestrator.core import CatoOrchestrator
        from orchestrator.metrics import Metrics

        self.config = _with_env_token(OrchestratorConfig.model_validate_json(config_json))
        self.metrics = Metrics()
        self.orch = CatoOrchestrator(self.config, metrics=self.metrics)
        self.started = time.time()

    @api.get("/healthz")
    async def healthz(self):
        return {"ok": True, "uptime_s": round(time.time() - self.started, 1),
                "breakers": {t.value: b.state for t, b in self.orch.circuit_breakers.items()}}

    @api.get("/metrics")
    async def metrics_endpoint(self):
        self.metrics.breakers(self.orch.circuit_breakers)
        return PlainTextResponse(self.metrics.render(), media_type="text/plain; version=0.0.4")

    @api.post("/v1/chat/completions")
    async def chat(self, request: Request, x_session_id: str | None = Header(default=None)):
        try:
            body = await request.json()
        except ValueError:
            raise HTTPException(400, "body must be JSON")
        query = _last_user_message(body)
        session_id = x_session_id or body.get("user")
        domain = (body.get("metadata") or {}).get("domain", "general") if isinstance(body.get("metadata"), dict) else "general"
        from orchestrator.core import NoTierAvailable
        from orchestrator.ports import BackendError

        max_tokens = int(body.get("max_tokens") or 256)
        if body.get("stream"):
            events = self.orch.stream_query(query, session_id=session_id, domain=domain, user_id=body.get("user"),
                                            max_tokens=max_tokens)
            try:
                first = await events.__anext__()  # routing, cache and the first token happen here
            except NoTierAvailable as exc:
                self.metrics.failed.inc()
                return JSONResponse({"error": {"message": str(exc), "type": "service_unavailable"}}, status_code=503)
            except BackendError as exc:
                return _backend_error(exc)
            return StreamingResponse(sse_from_events(_prepend(first, events)),
                                     media_type="text/event-stream")
        try:
            result = await self.orch.route_query(query, session_id=session_id, domain=domain, user_id=body.get("user"),
                                                 max_tokens=max_tokens)
        except NoTierAvailable as exc:
            self.metrics.failed.inc()
            return JSONResponse({"error": {"message": str(exc), "type": "service_unavailable"}}, status_code=503)
        except BackendError as exc:
            return _backend_error(exc)
        return completion_payload(result)

    def _authorise(self, authorization: str | None) -> None:
        token = self.config.admin_token.get_secret_value()
        given = (authorization or "").removeprefix("Bearer ").strip()
        if not token or not hmac.compare_digest(given, token):
            raise HTTPException(401, "admin API needs Authorization: Bearer <admin token>")

    @api.get("/admin/breakers")
    async def breakers(self, authorization: str | None = Header(default=None)):
        self._authorise(authorization)
        return {t.value: b.snapshot() for t, b in self.orch.circuit_breakers.items()}

    @api.post("/admin/breakers/reset")
    async def reset_breakers(self, authorization: str | None = Header(default=None)):
        self._authorise(authorization)
        from orchestrator.breaker import BreakerBoard

        self.orch.circuit_breakers = BreakerBoard(list(ModelTier), **self.config.breaker.model_dump())
        return {"reset": True}

    @api.get("/admin/cache")
    async def cache_stats(self, authorization: str | None = Header(default=None)):
        self._authorise(authorization)
        return self.orch.cache.stats() if self.orch.cache is not None else {"enabled": False}

    # -- memory (episodic, consolidation, facts, read latency): orchestrator/memory/admin.py --
    @api.post("/admin/memory/episodes")
    async def memory_add_episode(self, request: Request, authorization: str | None = Header(default=None)):
        self._authorise(authorization)
        from orchestrator.memory import admin

        return await _memory_admin(admin.add_episode, self.orch, await _json_body(request))

    @api.post("/admin/memory/episodes/search")
    async def memory_search_episodes(self, request: Request, authorization: str | None = Header(default=None)):
        self._authorise(authorization)
        from orchestrator.memory import admin

        return await _memory_admin(admin.search_episodes, self.orch, await _json_body(request))

    @api.post("/admin/memory/consolidate")
    async def memory_consolidate(self, request: Request, authorization: str | None = Header(default=None)):
        self._authorise(authorization)
        from orchestrator.memory import admin

        return await _memory_admin(admin.consolidate, self.orch, await _json_body(request))

    @api.get("/admin/memory/facts")
    async def memory_facts(self, domain: str, authorization: str | None = Header(default=None)):
        self._authorise(authorization)
        from orchestrator.memory import admin

        return await _memory_admin(admin.facts, self.orch, domain)

    @api.post("/admin/memory/facts/delete")
    async def memory_delete_fact(self, request: Request, authorization: str | None = Header(default=None)):
        self._authorise(authorization)
        from orchestrator.memory import admin

        return await _memory_admin(admin.delete_fact, self.orch, await _json_body(request))

    @api.post("/admin/memory/read-latency")
    async def memory_read_latency(self, request: Request, authorization: str | None = Header(default=None)):
        self._authorise(authorization)
        from orchestrator.memory import admin

        return await _memory_admin(admin.read_latency, self.orch, await _json_body(request))


def build_app(config: OrchestratorConfig):
    s = config.serve
    return OrchestratorDeployment.options(
        num_replicas=s.num_replicas, max_ongoing_requests=s.max_ongoing_requests,
        max_queued_requests=s.max_queued_requests,
    ).bind(_dump(config))


def _dump(config: OrchestratorConfig) -> str:
    """JSON for the replica, with the admin token in clear (SecretStr hides it from model_dump)."""
    data = config.model_dump(mode="json")
    data["admin_token"] = config.admin_token.get_secret_value()
    return json.dumps(data)
