"""Quantiles from a Prometheus-style cumulative histogram (pure; no I/O).

Both metrics sources (Prometheus' HTTP API and the gateway-scrape fallback) reduce a window to the
same thing: per bucket upper bound `le`, how many requests took at most that long. `quantile()`
follows PromQL's `histogram_quantile` so that `canary watch`, the alerting rules and a Grafana
panel agree on what "p99" means:

- linear interpolation inside the bucket the rank falls in, the first bucket starting at 0;
- a rank in the +Inf bucket answers the largest finite bound: a LOWER bound on the true value
  (p99 "at least 30 s" still breaches a 2 s trigger, which is the point);
- no observations, no +Inf bucket, or fewer than two buckets: None (not measured), never 0.
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence

__all__ = ["normalize_buckets", "quantile", "quantile_ms"]


def normalize_buckets(pairs: Iterable[tuple[float, float]]) -> list[tuple[float, int]]:
    """(le, cumulative count) pairs as one window's histogram: sorted by le, counts rounded to whole
    requests and made non-decreasing (Prometheus' per-series extrapolation, or a counter reset
    seen by one bucket and not the next, can leave a higher bucket a little below a lower one;
    PromQL fixes that the same way). Duplicate bounds are summed (several series, one le)."""
    by_le: dict[float, float] = {}
    for le, count in pairs:
        le = float(le)
        if math.isnan(le):
            continue
        value = float(count)
        if math.isnan(value):
            value = 0.0
        by_le[le] = by_le.get(le, 0.0) + value
    out: list[tuple[float, int]] = []
    running = 0
    for le in sorted(by_le):
        running = max(running, max(int(round(by_le[le])), 0))
        out.append((le, running))
    return out


def quantile(q: float, buckets: Sequence[tuple[float, int | float]]) -> float | None:
    """The q-quantile (0 <= q <= 1) in the buckets' unit, or None when it cannot be measured.

    `buckets` are (upper bound, cumulative count) sorted by bound with +Inf last, as
    `normalize_buckets` returns them.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile must be within 0..1, got {q}")
    if len(buckets) < 2 or not math.isinf(buckets[-1][0]):
        return None
    total = float(buckets[-1][1])
    if total <= 0:
        return None
    rank = q * total
    index = next(i for i, (_, count) in enumerate(buckets) if count >= rank)
    if index == len(buckets) - 1:  # in +Inf: all we know is "more than the largest finite bound"
        return float(buckets[-2][0])
    upper, count = buckets[index]
    if index == 0:
        if upper <= 0:
            return float(upper)
        lower, below = 0.0, 0.0
    else:
        lower, below = float(buckets[index - 1][0]), float(buckets[index - 1][1])
    inside = float(count) - below
    if inside <= 0:
        return float(upper)
    return lower + (float(upper) - lower) * (rank - below) / inside


def quantile_ms(q: float, buckets: Sequence[tuple[float, int | float]]) -> float | None:
    """`quantile` of a histogram in seconds, in milliseconds rounded to 0.1 ms."""
    value = quantile(q, buckets)
    return None if value is None else round(value * 1000.0, 1)
