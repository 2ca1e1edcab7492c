"""The orchestrator prices each answer: cato_cost_usd_total / cato_cost_saved_usd_total on /metrics and
`cato.cost_usd` in the answer, from the backend's real usage x config/pricing.yaml. Fakes, no I/O."""
from __future__ import annotations

import asyncio

import pytest

from cato_migrate.adapters.gateway_metrics import parse_samples
from orchestrator.config import OrchestratorConfig
from orchestrator.core import CatoOrchestrator
from orchestrator.metrics import Metrics
from orchestrator.openai_format import completion_payload
from orchestrator.ports import CacheHit, Completion, ModelTier
from orchestrator.pricing import read_price_file
from tests.fakes_orch import FakeWorking

TOKENS = {ModelTier.BEDROCK_HAIKU: (1000, 2000), ModelTier.BEDROCK_SONNET: (500, 100), ModelTier.SHADOW_SELF: (10, 10)}


class TokenBackend:
    """Reports a fixed usage, as Bedrock and vLLM report theirs."""

    def __init__(self, tier):
        self.tier = tier

    async def complete(self, messages, **kw) -> Completion:
        p, c = TOKENS[self.tier]
        return Completion(text=f"[{self.tier.value}] answer", tier=self.tier, model_id="m", input_tokens=p, output_tokens=c)

    async def close(self):
        pass


class UsageCache:
    """Exact cache that keeps each answer's usage, as the semantic cache does."""

    def __init__(self):
        self.items = {}

    async def lookup(self, query, *, scope="global", exact_only=False):
        hit = self.items.get((scope, query))
        return CacheHit(hit[0], 1.0, query, scope, usage=hit[1]) if hit else None

    async def store(self, query, answer, *, scope="global", usage=None, exact_only=False):
        self.items[(scope, query)] = (answer, usage)


def make(pricing=True):
    config = OrchestratorConfig.model_validate({
        "backends": {t.value: {"kind": "bedrock", "model_id": "m"} for t in ModelTier}, "redis_url": "redis://x",
        "pricing": read_price_file().model_dump(mode="json") if pricing else None})
    metrics = Metrics()
    orch = CatoOrchestrator(config, backends={t: TokenBackend(t) for t in ModelTier}, working=FakeWorking(),
                            cache=UsageCache(), metrics=metrics)
    return orch, metrics


def series(metrics: Metrics, name: str) -> dict[str, float]:
    return {lbl["tier"]: v for n, lbl, v in parse_samples(metrics.render().decode()) if n == name}


def test_each_answer_is_priced_from_its_usage_and_counted_per_tier():
    orch, metrics = make()
    r = asyncio.run(orch.route_query("What is 2+2?"))                                   # Haiku
    assert r["model"] == "bedrock_haiku"
    assert r["cost_usd"] == pytest.approx(1000 / 1000 * 0.00025 + 2000 / 1000 * 0.00125)  # 0.00275
    assert completion_payload(r)["cato"]["cost_usd"] == pytest.approx(0.00275)
    asyncio.run(orch.route_query("Explain the implications of quantum computing on cryptography"))  # Sonnet
    asyncio.run(orch.route_query("How do dreams feel?", domain="shadow"))                # Shadow Self
    spent = series(metrics, "cato_cost_usd_total")
    assert spent["bedrock_haiku"] == pytest.approx(0.00275)
    assert spent["bedrock_sonnet"] == pytest.approx(500 / 1000 * 0.003 + 100 / 1000 * 0.015)
    assert spent["shadow_self"] == pytest.approx(2.80 / 0.6 / 10800)


def test_a_cache_hit_costs_nothing_and_counts_what_it_saved():
    orch, metrics = make()
    asyncio.run(orch.route_query("What is 2+2?"))
    hit = asyncio.run(orch.route_query("What is 2+2?"))
    assert hit["cached"] and hit["cost_usd"] == 0.0
    cato = completion_payload(hit)["cato"]
    assert cato["cost_usd"] == 0.0 and cato["cache"]["cost_saved_usd"] == pytest.approx(0.00275)
    assert cato["cache"]["usage_saved"]["completion_tokens"] == 2000
    assert series(metrics, "cato_cost_usd_total")["bedrock_haiku"] == pytest.approx(0.00275)      # once
    assert series(metrics, "cato_cost_saved_usd_total")["bedrock_haiku"] == pytest.approx(0.00275)


def test_without_prices_cost_is_not_measured_rather_than_zero():
    orch, metrics = make(pricing=False)
    r = asyncio.run(orch.route_query("What is 2+2?"))
    assert "cost_usd" not in r and "cost_usd" not in completion_payload(r)["cato"]
    assert series(metrics, "cato_cost_usd_total") == {}
