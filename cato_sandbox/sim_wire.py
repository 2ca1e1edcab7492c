"""Wire formats of the model simulator: request bodies -> `Turn`, answers and faults -> bodies.

Pure functions (no aiohttp), one section per API: OpenAI/vLLM chat completions, Bedrock
Converse (rest-json, errors named by `x-amzn-ErrorType`), SageMaker (container `/invocations`
and the sagemaker-runtime `InvokeEndpoint` path, which wraps container failures in a
424 `ModelError` carrying `OriginalStatusCode`, as the real service does).
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

DEFAULT_MAX_TOKENS = 512


class BadRequest(ValueError):
    """The request body does not have the API's shape (answered as the API's 400)."""


@dataclass
class Turn:
    api: str                      # "openai" | "bedrock" | "sagemaker"
    model: str
    messages: list[dict[str, str]]  # {"role", "content"}, oldest first
    max_tokens: int = DEFAULT_MAX_TOKENS
    stream: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Answer:
    """What the model produced for a turn (already cut to max_tokens)."""
    text: str
    tokens: list[str]
    finish: str                   # "stop" | "length"
    input_tokens: int
    tier: str
    shadow: dict[str, Any] | None = None   # hidden_states, hidden_state_layers

    @property
    def output_tokens(self) -> int:
        return len(self.tokens)


def _text_of(content: Any) -> str:
    """OpenAI content: a string or a list of {"type": "text", "text": ...} parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict))
    if content is None:
        return ""
    raise BadRequest("message content must be a string or a list of parts")


def _max_tokens(value: Any) -> int:
    if value is None:
        return DEFAULT_MAX_TOKENS
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadRequest(f"max tokens must be a positive integer, got {value!r}")
    return value


def _chat_messages(raw: Any) -> list[dict[str, str]]:
    if not isinstance(raw, list) or not raw:
        raise BadRequest("'messages' must be a non-empty list")
    out = []
    for m in raw:
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant", "developer"):
            raise BadRequest("each message needs a role of system, user or assistant")
        role = "system" if m["role"] == "developer" else m["role"]
        out.append({"role": role, "content": _text_of(m.get("content"))})
    return out


# --- OpenAI / vLLM --------------------------------------------------------------------------

def openai_turn(body: Any) -> Turn:
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    return Turn("openai", str(body.get("model") or "default"), _chat_messages(body.get("messages")),
                _max_tokens(body.get("max_completion_tokens", body.get("max_tokens"))),
                bool(body.get("stream")),
                {"include_usage": bool((body.get("stream_options") or {}).get("include_usage"))})


def openai_usage(a: Answer) -> dict[str, int]:
    return {"prompt_tokens": a.input_tokens, "completion_tokens": a.output_tokens,
            "total_tokens": a.input_tokens + a.output_tokens}


def openai_completion(model: str, a: Answer, created: int) -> dict[str, Any]:
    body = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": created,
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": a.text},
                         "logprobs": None, "finish_reason": a.finish}],
            "usage": openai_usage(a)}
    return {**body, **(a.shadow or {})}


def openai_chunk(cid: str, model: str, created: int, delta: dict[str, Any],
                 finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "logprobs": None,
                                         "finish_reason": finish}]
    return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": choices, **extra}


_OPENAI_FAULTS = {
    "throttle": (429, "rate_limit_error", "rate_limit_exceeded",
                 "Rate limit reached for requests (simulated)."),
    "error": (500, "server_error", "internal_error", "The server had an error (simulated)."),
    "timeout": (504, "timeout", "timeout", "The model timed out (simulated)."),
    "content_filter": (400, "invalid_request_error", "content_filter",
                       "The response was filtered due to the prompt triggering the content "
                       "management policy (simulated content filter)."),
}


def openai_error(fault: str, message: str | None = None) -> tuple[int, dict[str, str], dict]:
    status, etype, code, text = _OPENAI_FAULTS.get(
        fault, (400, "invalid_request_error", "invalid_request", "Bad request."))
    return status, {}, {"error": {"message": message or text, "type": etype, "code": code,
                                  "param": None}}


# --- Bedrock Converse -----------------------------------------------------------------------

def bedrock_turn(model_id: str, body: Any) -> Turn:
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    messages = [{"role": "system", "content": b["text"]}
                for b in body.get("system") or [] if isinstance(b, dict) and "text" in b]
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise BadRequest("messages: must contain at least one message")
    for m in raw:
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant"):
            raise BadRequest("messages: role must be user or assistant")
        blocks = m.get("content")
        if not isinstance(blocks, list) or not blocks:
            raise BadRequest("messages: content must be a non-empty list of content blocks")
        text = "\n".join(b["text"] for b in blocks if isinstance(b, dict) and "text" in b)
        messages.append({"role": m["role"], "content": text})
    if not any(m["role"] == "user" for m in messages):
        raise BadRequest("A conversation must contain a user message.")
    inference = body.get("inferenceConfig") or {}
    return Turn("bedrock", model_id, messages, _max_tokens(inference.get("maxTokens")))


def bedrock_usage(a: Answer) -> dict[str, int]:
    return {"inputTokens": a.input_tokens, "outputTokens": a.output_tokens,
            "totalTokens": a.input_tokens + a.output_tokens}


def bedrock_stop_reason(a: Answer) -> str:
    return "max_tokens" if a.finish == "length" else "end_turn"


