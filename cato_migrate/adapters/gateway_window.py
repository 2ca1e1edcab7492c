"""MetricsSource over successive scrapes of the gateway's `/metrics`: the fallback when no
Prometheus is configured.

Each `window()` call scrapes the gateway (or reuses a scrape younger than `reuse_seconds`, so both
stacks of one evaluation come from one scrape) and keeps it in a short in-memory history. A window
of W seconds subtracts the oldest kept scrape at or after now - W from the newest
(core/scrape_window.py). The first call has nothing to subtract: its figures are None (waiting).
So the source must live as long as the watch does (wiring keeps one per Services), and be asked at
least once per window.

Limits, by design: one gateway process. Behind a load balancer, successive scrapes may reach
different replicas, whose counters are unrelated; use Prometheus there. The semantic cache's hit
rate is the orchestrator's series, not the gateway's: cache_hit_rate is None here.
"""
from __future__ import annotations

from typing import Callable

from cato_migrate.adapters.gateway_metrics import GatewayScrape, parse_samples
from cato_migrate.core.scrape_window import (Reading, pick_base, prune, reading_from_samples, waiting_window,
                                             window_between)
from cato_migrate.errors import BadInput
from cato_migrate.ports import STACK_NAMES, StackWindow

__all__ = ["GatewayWindow"]


class GatewayWindow:
    """MetricsSource from the gateway's own counters, differenced over time in this process."""

    def __init__(self, scrape: GatewayScrape, *, monotonic: Callable[[], float] | None = None,
                 keep_seconds: float = 3600.0, max_readings: int = 4096, reuse_seconds: float = 0.5):
        import time

        self.scrape = scrape
        self.monotonic = monotonic or time.monotonic
        self.keep_seconds = keep_seconds
        self.max_readings = max_readings
        self.reuse_seconds = reuse_seconds
        self.history: list[Reading] = []

    def describe(self) -> str:
        return f"gateway scrape {self.scrape.url} (no Prometheus configured)"

    def _read(self) -> Reading:
        now = self.monotonic()
        if self.history and now - self.history[-1].at < self.reuse_seconds:
            return self.history[-1]
        reading = reading_from_samples(parse_samples(self.scrape.text()), at=self.monotonic())
        self.history = prune([*self.history, reading], reading.at, self.keep_seconds, self.max_readings)
        return reading

    def window(self, stack: str, seconds: float) -> StackWindow:
        if stack not in STACK_NAMES:
            raise BadInput(f"unknown stack {stack!r}; the stacks are {', '.join(STACK_NAMES)}")
        newest = self._read()
        base = pick_base(self.history, newest.at, seconds)
        if base is None:
            return waiting_window(stack, seconds, self.describe())
        return window_between(base, newest, stack, self.describe())
