"""What every backend shares: failure classification, retries with full-jitter backoff, and
per-attempt timeouts, around a subclass's single-attempt `_complete_once` / `_stream_once`.

Retries: only for the kinds that say something about the backend's health (throttling, server,
timeout — `BackendError.COUNTED`); a content-filter refusal or a 4xx would fail again the same
way. A stream is retried only until its first delta: after that the caller has text it cannot
take back, so the error is raised as it is.
"""
from __future__ import annotations

import asyncio
import random
import re
import time
from typing import AsyncIterator, Awaitable, Callable, TypeVar

from orchestrator.chat_request import Sampling
from orchestrator.ports import BackendError, Completion, FailureKind, Message, ModelTier, StreamUsage

T = TypeVar("T")

_CONTENT_FILTER = re.compile(
    r"content[ _-]?filter|content (?:management )?policy|guardrail|moderation|blocked by|"
    r"harmful|unsafe content|responsible ai", re.I)
_THROTTLING = {"throttlingexception", "throttling", "throttledexception", "toomanyrequestsexception",
               "serviceunavailable", "serviceunavailableexception", "modelnotreadyexception",
               "rate_limit_exceeded", "rate_limit_error", "requestlimitexceeded", "slowdown",
               "provisionedthroughputexceededexception"}
_TIMEOUT = {"modeltimeoutexception", "requesttimeout", "requesttimeoutexception", "readtimeout",
            "timeout", "gatewaytimeout"}
_SERVER = {"internalserverexception", "internalfailure", "internalservererror", "server_error",
           "internal_error", "modelerrorexception", "modelstreamerrorexception",
           "internalstreamfailure", "internaldependencyexception", "modelerror"}


def is_content_filter(message: str) -> bool:
    return bool(_CONTENT_FILTER.search(message or ""))


def classify(status: int | None, code: str | None = None, message: str = "") -> FailureKind:
    """The failure kind of an HTTP status and/or vendor error code (+ message wording).

    Vendor codes win over the status (Bedrock's ModelTimeoutException is a 408, SageMaker's
    throttling may arrive as a 400); then 429 -> throttling, 408/504 -> timeout, 5xx -> server;
    a 4xx whose code or wording says content filter -> content_filter; other 4xx -> client.
    """
    c = (code or "").lower()
    if c == "content_filter" or (is_content_filter(message) and (status is None or status < 500)
                                 and c not in _THROTTLING | _TIMEOUT | _SERVER):
        return "content_filter"
    if c in _THROTTLING:
        return "throttling"
    if c in _TIMEOUT:
        return "timeout"
    if c in _SERVER:
        return "server"
    if status == 429:
        return "throttling"
    if status in (408, 504):
        return "timeout"
    if status is not None and status >= 500:
        return "server"
    return "client"


class RetryingBackend:
    """Base of the backends: `complete` and `stream` with retries, timeouts and latency.

    max_attempts: attempts per call (1 = no retry). timeout_s: per attempt for `complete`; for
    `stream`, the longest wait for the next delta (the first included). Backoff before attempt
    n+1 is uniform in [0, min(max_delay_s, base_delay_s * 2**n)] ("full jitter"), so clients
    throttled together do not retry together.
    """

    tier: ModelTier
    model_id: str

    def __init__(self, tier: ModelTier, model_id: str, *, max_attempts: int = 3,
                 timeout_s: float = 30.0, base_delay_s: float = 0.1, max_delay_s: float = 2.0,
                 rng: random.Random | None = None):
        if max_attempts < 1 or timeout_s <= 0:
            raise ValueError("max_attempts must be >= 1 and timeout_s > 0")
        self.tier, self.model_id = tier, model_id
        self.max_attempts, self.timeout_s = max_attempts, timeout_s
        self.base_delay_s, self.max_delay_s = base_delay_s, max_delay_s
        self._rng = rng or random.Random()

    # -- for subclasses ----------------------------------------------------------------------
    async def _complete_once(self, messages: list[Message], s: Sampling) -> Completion:
        raise NotImplementedError

    def _stream_once(self, messages: list[Message], s: Sampling) -> AsyncIterator["str | StreamUsage"]:
        raise NotImplementedError

    def error(self, kind: FailureKind, message: str, status: int | None = None) -> BackendError:
        return BackendError(kind, f"{self.tier.value} ({self.model_id}): {message}",
                            tier=self.tier, status=status)

    # -- the Backend protocol ----------------------------------------------------------------
    async def complete(self, messages: list[Message], *, max_tokens: int = 256, temperature: float = 0.0,
                       top_p: float | None = None, stop: tuple[str, ...] = ()) -> Completion:
        started = time.perf_counter()
        s = Sampling(max_tokens, temperature, top_p, tuple(stop))
        completion = await self._with_retries(lambda: self._complete_once(messages, s))
        # latency_ms is what the caller waited, retries and backoff included
        return _with_latency(completion, (time.perf_counter() - started) * 1000)

    async def stream(self, messages: list[Message], *, max_tokens: int = 256, temperature: float = 0.0,
                     top_p: float | None = None, stop: tuple[str, ...] = ()) -> AsyncIterator["str | StreamUsage"]:
        s = Sampling(max_tokens, temperature, top_p, tuple(stop))
        for attempt in range(1, self.max_attempts + 1):
            started_output = False
            chunks = self._stream_once(messages, s)
            try:
                while True:
                    try:
                        delta = await asyncio.wait_for(chunks.__anext__(), self.timeout_s)
                    except StopAsyncIteration:
                        return
                    except asyncio.TimeoutError:
                        raise self.error("timeout", f"no stream data within {self.timeout_s}s") from None
                    started_output = True
                    yield delta
            except BackendError as exc:
                if started_output or not self._retryable(exc, attempt):
                    raise
            finally:
                await chunks.aclose()  # type: ignore[attr-defined]
            await asyncio.sleep(self.backoff_s(attempt))

    async def close(self) -> None:
        return None

    # -- retry machinery ---------------------------------------------------------------------
    def backoff_s(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**(attempt-1))]."""
        return self._rng.uniform(0, min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1)))

    def _retryable(self, exc: BackendError, attempt: int) -> bool:
        return exc.counts_for_breaker and attempt < self.max_attempts

    async def _with_retries(self, once: Callable[[], Awaitable[T]]) -> T:
        for attempt in range(1, self.max_attempts + 1):
            try:
                return await asyncio.wait_for(once(), self.timeout_s)
            except asyncio.TimeoutError:
                exc = self.error("timeout", f"no answer within {self.timeout_s}s")
            except BackendError as err:
                exc = err
            if not self._retryable(exc, attempt):
                raise exc
            await asyncio.sleep(self.backoff_s(attempt))
        raise AssertionError("unreachable")  # the loop returns or raises


def _with_latency(c: Completion, latency_ms: float) -> Completion:
    return Completion(text=c.text, tier=c.tier, model_id=c.model_id, input_tokens=c.input_tokens,
                      output_tokens=c.output_tokens, latency_ms=latency_ms,
                      hidden_states=c.hidden_states, finish_reason=c.finish_reason)
