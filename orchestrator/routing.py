"""Pick the model tier for a query: cheap Haiku, reasoning Sonnet, or Shadow Self for its domains.

The decision is a weighted sum of lexical signals (`routing_features.extract`), compared with a
threshold. No model call, no I/O: it runs on every request before anything else, so it must stay
well under a millisecond, and it must be explainable — `reason` lists every signal that fired,
so a misroute can be diagnosed from the log line alone.
"""
from __future__ import annotations

from orchestrator.ports import ModelTier, RoutingDecision
from orchestrator.routing_features import Signal, extract

# Fallback order when the primary's circuit breaker is open (see ComplexityRouter's docstring).
FALLBACKS: dict[ModelTier, tuple[ModelTier, ...]] = {
    ModelTier.BEDROCK_SONNET: (ModelTier.BEDROCK_HAIKU,),
    ModelTier.SHADOW_SELF: (ModelTier.BEDROCK_SONNET, ModelTier.BEDROCK_HAIKU),
    ModelTier.BEDROCK_HAIKU: (ModelTier.BEDROCK_SONNET,),
}

DEFAULT_SONNET_THRESHOLD = 2.0


def _fmt(x: float) -> str:
    return f"{x:.1f}"


class ComplexityRouter:
    """Stateless and deterministic: the same (query, domain) always yields the same decision.

    `shadow_self_domains`: domains (case-insensitive) whose queries always go to Shadow Self,
    whatever their complexity — that tier exists for the domain, not for difficulty.
    `sonnet_threshold`: complexity score at or above which a query goes to Sonnet. 2.0 means
    one strong signal (an analytical verb, a stack trace) needs at least one more piece of
    evidence, so a lone "why" or a single jargon word stays on Haiku.

    Fallbacks (tried in order by BreakerBoard.choose when the primary's breaker is open):
      * Sonnet -> (Haiku,): a weaker answer now beats an error.
      * Shadow Self -> (Sonnet, Haiku): keep as much reasoning ability as possible, step down.
      * Haiku -> (Sonnet,): this one falls *up*. A Haiku-routed query is well within Sonnet's
        ability, so quality does not suffer; it only costs more per token while Haiku's breaker
        is open (bounded by the cooldown). Haiku carries the bulk of traffic, so failing it all
        instead would be the worst outcome — and there is no cheaper tier to fall down to.
    """

    def __init__(self, shadow_self_domains: frozenset[str] = frozenset(),
                 sonnet_threshold: float = DEFAULT_SONNET_THRESHOLD) -> None:
        self.shadow_self_domains = frozenset(d.strip().lower() for d in shadow_self_domains)
        self.sonnet_threshold = float(sonnet_threshold)

    def score(self, query: str) -> tuple[float, tuple[Signal, ...]]:
        signals = extract(query)
        return round(sum(s.weight for s in signals), 2), signals

    def decide(self, query: str, domain: str) -> RoutingDecision:
        score, signals = self.score(query)
        fired = ", ".join(s.label for s in signals) or "no complexity signals"
        dom = (domain or "").strip().lower()
        if dom in self.shadow_self_domains:
            tier = ModelTier.SHADOW_SELF
            reason = (f"shadow_self: domain '{dom}' is configured for Shadow Self "
                      f"(complexity score {_fmt(score)}: {fired})")
        elif score >= self.sonnet_threshold:
            tier = ModelTier.BEDROCK_SONNET
            reason = f"complex (score {_fmt(score)} ≥ {_fmt(self.sonnet_threshold)}): {fired}"
        else:
            tier = ModelTier.BEDROCK_HAIKU
            reason = f"simple (score {_fmt(score)} < {_fmt(self.sonnet_threshold)}): {fired}"
        return RoutingDecision(primary_model=tier, fallbacks=FALLBACKS[tier], reason=reason, score=score)


_DEFAULT_ROUTER = ComplexityRouter()


def determine_routing(query: str, domain: str, router: ComplexityRouter | None = None) -> RoutingDecision:
    """Functional entry point (the runbook's `_determine_routing`); default router has no
    Shadow Self domains — pass a configured router to enable them."""
    return (router or _DEFAULT_ROUTER).decide(query, domain)
