"""route_query results in the OpenAI chat.completion wire format (plus a `cato` object)."""
from __future__ import annotations

import json
import time
import uuid


def completion_payload(result: dict) -> dict:
    return {
        "id": "chatcmpl-" + uuid.uuid4().hex[:24], "object": "chat.completion", "created": int(time.time()),
        "model": result["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": result["response"]}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": len(result["response"].split()), "total_tokens": 0},
        "cato": {"cached": result["cached"], "route_reason": result["route_reason"],
                 "fallback_from": result["fallback_from"], "session_id": result["session_id"],
                 "latency_ms": result["latency_ms"]},
    }


async def sse_from_events(events):
    """stream_query events as OpenAI chat.completion.chunk SSE, the `cato` object on the first chunk."""
    base = {"id": "chatcmpl-" + uuid.uuid4().hex[:24], "created": int(time.time())}
    model = None
    async for ev in events:
        if ev["type"] == "start":
            model = ev["model"]
            cato = {k: ev[k] for k in ("cached", "route_reason", "fallback_from", "session_id")}
            chunk = {**base, "model": model, "object": "chat.completion.chunk", "cato": cato,
                     "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}
        elif ev["type"] == "delta":
            chunk = {**base, "model": model, "object": "chat.completion.chunk",
                     "choices": [{"index": 0, "delta": {"content": ev["text"]}, "finish_reason": None}]}
        else:
            chunk = {**base, "model": model, "object": "chat.completion.chunk",
                     "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        yield f"data: {json.dumps(chunk)}\n\n"
    yield "data: [DONE]\n\n"