def bedrock_converse(a: Answer, latency_ms: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "output": {"message": {"role": "assistant", "content": [{"text": a.text}]}},
        "stopReason": bedrock_stop_reason(a), "usage": bedrock_usage(a),
        "metrics": {"latencyMs": latency_ms}}
    if a.shadow:
        body["additionalModelResponseFields"] = a.shadow
    return body


_BEDROCK_FAULTS = {
    "throttle": (429, "ThrottlingException", "Too many requests, please wait before trying again."),
    "error": (500, "InternalServerException", "The server encountered an internal error (simulated)."),
    "timeout": (408, "ModelTimeoutException", "Model has timed out in processing the request (simulated)."),
    "content_filter": (400, "ValidationException",
                       "The request was blocked by the content filter (simulated guardrail)."),
}


def bedrock_error(fault: str, message: str | None = None) -> tuple[int, dict[str, str], dict]:
    status, code, text = _BEDROCK_FAULTS.get(fault, (400, "ValidationException", "Malformed input request."))
    return status, {"x-amzn-ErrorType": code}, {"message": message or text}


# --- SageMaker ------------------------------------------------------------------------------

def sagemaker_turn(model: str, body: Any) -> Turn:
    """`{"messages": [...]}` or `{"inputs": "...", "parameters": {...}}` (HF / TGI style)."""
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    params = body.get("parameters") or {}
    if "messages" in body:
        messages = _chat_messages(body["messages"])
    elif isinstance(body.get("inputs"), str):
        messages = [{"role": "user", "content": body["inputs"]}]
    else:
        raise BadRequest("body needs 'messages', 'inputs' (a string) or 'premise' and 'hypothesis'")
    return Turn("sagemaker", model, messages,
                _max_tokens(params.get("max_new_tokens", body.get("max_tokens"))),
                extra={"details": bool(params.get("details"))})


def sagemaker_generated(model: str, a: Answer) -> dict[str, Any]:
    body: dict[str, Any] = {"generated_text": a.text, "model": model, "finish_reason": a.finish,
                            "usage": {"input_tokens": a.input_tokens, "output_tokens": a.output_tokens}}
    if a.shadow:
        layers = a.shadow["hidden_state_layers"]
        body.update(hidden_states=a.shadow["hidden_states"], layer=layers["layer"],
                    pooling=layers["pooling"], hidden_state_layers=layers)
    return body


def endpoint_fault_body(mode: str | None, body: dict[str, Any]) -> dict[str, Any]:
    """An answer spoiled the way a planted endpoint fault says (a copy; None: unchanged)."""
    if mode is None:
        return body
    out = dict(body)
    hidden = out.get("hidden_states")
    if mode == "no_hidden_states":
        for key in ("hidden_states", "layer", "pooling", "hidden_state_layers"):
            out.pop(key, None)
    elif mode == "constant_hidden_states" and hidden:
        out["hidden_states"] = [0.125] * len(hidden)
    elif mode == "nan_hidden_states" and hidden:
        out["hidden_states"] = [float("nan"), *hidden[1:]]
    elif mode == "empty_text" and "generated_text" in out:
        out["generated_text"] = ""
    elif mode == "nli_flip" and "label" in out:
        swap = {"entailment": "contradiction", "contradiction": "entailment"}
        out["label"] = swap.get(out["label"], out["label"])
        scores = out.get("scores") or {}
        out["scores"] = {swap.get(k, k): v for k, v in scores.items()}
    return out


def tgi_event(index: int, token: str, final: Answer | None = None) -> bytes:
    """One TGI-style server-sent event, as a SageMaker PayloadPart carries it."""
    event = {"token": {"id": index, "text": token, "logprob": 0.0, "special": False},
             "generated_text": final.text if final else None,
             "details": ({"finish_reason": final.finish, "generated_tokens": final.output_tokens}
                         if final else None)}
    return b"data:" + json.dumps(event).encode() + b"\n\n"


_CONTAINER_FAULTS = {"throttle": (429, "Too many requests (simulated)."),
                     "error": (500, "Internal error in the model container (simulated)."),
                     "timeout": (504, "The model container timed out (simulated)."),
                     "content_filter": (400, "Input rejected by the content filter (simulated).")}


def container_error(fault: str, message: str | None = None) -> tuple[int, dict[str, str], dict]:
    """The container contract (`/invocations`): a plain HTTP status and a JSON error."""
    status, text = _CONTAINER_FAULTS.get(fault, (400, "Bad request."))
    return status, {}, {"error": message or text, "code": fault}


def sagemaker_runtime_error(fault: str, message: str | None = None) -> tuple[int, dict[str, str], dict]:
    """What sagemaker-runtime answers: throttling at the service, anything the container says
    as a 424 ModelError with the container's status and message inside."""
    if fault == "throttle":
        return 429, {"x-amzn-ErrorType": "ThrottlingException"}, {"message": "Rate exceeded (simulated)."}
    if fault == "bad_request":
        return 400, {"x-amzn-ErrorType": "ValidationError"}, {"message": message or "Bad request."}
    status, _, body = container_error(fault, message)
    original = body["error"]
    return 424, {"x-amzn-ErrorType": "ModelError"}, {
        "message": f"Received client error ({status}) from primary with message \"{original}\"."
        if status < 500 else f"Received server error ({status}) from primary with message \"{original}\".",
        "OriginalStatusCode": status, "OriginalMessage": original,
        "LogStreamArn": "arn:aws:logs:us-east-1:000000000000:log-group:/aws/sagemaker/Endpoints/sim"}
