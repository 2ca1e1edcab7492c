"""The fixed request mix `cost measure` sends to both stacks (pure, deterministic).

Both stacks get the same requests in the same order, so their costs compare like for like:

* 10 base prompts: 5 simple (one-line facts), 4 complex (analysis, design, step-by-step), 1 in a
  Shadow Self domain (`metadata.domain = "shadow"`). The orchestrator routes them itself (model
  `cato`): simple -> Haiku, complex -> Sonnet, shadow -> Shadow Self. Legacy clients name their
  model: the one each base prompt's client sends LiteLLM today (`legacy_model`): simple prompts are
  split 3 Haiku / 2 Sonnet (not every client picks the cheap model), the rest Sonnet (LiteLLM has
  no Shadow Self).
* Fresh requests take the base prompts in turn, each with its own number ("... 17 hours?"), so no
  two fresh questions are the same: the semantic cache's guard refuses a question whose numbers
  differ, so a fresh request is never a cache hit.
* Every 4th request (25%) repeats, word for word, the fresh request two before it: the repeats are
  what the orchestrator's cache can save. LiteLLM here has no cache, so it pays for them again.
* Every request asks for at most `MAX_TOKENS` output tokens, on both stacks.
* Each run tags every prompt with its run number ("(run 1733400000)", the start time), so a second
  run is not answered from the cache the first one filled (the guard refuses differing numbers);
  within a run the repeats stay word for word.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MIX_NAME = "cato-cost-mix-v1"
MAX_TOKENS = 256
REPEAT_EVERY = 4   # request i with i % 4 == 3 repeats an earlier one: 25% of the mix
REPEAT_BACK = 2    # ... the one two positions before it (always a fresh request)


@dataclass(frozen=True)
class BasePrompt:
    kind: str          # simple | complex | shadow
    template: str      # with {n}: the fresh request's number
    legacy_model: str  # what today's client sends LiteLLM (config/litellm.yaml model_name)
    domain: str = "general"


BASE_PROMPTS: tuple[BasePrompt, ...] = (
    BasePrompt("simple", "What is the capital city of Norway? (question {n})", "claude-3-haiku"),
    BasePrompt("complex", "Analyze the trade-offs between optimistic and pessimistic locking for an inventory "
                          "service taking {n} orders per second; compare failure modes and recommend a design, "
                          "explaining why.", "claude-3-5-sonnet"),
    BasePrompt("simple", "How many minutes are in {n} hours?", "claude-3-5-sonnet"),
    BasePrompt("simple", "List three fruits whose names start with the letter B, entry {n}.", "claude-3-haiku"),
    BasePrompt("complex", "Explain step by step why a Python service leaks memory when a cache keyed by request "
                          "id grows to {n} entries, and evaluate three ways to fix the leak.", "claude-3-5-sonnet"),
    BasePrompt("shadow", "Describe the inner state a person experiences after {n} days of rumination about a "
                         "failure.", "claude-3-5-sonnet", domain="shadow"),
    BasePrompt("simple", "Give the boiling point of water in Fahrenheit, quiz item {n}.", "claude-3-haiku"),
    BasePrompt("complex", "Compare PostgreSQL logical replication with DynamoDB global tables for a {n}-region "
                          "deployment: consistency, conflict handling, cost, and operational risk. Justify a "
                          "recommendation.", "claude-3-5-sonnet"),
    BasePrompt("simple", "Name a synonym for the word happy, card {n}.", "claude-3-5-sonnet"),
    BasePrompt("complex", "Design a rollout plan for moving {n} clients from one LLM gateway to another without "
                          "downtime, and evaluate the rollback risks of each stage.", "claude-3-5-sonnet"),
)


@dataclass(frozen=True)
class MixRequest:
    index: int
    prompt: str
    kind: str
    legacy_model: str
    domain: str
    repeat_of: int | None = None  # the index this request repeats word for word


def build_mix(n: int, run: int = 0) -> list[MixRequest]:
    """The first `n` requests of the mix (the same list for the same `run`; 0: untagged)."""
    tag = f" (run {run})" if run else ""
    out: list[MixRequest] = []
    fresh = 0
    for i in range(n):
        if i % REPEAT_EVERY == REPEAT_EVERY - 1:
            src = out[i - REPEAT_BACK]
            out.append(MixRequest(i, src.prompt, src.kind, src.legacy_model, src.domain, repeat_of=src.index))
            continue
        base = BASE_PROMPTS[fresh % len(BASE_PROMPTS)]
        out.append(MixRequest(i, base.template.format(n=fresh + 1) + tag, base.kind, base.legacy_model, base.domain))
        fresh += 1
    return out


def describe(n: int, run: int = 0) -> dict[str, Any]:
    """The `mix` object journaled with a comparison."""
    reqs = build_mix(n, run)
    repeats = sum(1 for r in reqs if r.repeat_of is not None)
    kinds = {k: sum(1 for r in reqs if r.kind == k) for k in ("simple", "complex", "shadow")}
    return {"name": MIX_NAME, "prompts": len(BASE_PROMPTS), "repeated_share": round(repeats / n, 4) if n else 0.0,
            "description": (f"{n} requests cycling {len(BASE_PROMPTS)} base prompts (5 simple, 4 complex, 1 Shadow "
                            f"Self domain), each fresh one numbered so none repeats; every {REPEAT_EVERY}th request "
                            f"repeats an earlier one word for word ({repeats} repeats). Legacy: the model today's "
                            f"client names (simple 3 Haiku / 2 Sonnet, the rest Sonnet); new: model `cato`, routed. "
                            f"max_tokens {MAX_TOKENS} on both. In this run: {kinds['simple']} simple, "
                            f"{kinds['complex']} complex, {kinds['shadow']} shadow"
                            + (f"; every prompt tagged \"(run {run})\" so no earlier run's cache answers it." if run
                               else "."))}
