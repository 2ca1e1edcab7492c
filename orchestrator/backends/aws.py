"""What the AWS model backends (Bedrock, SageMaker) share: signed requests over one pooled aiohttp
session (`orchestrator/aws_http.py`), event streams decoded as they arrive, and AWS errors ->
BackendError.

Why not boto3: its calls block, so each took a worker thread; a 64-thread pool held 64 model
calls at once and queued the rest behind them (at 200 concurrent requests, three waits of a
whole model call), and botocore's per-call machinery cost 2-3 ms of CPU. An aiohttp call waits
on the event loop and holds only a connection. Retries stay in `RetryingBackend` (counted kinds
only, with jitter); there is no second retry layer to hide throttling from the circuit breaker.
"""
from __future__ import annotations

import json
from typing import Any, AsyncIterator

import aiohttp

from orchestrator.aws_http import AwsHttp, AwsServiceError, AwsTransportError, error_code
from orchestrator.backends.base import RetryingBackend, classify, is_content_filter
from orchestrator.ports import BackendError, FailureKind, ModelTier

EVENT_STREAM = "application/vnd.amazon.eventstream"


class AwsBackend(RetryingBackend):
    service: str = ""  # "bedrock-runtime" | "sagemaker-runtime"

    def __init__(self, tier: ModelTier, model_id: str, region: str = "us-east-1",
                 endpoint_url: str | None = None, *, max_attempts: int = 3, timeout_s: float = 30.0,
                 base_delay_s: float = 0.1, max_delay_s: float = 2.0, max_connections: int = 1024,
                 http: AwsHttp | None = None, rng: Any = None):
        super().__init__(tier, model_id, max_attempts=max_attempts, timeout_s=timeout_s,
                         base_delay_s=base_delay_s, max_delay_s=max_delay_s, rng=rng)
        self.region, self.endpoint_url = region, endpoint_url
        self.http = http or AwsHttp(self.service, region, endpoint_url, timeout_s=timeout_s,
                                    connect_timeout_s=min(timeout_s, 10.0), max_connections=max_connections)

    def warm(self) -> None:
        """Credentials and signer ready before the first request (the replica's warm-up)."""
        self.http.warm()

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> bytes:
        """A signed POST read whole; AWS errors become BackendError."""
        try:
            return (await self.http.request("POST", path, body, headers)).body
        except (AwsServiceError, AwsTransportError) as exc:
            raise self.from_aws(exc) from exc

    async def events(self, path: str, body: bytes, headers: dict[str, str]) -> AsyncIterator[tuple[str, dict | bytes]]:
        """A signed POST answered with an AWS event stream: (event type, payload) as each event
        arrives (JSON payloads parsed, blobs as bytes). An exception event raises BackendError.
        The connection is released however the iteration ends."""
        from botocore.eventstream import EventStreamBuffer

        timeout = aiohttp.ClientTimeout(total=None, sock_connect=min(self.timeout_s, 10.0))
        try:
            async with self.http.open("POST", path, body, {**headers, "Accept": EVENT_STREAM},
                                      timeout=timeout) as resp:
                buffer = EventStreamBuffer()
                async for chunk in resp.content.iter_any():
                    buffer.add_data(chunk)
                    for message in buffer:
                        yield self._event(message.headers, message.payload)
        except (AwsServiceError, AwsTransportError) as exc:
            raise self.from_aws(exc) from exc
        except ValueError as exc:  # botocore's event-stream parser: a corrupt frame
            raise self.error("server", f"malformed event stream: {exc}") from exc

    def _event(self, headers: dict, payload: bytes) -> tuple[str, dict | bytes]:
        if headers.get(":message-type") in ("exception", "error"):
            code = error_code(headers.get(":exception-type") or headers.get(":error-code") or "")
            text = _json_or_empty(payload).get("message") or headers.get(":error-message") or ""
            raise self.from_aws(AwsServiceError(200, code, str(text), {}))
        kind = str(headers.get(":event-type") or "")
        if headers.get(":content-type", "application/json") == "application/json":
            return kind, _json_or_empty(payload)
        return kind, payload

    def from_aws(self, exc: AwsServiceError | AwsTransportError) -> BackendError:
        if isinstance(exc, AwsTransportError):
            return self.error("timeout" if exc.timeout else "server", str(exc))
        kind, status, message = classify_aws(exc)
        return self.error(kind, message, status)

    async def close(self) -> None:
        await self.http.close()


def classify_aws(exc: AwsServiceError) -> tuple[FailureKind, int | None, str]:
    """(kind, HTTP status, message) of an AWS error answer (or an in-stream exception event,
    whose status is that of the stream, 200)."""
    status = exc.status if exc.status >= 300 else None
    code, message = exc.code, exc.message
    if code == "ModelError" and exc.body.get("OriginalStatusCode"):
        # SageMaker wraps the container's failure in a 424: judge by what the container said.
        status = int(exc.body["OriginalStatusCode"])
        message = str(exc.body.get("OriginalMessage") or message)
        return classify(status, None, message), status, f"ModelError ({status}): {message}"
    if code in ("ValidationException", "ValidationError") and is_content_filter(message):
        return "content_filter", status, f"{code}: {message}"
    return classify(status, code, message), status, f"{code or 'error'} ({status}): {message}"


def _json_or_empty(payload: bytes) -> dict:
    try:
        data = json.loads(payload) if payload else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
