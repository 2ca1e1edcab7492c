"""What the boto3 backends (Bedrock, SageMaker) share: a lazily built client with botocore's own
retries off, blocking calls run on a sized thread pool, and botocore errors -> BackendError.

Why a dedicated pool rather than `asyncio.to_thread`: the default executor has
min(32, cpus + 4) threads — 6 on a 2-core replica — so six slow model calls would queue every
other Bedrock call behind them. The pool is sized like botocore's connection pool instead.
Why botocore retries are off: `RetryingBackend` retries (only counted kinds, with jitter); two
retry layers would multiply attempts and hide throttling from the circuit breaker.
"""
from __future__ import annotations

import asyncio
import functools
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, AsyncIterator, Callable, Iterator

from orchestrator.backends.base import RetryingBackend, classify, is_content_filter
from orchestrator.ports import BackendError, FailureKind, ModelTier

_END = object()


class AwsBackend(RetryingBackend):
    service: str = ""  # "bedrock-runtime" | "sagemaker-runtime"

    def __init__(self, tier: ModelTier, model_id: str, region: str = "us-east-1",
                 endpoint_url: str | None = None, *, max_attempts: int = 3, timeout_s: float = 30.0,
                 base_delay_s: float = 0.1, max_delay_s: float = 2.0, max_pool_connections: int = 64,
                 client: Any = None, rng: Any = None):
        super().__init__(tier, model_id, max_attempts=max_attempts, timeout_s=timeout_s,
                         base_delay_s=base_delay_s, max_delay_s=max_delay_s, rng=rng)
        self.region, self.endpoint_url = region, endpoint_url
        self._client, self._client_lock = client, threading.Lock()
        self._pool_size = max_pool_connections
        self._executor = ThreadPoolExecutor(max_workers=max_pool_connections,
                                            thread_name_prefix=f"{self.service}-{tier.value}")

    def client(self) -> Any:
        """The boto3 client, built on first use (importing boto3 costs ~0.2 s). Thread-safe."""
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    import boto3
                    from botocore.config import Config

                    config = Config(region_name=self.region, read_timeout=self.timeout_s,
                                    connect_timeout=min(self.timeout_s, 10.0),
                                    retries={"total_max_attempts": 1, "mode": "standard"},
                                    max_pool_connections=self._pool_size)
                    self._client = boto3.session.Session().client(
                        self.service, region_name=self.region, endpoint_url=self.endpoint_url,
                        config=config)
        return self._client

    async def call(self, method: str, **kwargs: Any) -> Any:
        """`client.<method>(**kwargs)` on the pool; botocore errors become BackendError."""
        def run() -> Any:
            return getattr(self.client(), method)(**kwargs)
        return await self._in_thread(run)

    async def _in_thread(self, fn: Callable[[], Any]) -> Any:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn)
        except Exception as exc:
            if type(exc).__module__.startswith(("botocore", "urllib3")):
                raise self.from_botocore(exc) from exc
            raise  # our own bugs stay visible as what they are

    async def iterate(self, events: Any) -> AsyncIterator[Any]:
        """The events of a botocore EventStream, read one at a time on the pool; the stream is
        closed (its connection released) however the iteration ends."""
        it: Iterator[Any] = iter(events)
        try:
            while True:
                event = await self._in_thread(functools.partial(next, it, _END))
                if event is _END:
                    return
                yield event
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                await asyncio.get_running_loop().run_in_executor(self._executor, close)

    def from_botocore(self, exc: Exception) -> BackendError:
        kind, status, message = classify_botocore(exc)
        return self.error(kind, message, status)

    async def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def classify_botocore(exc: Exception) -> tuple[FailureKind, int | None, str]:
    """(kind, HTTP status, message) of a botocore/boto3 exception."""
    from botocore.exceptions import (BotoCoreError, ClientError, ConnectTimeoutError,
                                     NoCredentialsError, NoRegionError, ParamValidationError,
                                     PartialCredentialsError, ReadTimeoutError)

    if isinstance(exc, ClientError):
        resp = exc.response or {}
        err = resp.get("Error") or {}
        code = str(err.get("Code") or "")
        code = code[:1].upper() + code[1:]  # in-stream errors are "throttlingException"
        message = str(err.get("Message") or exc)
        status = (resp.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        if code == "ModelError" and resp.get("OriginalStatusCode"):
            # SageMaker wraps the container's failure in a 424: judge by what the container said.
            status = int(resp["OriginalStatusCode"])
            message = str(resp.get("OriginalMessage") or message)
            return classify(status, None, message), status, f"ModelError ({status}): {message}"
        if code in ("ValidationException", "ValidationError") and is_content_filter(message):
            return "content_filter", status, f"{code}: {message}"
        return classify(status, code, message), status, f"{code or 'error'} ({status}): {message}"
    if isinstance(exc, (ReadTimeoutError, ConnectTimeoutError)):
        return "timeout", None, f"{type(exc).__name__}: {exc}"
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError, NoRegionError,
                        ParamValidationError)):
        return "client", None, f"{type(exc).__name__}: {exc}"  # our setup, not its health
    if isinstance(exc, BotoCoreError):
        # Connection refused/closed, cut-off bodies: the endpoint is unwell, which counts.
        return "server", None, f"{type(exc).__name__}: {exc}"
    return "client", None, f"{type(exc).__name__}: {exc}"
