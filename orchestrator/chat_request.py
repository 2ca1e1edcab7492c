"""A chat-completions request as clients send it, judged before any model call.

`parse_chat` turns the JSON body (and the `x-session-id` header) into a `ChatRequest`, or raises
an `ApiError` (400, or 413 for a turn too large to keep) naming the parameter, so nothing that
is not well formed ever reaches a backend, the cache or session memory. Pure: no I/O.

The conversation is kept as the client sent it: system and developer messages (developer is
OpenAI's newer name for system), earlier user and assistant turns, and text content parts,
in order. Parameters the orchestrator cannot honour are refused by name, or dropped and
listed when `drop_params` is set (LiteLLM's `drop_params: true` does the same).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from orchestrator.api_errors import ApiError, bad_request
from orchestrator.ports import Message

DEFAULT_MAX_TOKENS = 256
IDENTIFIER_MAX_BYTES = 256
DOMAIN_MAX_CHARS = 64
# Session memory keeps each exchange as one DynamoDB item (400 KB at most): a bigger turn
# is refused up front rather than answered, billed and then lost.
SESSION_TURN_MAX_BYTES = 200_000

ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
# Accepted and honoured; everything else is either harmless at its default or unsupported.
SUPPORTED = frozenset({"model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p",
                       "stop", "stream", "stream_options", "user", "n", "metadata"})
# Parameters whose default value changes nothing, so a client that sends the default is served.
HARMLESS_DEFAULTS: dict[str, tuple[Any, ...]] = {
    "logprobs": (False,), "presence_penalty": (0, 0.0), "frequency_penalty": (0, 0.0),
    "parallel_tool_calls": (True, False), "store": (False,), "service_tier": ("auto", "default"),
    "logit_bias": ({},),
}
# Known OpenAI parameters no tier here supports yet (the backends speak text only).
UNSUPPORTED = frozenset({"tools", "tool_choice", "functions", "function_call", "response_format",
                         "logprobs", "top_logprobs", "presence_penalty", "frequency_penalty",
                         "logit_bias", "seed", "parallel_tool_calls", "modalities", "audio",
                         "prediction", "store", "service_tier", "reasoning_effort", "web_search_options",
                         "suffix", "best_of", "echo"})


@dataclass(frozen=True)
class Sampling:
    """What changes the answer, beyond the conversation itself."""
    max_tokens: int = DEFAULT_MAX_TOKENS
    temperature: float = 0.0
    top_p: float | None = None
    stop: tuple[str, ...] = ()

    def backend_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for Backend.complete/stream; top_p and stop only when set."""
        kw: dict[str, Any] = {"max_tokens": self.max_tokens, "temperature": self.temperature}
        if self.top_p is not None:
            kw["top_p"] = self.top_p
        if self.stop:
            kw["stop"] = self.stop
        return kw


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: tuple[Message, ...]          # the conversation as sent; the last one is the user's turn
    sampling: Sampling = Sampling()
    stream: bool = False
    include_usage: bool = False
    user: str | None = None
    domain: str = "general"
    session_id: str | None = None          # the x-session-id header, else `user`
    dropped: tuple[str, ...] = ()          # parameters dropped under drop_params

    @property
    def query(self) -> str:
        return self.messages[-1].content

    @property
    def system(self) -> tuple[Message, ...]:
        return tuple(m for m in self.messages if m.role == "system")

    @property
    def client_history(self) -> tuple[Message, ...]:
        """User and assistant turns the client sent before its new turn."""
        return tuple(m for m in self.messages[:-1] if m.role != "system")


def check_identifier(value: Any, param: str, *, max_bytes: int = IDENTIFIER_MAX_BYTES) -> str:
    """A client-chosen id (session, user): a string of at most `max_bytes`, no control characters."""
    if not isinstance(value, str):
        raise bad_request(f"'{param}' must be a string, got {_kind(value)}", param, "invalid_type")
    if len(value.encode("utf-8", "surrogatepass")) > max_bytes:
        raise bad_request(f"'{param}' is longer than {max_bytes} bytes", param, "string_above_max_length")
    if any(ord(ch) < 32 or ord(ch) == 127 or 0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise bad_request(f"'{param}' contains control characters", param)
    return value


def parse_chat(body: Any, *, session_header: str | None = None, max_output_tokens: int = 8192,
               drop_params: bool = False) -> ChatRequest:
    if not isinstance(body, dict):
        raise bad_request(f"the request body must be a JSON object, got {_kind(body)}", None, "invalid_type")
    body = {k: v for k, v in body.items() if v is not None}  # null means "not given", as in the SDK
    dropped = _check_parameters(body, drop_params)
    model = body.get("model", "cato")
    if not isinstance(model, str) or not model.strip():
        raise bad_request("'model' must be a non-empty string", "model", "invalid_type")
    messages = _messages(body.get("messages"))
    stream = _flag(body, "stream")
    options = body.get("stream_options", {})
    if not isinstance(options, dict):
        raise bad_request("'stream_options' must be an object", "stream_options", "invalid_type")
    include_usage = _flag(options, "include_usage", "stream_options.include_usage")
    if "n" in body and (isinstance(body["n"], bool) or body["n"] != 1):
        raise bad_request(f"'n' must be 1: one choice per request is served, got {body['n']!r}", "n",
                          "unsupported_value")
    user = check_identifier(body["user"], "user") if "user" in body else None
    session = check_identifier(session_header, "x-session-id") if session_header is not None else None
    domain = _domain(body.get("metadata", {}))
    sampling = Sampling(max_tokens=_max_tokens(body, max_output_tokens),
                        temperature=_number(body, "temperature", 0.0, 0.0, 2.0),
                        top_p=_number(body, "top_p", None, 0.0, 1.0, open_low=True),
                        stop=_stop(body.get("stop")))
    session_id = session or user or None
    if session_id and len(messages[-1].content.encode("utf-8", "surrogatepass")) > SESSION_TURN_MAX_BYTES:
        raise ApiError(413, f"the last message is over {SESSION_TURN_MAX_BYTES} bytes, more than session "
                            "memory keeps for one turn; send it without a session (no x-session-id or user)",
                       param="messages", code="turn_too_large")
    return ChatRequest(model=model, messages=messages, sampling=sampling, stream=stream,
                       include_usage=include_usage and stream, user=user or None, domain=domain,
                       session_id=session_id, dropped=dropped)


# -- pieces ------------------------------------------------------------------------------------

def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__)


