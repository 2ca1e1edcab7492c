"""Writes that need not delay the reply: run after it, in order per key, flushed on shutdown.

The session turn (DynamoDB then Redis) and the cache store used to run before the reply: four
DynamoDB and two Redis round trips on every session turn, cache hits included. They now run
behind the reply, as TensorZero's `async_writes` do:

* per key (a session) the writes run in submission order, so turns keep their sequence;
* a reader of a key first waits for that key's pending writes (`settle`), so the next turn of a
  conversation always sees the previous one (read-your-writes within a replica);
* a failed write is logged, never raised into a request that has already been answered;
* `flush` waits for everything pending: the replica calls it on graceful shutdown (Serve's
  drain, SIGTERM), before its clients close.

What a crash can lose: a replica killed without a graceful shutdown (kill -9, OOM, node loss)
loses the writes still pending at that instant, at most the last exchange of each session that
was answered in the preceding moments (typically milliseconds of DynamoDB latency). The answer
was delivered; the session then lacks that exchange, and its cached answer is not stored.

Bounds: at most `max_running` writes are sent at once (the rest wait here, in order), so a burst
never floods DynamoDB with hundreds of concurrent puts that a new session's history read would
queue behind; and `full` says when `max_pending` writes are waiting, which the replica's
admission turns into a 429 at once (serving.Admission) instead of a backlog that grows without
bound in memory, and with it what a crash would lose.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

log = logging.getLogger(__name__)


class WriteBehind:
    def __init__(self, max_running: int = 64, max_pending: int = 20_000) -> None:
        self.max_running, self.max_pending = max_running, max_pending
        self._tails: dict[str, asyncio.Task] = {}
        self._pending: set[asyncio.Task] = set()
        self._slots: asyncio.Semaphore | None = None   # made in the loop that runs the writes

    def submit(self, key: str | None, write: Callable[[], Awaitable[None]], what: str = "write") -> None:
        """Run `write()` after the reply; after the earlier writes of the same key, if any."""
        before = self._tails.get(key) if key is not None else None

        async def run() -> None:
            if before is not None:
                await asyncio.wait([before])  # its outcome is its own; only the order matters here
            if self._slots is None:
                self._slots = asyncio.Semaphore(self.max_running)
            try:
                async with self._slots:
                    await write()
            except Exception:  # noqa: BLE001 — the request was answered; the failure is logged
                log.exception("write-behind %s for %s failed", what, key or "-")

        task = asyncio.get_running_loop().create_task(run())
        self._pending.add(task)
        if key is not None:
            self._tails[key] = task
        task.add_done_callback(lambda t: self._done(key, t))

    def _done(self, key: str | None, task: asyncio.Task) -> None:
        self._pending.discard(task)
        if key is not None and self._tails.get(key) is task:
            del self._tails[key]

    async def settle(self, key: str | None) -> None:
        """Wait until the writes already submitted for `key` are done (never raises)."""
        task = self._tails.get(key) if key is not None else None
        if task is not None:
            await asyncio.wait([task])

    async def flush(self) -> None:
        while self._pending:
            await asyncio.wait(list(self._pending))

    @property
    def pending(self) -> int:
        return len(self._pending)

    @property
    def full(self) -> bool:
        """As many writes wait as the replica may hold: new requests are refused until they drain."""
        return len(self._pending) >= self.max_pending
