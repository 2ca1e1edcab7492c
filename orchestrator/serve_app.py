"""Ray Serve application: an OpenAI-compatible front for CatoOrchestrator.

(No `from __future__ import annotations` here: FastAPI reads the real annotations.)

POST /v1/chat/completions (streaming and not) and GET /v1/models[/{id}] behind the clients' API
keys (orchestrator/identity.py), GET /healthz, GET /metrics (Prometheus), and /admin/* behind a
bearer token. Requests are judged by orchestrator/chat_request.py before any model call; every
error is in OpenAI's shape (orchestrator/api_errors.py), never a traceback. The object `cato`
says which tier served, whether it was cached, why it was routed there, and any fallback.
"""

import json
import logging
import os
import time

from fastapi import FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from pydantic import SecretStr
from ray import serve
from starlette.exceptions import HTTPException as StarletteHTTPException

from orchestrator.api_errors import ApiError
from orchestrator.config import OrchestratorConfig
from orchestrator.identity import token_matches
from orchestrator.openai_format import completion_payload, sse_from_events
from orchestrator.serving import Admission, WarmUp
from orchestrator.ports import ModelTier

api = FastAPI(title="Cato orchestrator", docs_url=None, redoc_url=None, openapi_url=None)


# Helpers sit above the deployment: Ray pickles the ingress class with the globals it
# sees where the class is defined.
def _error_response(exc: ApiError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


@api.exception_handler(ApiError)
async def _on_api_error(request: Request, exc: ApiError):
    return _error_response(exc)


@api.exception_handler(StarletteHTTPException)
async def _on_http_error(request: Request, exc: StarletteHTTPException):
    message = exc.detail if isinstance(exc.detail, str) else "request refused"
    if exc.status_code == 404:
        message = f"no route {request.method} {request.url.path[:200]}"
    return _error_response(ApiError(exc.status_code, message, code="not_found" if exc.status_code == 404 else None))


@api.exception_handler(RequestValidationError)
async def _on_validation_error(request: Request, exc: RequestValidationError):
    first = (exc.errors() or [{}])[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "header"))
    return _error_response(ApiError(400, f"invalid {where or 'request'}: {first.get('msg', 'bad value')}",
                                    param=where or None, code="invalid_value"))


@api.exception_handler(Exception)
async def _on_unexpected(request: Request, exc: Exception):
    # A defect, not the client's fault; still OpenAI's shape, and no traceback to the client.
    logging.getLogger("orchestrator").exception("unhandled error on %s %s", request.method, request.url.path)
    return _error_response(ApiError(500, f"internal error ({type(exc).__name__}); it has been logged",
                                    code="internal_error"))


def _backend_error(exc) -> ApiError:
    if exc.kind == "content_filter":
        return ApiError(400, str(exc), code="content_filter")
    if exc.kind == "client":
        return ApiError(400, str(exc), code="backend_rejected_request")
    return ApiError(502, str(exc), code=f"backend_{exc.kind}")


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
        return _error_response(ApiError(exc.status, exc.message, type_="memory_admin"))


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed `limit` (never read whole)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise ApiError(413, f"request body over {limit} bytes", code="request_too_large")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"request body over {limit} bytes", code="request_too_large")
        chunks.append(chunk)
    return b"".join(chunks)


async def _json(request: Request, limit: int, empty: dict | None = None):
    """The body as JSON, whatever its type (parse_chat judges a chat body's shape itself); an empty
    body is `empty` when one is given (else invalid JSON)."""
    raw = await _read_body(request, limit)
    if empty is not None and not raw.strip():
        return empty
    try:
        return json.loads(raw)
    except ValueError:  # UnicodeDecodeError included
        raise ApiError(400, "the request body must be JSON (UTF-8)", code="invalid_json") from None


async def _json_body(request: Request, limit: int = 1024 * 1024, empty: dict | None = None) -> dict:
    body = await _json(request, limit, empty)
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object", code="invalid_type")
    return body


CHAT_PATHS = frozenset({"/v1/chat/completions", "/chat/completions"})


