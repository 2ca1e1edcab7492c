"""vLLM's OpenAI-compatible chat API (Shadow Self by default), over ONE pooled aiohttp session.

measured-facts: at 200 concurrent requests one pooled aiohttp session cost ~0.16 ms CPU per
request against ~16 ms for httpx, so the hot path shares a single `ClientSession` with a sized
connector. Pass `session=` to share one across backends (it is then not closed by `close`);
otherwise the backend creates its own on first use (a session must be made inside the loop).
"""
from __future__ import annotations

import json
from typing import Any, AsyncIterator

import aiohttp

from orchestrator.backends.base import RetryingBackend, classify
from orchestrator.chat_request import Sampling
from orchestrator.ports import BackendError, Completion, Message, ModelTier, StreamUsage


def new_session(connector_limit: int = 256, *, keepalive_s: float = 30.0) -> aiohttp.ClientSession:
    """A pooled session for model traffic (call inside the running event loop).

    `limit` bounds concurrent connections; 0 would NOT mean unlimited (aiohttp then applies 100,
    see measured-facts), so size it to the concurrency the replica really holds.
    """
    connector = aiohttp.TCPConnector(limit=connector_limit, limit_per_host=connector_limit,
                                     keepalive_timeout=keepalive_s, ttl_dns_cache=300)
    return aiohttp.ClientSession(connector=connector, trust_env=False,
                                 timeout=aiohttp.ClientTimeout(total=None))


class VllmBackend(RetryingBackend):
    def __init__(self, base_url: str, model: str, tier: ModelTier = ModelTier.SHADOW_SELF,
                 session: aiohttp.ClientSession | None = None, *, max_attempts: int = 3,
                 timeout_s: float = 30.0, base_delay_s: float = 0.1, max_delay_s: float = 2.0,
                 connector_limit: int = 256, api_key: str | None = None, rng: Any = None):
        super().__init__(tier, model, max_attempts=max_attempts, timeout_s=timeout_s,
                         base_delay_s=base_delay_s, max_delay_s=max_delay_s, rng=rng)
        root = base_url.rstrip("/")
        root = root[:-3] if root.endswith("/v1") else root  # accept ".../v1" or the bare root
        self.url = root + "/v1/chat/completions"
        self._session, self._owns_session = session, session is None
        self._connector_limit = connector_limit
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = new_session(self._connector_limit)
            self._owns_session = True
        return self._session

    def _body(self, messages: list[Message], s: Sampling, stream: bool) -> dict[str, Any]:
        """The conversation as sent (vLLM applies the model's chat template to it)."""
        body: dict[str, Any] = {"model": self.model_id, "max_tokens": s.max_tokens, "temperature": s.temperature,
                                "stream": stream,
                                "messages": [{"role": m.role, "content": m.content} for m in messages]}
        if s.top_p is not None:
            body["top_p"] = s.top_p
        if s.stop:
            body["stop"] = list(s.stop)
        if stream:
            body["stream_options"] = {"include_usage": True}
        return body

    async def _complete_once(self, messages: list[Message], s: Sampling) -> Completion:
        body = self._body(messages, s, stream=False)
        try:
            async with self._client().post(self.url, json=body, headers=self._headers,
                                           timeout=aiohttp.ClientTimeout(total=self.timeout_s)) as resp:
                raw = await resp.read()
                if resp.status >= 400:
                    raise self._http_error(resp.status, raw)
        except aiohttp.ClientError as exc:
            raise self._transport_error(exc) from exc
        data = _json(raw)
        if not data.get("choices"):
            raise self.error("server", f"malformed answer: {raw[:200]!r}")
        choice = data["choices"][0]
        if choice.get("finish_reason") == "content_filter":
            raise self.error("content_filter", "the answer was withheld by the content filter")
        usage = data.get("usage") or {}
        hidden = data.get("hidden_states")
        return Completion(text=(choice.get("message") or {}).get("content") or "", tier=self.tier,
                          model_id=self.model_id, input_tokens=int(usage.get("prompt_tokens", 0)),
                          output_tokens=int(usage.get("completion_tokens", 0)),
                          hidden_states=[float(x) for x in hidden] if hidden else None,
                          finish_reason="length" if choice.get("finish_reason") == "length" else "stop")

    async def _stream_once(self, messages: list[Message], s: Sampling) -> AsyncIterator[str | StreamUsage]:
        body = self._body(messages, s, stream=True)
        finish = "stop"
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.timeout_s,
                                        sock_read=self.timeout_s)
        try:
            async with self._client().post(self.url, json=body, headers=self._headers,
                                           timeout=timeout) as resp:
                if resp.status >= 400:
                    raise self._http_error(resp.status, await resp.read())
                async for raw_line in resp.content:  # one SSE line at a time
                    line = raw_line.strip()
                    if not line.startswith(b"data:"):
                        continue  # blank separators, ": keep-alive" comments, event names
                    payload = line[5:].strip()
                    if payload == b"[DONE]":
                        return
                    chunk = _json(payload)
                    if "error" in chunk:  # vLLM reports a failure mid-stream this way
                        raise self._http_error(None, payload)
                    for choice in chunk.get("choices") or []:
                        if choice.get("finish_reason") == "content_filter":
                            raise self.error("content_filter", "the stream was stopped by the content filter")
                        if choice.get("finish_reason") == "length":
                            finish = "length"
                        text = (choice.get("delta") or {}).get("content")
                        if text:
                            yield text
                    usage = chunk.get("usage")
                    if isinstance(usage, dict):  # the last chunk, asked for with include_usage
                        yield StreamUsage(int(usage.get("prompt_tokens") or 0),
                                          int(usage.get("completion_tokens") or 0), finish)
        except aiohttp.ClientError as exc:
            raise self._transport_error(exc) from exc

    def _http_error(self, status: int | None, raw: bytes) -> BackendError:
        """OpenAI's {"error": {"message", "type", "code"}} or vLLM's {"object": "error", ...};
        `status` is None for an error event inside a stream (its `code` may carry one)."""
        data = _json(raw)
        err = data.get("error", data)
        if not isinstance(err, dict):
            err = {"message": str(err)}
        if status is None:  # a stream that broke without saying why: the server's fault
            status = err["code"] if isinstance(err.get("code"), int) else 500
        message = str(err.get("message") or raw[:200].decode("utf-8", "replace") or f"HTTP {status}")
        return self.error(classify(status, _code(err), message), f"HTTP {status}: {message}", status)

    def _transport_error(self, exc: aiohttp.ClientError) -> BackendError:
        # Refused / reset connections and cut-off bodies say the server is unwell: counted.
        if isinstance(exc, aiohttp.ServerTimeoutError):
            return self.error("timeout", f"{type(exc).__name__}: {exc}")
        return self.error("server", f"{type(exc).__name__}: {exc}")

    async def close(self) -> None:
        if self._owns_session and self._session is not None and not self._session.closed:
            await self._session.close()


def _code(err: dict[str, Any]) -> str | None:
    """The vendor code of an OpenAI-style error: `code` when it is a name, else `type`."""
    code = err.get("code")
    return code if isinstance(code, str) and code else err.get("type")


def _json(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
