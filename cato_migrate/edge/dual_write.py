"""Dual-write: the edge tees each exchange LiteLLM serves into the new stack's session memory.

The runbook's one Critical risk is data loss during the transition: a user the flag moves from
LiteLLM to the orchestrator would lose every turn LiteLLM served. While the flag is between 0
and 100, and for `window_s` after it fell to 0 from above (a rollback: those users may come back
after the fix), the edge offers every legacy-served exchange to a `DualWriter`, which posts it to
the orchestrator's ingest endpoint (`POST /v1/cato/exchanges`, orchestrator/ingest.py) with the
client's key, so it lands in the same session a chat by that client there would use.

A dual-write never fails or slows a user's request:

* `offer()` only appends to a bounded in-memory queue (never awaits, never raises); when the
  queue is full the exchange is dropped and counted;
* the answer text is extracted (JSON or SSE) in the background, not on the request's path;
* background workers post with retries and jittered exponential backoff, then give up and count.

Exchanges of one session always go to the same worker (a shard per worker), so a session's turns
are ingested in the order they were served, retries included. Each exchange carries an id made at
offer time and kept across retries: the orchestrator stores it once (idempotency by id).

Counters, as Prometheus lines (`exposition()`, appended to the edge's /metrics) and as a dict
(`status()`)::

    cato_gateway_dual_write_served_total                  exchanges LiteLLM served while active
    cato_gateway_dual_write_total{result="stored"}        in the new stack's session memory
    cato_gateway_dual_write_total{result="failed"}        retries exhausted, or refused as unauthorised
    cato_gateway_dual_write_total{result="refused"}       the orchestrator cannot store it (400/413)
    cato_gateway_dual_write_total{result="dropped"}       the queue was full (or the edge stopped)
    cato_gateway_dual_write_total{result="skipped"}       nothing to store: no user or session id, no answer text
    cato_gateway_dual_write_queue_depth, cato_gateway_dual_write_active   gauges

served = stored + failed + refused + dropped + skipped + queue depth (+ the few being posted).

What can still be lost: exchanges queued when the edge process dies (the queue is in memory),
and the rollback window's start, which the process also keeps in memory (a restart while the flag
is at 0 ends the window early).
"""
from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

log = logging.getLogger("cato.gateway.dual_write")

__all__ = ["DualWriter", "RollbackWindow", "ServedExchange", "answer_from_json", "answer_from_sse",
           "dual_write_active", "exchange_body", "INGEST_PATH", "RESULTS"]

INGEST_PATH = "/v1/cato/exchanges"
RESULTS = ("stored", "failed", "refused", "dropped", "skipped")
DEFAULT_WINDOW_S = 24 * 3600.0
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024   # an answer above this is far beyond what session memory keeps
_RETRY_STATUSES = frozenset({408, 409, 425, 429}) | frozenset(range(500, 600))


# -- the policy (pure) -------------------------------------------------------------------------

def dual_write_active(percentage: int, zero_since: float | None, now: float, window_s: float) -> bool:
    """Whether legacy-served exchanges are teed: 0 < percentage < 100, or at 0 within `window_s`
    of the moment the flag fell to 0 from above (`zero_since`; None when it never did)."""
    if 0 < percentage < 100:
        return True
    return percentage <= 0 and zero_since is not None and 0 <= now - zero_since < window_s


@dataclass
class RollbackWindow:
    """Remembers when the flag fell to 0 from above, as observed by this process."""

    window_s: float = DEFAULT_WINDOW_S
    previous: int | None = None
    zero_since: float | None = None

    def observe(self, percentage: int, now: float) -> bool:
        """Record the percentage in force at `now`; whether dual-write is active."""
        if percentage > 0:
            self.zero_since = None
        elif self.previous is not None and self.previous > 0:
            self.zero_since = now
        self.previous = percentage
        return dual_write_active(percentage, self.zero_since, now, self.window_s)


# -- the answer's text (pure) --------------------------------------------------------------------

