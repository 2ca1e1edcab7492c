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


async def sse_events(payload: dict):
    """The answer as OpenAI chat.completion.chunk events (word by word), then [DONE]."""
    base = {k: payload[k] for k in ("id", "created", "model")}
    words = payload["choices"][0]["message"]["content"].split(" ")
    first = {**base, "object": "chat.completion.chunk",
             "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
             "cato": payload["cato"]}
    yield f"data: {json.dumps(first)}\n\n"
    for i, w in enumerate(words):
        chunk = {**base, "object": "chat.completion.chunk",
                 "choices": [{"index": 0, "delta": {"content": w if i == 0 else " " + w}, "finish_reason": None}]}
        yield f"data: {json.dumps(chunk)}\n\n"
    last = {**base, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    yield f"data: {json.dumps(last)}\n\n"
    yield "data: [DONE]\n\n"
