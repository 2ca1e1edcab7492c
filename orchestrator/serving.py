"""Serving the replica well: bounded admission and warm-up (framework-free; serve_app wraps them)."""
from __future__ import annotations

import logging
import time

from orchestrator.api_errors import ApiError


class Admission:
    """At most `limit` chat requests at once; the next is refused at once with 429 + Retry-After."""

    def __init__(self, limit: int, retry_after_s: int, writes=None, cache=None, max_embeddings_waiting: int = 0):
        self.limit, self.retry_after_s, self.in_flight = limit, retry_after_s, 0
        self.writes = writes   # the replica's WriteBehind: a full backlog refuses new requests too
        # The embedding is the CPU-bound step (~3.3 ms of CPU a 30-token text here, ~8 ms with fp32 compute): while more texts wait
        # for it than it clears in about a second, a new request would only queue; it is refused at once.
        self.cache, self.max_embeddings_waiting = cache, max_embeddings_waiting

    def acquire(self) -> None:
        if self.in_flight >= self.limit:
            self._refuse(f"the orchestrator is at capacity ({self.limit} requests in flight on this replica)")
        if self.writes is not None and self.writes.full:
            self._refuse(f"the orchestrator is at capacity ({self.writes.pending} session and cache writes "
                         f"waiting on this replica)")
        waiting = getattr(self.cache, "embeddings_waiting", 0)
        if self.max_embeddings_waiting and waiting >= self.max_embeddings_waiting:
            self._refuse(f"the orchestrator is at capacity ({waiting} cache lookups waiting for the embedding "
                         f"model on this replica)")
        self.in_flight += 1

    def _refuse(self, why: str) -> None:
        raise ApiError(429, f"{why}; retry after {self.retry_after_s}s", code="at_capacity", type_="rate_limit_error",
                       headers={"Retry-After": str(self.retry_after_s)})

    def release(self) -> None:
        self.in_flight -= 1

    async def hold(self, chunks):
        try:
            async for chunk in chunks:
                yield chunk
        finally:
            self.release()


class WarmUp:
    """Everything a first request would otherwise pay for, done once in the background."""

    def __init__(self, orch):
        self.orch, self.task, self.error, self.seconds = orch, None, None, None

    def start(self) -> None:
        import asyncio

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop yet (constructed outside one): the first /healthz starts it
        self.task = loop.create_task(self._run())

    async def _run(self) -> None:
        import asyncio

        t0 = time.perf_counter()
        try:
            await self.orch._start()                                     # tables
            if self.orch.cache is not None:                              # the embedding model
                await asyncio.to_thread(self.orch.cache.embedder.embed, ["warm up"])
            for backend in self.orch.backends.values():                  # AWS credentials and signer
                if callable(getattr(backend, "warm", None)):
                    await asyncio.to_thread(backend.warm)
            await self.orch.working.history("warm-up/none", 1)           # Redis (and DynamoDB) reachable
            self.seconds = round(time.perf_counter() - t0, 2)
        except Exception as exc:  # noqa: BLE001 — reported by /healthz, retried on its next call
            logging.getLogger("orchestrator").exception("warm-up failed")
            self.error = f"{type(exc).__name__}: {exc}"

    def state(self) -> dict:
        failed = self.task is not None and self.task.done() and self.error is not None
        report = {"error": self.error} if failed else {}
        if self.task is None or failed:  # not started yet, or failed: (re)try now
            self.error = None
            self.start()
        ready = self.task is not None and self.task.done() and self.error is None and not failed
        return {"ready": ready, "seconds": self.seconds, "error": report.get("error")}
