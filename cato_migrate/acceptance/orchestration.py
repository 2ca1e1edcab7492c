"""The orchestration suite (runbook week 4): what a LiteLLM client relies on, end to end.

Health; an OpenAI-shaped completion; streaming in more than one delta; session context;
simple -> Haiku and complex -> Sonnet; live Prometheus counters; an admin API that refuses
a caller without the token.
"""
from __future__ import annotations

import re

from cato_migrate.core import probes
from cato_migrate.acceptance.suite import nonce
from cato_migrate.core.probes import COMPLEX, ProbeResult

_TIERS = {"bedrock_haiku", "bedrock_sonnet", "shadow_self"}
_COUNTERS = ("cato_requests_total", "cato_request_latency_seconds", "cato_cache_lookups_total",
             "cato_breaker_state")


def case_health(api) -> ProbeResult:
    return probes.probe_health(api)


def case_openai_completion(api) -> ProbeResult:
    r = api.chat(f"What is 2+2? (acceptance {nonce()})")
    choice = (r.get("choices") or [{}])[0]
    msg = choice.get("message") or {}
    problems = [p for p, bad in [
        ("object is not chat.completion", r.get("object") != "chat.completion"),
        ("no id", not r.get("id")),
        (f"model {r.get('model')!r} is not a tier", r.get("model") not in _TIERS),
        ("message is not from the assistant", msg.get("role") != "assistant"),
        ("empty content", not (isinstance(msg.get("content"), str) and msg["content"].strip())),
        ("finish_reason is not stop", choice.get("finish_reason") != "stop"),
        ("no usage", not isinstance(r.get("usage"), dict)),
    ] if bad]
    return ProbeResult("openai_completion", not problems,
                       "OpenAI chat.completion shape" + (": " + "; ".join(problems) if problems else " ok"),
                       evidence={"model": r.get("model"), "content": msg.get("content"), "problems": problems})


def case_streaming(api) -> ProbeResult:
    s = api.chat_stream(f"{COMPLEX[0]} (acceptance {nonce()})")
    n = len(s["deltas"])
    ok = n > 1 and s["done"]
    return ProbeResult("streaming", ok, f"{n} content deltas, [DONE] {'received' if s['done'] else 'MISSING'}"
                       + ("" if n > 1 else " (expected more than one delta)"), float(n),
                       {"deltas": n, "done": s["done"], "model": s["model"], "text": "".join(s["deltas"])[:200]})


def case_session_context(api) -> ProbeResult:
    return probes.probe_context(api)


def case_routing(api) -> ProbeResult:
    return probes.probe_routing(api)


def _requests_total(text: str) -> float:
    return sum(float(v) for v in re.findall(r"^cato_requests_total\{[^}]*\}\s+([0-9.eE+-]+)$", text, re.M))


def case_metrics(api) -> ProbeResult:
    before = _requests_total(api.metrics_text())
    api.chat(f"What is 3+4? (acceptance {nonce()})")
    text = api.metrics_text()
    after = _requests_total(text)
    missing = [c for c in _COUNTERS if c not in text]
    ok = not missing and after > before
    return ProbeResult("metrics", ok, f"/metrics cato_requests_total {before:g} -> {after:g}"
                       + (f"; missing {', '.join(missing)}" if missing else "")
                       + ("" if after > before else " (a request did not move the counter)"),
                       evidence={"before": before, "after": after, "missing": missing})


def case_admin_needs_token(api) -> ProbeResult:
    code = api.status_without_token("/admin/breakers")
    return ProbeResult("admin_needs_token", code == 401,
                       f"/admin/breakers without a token answered {code}" + ("" if code == 401 else " (expected 401)"),
                       evidence={"status": code})


CASES = [case_health, case_openai_completion, case_streaming, case_session_context, case_routing, case_metrics,
         case_admin_needs_token]
