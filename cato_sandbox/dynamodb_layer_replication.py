"""Asynchronous item replication between a global table's regions (sandbox DynamoDB layer).

An item write that moto accepted in one region is queued as (table, key, source region, target
regions) and applied `lag_s` later by a worker thread: it reads the item's CURRENT state in the
source region (a strongly consistent GetItem) and puts it into, or deletes it from, each target.
Copying the current state rather than replaying the request keeps replicas convergent whatever
the order of the queue (last writer wins, as DynamoDB global tables resolve conflicts).

`paused` is the planted fault "replication stopped": writes queue up and nothing is applied
until it is resumed. `stats()` reports the queue and the lag, for the layer's admin endpoint.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

# call(headers, region, op, payload) -> (status, body dict): one DynamoDB request to moto.
MotoCall = Callable[[dict, str, str, dict], tuple[int, dict]]


@dataclass(frozen=True)
class Change:
    headers: dict           # the writer's account/credentials (region is set per call)
    table: str
    key: dict               # the item's key, in DynamoDB JSON
    source: str             # region the write was made in
    targets: tuple[str, ...]
    queued_at: float


class Replicator:
    def __init__(self, call: MotoCall, lag_s: float = 0.05, clock: Callable[[], float] = time.monotonic):
        self._call, self.lag_s, self._clock = call, lag_s, clock
        self._queue: deque[Change] = deque()
        self._in_flight = 0     # popped from the queue, not yet applied: still pending for stats()
        self._cv = threading.Condition()
        self.paused = False
        self.applied = 0
        self.failed = 0
        self.last_lag_ms: float | None = None
        self.last_error: str | None = None
        self._stop = False
        self._worker = threading.Thread(target=self._run, name="dynamodb-replicator", daemon=True)
        self._worker.start()

    def enqueue(self, change: Change) -> None:
        with self._cv:
            self._queue.append(change)
            self._cv.notify_all()

    def configure(self, *, paused: bool | None = None, lag_ms: float | None = None) -> None:
        with self._cv:
            if paused is not None:
                self.paused = paused
            if lag_ms is not None:
                self.lag_s = max(0.0, lag_ms / 1000.0)
            self._cv.notify_all()

    def clear(self) -> None:
        with self._cv:
            self._queue.clear()
            self.applied = self.failed = 0
            self.last_lag_ms = self.last_error = None
            self.paused = False

    def stats(self) -> dict:
        with self._cv:
            now = self._clock()
            oldest = (now - self._queue[0].queued_at) * 1000 if self._queue else 0.0
            # a change being applied counts as pending until it is counted as applied or failed, so
            # pending == 0 means `applied` and `failed` are final
            return {"paused": self.paused, "lag_ms": round(self.lag_s * 1000, 3),
                    "pending": len(self._queue) + self._in_flight,
                    "oldest_pending_ms": round(oldest, 3), "applied": self.applied, "failed": self.failed,
                    "last_lag_ms": None if self.last_lag_ms is None else round(self.last_lag_ms, 3),
                    "last_error": self.last_error}

    def close(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        self._worker.join(timeout=5)

    # -- the worker ---------------------------------------------------------------------------
    def _next_due(self) -> Change | None:
        """Wait for the head of the queue to be due (and replication not paused); pop it."""
        with self._cv:
            while not self._stop:
                if self.paused or not self._queue:
                    self._cv.wait(timeout=0.5)
                    continue
                wait = self._queue[0].queued_at + self.lag_s - self._clock()
                if wait > 0:
                    self._cv.wait(timeout=wait)
                    continue
                self._in_flight += 1
                return self._queue.popleft()
            return None

    def _run(self) -> None:
        while (change := self._next_due()) is not None:
            try:
                self._apply(change)
                with self._cv:
                    self.applied += 1
                    self._in_flight -= 1
                    self.last_lag_ms = (self._clock() - change.queued_at) * 1000
            except Exception as exc:  # noqa: BLE001 - counted and reported; the worker keeps going
                with self._cv:
                    self.failed += 1
                    self._in_flight -= 1
                    self.last_error = f"{change.table} {change.source}->{','.join(change.targets)}: {exc}"

    def _apply(self, change: Change) -> None:
        status, got = self._call(change.headers, change.source, "GetItem",
                                 {"TableName": change.table, "Key": change.key, "ConsistentRead": True})
        if status != 200:
            raise RuntimeError(f"reading the source item answered {status}: {got}")
        item = got.get("Item")
        for region in change.targets:
            if item is not None:
                status, body = self._call(change.headers, region, "PutItem", {"TableName": change.table, "Item": item})
            else:
                status, body = self._call(change.headers, region, "DeleteItem",
                                          {"TableName": change.table, "Key": change.key})
            if status != 200:
                raise RuntimeError(f"writing to {region} answered {status}: {body}")
