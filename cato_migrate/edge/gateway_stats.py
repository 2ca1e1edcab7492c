"""The edge's counters and their Prometheus text exposition (pure; no I/O).

Series (every stack's series is present from the first scrape, so a reader never takes an
absent series for 0 and `rate()` has a starting point; names are the contract at the end of
cato_migrate/ports.py):

    cato_gateway_in_flight{stack}                                       gauge
    cato_gateway_requests_total{stack,outcome="ok|error"}               counter
    cato_gateway_errors_total{stack,class="upstream_5xx|unreachable|unavailable"}  counter
    cato_gateway_request_duration_seconds_bucket{stack,le} / _sum / _count   histogram
    cato_gateway_complaints_total{stack}                                counter
    cato_gateway_flag_percentage                                        gauge (the split in force)
    cato_gateway_flag_poll_errors_total                                 counter

An "error" is a request the chosen stack failed: it was not running (`unavailable`, 503), could
not be reached or broke off mid-stream (`unreachable`, 502), or answered 5xx (`upstream_5xx`).
A 4xx is the client's fault and counts as "ok". Every request counted in requests_total is also
observed in the histogram (errors included, as Prometheus' own HTTP histograms do), so
`_count` equals ok + error for each stack.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from cato_migrate.ports import LATENCY_BUCKETS_S, STACK_NAMES

__all__ = ["ERROR_CLASSES", "GatewayStats", "OUTCOMES", "STACKS"]

STACKS = STACK_NAMES
OUTCOMES = ("ok", "error")
ERROR_CLASSES = ("upstream_5xx", "unreachable", "unavailable")


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(float(bound))


@dataclass
class _Histogram:
    """Per-bucket counts (not cumulative; the exposition accumulates) plus sum and count."""

    bounds: tuple[float, ...] = LATENCY_BUCKETS_S
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.bounds) + 1)  # the last is +Inf

    def observe(self, seconds: float) -> None:
        seconds = max(float(seconds), 0.0)
        i = next((i for i, b in enumerate(self.bounds) if seconds <= b), len(self.bounds))
        self.counts[i] += 1
        self.total += seconds
        self.count += 1

    def cumulative(self) -> list[tuple[float, int]]:
        out, running = [], 0
        for bound, n in zip((*self.bounds, math.inf), self.counts):
            running += n
            out.append((bound, running))
        return out


@dataclass
class GatewayStats:
    in_flight: dict[str, int] = field(default_factory=lambda: {s: 0 for s in STACKS})
    requests: dict[tuple[str, str], int] = field(
        default_factory=lambda: {(s, o): 0 for s in STACKS for o in OUTCOMES})
    errors: dict[tuple[str, str], int] = field(
        default_factory=lambda: {(s, c): 0 for s in STACKS for c in ERROR_CLASSES})
    durations: dict[str, _Histogram] = field(default_factory=lambda: {s: _Histogram() for s in STACKS})
    complaints: dict[str, int] = field(default_factory=lambda: {s: 0 for s in STACKS})
    flag_percentage: int = 0
    flag_poll_errors: int = 0

    def begin(self, stack: str) -> None:
        self.in_flight[stack] += 1

    def end(self, stack: str, error_class: str | None, seconds: float) -> None:
        """A forwarded request finished: `error_class` None for ok, else one of ERROR_CLASSES."""
        self.in_flight[stack] -= 1
        self._count(stack, error_class, seconds)

    def refused(self, stack: str, seconds: float = 0.0) -> None:
        """A request for a stack that is not running: an `unavailable` error, never in flight."""
        self._count(stack, "unavailable", seconds)

    def complaint(self, stack: str) -> None:
        self.complaints[stack] += 1

    def _count(self, stack: str, error_class: str | None, seconds: float) -> None:
        if error_class is not None and error_class not in ERROR_CLASSES:
            raise ValueError(f"unknown error class {error_class!r}")
        self.requests[(stack, "ok" if error_class is None else "error")] += 1
        if error_class is not None:
            self.errors[(stack, error_class)] += 1
        self.durations[stack].observe(seconds)

    def exposition(self) -> str:
        lines = [
            "# HELP cato_gateway_in_flight Requests the gateway is forwarding now, per stack.",
            "# TYPE cato_gateway_in_flight gauge",
            *(f'cato_gateway_in_flight{{stack="{s}"}} {self.in_flight[s]}' for s in STACKS),
            "# HELP cato_gateway_requests_total Requests forwarded, per stack and outcome.",
            "# TYPE cato_gateway_requests_total counter",
            *(f'cato_gateway_requests_total{{stack="{s}",outcome="{o}"}} {self.requests[(s, o)]}'
              for s in STACKS for o in OUTCOMES),
            "# HELP cato_gateway_errors_total Requests the chosen stack failed, per stack and class.",
            "# TYPE cato_gateway_errors_total counter",
            *(f'cato_gateway_errors_total{{stack="{s}",class="{c}"}} {self.errors[(s, c)]}'
              for s in STACKS for c in ERROR_CLASSES),
            "# HELP cato_gateway_request_duration_seconds From receiving a request to the end of "
            "the stack's answer (a stream's end), per stack.",
            "# TYPE cato_gateway_request_duration_seconds histogram",
        ]
        for s in STACKS:
            h = self.durations[s]
            lines += [f'cato_gateway_request_duration_seconds_bucket{{stack="{s}",le="{_le(b)}"}} {n}'
                      for b, n in h.cumulative()]
            lines += [f'cato_gateway_request_duration_seconds_sum{{stack="{s}"}} {h.total!r}',
                      f'cato_gateway_request_duration_seconds_count{{stack="{s}"}} {h.count}']
        lines += [
            "# HELP cato_gateway_complaints_total User complaints received (POST /v1/complaints), "
            "per stack the user is bucketed to.",
            "# TYPE cato_gateway_complaints_total counter",
            *(f'cato_gateway_complaints_total{{stack="{s}"}} {self.complaints[s]}' for s in STACKS),
            "# HELP cato_gateway_flag_percentage Share of users sent to the new stack now.",
            "# TYPE cato_gateway_flag_percentage gauge",
            f"cato_gateway_flag_percentage {self.flag_percentage}",
            "# HELP cato_gateway_flag_poll_errors_total Failed reads of the AppConfig flag.",
            "# TYPE cato_gateway_flag_poll_errors_total counter",
            f"cato_gateway_flag_poll_errors_total {self.flag_poll_errors}",
        ]
        return "\n".join(lines) + "\n"
