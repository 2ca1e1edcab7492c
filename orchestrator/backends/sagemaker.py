"""A SageMaker real-time endpoint through the runtime API: `POST /endpoints/{name}/invocations`
(InvokeEndpoint) and `/invocations-response-stream` (an AWS event stream of PayloadParts), signed
requests on the event loop (backends/aws.py).

Request: `{"messages": [...], "parameters": {"max_new_tokens", "temperature"}}` — the
conversation goes as messages so the container sees the whole context. Answers are read in the
shapes containers use: `{"generated_text", ...}` (the cato Shadow Self container, with
`hidden_states`), TGI's `[{"generated_text"}]`, or an OpenAI chat completion. Streams are TGI
server-sent events (`data:{"token": {"text"}}`) carried in PayloadPart events.
"""
from __future__ import annotations

import json
from typing import Any, AsyncIterator
from urllib.parse import quote

from orchestrator.backends.aws import AwsBackend
from orchestrator.chat_request import Sampling
from orchestrator.ports import Completion, Message, ModelTier, StreamUsage


class SageMakerBackend(AwsBackend):
    service = "sagemaker-runtime"

    def __init__(self, endpoint_name: str, tier: ModelTier, region: str = "us-east-1",
                 endpoint_url: str | None = None, *, max_attempts: int = 3, timeout_s: float = 30.0,
                 base_delay_s: float = 0.1, max_delay_s: float = 2.0, max_connections: int = 1024,
                 rng: Any = None):
        super().__init__(tier, endpoint_name, region, endpoint_url, max_attempts=max_attempts,
                         timeout_s=timeout_s, base_delay_s=base_delay_s, max_delay_s=max_delay_s,
                         max_connections=max_connections, rng=rng)
        self._path = "/endpoints/" + quote(endpoint_name, safe="")

    def _body(self, messages: list[Message], s: Sampling) -> bytes:
        parameters: dict[str, Any] = {"max_new_tokens": s.max_tokens, "temperature": s.temperature}
        if s.top_p is not None:
            parameters["top_p"] = s.top_p
        if s.stop:
            parameters["stop"] = list(s.stop)
        return json.dumps({"messages": [{"role": m.role, "content": m.content} for m in messages],
                           "parameters": parameters}).encode()

    async def _complete_once(self, messages: list[Message], s: Sampling) -> Completion:
        raw = await self.post(self._path + "/invocations", self._body(messages, s),
                              {"Content-Type": "application/json", "Accept": "application/json"})
        try:
            data = json.loads(raw)
        except ValueError:
            raise self.error("server", f"endpoint answered non-JSON: {raw[:200]!r}") from None
        text, usage, hidden = _read_answer(data)
        if text is None:
            raise self.error("server", f"endpoint answered an unknown shape: {raw[:200]!r}")
        return Completion(text=text, tier=self.tier, model_id=self.model_id,
                          input_tokens=int(usage.get("input_tokens", usage.get("prompt_tokens", 0))),
                          output_tokens=int(usage.get("output_tokens", usage.get("completion_tokens", 0))),
                          hidden_states=[float(x) for x in hidden] if hidden else None)

    async def _stream_once(self, messages: list[Message], s: Sampling) -> AsyncIterator[str | StreamUsage]:
        buffer = b""
        async for kind, part in self.events(self._path + "/invocations-response-stream", self._body(messages, s),
                                            {"Content-Type": "application/json"}):
            if kind != "PayloadPart" or not isinstance(part, bytes):
                continue
            # PayloadParts split bytes wherever they like: only act on complete lines.
            buffer += part
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                for item in _stream_items(line):
                    yield item
        for item in _stream_items(buffer):
            yield item


def _stream_items(line: bytes) -> list[str | StreamUsage]:
    """A TGI event's text, and on the last event (with `details`) the token counts it reports."""
    event = _event(line)
    if event is None:
        return []
    items: list[str | StreamUsage] = []
    token = event.get("token")
    if isinstance(token, dict) and not token.get("special") and token.get("text"):
        items.append(token["text"])
    details = event.get("details")
    if isinstance(details, dict) and "generated_tokens" in details:
        finish = "length" if details.get("finish_reason") == "length" else "stop"
        items.append(StreamUsage(int(details.get("prompt_tokens") or 0), int(details["generated_tokens"]), finish))
    return items


def _event(line: bytes) -> dict | None:
    """One server-sent event line (`data:{...}`) as a dict, or None."""
    line = line.strip()
    if not line.startswith(b"data:"):
        return None
    try:
        event = json.loads(line[5:])
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


def _read_answer(data: Any) -> tuple[str | None, dict[str, Any], list[float] | None]:
    """(text, usage, hidden_states) from the response shapes containers use."""
    if isinstance(data, list) and data and isinstance(data[0], dict):
        data = data[0]  # TGI: [{"generated_text": ...}]
    if not isinstance(data, dict):
        return None, {}, None
    usage = data.get("usage") or {}
    hidden = data.get("hidden_states")
    if "generated_text" in data:
        return str(data["generated_text"]), usage, hidden
    choices = data.get("choices")
    if choices:  # an OpenAI-compatible container (TGI / LMI messages API)
        return str((choices[0].get("message") or {}).get("content") or ""), usage, hidden
    return None, usage, hidden
