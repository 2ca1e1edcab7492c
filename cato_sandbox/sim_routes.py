"""The model simulator's inference APIs (aiohttp handlers).

* OpenAI / vLLM: `POST /v1/chat/completions` (JSON or SSE), `GET /v1/models`, `GET /health`.
* Bedrock runtime: `POST /model/{modelId}/converse` and `/converse-stream` (event stream).
* SageMaker: container `GET /ping`, `POST /invocations`; runtime `POST
  /endpoints/{name}/invocations` and `/invocations-response-stream` (event stream).
"""
from __future__ import annotations

import json
import time
import uuid
from typing import Any, Callable

from aiohttp import web

from cato_sandbox import sim_eventstream as es
from cato_sandbox import sim_wire as wire
from cato_sandbox.sim_nli import nli
from cato_sandbox.sim_responder import is_nli
from cato_sandbox.sim_state import SIM, paced, pace

ErrorShape = Callable[..., tuple[int, dict[str, str], dict]]


def _reply(shape: tuple[int, dict[str, str], dict]) -> web.Response:
    status, headers, body = shape
    return web.json_response(body, status=status,
                             headers={"x-amzn-RequestId": str(uuid.uuid4()), **headers})


async def _json(request: web.Request) -> Any:
    raw = await request.read()
    try:
        return json.loads(raw) if raw else {}
    except ValueError as exc:
        raise wire.BadRequest(f"body is not JSON: {exc}") from None


# --- OpenAI / vLLM --------------------------------------------------------------------------

async def chat_completions(request: web.Request) -> web.StreamResponse:
    sim = request.app[SIM]
    try:
        turn = wire.openai_turn(await _json(request))
    except wire.BadRequest as exc:
        return _reply(wire.openai_error("bad_request", str(exc)))
    tier, fault, settings = await sim.admit(turn)
    if fault:
        return _reply(wire.openai_error(fault))
    answer = sim.answer(turn, tier)
    created = int(time.time())
    if not turn.stream:
        await pace(settings, answer.output_tokens)
        return web.json_response(wire.openai_completion(turn.model, answer, created))
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                       "Cache-Control": "no-cache"})
    await resp.prepare(request)
    cid = f"chatcmpl-{uuid.uuid4().hex}"

    async def send(chunk: dict[str, Any]) -> None:
        await resp.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")

    await send(wire.openai_chunk(cid, turn.model, created, {"role": "assistant", "content": ""}))
    async for token in paced(settings, answer.tokens):
        await send(wire.openai_chunk(cid, turn.model, created, {"content": token}))
    # Shadow Self's hidden states ride on the last chunk, next to finish_reason.
    await send(wire.openai_chunk(cid, turn.model, created, {}, answer.finish, **(answer.shadow or {})))
    if turn.extra.get("include_usage"):
        await send(wire.openai_chunk(cid, turn.model, created, None, usage=wire.openai_usage(answer)))
    await resp.write(b"data: [DONE]\n\n")
    await resp.write_eof()
    return resp


async def list_models(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    names = ["cato-shadow-self", "anthropic.claude-3-haiku-20240307-v1:0",
             "anthropic.claude-3-5-sonnet-20240620-v1:0", *sim.stats.by_model]
    return web.json_response({"object": "list", "data": [
        {"id": n, "object": "model", "created": 0, "owned_by": "cato-simulator",
         "tier": sim.tier_of(n)} for n in dict.fromkeys(names)]})


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "healthy"})


# --- Bedrock Converse -----------------------------------------------------------------------

async def converse(request: web.Request) -> web.StreamResponse:
    return await _converse(request, stream=False)


async def converse_stream(request: web.Request) -> web.StreamResponse:
    return await _converse(request, stream=True)


async def _converse(request: web.Request, *, stream: bool) -> web.StreamResponse:
    sim, started = request.app[SIM], time.monotonic()
    try:
        turn = wire.bedrock_turn(request.match_info["model_id"], await _json(request))
    except wire.BadRequest as exc:
        return _reply(wire.bedrock_error("bad_request", str(exc)))
    tier, fault, settings = await sim.admit(turn)
    if fault:
        return _reply(wire.bedrock_error(fault))
    answer = sim.answer(turn, tier)
    if not stream:
        await pace(settings, answer.output_tokens)
        latency = int((time.monotonic() - started) * 1000)
        return web.json_response(wire.bedrock_converse(answer, latency),
                                 headers={"x-amzn-RequestId": str(uuid.uuid4())})
    resp = await _event_stream(request)
    await resp.write(es.event("messageStart", {"role": "assistant"}))
    async for token in paced(settings, answer.tokens):
        await resp.write(es.event("contentBlockDelta",
                                  {"contentBlockIndex": 0, "delta": {"text": token}}))
    await resp.write(es.event("contentBlockStop", {"contentBlockIndex": 0}))
    stop: dict[str, Any] = {"stopReason": wire.bedrock_stop_reason(answer)}
    if answer.shadow:
        stop["additionalModelResponseFields"] = answer.shadow
    await resp.write(es.event("messageStop", stop))
    await resp.write(es.event("metadata", {
        "usage": wire.bedrock_usage(answer),
        "metrics": {"latencyMs": int((time.monotonic() - started) * 1000)}}))
    await resp.write_eof()
    return resp


