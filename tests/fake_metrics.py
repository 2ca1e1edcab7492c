"""A MetricsSource for unit tests: scripted per-stack windows, shaped as the port's contract says.

`window_of` turns request latencies into what a Prometheus-backed source reports: cumulative
histogram buckets on LATENCY_BUCKETS_S with +Inf last, p50/p99 by histogram_quantile's linear
interpolation inside the bucket, requests = the +Inf count. tests/unit/test_fake_metrics_contract.py
holds the fake to that shape.
"""
from __future__ import annotations

import math

from cato_migrate.errors import ExternalError
from cato_migrate.ports import LATENCY_BUCKETS_S, StackWindow


def histogram_quantile(q: float, buckets: list[tuple[float, int]]) -> float | None:
    """Prometheus' histogram_quantile: linear inside the bucket; the +Inf bucket returns the last finite bound."""
    total = buckets[-1][1] if buckets else 0
    if total == 0:
        return None
    rank = q * total
    prev_b, prev_c = 0.0, 0
    for b, c in buckets:
        if c >= rank:
            if math.isinf(b):
                return prev_b
            return prev_b + (b - prev_b) * ((rank - prev_c) / (c - prev_c) if c > prev_c else 0.0)
        prev_b, prev_c = b, c
    return prev_b


def window_of(stack: str, latencies_s: list[float], *, errors: int = 0, complaints: int | None = 0,
              seconds: float = 300.0, cache_hit_rate: float | None = None, source: str = "fake") -> StackWindow:
    bounds = list(LATENCY_BUCKETS_S) + [math.inf]
    buckets = [(b, sum(1 for x in latencies_s if x <= b)) for b in bounds]
    p50, p99 = histogram_quantile(0.5, buckets), histogram_quantile(0.99, buckets)
    return StackWindow(stack=stack, window_seconds=seconds, requests=len(latencies_s), errors=errors,
                       p50_ms=None if p50 is None else p50 * 1000, p99_ms=None if p99 is None else p99 * 1000,
                       latency_buckets=buckets, complaints=complaints, cache_hit_rate=cache_hit_rate, source=source)


def steady(stack: str, n: int, latency_s: float = 0.3, *, errors: int = 0, complaints: int | None = 0,
           spread: float = 0.2, **kw) -> StackWindow:
    """n requests spread evenly over latency_s * (1 +- spread)."""
    lat = [latency_s * (1 - spread + 2 * spread * i / max(n - 1, 1)) for i in range(n)]
    return window_of(stack, lat, errors=errors, complaints=complaints, **kw)


class FakeMetrics:
    """Each window() call for a stack takes the next scripted item (the last one repeats); an
    exception in the script is raised (a source that cannot be read)."""

    def __init__(self, new=None, legacy=None):
        self.script: dict[str, list] = {"new": [], "legacy": []}
        self.calls: list[tuple[str, float]] = []
        if new is not None:
            self.set("new", new)
        if legacy is not None:
            self.set("legacy", legacy)

    def set(self, stack: str, *items) -> "FakeMetrics":
        self.script[stack] = list(items)
        return self

    def window(self, stack: str, seconds: float) -> StackWindow:
        self.calls.append((stack, seconds))
        items = self.script[stack]
        if not items:
            return StackWindow(stack=stack, window_seconds=seconds, requests=0, errors=0, source="fake")
        item = items.pop(0) if len(items) > 1 else items[0]
        if isinstance(item, Exception):
            raise item
        return item.model_copy(update={"window_seconds": seconds})

    def describe(self) -> str:
        return "fake metrics (unit tests)"


UNREADABLE = ExternalError("prometheus http://127.0.0.1:9 refused the connection")
