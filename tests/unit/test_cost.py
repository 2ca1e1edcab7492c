"""Cost core (cato_migrate/core/cost.py, cost_mix.py): prices, totals, savings, efficiency, budget. Hand-computed, no I/O."""
from __future__ import annotations

import datetime

import pytest

from cato_migrate.core.cost import (Answer, comparison, efficiency, judge_budget, legacy_totals, new_totals, per_1k,
                                    price_request, spend_from_samples)
from cato_migrate.core.cost_mix import BASE_PROMPTS, MIX_NAME, build_mix, describe
from orchestrator.pricing import PriceTable, answer_cost
from orchestrator.ports import ModelTier

TABLE = PriceTable.model_validate({
    "region": "us-east-1", "taken_on": "2026-12-05", "source": "test",
    "tiers": {
        "bedrock_haiku": {"kind": "bedrock", "model": "claude-3-haiku", "model_id": "h",
                          "input_usd_per_1k": 0.00025, "output_usd_per_1k": 0.00125},
        "bedrock_sonnet": {"kind": "bedrock", "model": "claude-3-5-sonnet", "model_id": "s",
                           "input_usd_per_1k": 0.003, "output_usd_per_1k": 0.015},
        "shadow_self": {"kind": "self_hosted", "instance_type": "ml.g6e.2xlarge", "usd_per_instance_hour": 2.0,
                        "utilisation": 0.5, "requests_per_instance_hour": 1000, "throughput_source": "test"},
    }})


def test_one_request_by_tier_or_legacy_model_name():
    # Haiku: 1000 in x $0.00025/1K + 2000 out x $0.00125/1K = 0.00025 + 0.0025
    assert price_request(TABLE, "bedrock_haiku", 1000, 2000) == pytest.approx(0.00275)
    assert price_request(TABLE, "claude-3-haiku", 1000, 2000) == pytest.approx(0.00275)
    # Sonnet: 500 in x 0.003/1K + 100 out x 0.015/1K = 0.0015 + 0.0015
    assert price_request(TABLE, "claude-3-5-sonnet", 500, 100) == pytest.approx(0.003)
    # Self-hosted: $2/h / 0.5 utilisation / 1000 requests per hour = $0.004, whatever the tokens
    assert price_request(TABLE, "shadow_self", 10, 10) == pytest.approx(0.004)
    assert price_request(TABLE, "shadow_self", 9000, 9000) == pytest.approx(0.004)
    with pytest.raises(KeyError, match="gpt-4"):
        price_request(TABLE, "gpt-4", 1, 1)


def test_answer_cost_is_none_when_it_cannot_be_priced():
    assert answer_cost(None, ModelTier.BEDROCK_HAIKU, {"prompt_tokens": 1}) is None
    assert answer_cost(TABLE, ModelTier.BEDROCK_HAIKU, None) is None        # no usage reported
    assert answer_cost(TABLE, ModelTier.SHADOW_SELF, None) == pytest.approx(0.004)  # instance-hours need none
    bare = TABLE.model_copy(update={"tiers": {ModelTier.BEDROCK_HAIKU: TABLE.tiers[ModelTier.BEDROCK_HAIKU]}})
    assert answer_cost(bare, ModelTier.BEDROCK_SONNET, {"prompt_tokens": 1}) is None


def test_per_1k_and_efficiency():
    assert per_1k(0.5, 200) == pytest.approx(2.5)
    assert per_1k(1.0, 0) is None
    assert efficiency(0.7, 1.0) == pytest.approx(-0.3)   # 30% cheaper
    assert efficiency(1.2, 1.0) == pytest.approx(0.2)
    assert efficiency(1.0, 0.0) is None                  # no ratio to take, never 0


def test_new_stack_totals_per_tier_with_cache_hits_as_saved():
    answers = [
        Answer("new", "bedrock_haiku", 1000, 2000),                        # 0.00275
        Answer("new", "bedrock_sonnet", 500, 100),                         # 0.003
        Answer("new", "bedrock_sonnet", 0, 0, cached=True,                 # saves 0.003, costs 0
               saved_usage={"prompt_tokens": 500, "completion_tokens": 100}),
        Answer("new", "shadow_self", 50, 60),                              # 0.004
    ]
    t = new_totals(answers, TABLE)
    assert t["total_usd"] == pytest.approx(0.00975)
    assert t["per_1k_requests_usd"] == pytest.approx(0.00975 / 4 * 1000)
    assert t["cache_hits"] == 1 and t["saved_usd"] == pytest.approx(0.003) and t["unpriced"] == 0
    son = t["by_tier"]["bedrock_sonnet"]
    assert son == {"requests": 2, "usd": pytest.approx(0.003), "input_tokens": 500, "output_tokens": 100,
                   "cache_hits": 1, "saved_usd": pytest.approx(0.003)}


def test_legacy_totals_use_litellms_own_figure_and_never_count_a_missing_one_as_free():
    answers = [Answer("legacy", "claude-3-haiku", 1000, 2000, usd=0.00275),
               Answer("legacy", "claude-3-5-sonnet", 500, 100, usd=0.003),
               Answer("legacy", "claude-3-5-sonnet", 500, 100, usd=None)]
    t = legacy_totals(answers)
    assert t["total_usd"] == pytest.approx(0.00575) and t["unpriced"] == 1
    assert t["by_model"]["claude-3-5-sonnet"]["requests"] == 2
    assert t["source"] == "LiteLLM x-litellm-response-cost"


