"""Latency math (pure): nearest-rank percentiles and a summary of a measured request run.

Nearest-rank on purpose: the reported p99 is a latency some request really had, never an
interpolation between two; with fewer than 100 samples p99 is the slowest request, which
errs on the side an on-call engineer wants for an exit criterion.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import Field

from cato_migrate.core.model import CoreModel


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (0 < p <= 100) of `values` (any order, at least one)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 < p <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {p}")
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


@dataclass(frozen=True)
class Sample:
    """One request: its wall time, whether it succeeded, and why not."""

    seconds: float
    ok: bool
    error: str = ""
    cached: bool = False


class LatencySummary(CoreModel):
    requests: int = Field(description="Requests sent.")
    ok: int = Field(description="Requests answered successfully.")
    errors: int = Field(description="Requests that failed (HTTP error, timeout, connection).")
    error_rate: float = Field(description="errors / requests (0 when nothing was sent).")
    cached: int = Field(description="Successful answers the orchestrator served from its cache.")
    p50_ms: float | None = Field(description="Median latency of successful requests; None without any.")
    p95_ms: float | None = Field(description="95th percentile (nearest rank) of successful requests.")
    p99_ms: float | None = Field(description="99th percentile (nearest rank) of successful requests.")
    max_ms: float | None = Field(description="Slowest successful request.")
    mean_ms: float | None = Field(description="Mean latency of successful requests.")
    wall_s: float = Field(description="Wall time of the whole run.")
    throughput_rps: float = Field(description="Successful requests per second of wall time.")
    error_kinds: dict[str, int] = Field(default_factory=dict, description="Failures counted by kind.")


def summarise(samples: Sequence[Sample], wall_s: float) -> LatencySummary:
    """Latency figures over successful requests only: a fast error must not flatter the p99;
    errors are counted and reported beside it instead."""
    good = [s.seconds * 1000 for s in samples if s.ok]
    kinds: dict[str, int] = {}
    for s in samples:
        if not s.ok:
            kinds[s.error or "error"] = kinds.get(s.error or "error", 0) + 1

    def pct(p: float) -> float | None:
        return round(percentile(good, p), 3) if good else None

    n = len(samples)
    return LatencySummary(
        requests=n, ok=len(good), errors=n - len(good), error_rate=(n - len(good)) / n if n else 0.0,
        cached=sum(1 for s in samples if s.ok and s.cached),
        p50_ms=pct(50), p95_ms=pct(95), p99_ms=pct(99), max_ms=round(max(good), 3) if good else None,
        mean_ms=round(sum(good) / len(good), 3) if good else None,
        wall_s=round(wall_s, 3), throughput_rps=round(len(good) / wall_s, 2) if wall_s > 0 else 0.0,
        error_kinds=kinds)
