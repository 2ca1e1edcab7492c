"""The gateway-scrape fallback: pure delta logic (core/scrape_window.py) and the adapter that keeps
a history of scrapes (adapters/gateway_window.py), with a fake scrape and a fake clock."""
from __future__ import annotations

import math

import pytest

from cato_migrate.adapters.gateway_metrics import parse_samples
from cato_migrate.adapters.gateway_window import GatewayWindow
from cato_migrate.core.scrape_window import (Reading, StackCounters, counter_increase, pick_base, prune,
                                             reading_from_samples, window_between)
from cato_migrate.errors import BadInput, ExternalError
from cato_migrate.edge.gateway_stats import GatewayStats

INF = math.inf


def _reading(at, ok=0, err=0, buckets=None, complaints=0.0, stack="new"):
    other = StackCounters()
    mine = StackCounters(ok=ok, error=err, buckets=buckets or {}, complaints=complaints)
    return Reading(at=at, stacks={"new": mine if stack == "new" else other,
                                  "legacy": mine if stack == "legacy" else other})


def test_counter_increase_and_reset():
    assert counter_increase(10, 15) == 5
    assert counter_increase(10, 10) == 0
    assert counter_increase(100, 7) == 7          # the gateway restarted: counting began again at 0


def test_window_between_two_readings():
    a = _reading(100.0, ok=90, err=10, buckets={0.5: 80, 2.5: 100, INF: 100}, complaints=1)
    b = _reading(160.0, ok=180, err=20, buckets={0.5: 160, 2.5: 200, INF: 200}, complaints=4)
    w = window_between(a, b, "new", "test")
    assert (w.requests, w.errors, w.complaints, w.window_seconds) == (100, 10, 3, 60.0)
    assert w.error_rate == pytest.approx(0.1)
    assert w.latency_buckets == [(0.5, 80), (2.5, 100), (INF, 100)]
    assert w.p50_ms == pytest.approx(312.5) and w.p99_ms == pytest.approx(2400.0)


def test_window_across_a_counter_reset_counts_the_new_values():
    a = _reading(0.0, ok=1000, err=50, buckets={1.0: 1050, INF: 1050}, complaints=9)
    b = _reading(30.0, ok=20, err=5, buckets={1.0: 25, INF: 25}, complaints=1)
    w = window_between(a, b, "new", "test")
    assert (w.requests, w.errors, w.complaints) == (25, 5, 1)
    assert w.latency_buckets[-1] == (INF, 25)


def test_no_histogram_or_complaints_series_is_unmeasured_not_zero():
    a = Reading(at=0.0, stacks={"new": StackCounters(ok=1), "legacy": StackCounters()})
    b = Reading(at=5.0, stacks={"new": StackCounters(ok=50), "legacy": StackCounters()})
    w = window_between(a, b, "new", "test")
    assert w.requests == 49 and w.p99_ms is None and w.complaints is None and w.latency_buckets == []


def test_pick_base_is_the_oldest_reading_inside_the_window():
    hist = [_reading(t) for t in (0.0, 10.0, 20.0, 30.0)]
    assert pick_base(hist, 30.0, 15.0).at == 20.0
    assert pick_base(hist, 30.0, 20.0).at == 10.0      # at or after now - W
    assert pick_base(hist, 30.0, 5.0) is None          # only the newest itself is inside
    assert pick_base(hist[:1], 0.0, 60.0) is None
    assert [r.at for r in prune(hist, 30.0, 15.0, 10)] == [20.0, 30.0]
    assert [r.at for r in prune(hist, 30.0, 100.0, 2)] == [20.0, 30.0]


def test_reading_from_the_gateway_exposition():
    stats = GatewayStats()
    for s in (0.04, 0.3, 2.7):
        stats.begin("new")
        stats.end("new", None, s)
    stats.refused("new")
    stats.complaint("new")
    r = reading_from_samples(parse_samples(stats.exposition()), at=1.0)
    new = r.stacks["new"]
    assert (new.ok, new.error, new.complaints) == (3, 1, 1)
    assert new.buckets[INF] == 4 and new.buckets[0.05] == 2   # the refused request took 0 s
    assert r.stacks["legacy"] == StackCounters(ok=0, error=0, buckets=r.stacks["legacy"].buckets, complaints=0)


class _FakeScrape:
    url = "http://127.0.0.1:1/metrics"

    def __init__(self):
        self.stats = GatewayStats()
        self.calls = 0
        self.fail = False

    def text(self):
        self.calls += 1
        if self.fail:
            raise ExternalError("gateway metrics unreachable")
        return self.stats.exposition()


class _Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def _serve(stats, stack, n, errors=0, seconds=0.2):
    for i in range(n):
        stats.begin(stack)
        stats.end(stack, "upstream_5xx" if i < errors else None, seconds)


def test_first_call_waits_then_windows_difference_the_kept_scrapes():
    scrape, clock = _FakeScrape(), _Clock()
    src = GatewayWindow(scrape, monotonic=clock)
    _serve(scrape.stats, "new", 500)                     # before the watch began: not in any window
    first = src.window("new", 60)
    assert first.requests is None and first.errors is None and first.p99_ms is None  # waiting
    assert "gateway scrape" in first.source and first.window_seconds == 60
    clock.t += 30
    _serve(scrape.stats, "new", 200, errors=4)
    w = src.window("new", 60)
    assert (w.requests, w.errors, w.window_seconds) == (200, 4, 30.0)
    assert w.cache_hit_rate is None                      # the orchestrator's series, not the gateway's
    legacy = src.window("legacy", 60)                    # same instant: reuses the scrape
    assert legacy.requests == 0 and scrape.calls == 2
    clock.t += 45                                        # the first scrape is now outside a 60 s window
    _serve(scrape.stats, "new", 10, seconds=3.0)
    w = src.window("new", 60)
    assert (w.requests, w.window_seconds) == (10, 45.0)
    assert w.p99_ms == pytest.approx(3000.0 * 0.99 + 2500.0 * 0.01)  # all in (2.5, 3.0]


def test_gateway_restart_between_scrapes_is_not_negative():
    scrape, clock = _FakeScrape(), _Clock()
    src = GatewayWindow(scrape, monotonic=clock)
    _serve(scrape.stats, "new", 300)
    src.window("new", 60)
    scrape.stats = GatewayStats()                         # restarted: counters from 0
    _serve(scrape.stats, "new", 7, errors=7)
    clock.t += 10
    w = src.window("new", 60)
    assert (w.requests, w.errors, w.error_rate) == (7, 7, 1.0)


def test_unreadable_gateway_is_an_external_error_and_unknown_stack_bad_input():
    scrape, clock = _FakeScrape(), _Clock()
    src = GatewayWindow(scrape, monotonic=clock)
    scrape.fail = True
    with pytest.raises(ExternalError):
        src.window("new", 60)
    with pytest.raises(BadInput):
        src.window("canary", 60)