def test_comparison_has_the_keys_the_report_reads():
    legacy = [Answer("legacy", "claude-3-5-sonnet", 500, 100, usd=0.003)] * 2
    new = [Answer("new", "bedrock_haiku", 1000, 2000),
           Answer("new", "bedrock_haiku", 0, 0, cached=True, saved_usage={"prompt_tokens": 1000, "completion_tokens": 2000})]
    ev = comparison(measured_at=1.0, requests=2, mix=describe(2), table=TABLE, legacy=legacy, new=new)
    assert set(ev) == {"measured_at", "requests", "mix", "prices", "legacy", "new", "efficiency"}
    assert set(ev["mix"]) == {"name", "prompts", "repeated_share", "description"}
    assert ev["prices"] == {"source": "config/pricing.yaml", "taken_on": "2026-12-05"}
    assert {"total_usd", "per_1k_requests_usd", "by_model", "source"} <= set(ev["legacy"])
    assert {"total_usd", "per_1k_requests_usd", "by_tier", "cache_hits", "saved_usd", "source"} <= set(ev["new"])
    assert {"requests", "usd", "input_tokens", "output_tokens"} <= set(ev["new"]["by_tier"]["bedrock_haiku"])
    # new 0.00275 vs legacy 0.006: 0.00275 / 0.006 - 1
    assert ev["efficiency"] == pytest.approx(0.00275 / 0.006 - 1, abs=1e-6)


def test_an_unpriced_answer_leaves_efficiency_unmeasured():
    legacy = [Answer("legacy", "claude-3-haiku", 1, 1, usd=None)]
    new = [Answer("new", "bedrock_haiku", 1, 1)]
    ev = comparison(measured_at=1.0, requests=1, mix=describe(1), table=TABLE, legacy=legacy, new=new)
    assert ev["efficiency"] is None


def test_the_mix_is_fixed_repeats_a_quarter_word_for_word_and_never_repeats_a_fresh_question():
    mix = build_mix(40)
    assert mix == build_mix(40)  # deterministic
    repeats = [r for r in mix if r.repeat_of is not None]
    assert len(repeats) == 10
    for r in repeats:
        src = mix[r.repeat_of]
        assert src.repeat_of is None and r.prompt == src.prompt and r.legacy_model == src.legacy_model
    fresh = [r.prompt for r in mix if r.repeat_of is None]
    assert len(set(fresh)) == len(fresh)
    d = describe(40)
    assert d["name"] == MIX_NAME and d["prompts"] == len(BASE_PROMPTS) == 10 and d["repeated_share"] == 0.25


def test_the_mix_reaches_every_tier_through_the_orchestrators_router():
    from orchestrator.routing import ComplexityRouter

    router = ComplexityRouter(frozenset(["shadow", "introspection"]))
    tiers: dict[str, set] = {}
    for r in build_mix(40):
        tiers.setdefault(r.kind, set()).add(router.decide(r.prompt, r.domain).primary_model)
    assert tiers == {"simple": {ModelTier.BEDROCK_HAIKU}, "complex": {ModelTier.BEDROCK_SONNET},
                     "shadow": {ModelTier.SHADOW_SELF}}


@pytest.mark.parametrize("spend,budget,status", [
    (12.0, 10.0, "exceeded"), (9.99, 10.0, "within"), (10.0, 10.0, "within"),
    (None, 10.0, "unmeasured"), (None, None, "unmeasured"), (3.0, None, "no_budget"),
])
def test_budget_verdicts_and_no_data_is_never_within(spend, budget, status):
    v = judge_budget(spend, budget, "src", "Prometheus unreachable")
    assert v.status == status
    if spend is None:
        assert v.message == "not measured: Prometheus unreachable" and v.spend_usd is None
    if status == "exceeded":
        assert "OVER" in v.message and "120%" in v.message


def test_spend_from_orchestrator_samples():
    samples = [("cato_cost_usd_total", {"tier": "bedrock_haiku"}, 0.25),
               ("cato_cost_usd_total", {"tier": "bedrock_sonnet"}, 1.5),
               ("cato_cost_saved_usd_total", {"tier": "bedrock_haiku"}, 9.0)]
    total, by_tier = spend_from_samples(samples)
    assert total == pytest.approx(1.75) and by_tier == {"bedrock_haiku": 0.25, "bedrock_sonnet": 1.5}
    assert spend_from_samples([("cato_requests_total", {}, 3.0)]) == (None, {})


def test_taken_on_is_a_date():
    assert TABLE.taken_on == datetime.date(2026, 12, 5)


def test_each_run_is_tagged_so_an_earlier_runs_cache_cannot_answer_it():
    from orchestrator.cache.guard import same_question
    from orchestrator.routing import ComplexityRouter

    a, b = build_mix(8, run=1733400000), build_mix(8, run=1733400060)
    assert all(not same_question(x.prompt, y.prompt).same for x, y in zip(a, b))  # the cache's guard refuses
    router = ComplexityRouter(frozenset(["shadow"]))
    assert [router.decide(x.prompt, x.domain).primary_model for x in a] == \
        [router.decide(x.prompt, x.domain).primary_model for x in build_mix(8)]  # the tag changes no route
    assert a[3].prompt == a[1].prompt and a[3].prompt.endswith("(run 1733400000)")
    assert "(run 1733400000)" in describe(8, 1733400000)["description"]
