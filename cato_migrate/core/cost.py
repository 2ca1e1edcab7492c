"""Cost: pricing answers, totals per tier, the legacy-vs-new comparison and the daily budget (pure).

Prices come from config/pricing.yaml (`orchestrator.pricing.PriceTable`, the one schema both the
orchestrator and this CLI read). Nothing here does I/O: the HTTP side (cato_migrate/adapters/
cost_http.py) turns answers into `Answer`s and counters into numbers.

    one answer        usage x its tier's price (Bedrock: per 1,000 tokens; self-hosted: instance-
                      hours / utilisation / requests per hour); a cache hit costs 0 and saves what
                      the answer would have cost
    legacy baseline   LiteLLM's own figure per response (x-litellm-response-cost), summed by model
    efficiency        new / legacy - 1 over the same requests (negative = the new stack is cheaper)
    budget            today's spend against `cost_daily_budget_usd`; no reading is "unmeasured",
                      never "within budget"
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: `status` reads BUDGET_KEY (via notify_events) and must stay light
    from orchestrator.pricing import PriceTable

COMPARISON_KEY = "cost.comparison"
BUDGET_KEY = "cost.budget"
PRICE_SOURCE = "config/pricing.yaml"
NEW_SOURCE = "orchestrator usage x config/pricing.yaml per tier (cato.tier, usage, cato.cached)"
LEGACY_SOURCE = "LiteLLM x-litellm-response-cost"


@dataclass(frozen=True)
class Answer:
    """One answer as a stack returned it. `usd` is the stack's own figure where it gives one (LiteLLM)."""

    stack: str                 # legacy | new
    name: str                  # legacy: the model sent; new: the tier that served (cato.tier)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    usd: float | None = None
    saved_usage: dict[str, Any] | None = None  # new, cache hit: the usage the stored answer cost (cato.cache.usage_saved)


def price_request(table: PriceTable, name: str, prompt_tokens: int, completion_tokens: int) -> float:
    """USD for one request to a tier (bedrock_haiku, shadow_self, ...) or a legacy model name
    (claude-3-haiku, ...). KeyError names what has no price."""
    from orchestrator.ports import ModelTier

    by_model = table.bedrock_by_model()
    if name in by_model:
        return by_model[name].request_usd(prompt_tokens, completion_tokens)
    try:
        tier = ModelTier(name)
    except ValueError:
        raise KeyError(f"no price for {name!r}: config/pricing.yaml prices the tiers "
                       f"{', '.join(t.value for t in table.tiers)} and the models {', '.join(by_model)}") from None
    if tier not in table.tiers:
        raise KeyError(f"no price for tier {name!r} in config/pricing.yaml")
    return table.request_usd(tier, prompt_tokens, completion_tokens)


def per_1k(total_usd: float, requests: int) -> float | None:
    return None if requests <= 0 else total_usd / requests * 1000


def efficiency(new_usd: float, legacy_usd: float) -> float | None:
    """new / legacy - 1 over the same requests; None when legacy cost nothing (no ratio to take)."""
    return None if legacy_usd <= 0 else new_usd / legacy_usd - 1


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 8)


def legacy_totals(answers: list[Answer]) -> dict[str, Any]:
    """The legacy stack from LiteLLM's own figures. An answer without one is counted in
    `unpriced`, never as free."""
    by_model: dict[str, dict[str, Any]] = {}
    total, unpriced = 0.0, 0
    for a in answers:
        row = by_model.setdefault(a.name, {"requests": 0, "usd": 0.0, "input_tokens": 0, "output_tokens": 0})
        row["requests"] += 1
        row["input_tokens"] += a.prompt_tokens
        row["output_tokens"] += a.completion_tokens
        if a.usd is None:
            unpriced += 1
            continue
        row["usd"] += a.usd
        total += a.usd
    for row in by_model.values():
        row["usd"] = _r(row["usd"])
    return {"total_usd": _r(total), "per_1k_requests_usd": _r(per_1k(total, len(answers))), "by_model": by_model,
            "unpriced": unpriced, "source": LEGACY_SOURCE}