def _check_parameters(body: dict, drop_params: bool) -> tuple[str, ...]:
    dropped = []
    for key in list(body):
        if key in SUPPORTED:
            continue
        value = body[key]
        if key in HARMLESS_DEFAULTS and any(value == d and type(value) is type(d) for d in HARMLESS_DEFAULTS[key]):
            continue
        if drop_params:
            dropped.append(key)
            del body[key]
            continue
        if key in UNSUPPORTED:
            raise bad_request(f"'{key}' is not supported by this gateway's model tiers; remove it, or set "
                              "drop_params to have such parameters dropped", key, "unsupported_parameter")
        raise bad_request(f"Unrecognized request argument supplied: {key[:100]}", key[:100], "unknown_parameter")
    return tuple(dropped)


def _messages(raw: Any) -> tuple[Message, ...]:
    if not isinstance(raw, list) or not raw:
        raise bad_request("'messages' must be a non-empty array of messages", "messages",
                          "invalid_type" if not isinstance(raw, list) else "empty_array")
    out = []
    for i, m in enumerate(raw):
        where = f"messages[{i}]"
        if not isinstance(m, dict):
            raise bad_request(f"{where} must be an object with 'role' and 'content'", where, "invalid_type")
        role = m.get("role")
        if role not in ROLES:
            shown = role if isinstance(role, str) else _kind(role)
            raise bad_request(f"{where}.role {str(shown)[:40]!r} is not one of system, developer, user, assistant "
                              "(tool messages need tools, which are not supported)", f"{where}.role")
        out.append(Message(ROLES[role], _content(m.get("content"), f"{where}.content")))
    if out[-1].role != "user":
        raise bad_request("the last message must be the user's turn", f"messages[{len(raw) - 1}].role")
    return tuple(out)


def _content(raw: Any, where: str) -> str:
    if isinstance(raw, str):
        text = raw
    elif isinstance(raw, list) and raw:
        texts = []
        for j, part in enumerate(raw):
            if not isinstance(part, dict) or part.get("type") != "text":
                kind = part.get("type") if isinstance(part, dict) else _kind(part)
                raise bad_request(f"{where}[{j}] is of type {str(kind)[:40]!r}: only text content parts are "
                                  "supported", f"{where}[{j}].type", "unsupported_content")
            if not isinstance(part.get("text"), str):
                raise bad_request(f"{where}[{j}].text must be a string", f"{where}[{j}].text", "invalid_type")
            texts.append(part["text"])
        text = "\n".join(texts)
    else:
        raise bad_request(f"{where} must be a string or a non-empty array of text parts", where, "invalid_type")
    if not text.strip():
        raise bad_request(f"{where} is empty", where, "empty_content")
    return text


def _flag(body: dict, key: str, param: str | None = None) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise bad_request(f"'{param or key}' must be true or false, got {_kind(value)}", param or key, "invalid_type")
    return value


def _max_tokens(body: dict, cap: int) -> int:
    chosen = DEFAULT_MAX_TOKENS
    for key in ("max_tokens", "max_completion_tokens"):  # the newer name wins when both are sent
        if key not in body:
            continue
        value = body[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad_request(f"'{key}' must be an integer, got {_kind(value)}", key, "invalid_type")
        if not 1 <= value <= cap:
            raise bad_request(f"'{key}' must be between 1 and {cap}, got {value}", key)
        chosen = value
    return chosen


def _number(body: dict, key: str, default: float | None, low: float, high: float, *,
            open_low: bool = False) -> Any:
    if key not in body:
        return default
    value = body[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise bad_request(f"'{key}' must be a finite number, got {_kind(value)}", key, "invalid_type")
    if value < low or value > high or (open_low and value == low):
        bounds = f"{'above' if open_low else 'from'} {low:g} {'up ' if open_low else ''}to {high:g}"
        raise bad_request(f"'{key}' must be {bounds}, got {value}", key)
    return float(value)


def _stop(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    items = [raw] if isinstance(raw, str) else raw
    if (not isinstance(items, list) or not 1 <= len(items) <= 4
            or not all(isinstance(s, str) and s for s in items)):
        raise bad_request("'stop' must be a non-empty string or an array of 1 to 4 non-empty strings", "stop")
    return tuple(items)


def _domain(metadata: Any) -> str:
    if not isinstance(metadata, dict):
        raise bad_request("'metadata' must be an object", "metadata", "invalid_type")
    domain = metadata.get("domain", "general")
    if not isinstance(domain, str) or len(domain) > DOMAIN_MAX_CHARS:
        raise bad_request(f"'metadata.domain' must be a string of at most {DOMAIN_MAX_CHARS} characters",
                          "metadata.domain", "invalid_type")
    return domain.strip() or "general"