class ChatFastPath:
    """Pure ASGI, inside FastAPI's error middleware and ahead of its routing: POST to a chat path goes
    straight to the replica's `chat_response`. FastAPI's exception middleware, router, dependency
    solving (the class-based view's `self`) and response encoding were ~15% of the replica's event
    loop at 200 concurrent sessions (py-spy --gil); the answers are the same bytes. Every other
    request, a chat path's other methods included, goes through FastAPI as before."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "POST" and _route_path(scope) in CHAT_PATHS:
            deployment = serve.get_replica_context().servable_object
            response = await deployment.chat_response(Request(scope, receive))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _route_path(scope) -> str:
    """The path the app routes on, as Starlette's router reads it (without the mount's root_path)."""
    path, root = scope["path"], scope.get("root_path", "")
    return (path[len(root):] or "/") if root and path.startswith(root) else path


api.add_middleware(ChatFastPath)


ADMIN_TOKEN_ENV = "CATO_ORCHESTRATOR_ADMIN_TOKEN"


def _with_env_secrets(config: OrchestratorConfig) -> OrchestratorConfig:
    """On Kubernetes the admin token and the client key hashes come from Secrets as env vars,
    never from the manifest."""
    from orchestrator.config import env_api_keys

    update: dict = {}
    token = os.environ.get(ADMIN_TOKEN_ENV, "")
    if token and not config.admin_token.get_secret_value():
        update["admin_token"] = SecretStr(token)
    extra_keys = env_api_keys()
    if extra_keys:
        update["api_keys"] = [*config.api_keys, *extra_keys]
    return config.model_copy(update=update) if update else config




@serve.deployment(name="CatoOrchestrator")
@serve.ingress(api)
class OrchestratorDeployment:
    def __init__(self, config_json: str):
        from orchestrator.core import CatoOrchestrator
        from orchestrator.identity import ApiKeyEntry, KeyRing
        from orchestrator.metrics import Metrics

        self.config = _with_env_secrets(OrchestratorConfig.model_validate_json(config_json))
        self.keys = KeyRing([ApiKeyEntry(k.principal, k.sha256) for k in self.config.api_keys],
                            self.config.anonymous_principal)
        self.metrics = Metrics()
        self.orch = CatoOrchestrator(self.config, metrics=self.metrics)
        self.started = time.time()
        self.admission = Admission(self.config.serve.max_admitted, self.config.serve.retry_after_s, self.orch.writes,
                                   self.orch.cache, self.config.serve.max_embeddings_waiting)
        from orchestrator.memory.ingest_ledger import ledger_for

        self.ingest_ledger = ledger_for(self.orch.working)  # dual-write's idempotency (orchestrator/ingest.py)
        self.warm = WarmUp(self.orch)
        self.warm.start()  # tables, models and clients, before the first request: /healthz says when

    async def __del__(self):
        # Serve awaits this on a graceful shutdown (drain, SIGTERM): flush the write-behind queue
        await self.orch.close()

    @api.get("/healthz")
    async def healthz(self):
        """200 once warm (tables, embedding model, clients ready); 503 until then, so nothing routes
        traffic to a replica that would serve its first requests slowly."""
        warm = self.warm.state()
        body = {"ok": warm["ready"], "warm": warm, "uptime_s": round(time.time() - self.started, 1),
                "in_flight": self.admission.in_flight, "pending_writes": self.orch.writes.pending,
                "breakers": {t.value: b.state for t, b in self.orch.circuit_breakers.items()}}
        return body if warm["ready"] else JSONResponse(body, status_code=503)

    @api.get("/metrics")
    async def metrics_endpoint(self):
        self.metrics.breakers(self.orch.circuit_breakers)
        return PlainTextResponse(self.metrics.render(), media_type="text/plain; version=0.0.4")

    @api.get("/v1/models")
    @api.get("/models")
    async def list_models(self, request: Request):
        self.keys.authenticate(request.headers.get("authorization"))
        return self.orch.catalog.listing()

    @api.get("/v1/models/{model_id:path}")
    @api.get("/models/{model_id:path}")
    async def get_model(self, model_id: str, request: Request):
        self.keys.authenticate(request.headers.get("authorization"))
        return self.orch.catalog.card(model_id)

    @api.post("/v1/chat/completions")
    @api.post("/chat/completions")
    async def chat(self, request: Request):
        """Served by `ChatFastPath` ahead of FastAPI's routing; the routes stay for other callers of
        the app and for FastAPI's 405 on any other method."""
        return await self.chat_response(request)

    async def chat_response(self, request: Request) -> Response:
        """The whole answer to one chat request, errors included (OpenAI's shape)."""
        try:
            principal = self.keys.authenticate(request.headers.get("authorization"))
            self.admission.acquire()  # 429 at once when the replica is full
            try:
                response = await self._chat(request, principal)
            except BaseException:
                self.admission.release()
                raise
        except ApiError as exc:
            return _error_response(exc)
        if isinstance(response, StreamingResponse):  # admitted until its last chunk is sent
            response.body_iterator = self.admission.hold(response.body_iterator)
        else:
            self.admission.release()
        return response

    async def _chat(self, request: Request, principal: str):
        from orchestrator.chat_request import parse_chat
        from orchestrator.core import NoTierAvailable
        from orchestrator.ports import BackendError

        body = await _json(request, self.config.max_body_bytes)
        req = parse_chat(body, session_header=request.headers.get("x-session-id"),
                         max_output_tokens=self.config.max_output_tokens, drop_params=self.config.drop_params)
        pinned = self.orch.pins(req.model)  # an unknown model is a 404 before anything is read or called
        try:
            if req.stream:
                events = self.orch.chat_stream(req, principal)
                first = await events.__anext__()  # routing, cache and the first token happen here
                return StreamingResponse(sse_from_events(_prepend(first, events), include_usage=req.include_usage,
                                                         display_model=req.model if pinned else None),
                                         media_type="text/event-stream")
            return JSONResponse(completion_payload(await self.orch.chat(req, principal)))
        except NoTierAvailable as exc:
            self.metrics.failed.inc()
            raise ApiError(503, str(exc), code="no_tier_available", headers={"Retry-After": "5"}) from None
        except BackendError as exc:
            raise _backend_error(exc) from None

    @api.post("/v1/cato/exchanges")
    async def ingest_exchange(self, request: Request):
        """Dual-write: an exchange the legacy stack served, into the caller's session (orchestrator/ingest.py).
        Under the client's key, not the admin token: the key's principal decides whose history it is."""
        from orchestrator.ingest import ingest, parse_exchange

        principal = self.keys.authenticate(request.headers.get("authorization"))
        try:
            exchange = parse_exchange(await _json(request, self.config.max_body_bytes))
            answer = await ingest(self.orch, self.ingest_ledger, principal, exchange)
        except ApiError as exc:
            self.metrics.ingest("refused" if exc.status < 500 and exc.status != 409 else "failed")
            raise
        self.metrics.ingest("stored" if answer["stored"] else "duplicate")
        return answer

    def _authorise(self, authorization: str | None) -> None:
        if not token_matches(authorization, self.config.admin_token.get_secret_value()):
            raise ApiError(401, "admin API needs Authorization: Bearer <admin token>", code="invalid_admin_token")

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

    # -- the fault switch (orchestrator/faults.py): one tier's calls fail, for a bounded time --------
    @api.get("/admin/faults")
    async def faults(self, authorization: str | None = Header(default=None)):
        self._authorise(authorization)
        return self.orch.faults.snapshot()

    @api.post("/admin/faults")
    async def set_fault(self, request: Request, authorization: str | None = Header(default=None)):
        self._authorise(authorization)
        from orchestrator.faults import parse_fault

        tier, seconds, error_rate = parse_fault(await _json_body(request, 4096))
        logging.getLogger("orchestrator").warning("admin fault switch: %s fails %.0f%% of calls for %gs",
                                                  tier.value, error_rate * 100, seconds)
        return self.orch.faults.fail(tier, seconds, error_rate)

    @api.post("/admin/faults/clear")
    async def clear_faults(self, request: Request, authorization: str | None = Header(default=None)):
        self._authorise(authorization)
        from orchestrator.faults import parse_clear

        body = await _json_body(request, 4096, empty={})  # no body at all: clear every tier
        return self.orch.faults.clear(parse_clear(body))

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
    from ray.serve.config import BackpressureConfig

    s = config.serve
    return OrchestratorDeployment.options(
        num_replicas=s.num_replicas, max_ongoing_requests=s.max_ongoing_requests,
        max_queued_requests=s.max_queued_requests,
        backpressure_config=BackpressureConfig(status_code=429, retry_after_s=s.retry_after_s),
        logging_config={"enable_access_log": s.access_log},
    ).bind(_dump(config))


def _dump(config: OrchestratorConfig) -> str:
    """JSON for the replica, with the admin token in clear (SecretStr hides it from model_dump)."""
    data = config.model_dump(mode="json")
    data["admin_token"] = config.admin_token.get_secret_value()
    return json.dumps(data)