def new_totals(answers: list[Answer], table: PriceTable) -> dict[str, Any]:
    """The new stack: each answer's usage x its tier's price; cache hits cost 0 and count as saved."""
    from orchestrator.pricing import answer_cost

    by_tier: dict[str, dict[str, Any]] = {}
    total = saved = 0.0
    hits = unpriced = 0
    for a in answers:
        row = by_tier.setdefault(a.name, {"requests": 0, "usd": 0.0, "input_tokens": 0, "output_tokens": 0,
                                          "cache_hits": 0, "saved_usd": 0.0})
        row["requests"] += 1
        if a.cached:
            hits += 1
            row["cache_hits"] += 1
            would = answer_cost(table, a.name, a.saved_usage)
            if would is not None:
                saved += would
                row["saved_usd"] += would
            continue
        row["input_tokens"] += a.prompt_tokens
        row["output_tokens"] += a.completion_tokens
        usd = answer_cost(table, a.name, {"prompt_tokens": a.prompt_tokens, "completion_tokens": a.completion_tokens})
        if usd is None:
            unpriced += 1
            continue
        row["usd"] += usd
        total += usd
    for row in by_tier.values():
        row["usd"], row["saved_usd"] = _r(row["usd"]), _r(row["saved_usd"])
    return {"total_usd": _r(total), "per_1k_requests_usd": _r(per_1k(total, len(answers))), "by_tier": by_tier,
            "cache_hits": hits, "saved_usd": _r(saved), "unpriced": unpriced, "source": NEW_SOURCE}


def comparison(*, measured_at: float, requests: int, mix: dict[str, Any], table: PriceTable, legacy: list[Answer],
               new: list[Answer]) -> dict[str, Any]:
    """The `cost.comparison` evidence (the report reads exactly these keys)."""
    lg, nw = legacy_totals(legacy), new_totals(new, table)
    eff = efficiency(nw["total_usd"], lg["total_usd"]) if not (lg["unpriced"] or nw["unpriced"]) else None
    return {"measured_at": measured_at, "requests": requests, "mix": mix,
            "prices": {"source": PRICE_SOURCE, "taken_on": table.taken_on.isoformat()},
            "legacy": lg, "new": nw, "efficiency": None if eff is None else round(eff, 6)}


def comparison_message(ev: dict[str, Any]) -> str:
    lg, nw, eff = ev["legacy"], ev["new"], ev["efficiency"]
    if eff is None:
        why = (f"{lg['unpriced']} legacy and {nw['unpriced']} new answers had no price"
               if lg["unpriced"] or nw["unpriced"] else "the legacy stack cost nothing")
        return f"cost efficiency not measured: {why}"
    return (f"{ev['requests']} requests per stack: legacy ${lg['total_usd']:.6f}, new ${nw['total_usd']:.6f} "
            f"(saved ${nw['saved_usd']:.6f} on {nw['cache_hits']} cache hits): {eff:+.1%}")


# --- the daily budget ---------------------------------------------------------------------------

@dataclass(frozen=True)
class BudgetVerdict:
    status: str               # within | exceeded | unmeasured | no_budget
    spend_usd: float | None
    budget_usd: float | None
    source: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "spend_usd": self.spend_usd, "budget_usd": self.budget_usd,
                "source": self.source, "message": self.message}


def judge_budget(spend_usd: float | None, budget_usd: float | None, source: str, why: str = "") -> BudgetVerdict:
    """Today's spend against the budget. `spend_usd` None (nothing could be read: `why`) is
    `unmeasured`, whatever the budget; no budget set is `no_budget`, never `within`."""
    if spend_usd is None:
        return BudgetVerdict("unmeasured", None, budget_usd, source, f"not measured: {why or 'no spend reading'}")
    spend = round(spend_usd, 6)
    if budget_usd is None:
        return BudgetVerdict("no_budget", spend, None, source,
                             f"spent ${spend:.4f}; no daily budget is set (cost_daily_budget_usd)")
    if spend_usd > budget_usd:
        return BudgetVerdict("exceeded", spend, budget_usd, source,
                             f"spent ${spend:.4f}, OVER the daily budget of ${budget_usd:.2f} "
                             f"({spend_usd / budget_usd:.0%})")
    return BudgetVerdict("within", spend, budget_usd, source,
                         f"spent ${spend:.4f} of the daily budget of ${budget_usd:.2f} ({spend_usd / budget_usd:.0%})")


def spend_from_samples(samples: list[tuple[str, dict[str, Any], float]]) -> tuple[float | None, dict[str, Any]]:
    """Sum of `cato_cost_usd_total` over tiers from parsed /metrics samples (name, labels, value), and the
    per-tier figures; None when the orchestrator exports no cost series (prices not configured)."""
    by_tier = {lbl.get("tier", ""): v for name, lbl, v in samples if name == "cato_cost_usd_total"}
    if not by_tier:
        return None, {}
    return sum(by_tier.values()), by_tier