def _content_text(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):   # content parts: the text ones, joined as the orchestrator joins them
        texts = [p.get("text") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
        return "\n".join(texts) if texts else None
    return None


def answer_from_json(payload: bytes) -> str | None:
    """The assistant's text in a non-streamed chat completion; None if there is none."""
    try:
        doc = json.loads(payload)
        message = doc["choices"][0]["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    return _content_text(message.get("content")) if isinstance(message, dict) else None


def answer_from_sse(raw: bytes) -> str | None:
    """The assistant's text in a streamed chat completion (the SSE bytes as relayed): the first
    choice's `delta.content` joined. None when a data line is not JSON (a stream cut mid-event),
    an event carries an error, or there is no text: a partial answer is never stored."""
    parts: list[str] = []
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    for line in text.splitlines():
        if not line.startswith("data:"):
            continue   # comments, event names, blank separators
        data = line[5:].strip()
        if not data or data == "[DONE]":
            continue
        try:
            event = json.loads(data)
        except ValueError:
            return None
        if not isinstance(event, dict) or "error" in event:
            return None
        for choice in event.get("choices") or ():
            if isinstance(choice, dict) and choice.get("index", 0) == 0 and isinstance(choice.get("delta"), dict):
                piece = _content_text(choice["delta"].get("content"))
                if piece:
                    parts.append(piece)
    return "".join(parts) or None


# -- what is posted (pure) ------------------------------------------------------------------------

@dataclass(frozen=True)
class ServedExchange:
    """One exchange LiteLLM served, as the edge saw it (built on the request's path: no parsing)."""

    request: dict                  # the chat request body, as parsed by the edge
    payload: bytes                 # the answer as relayed: a JSON body, or the SSE stream's bytes
    streamed: bool
    session_header: str | None = None
    authorization: str | None = field(default=None, repr=False)   # the key the new stack would get
    id: str = field(default_factory=lambda: "gw-" + uuid.uuid4().hex)

    @property
    def session(self) -> str | None:
        """The session the orchestrator will file it under: x-session-id, else user."""
        user = self.request.get("user")
        return self.session_header or (user if isinstance(user, str) and user else None)


def exchange_body(ex: ServedExchange) -> dict | None:
    """The ingest body for an exchange; None when there is nothing to store."""
    if ex.session is None or len(ex.payload) > MAX_PAYLOAD_BYTES:
        return None
    messages = ex.request.get("messages")
    if not isinstance(messages, list) or not messages:
        return None
    answer = answer_from_sse(ex.payload) if ex.streamed else answer_from_json(ex.payload)
    if not answer or not answer.strip():
        return None
    body: dict[str, Any] = {"id": ex.id, "messages": messages, "answer": answer}
    user = ex.request.get("user")
    if isinstance(user, str) and user:
        body["user"] = user
    if ex.session_header:
        body["session_id"] = ex.session_header
    if isinstance(ex.request.get("model"), str):
        body["model"] = ex.request["model"]
    return body


def backoff_s(attempt: int, base_s: float, max_s: float, rnd: float) -> float:
    """Exponential backoff with jitter for retry number `attempt` (1, 2, ...), rnd in [0, 1)."""
    return min(max_s, base_s * 2 ** (attempt - 1)) * (0.5 + rnd / 2)


# -- the writer ----------------------------------------------------------------------------------

class DualWriter:
    """Tee legacy-served exchanges to the orchestrator's ingest endpoint, never on the request's path.

    `ingest_base()` gives the new stack's base URL now (None while it is not running: retried,
    then counted failed). Start with `await start(session)` (an aiohttp ClientSession the edge
    owns), stop with `await close()`.
    """

    def __init__(self, ingest_base: Callable[[], str | None], *, window_s: float = DEFAULT_WINDOW_S,
                 queue_size: int = 10_000, workers: int = 32, attempts: int = 5, backoff_base_s: float = 0.2,
                 max_backoff_s: float = 5.0, timeout_s: float = 5.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Any] = asyncio.sleep, rng: Callable[[], float] = random.random):
        if workers < 1 or queue_size < workers or attempts < 1:
            raise ValueError("workers >= 1, queue_size >= workers and attempts >= 1 are needed")
        self.ingest_base, self.window = ingest_base, RollbackWindow(window_s)
        self.attempts, self.backoff_base_s, self.max_backoff_s = attempts, backoff_base_s, max_backoff_s
        self.timeout_s, self.clock, self.sleep, self.rng = timeout_s, clock, sleep, rng
        self._queues = [asyncio.Queue(maxsize=queue_size // workers) for _ in range(workers)]
        self._tasks: list[asyncio.Task] = []
        self._session: Any = None
        self._closed = False
        self.served = 0
        self.counts = {r: 0 for r in RESULTS}
        self.last_error: str | None = None
        self._active = False

    # -- on the request's path: cheap, never raises, never blocks --------------------------------
    def active(self, percentage: int) -> bool:
        """Whether to tee now (observes the flag for the rollback window)."""
        try:
            self._active = self.window.observe(int(percentage), self.clock())
        except Exception:  # noqa: BLE001 — a policy glitch must not fail a user's request
            log.exception("dual-write: could not judge the flag %r", percentage)
            self._active = False
        return self._active

    def offer(self, exchange: ServedExchange) -> bool:
        """Queue an exchange for ingest; False when it was skipped or dropped (and counted)."""
        try:
            self.served += 1
            session = exchange.session
            if session is None:
                self.counts["skipped"] += 1
                return False
            if self._closed:
                self.counts["dropped"] += 1
                return False
            queue = self._queues[hash(session) % len(self._queues)]
            queue.put_nowait(exchange)
            return True
        except asyncio.QueueFull:
            self.counts["dropped"] += 1
            return False
        except Exception:  # noqa: BLE001 — never the user's problem
            self.counts["dropped"] += 1
            log.exception("dual-write: could not queue an exchange")
            return False

    # -- in the background ----------------------------------------------------------------------
    async def start(self, session: Any) -> None:
        self._session = session
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._work(q), name=f"dual-write-{i}") for i, q in enumerate(self._queues)]

    async def close(self, drain_s: float = 5.0) -> None:
        """Stop taking exchanges, post what is queued for up to `drain_s`, count the rest dropped."""
        self._closed = True
        try:
            await asyncio.wait_for(asyncio.gather(*(q.join() for q in self._queues)), drain_s)
        except asyncio.TimeoutError:
            pass
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for q in self._queues:
            while not q.empty():
                q.get_nowait()
                q.task_done()
                self.counts["dropped"] += 1

    async def _work(self, queue: asyncio.Queue) -> None:
        while True:
            exchange = await queue.get()
            try:
                self.counts[await self._deliver(exchange)] += 1
            except asyncio.CancelledError:
                self.counts["dropped"] += 1
                raise
            except Exception as exc:  # noqa: BLE001 — a defect here must not stop the worker
                self.counts["failed"] += 1
                self._note(f"{type(exc).__name__}: {exc}")
                log.exception("dual-write: exchange %s failed", exchange.id)
            finally:
                queue.task_done()

    async def _deliver(self, ex: ServedExchange) -> str:
        import aiohttp  # the edge's own dependency; imported here so the pure parts need nothing

        body = exchange_body(ex)
        if body is None:
            return "skipped"
        headers = {"Authorization": ex.authorization} if ex.authorization else {}
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        for attempt in range(self.attempts):
            if attempt:
                await self.sleep(backoff_s(attempt, self.backoff_base_s, self.max_backoff_s, self.rng()))
            base = self.ingest_base()
            if not base:
                self._note("the new stack has no URL (not running)")
                continue
            try:
                async with self._session.post(base.rstrip("/") + INGEST_PATH, json=body, headers=headers,
                                              timeout=timeout) as r:
                    if r.status < 300:
                        return "stored"
                    detail = f"ingest answered {r.status}: {(await r.text())[:200]}"
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                self._note(f"ingest unreachable: {type(exc).__name__}: {exc}")
                continue
            self._note(detail)
            if r.status in _RETRY_STATUSES:
                continue
            return "refused" if r.status in (400, 413, 422) else "failed"   # 401/403/404: not retried
        return "failed"

    def _note(self, error: str) -> None:
        if error != self.last_error:
            log.warning("dual-write: %s", error)
        self.last_error = error

    # -- reading the counters -------------------------------------------------------------------
    @property
    def queue_depth(self) -> int:
        return sum(q.qsize() for q in self._queues)

    def status(self) -> dict:
        return {"active": self._active, "window_s": self.window.window_s,
                "zero_since_monotonic": self.window.zero_since, "served": self.served, **self.counts,
                "queued": self.queue_depth, "last_error": self.last_error}

    def exposition(self) -> str:
        lines = [
            "# HELP cato_gateway_dual_write_served_total Exchanges the legacy stack served while dual-write was active.",
            "# TYPE cato_gateway_dual_write_served_total counter",
            f"cato_gateway_dual_write_served_total {self.served}",
            "# HELP cato_gateway_dual_write_total Served exchanges by what became of them in the new stack's "
            "session memory.",
            "# TYPE cato_gateway_dual_write_total counter",
            *(f'cato_gateway_dual_write_total{{result="{r}"}} {self.counts[r]}' for r in RESULTS),
            "# HELP cato_gateway_dual_write_queue_depth Exchanges waiting to be written.",
            "# TYPE cato_gateway_dual_write_queue_depth gauge",
            f"cato_gateway_dual_write_queue_depth {self.queue_depth}",
            "# HELP cato_gateway_dual_write_active 1 while legacy-served exchanges are teed.",
            "# TYPE cato_gateway_dual_write_active gauge",
            f"cato_gateway_dual_write_active {int(self._active)}",
        ]
        return "\n".join(lines) + "\n"
