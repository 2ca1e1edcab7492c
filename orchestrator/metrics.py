"""Prometheus metrics for the orchestrator, on a registry of its own."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

BREAKER_STATE = {"closed": 0, "half_open": 1, "open": 2}


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("cato_requests_total", "Requests answered, by tier and whether cached",
                                ["tier", "cached"], registry=self.registry)
        self.latency = Histogram("cato_request_latency_seconds", "End-to-end latency of route_query", ["tier"],
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
                                 registry=self.registry)
        self.errors = Counter("cato_backend_errors_total", "Backend failures by tier and kind", ["tier", "kind"],
                              registry=self.registry)
        self.cache = Counter("cato_cache_lookups_total", "Semantic cache lookups", ["result"], registry=self.registry)
        self.breaker = Gauge("cato_breaker_state", "Circuit breaker state (0 closed, 1 half-open, 2 open)", ["tier"],
                             registry=self.registry)
        self.failed = Counter("cato_requests_failed_total", "Requests no tier could answer", registry=self.registry)
        # Cost (orchestrator/pricing.py, config/pricing.yaml): each answer's real usage x its tier's price.
        # A cache hit costs nothing; what the answer would have cost is counted as saved.
        self.cost_usd = Counter("cato_cost_usd_total", "USD spent on answers (usage x configured price), by tier",
                                ["tier"], registry=self.registry)
        self.cost_saved_usd = Counter("cato_cost_saved_usd_total", "USD the semantic cache saved: what each hit's "
                                      "answer cost when it was generated, by tier", ["tier"], registry=self.registry)
        self.cost_unpriced = Counter("cato_cost_unpriced_total", "Answers that could not be priced (no price for the "
                                     "tier, or no usage reported), by tier", ["tier"], registry=self.registry)
        self.ingested = Counter("cato_ingested_exchanges_total", "Dual-write ingests (POST /v1/cato/exchanges), by "
                                "result: stored, duplicate, refused (4xx), failed (409/5xx: the sender retries)",
                                ["result"], registry=self.registry)

    def request(self, tier: str, cached: bool, seconds: float) -> None:
        self.requests.labels(tier, str(cached).lower()).inc()
        self.latency.labels(tier).observe(seconds)
        self.cache.labels("hit" if cached else "miss").inc()

    def cost(self, tier: str, cached: bool, usd: float | None) -> None:
        """`usd`: what the answer cost, or (a cache hit) what it saved; None: it could not be priced."""
        if usd is None:
            self.cost_unpriced.labels(tier).inc()
        elif cached:
            self.cost_saved_usd.labels(tier).inc(usd)
        else:
            self.cost_usd.labels(tier).inc(usd)

    def error(self, tier: str, kind: str) -> None:
        self.errors.labels(tier, kind).inc()

    def ingest(self, result: str) -> None:
        self.ingested.labels(result).inc()

    def breakers(self, board) -> None:
        for tier, breaker in board.items():
            self.breaker.labels(getattr(tier, "value", tier)).set(BREAKER_STATE.get(breaker.state, -1))

    def render(self) -> bytes:
        return generate_latest(self.registry)
