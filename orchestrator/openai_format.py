"""Core results in the OpenAI chat.completion wire format (plus a `cato` object).

`model` is the name the client asked for when it pinned one (as LiteLLM answers with its
alias), else the tier that served; `cato.tier` always names the tier. `usage` is what the
backend reported; a cache hit used no tokens and says in `cato.cache.usage_saved` what it saved
(and in `cato.cache.cost_saved_usd` what that was worth). `cato.cost_usd` is what the answer cost
at config/pricing.yaml's prices, present when prices are configured.
"""
from __future__ import annotations

import json
import time
import uuid

_NO_USAGE = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


def cato_info(result: dict) -> dict:
    info = {"cached": result["cached"], "tier": result["model"], "route_reason": result["route_reason"],
            "fallback_from": result["fallback_from"], "session_id": result["session_id"],
            "principal": result.get("principal"), "latency_ms": result["latency_ms"]}
    if "cost_usd" in result:  # usage x the tier's configured price (orchestrator/pricing.py); 0 on a cache hit
        info["cost_usd"] = result["cost_usd"]
    if result.get("cache"):
        info["cache"] = result["cache"]
    if result.get("dropped_params"):
        info["dropped_params"] = result["dropped_params"]
    return info


def completion_payload(result: dict) -> dict:
    return {
        "id": "chatcmpl-" + uuid.uuid4().hex[:24], "object": "chat.completion", "created": int(time.time()),
        "model": result.get("display_model") or result["model"], "system_fingerprint": None,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": result["response"]},
                     "logprobs": None, "finish_reason": result.get("finish_reason") or "stop"}],
        "usage": result.get("usage") or dict(_NO_USAGE),
        "cato": cato_info(result),
    }


async def sse_from_events(events, *, include_usage: bool = False, display_model: str | None = None):
    """chat_stream events as OpenAI chat.completion.chunk SSE: the `cato` object rides on the
    first chunk, finish_reason on the last content chunk, then (when asked with
    stream_options.include_usage) a chunk with empty `choices` and the usage, then [DONE]."""
    base = {"id": "chatcmpl-" + uuid.uuid4().hex[:24], "object": "chat.completion.chunk", "created": int(time.time())}
    model = display_model
    async for ev in events:
        if ev["type"] == "start":
            model = display_model or ev["model"]
            cato = {k: ev[k] for k in ("cached", "route_reason", "fallback_from", "session_id")}
            cato["tier"] = ev["model"]
            chunk = {**base, "model": model, "cato": cato,
                     "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}
        elif ev["type"] == "delta":
            chunk = {**base, "model": model,
                     "choices": [{"index": 0, "delta": {"content": ev["text"]}, "finish_reason": None}]}
        else:
            result = ev["result"]
            chunk = {**base, "model": model,
                     "choices": [{"index": 0, "delta": {}, "finish_reason": result.get("finish_reason") or "stop"}]}
            yield f"data: {json.dumps(chunk)}\n\n"
            if include_usage:
                chunk = {**base, "model": model, "choices": [], "usage": result.get("usage") or dict(_NO_USAGE)}
            else:
                continue
        yield f"data: {json.dumps(chunk)}\n\n"
    yield "data: [DONE]\n\n"
