"""Per-stack figures over a window from successive scrapes of the gateway's counters (pure).

The fallback metrics source when no Prometheus is configured: it keeps a short history of
`Reading`s (one per scrape, stamped on a monotonic clock) and answers a window of W seconds by
subtracting the oldest reading at or after now - W from the newest. With no earlier reading in the
window there is nothing to subtract: the figures are None ("waiting"), never 0.

Counters are subtracted the way PromQL's `increase()` does across a restart: a value lower than
before means the counter was reset (the gateway restarted), so the increase is the new value.
Each series is handled on its own, as Prometheus does.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from cato_migrate.core.histogram import normalize_buckets, quantile_ms
from cato_migrate.ports import STACK_NAMES, Stack, StackWindow

__all__ = ["Reading", "StackCounters", "counter_increase", "pick_base", "prune", "reading_from_samples",
           "window_between", "waiting_window"]

REQUESTS = "cato_gateway_requests_total"
BUCKETS = "cato_gateway_request_duration_seconds_bucket"
COMPLAINTS = "cato_gateway_complaints_total"


@dataclass(frozen=True)
class StackCounters:
    """One stack's counters in one scrape. None: the scrape had no such series at all."""

    ok: float = 0.0
    error: float = 0.0
    buckets: dict[float, float] = field(default_factory=dict)  # le -> cumulative count
    complaints: float | None = None


@dataclass(frozen=True)
class Reading:
    """One scrape: when (monotonic seconds) and each stack's counters."""

    at: float
    stacks: dict[str, StackCounters]


def _le(text: str) -> float | None:
    try:
        value = float(text)  # "+Inf" parses as inf
    except ValueError:
        return None
    return None if math.isnan(value) else value


def reading_from_samples(samples: list[tuple[str, dict[str, str], float]], at: float) -> Reading:
    """A `Reading` from parsed exposition samples (adapters.gateway_metrics.parse_samples).

    Absent request counters read as 0 (a counter never incremented may be absent in some client
    libraries); an absent histogram gives no buckets and an absent complaints counter None, so
    latency and complaints are "not measured" rather than "0"."""
    ok: dict[str, float] = {}
    error: dict[str, float] = {}
    buckets: dict[str, dict[float, float]] = {}
    complaints: dict[str, float] = {}
    for name, labels, value in samples:
        stack = labels.get("stack")
        if stack not in STACK_NAMES:
            continue
        if name == REQUESTS:
            target = error if labels.get("outcome") == "error" else ok
            target[stack] = target.get(stack, 0.0) + value
        elif name == BUCKETS:
            le = _le(labels.get("le", ""))
            if le is not None:
                per = buckets.setdefault(stack, {})
                per[le] = per.get(le, 0.0) + value
        elif name == COMPLAINTS:
            complaints[stack] = complaints.get(stack, 0.0) + value
    return Reading(at=at, stacks={
        s: StackCounters(ok=ok.get(s, 0.0), error=error.get(s, 0.0), buckets=buckets.get(s, {}),
                         complaints=complaints.get(s)) for s in STACK_NAMES})


def counter_increase(old: float, new: float) -> float:
    """How much a counter grew between two readings; a drop is a reset, so the increase is `new`."""
    return new if new < old else new - old


def prune(history: list[Reading], now: float, keep_seconds: float, max_readings: int) -> list[Reading]:
    """Readings newer than now - keep_seconds, at most the newest `max_readings`."""
    kept = [r for r in history if r.at >= now - keep_seconds]
    return kept[-max_readings:] if max_readings > 0 else kept


def pick_base(history: list[Reading], now: float, seconds: float) -> Reading | None:
    """The oldest reading at or after now - seconds that is older than the newest; None if none."""
    if len(history) < 2:
        return None
    newest = history[-1]
    return next((r for r in history[:-1] if r.at >= now - seconds and r.at < newest.at), None)


def waiting_window(stack: Stack, seconds: float, source: str) -> StackWindow:
    """Nothing to subtract yet: every figure is None (the trigger says "waiting")."""
    return StackWindow(stack=stack, window_seconds=seconds, source=source)


def window_between(base: Reading, newest: Reading, stack: Stack, source: str) -> StackWindow:
    """The stack's figures between two readings (newest.at > base.at)."""
    old, new = base.stacks[stack], newest.stacks[stack]
    ok = counter_increase(old.ok, new.ok)
    errors = int(round(counter_increase(old.error, new.error)))
    requests = int(round(ok)) + errors
    buckets = normalize_buckets(
        (le, counter_increase(old.buckets.get(le, 0.0), count)) for le, count in new.buckets.items())
    if not buckets or buckets[-1][1] == 0:
        p50 = p99 = None
    else:
        p50, p99 = quantile_ms(0.5, buckets), quantile_ms(0.99, buckets)
    complaints = None
    if new.complaints is not None:
        complaints = int(round(counter_increase(old.complaints or 0.0, new.complaints)))
    return StackWindow(stack=stack, window_seconds=newest.at - base.at, requests=requests, errors=errors,
                       p50_ms=p50, p99_ms=p99, latency_buckets=buckets, complaints=complaints,
                       source=source)
