"""Amazon Bedrock through the Converse API: `POST /model/{modelId}/converse` and
`/converse-stream` (an AWS event stream), signed requests on the event loop (backends/aws.py).
The request and answer are Converse's JSON, as boto3's `converse` sends and reads it.
"""
from __future__ import annotations

import json
from typing import Any, AsyncIterator
from urllib.parse import quote

from orchestrator.backends.aws import AwsBackend
from orchestrator.chat_request import Sampling
from orchestrator.ports import Completion, Message, ModelTier, StreamUsage

# Converse stop reasons meaning "the model's answer was withheld", not "the backend is unwell".
_FILTERED = {"guardrail_intervened", "content_filtered"}
_JSON = {"Content-Type": "application/json"}


def converse_request(model_id: str, messages: list[Message], max_tokens: int,
                     temperature: float, top_p: float | None = None, stop: tuple[str, ...] = ()) -> dict[str, Any]:
    """Converse's shape: system prompts apart; turns alternate, the first from the user.

    Consecutive turns of one role are merged into one message of several text blocks
    (Converse rejects two user turns in a row); a leading assistant turn gets a placeholder
    user turn before it rather than being dropped, so no context is lost; empty turns are
    skipped (Converse rejects blank text).
    """
    system = [{"text": m.content} for m in messages if m.role == "system" and m.content.strip()]
    turns: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "system" or not m.content.strip():
            continue
        if turns and turns[-1]["role"] == m.role:
            turns[-1]["content"].append({"text": m.content})
        else:
            turns.append({"role": m.role, "content": [{"text": m.content}]})
    if not turns or turns[0]["role"] != "user":
        turns.insert(0, {"role": "user", "content": [{"text": "(conversation continues)"}]})
    inference: dict[str, Any] = {"maxTokens": max_tokens, "temperature": temperature}
    if top_p is not None:
        inference["topP"] = top_p
    if stop:
        inference["stopSequences"] = list(stop)
    request: dict[str, Any] = {"modelId": model_id, "messages": turns, "inferenceConfig": inference}
    if system:
        request["system"] = system
    return request


class BedrockBackend(AwsBackend):
    service = "bedrock-runtime"

    def __init__(self, model_id: str, tier: ModelTier, region: str = "us-east-1",
                 endpoint_url: str | None = None, *, max_attempts: int = 3, timeout_s: float = 30.0,
                 base_delay_s: float = 0.1, max_delay_s: float = 2.0, max_connections: int = 1024,
                 rng: Any = None):
        super().__init__(tier, model_id, region, endpoint_url, max_attempts=max_attempts,
                         timeout_s=timeout_s, base_delay_s=base_delay_s, max_delay_s=max_delay_s,
                         max_connections=max_connections, rng=rng)
        self._path = "/model/" + quote(model_id, safe="")

    def _body(self, messages: list[Message], s: Sampling) -> bytes:
        request = converse_request(self.model_id, messages, s.max_tokens, s.temperature, s.top_p, s.stop)
        del request["modelId"]  # it is in the path
        return json.dumps(request, separators=(",", ":"), ensure_ascii=False).encode()

    async def _complete_once(self, messages: list[Message], s: Sampling) -> Completion:
        raw = await self.post(self._path + "/converse", self._body(messages, s), _JSON)
        try:
            resp = json.loads(raw)
        except ValueError:
            raise self.error("server", f"Converse answered non-JSON: {raw[:200]!r}") from None
        if resp.get("stopReason") in _FILTERED:
            raise self.error("content_filter", f"stopReason {resp['stopReason']}")
        blocks = ((resp.get("output") or {}).get("message") or {}).get("content") or []
        usage = resp.get("usage") or {}
        extra = resp.get("additionalModelResponseFields") or {}
        hidden = extra.get("hidden_states") if isinstance(extra, dict) else None
        return Completion(text="".join(b.get("text", "") for b in blocks), tier=self.tier,
                          model_id=self.model_id, input_tokens=int(usage.get("inputTokens", 0)),
                          output_tokens=int(usage.get("outputTokens", 0)),
                          hidden_states=[float(x) for x in hidden] if hidden else None,
                          finish_reason=_finish(resp.get("stopReason")))

    async def _stream_once(self, messages: list[Message], s: Sampling) -> AsyncIterator[str | StreamUsage]:
        finish = "stop"
        async for kind, event in self.events(self._path + "/converse-stream", self._body(messages, s), _JSON):
            if not isinstance(event, dict):
                continue
            if kind == "contentBlockDelta":
                text = (event.get("delta") or {}).get("text")
                if text:
                    yield text
            elif kind == "messageStop":
                if event.get("stopReason") in _FILTERED:
                    raise self.error("content_filter", f"stopReason {event['stopReason']}")
                finish = _finish(event.get("stopReason"))
            elif kind == "metadata" and isinstance(event.get("usage"), dict):
                usage = event["usage"]
                yield StreamUsage(int(usage.get("inputTokens", 0)), int(usage.get("outputTokens", 0)), finish)


def _finish(stop_reason: str | None) -> str:
    """Converse's stopReason in OpenAI's words."""
    return "length" if stop_reason == "max_tokens" else "stop"