async def _event_stream(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": es.CONTENT_TYPE,
                                       "x-amzn-RequestId": str(uuid.uuid4())})
    await resp.prepare(request)
    return resp


# --- SageMaker ------------------------------------------------------------------------------

async def ping(request: web.Request) -> web.Response:
    return web.json_response({"status": "healthy"})


async def container_invocations(request: web.Request) -> web.StreamResponse:
    model = (request.headers.get("X-Amzn-SageMaker-Target-Model")
             or request.app[SIM].config["invocations_model"])
    return await _invoke(request, model, wire.container_error, stream=False)


async def endpoint_invocations(request: web.Request) -> web.StreamResponse:
    return await _invoke(request, request.match_info["name"], wire.sagemaker_runtime_error,
                         stream=False)


async def endpoint_invocations_stream(request: web.Request) -> web.StreamResponse:
    return await _invoke(request, request.match_info["name"], wire.sagemaker_runtime_error,
                         stream=True)


def _nli_pair(model: str, body: Any) -> tuple[str, str] | None:
    """(premise, hypothesis) for an NLI request: explicit keys, or HF's text / text_pair."""
    if isinstance(body, dict) and "premise" in body and "hypothesis" in body:
        return str(body["premise"]), str(body["hypothesis"])
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if is_nli(model) and isinstance(inputs, dict) and "text" in inputs and "text_pair" in inputs:
        return str(inputs["text"]), str(inputs["text_pair"])
    return None


async def _invoke(request: web.Request, model: str, errors: ErrorShape, *,
                  stream: bool) -> web.StreamResponse:
    sim = request.app[SIM]
    raw = await request.read()
    try:
        body: Any = json.loads(raw) if raw else {}
    except ValueError:
        body = {"inputs": raw.decode("utf-8", "replace")}  # text/plain prompt
    pair = _nli_pair(model, body)
    try:
        turn = (wire.Turn("sagemaker", model, [{"role": "user", "content": json.dumps(
            {"premise": pair[0], "hypothesis": pair[1]})}]) if pair else wire.sagemaker_turn(model, body))
    except wire.BadRequest as exc:
        return _reply(errors("bad_request", str(exc)))
    tier, fault, settings = await sim.admit(turn)
    if fault:
        return _reply(errors(fault))
    spoil = sim.take_endpoint_fault(model)  # a planted answer fault (admin endpoint_faults)
    if pair:
        await pace(settings, 1)
        return web.json_response(wire.endpoint_fault_body(spoil, nli(*pair)))
    answer = sim.answer(turn, tier)
    if not stream:
        await pace(settings, answer.output_tokens)
        return web.json_response(wire.endpoint_fault_body(spoil, wire.sagemaker_generated(model, answer)),
                                 headers={"x-Amzn-Invoked-Production-Variant": "AllTraffic"})
    resp = await _event_stream(request)
    last = len(answer.tokens) - 1
    async for i, token in _enumerate(paced(settings, answer.tokens)):
        part = wire.tgi_event(i, token, answer if i == last else None)
        await resp.write(es.event("PayloadPart", part, "application/octet-stream"))
    await resp.write_eof()
    return resp


async def _enumerate(items):  # type: ignore[no-untyped-def]
    i = 0
    async for item in items:
        yield i, item
        i += 1


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_get("/v1/models", list_models)
    app.router.add_get("/health", health)
    app.router.add_post(r"/model/{model_id:.+}/converse", converse)
    app.router.add_post(r"/model/{model_id:.+}/converse-stream", converse_stream)
    app.router.add_get("/ping", ping)
    app.router.add_post("/invocations", container_invocations)
    app.router.add_post(r"/endpoints/{name:[^/]+}/invocations", endpoint_invocations)
    app.router.add_post(r"/endpoints/{name:[^/]+}/invocations-response-stream",
                        endpoint_invocations_stream)
