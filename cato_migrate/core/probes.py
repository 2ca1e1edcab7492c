"""Probes of a running orchestrator, each returning (ok, measured, evidence).

They talk to the orchestrator only through its public API (an `OrchestratorApi` port); the
breaker probe plants its backend fault through a `FaultInjector` (the model simulator on the
sandbox, the orchestrator's admin fault switch elsewhere). Unique words keep one probe run from
being answered by an earlier run's cache.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from cato_migrate.backend_ports import FaultInjector, OrchestratorApi


@dataclass
class ProbeResult:
    name: str
    ok: bool
    message: str
    measured: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


def _nonce() -> str:
    return uuid.uuid4().hex[:8]


def _text(resp: dict[str, Any]) -> str:
    content: str = resp["choices"][0]["message"]["content"]
    return content


def probe_health(api: OrchestratorApi) -> ProbeResult:
    h = api.health()
    return ProbeResult("health", bool(h.get("ok")), f"healthz ok, breakers {h.get('breakers')}", evidence=h)


SIMPLE = ["What is 2+2?", "Hi there!", "What is the capital of France?", "Translate 'cat' into Spanish."]
COMPLEX = ["Explain the implications of quantum computing on cryptography",
           "Compare event sourcing and CRUD for a banking ledger and analyse the trade-offs in consistency and auditability",
           "Design a rate limiter for a multi-region API and explain how it behaves under clock skew"]


def probe_routing(api: OrchestratorApi) -> ProbeResult:
    seen = []
    for q, want in [(q, "bedrock_haiku") for q in SIMPLE] + [(q, "bedrock_sonnet") for q in COMPLEX]:
        r = api.chat(q)
        seen.append({"query": q, "expected": want, "model": r["model"], "reason": r["cato"]["route_reason"],
                     "fallback_from": r["cato"]["fallback_from"]})
    right = sum(1 for s in seen if (s["fallback_from"] or s["model"]) == s["expected"])
    ok = right == len(seen)
    return ProbeResult("routing", ok, f"{right}/{len(seen)} routed as expected (simple -> haiku, complex -> sonnet)",
                       right / len(seen), {"cases": seen})


NAMES = ["Alice", "Bartholomew", "Cressida", "Dmitri", "Eulalia", "Fitzgerald"]


def probe_context(api: OrchestratorApi) -> ProbeResult:
    session = "probe-ctx-" + _nonce()
    name = NAMES[int(_nonce(), 16) % len(NAMES)] + _nonce()[:3].capitalize()
    api.chat(f"My name is {name}", session_id=session)
    r = api.chat("What is my name?", session_id=session)
    answer = _text(r)
    other = api.chat("What is my name?", session_id=session + "-other")
    leaked = name in _text(other)
    ok = name in answer and not leaked
    msg = (f"second turn answered {answer!r}" + ("" if name in answer else f" (expected it to contain {name!r})")
           + ("; LEAKED into another session" if leaked else ""))
    return ProbeResult("context", ok, msg, evidence={"session": session, "name": name, "answer": answer,
                                                     "other_session_answer": _text(other)})


def probe_breaker(api: OrchestratorApi, faults: FaultInjector, attempts: int = 8) -> ProbeResult:
    """Fail Sonnet through the fault injector; the breaker must open within `attempts` complex
    queries and traffic must be served by Haiku meanwhile. Clears the fault and the breakers after."""
    api.reset_breakers()
    served = []
    try:
        faults.fail_tier("bedrock_sonnet", 1.0)
        for i in range(attempts):
            r = api.chat(f"{COMPLEX[i % len(COMPLEX)]} (probe {_nonce()})")
            served.append({"model": r["model"], "fallback_from": r["cato"]["fallback_from"]})
            state = api.breakers().get("bedrock_sonnet", {})
            if state.get("state") == "open":
                break
    finally:
        faults.clear()
    opened = api.breakers().get("bedrock_sonnet", {}).get("state") == "open"
    fell_back = bool(served) and all(s["model"] == "bedrock_haiku" and s["fallback_from"] == "bedrock_sonnet"
                                     for s in served)
    api.reset_breakers()
    ok = opened and fell_back
    msg = (f"sonnet breaker {'opened' if opened else 'did NOT open'} after {len(served)} failing requests; "
           f"{'all' if fell_back else 'NOT all'} served by haiku as fallback")
    return ProbeResult("breaker", ok, msg, float(len(served)), {"served": served})


PARAPHRASES = [
    ("What is Python?", "What is Python programming?"),
    ("How do I reverse a list in Python?", "How can I reverse a Python list?"),
    ("What is the boiling point of water?", "At what temperature does water boil?"),
    ("How do I make a cup of green tea?", "What is the way to make green tea?"),
    ("What causes inflation?", "What are the causes of inflation?"),
    ("How do I create a virtual environment in Python?", "How can I make a Python virtual environment?"),
    ("What is the capital of Japan?", "Which city is the capital of Japan?"),
    ("How long should I boil an egg?", "How many minutes should an egg be boiled?"),
    ("What is a black hole?", "Can you explain what a black hole is?"),
    ("How do I sort a dictionary by value in Python?", "How can I sort a Python dict by its values?"),
    ("What is photosynthesis?", "Can you explain photosynthesis?"),
    ("How do I convert Celsius to Fahrenheit?", "What is the formula to convert Celsius to Fahrenheit?"),
    ("What are the symptoms of dehydration?", "What symptoms does dehydration cause?"),
    ("How do I undo the last git commit?", "How can I undo my last commit in git?"),
    ("Who wrote Pride and Prejudice?", "Who is the author of Pride and Prejudice?"),
    ("What is the difference between a list and a tuple in Python?", "How does a Python list differ from a tuple?"),
    ("How many bones are in the human body?", "How many bones does the human body have?"),
    ("What is compound interest?", "Can you explain compound interest?"),
    ("How do I remove duplicates from a list in Python?", "How can I delete duplicate items from a Python list?"),
    ("What is the tallest mountain in the world?", "Which mountain is the tallest in the world?"),
]


def probe_cache(api: OrchestratorApi, pairs: list[tuple[str, str]] = PARAPHRASES) -> ProbeResult:
    """Ask each question, then its paraphrase: the paraphrase should be answered from the cache.

    Both carry this run's reference (a fresh code name), so nothing an earlier run cached can
    answer them: an exact repeat of last run's paraphrase would score a hit without any
    paraphrase matching. The guard reads the reference as a named thing, equal within a pair."""
    ref = f"(ref probe-{_nonce()})"
    hits, rows = 0, []
    for first, second in pairs:
        api.chat(f"{first} {ref}")
        r = api.chat(f"{second} {ref}")
        hit = bool(r["cato"]["cached"])
        hits += hit
        rows.append({"first": first, "second": second, "cached": hit})
    rate = hits / len(pairs)
    return ProbeResult("cache", rate > 0.8, f"paraphrase hit rate {rate:.0%} ({hits}/{len(pairs)})", rate,
                       {"pairs": rows, "ref": ref})
