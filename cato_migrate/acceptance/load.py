"""Drive chat completions at an orchestrator's HTTP API and time each one, end to end.

Used by the `load_test` step (many concurrent) and the `latency_p99` / `error_rate` checks
(few, sequential). Queries carry a per-run tag and a sequence number, so they miss the
semantic cache (its guard refuses a match whose numbers differ) and measure the full path:
routing, cache lookup, model call, memory write. `repeat_share` re-sends earlier queries
verbatim to add cache hits in a known proportion. One pooled aiohttp session: measured here,
httpx's pool costs ~100x more CPU per request at high concurrency and would time itself.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from cato_migrate.acceptance.suite import nonce
from cato_migrate.core.latency import LatencySummary, Sample, summarise
from cato_migrate.errors import BadInput

TEMPLATES = ["What is the capital of France?", "How do I reverse a list in Python?", "What is 17 times 3?",
             "Explain the implications of quantum computing on cryptography",
             "Summarise the causes of inflation", "Translate 'good morning' into Spanish.",
             "Compare event sourcing and CRUD for a banking ledger and analyse the trade-offs",
             "What is photosynthesis?"]


@dataclass(frozen=True)
class LoadPlan:
    requests: int
    concurrency: int = 1
    duration_s: float | None = None  # stop starting new requests after this long
    repeat_share: float = 0.0
    timeout_s: float = 30.0
    sessions: bool = True  # each virtual user keeps one session, as a LiteLLM client would


def is_repeat(i: int, repeat_share: float) -> bool:
    return i > 0 and int((i + 1) * repeat_share) > int(i * repeat_share)


def query_for(i: int, tag: str, repeat_share: float) -> str:
    """The i-th query: unique, except that a `repeat_share` of them re-send an earlier one."""
    while is_repeat(i, repeat_share):
        i //= 2  # back to an earlier query that was itself sent, verbatim: a hit if the cache works
    return f"{TEMPLATES[i % len(TEMPLATES)]} (load {tag} #{i})"


async def _one(session, url: str, query: str, sid: str | None, timeout, auth: dict[str, str]) -> Sample:
    import aiohttp

    headers = {**auth, **({"x-session-id": sid} if sid else {})}
    body = {"model": "cato", "messages": [{"role": "user", "content": query}]}
    t0 = time.perf_counter()
    try:
        async with session.post(url, json=body, headers=headers, timeout=timeout) as r:
            data = await r.json(content_type=None) if r.status == 200 else await r.read()
            dt = time.perf_counter() - t0
            if r.status != 200:
                return Sample(dt, False, f"http_{r.status}")
            if not (data.get("choices") or [{}])[0].get("message", {}).get("content"):
                return Sample(dt, False, "empty_answer")
            return Sample(dt, True, cached=bool((data.get("cato") or {}).get("cached")))
    except asyncio.TimeoutError:
        return Sample(time.perf_counter() - t0, False, "timeout")
    except aiohttp.ClientError as exc:
        return Sample(time.perf_counter() - t0, False, "connection" if "connect" in str(exc).lower()
                      else type(exc).__name__)
    except ValueError:
        return Sample(time.perf_counter() - t0, False, "bad_json")


async def _drive(base_url: str, plan: LoadPlan, tag: str, progress: Callable[[str], None],
                 auth: dict[str, str]) -> tuple[list[Sample], float]:
    import aiohttp

    url = base_url.rstrip("/") + "/v1/chat/completions"
    samples: list[Sample] = []
    counter = iter(range(plan.requests))
    t0 = time.perf_counter()
    timeout = aiohttp.ClientTimeout(total=plan.timeout_s)

    async def user(k: int, session) -> None:
        sid = f"load-{tag}-{k}" if plan.sessions else None
        for i in counter:  # shared iterator: each index is taken by exactly one virtual user
            if plan.duration_s is not None and time.perf_counter() - t0 >= plan.duration_s:
                return
            # A repeated (popular) question opens a new conversation, as a new user's first question
            # does: an answer shaped by a session's history is never shared (orchestrator/cache_policy.py).
            turn_sid = None if is_repeat(i, plan.repeat_share) else sid
            samples.append(await _one(session, url, query_for(i, tag, plan.repeat_share), turn_sid, timeout, auth))
            if len(samples) % max(1, plan.requests // 10) == 0:
                progress(f"{len(samples)}/{plan.requests} requests")

    connector = aiohttp.TCPConnector(limit=plan.concurrency, force_close=False)
    async with aiohttp.ClientSession(connector=connector, trust_env=False) as session:
        await asyncio.gather(*(user(k, session) for k in range(plan.concurrency)))
    return samples, time.perf_counter() - t0


def drive(base_url: str, plan: LoadPlan, *, progress: Callable[[str], None] = lambda m: None,
          warmup: int = 0, api_key: str = "") -> LatencySummary:
    """Run the plan and summarise it; `warmup` requests go first and are not counted (a cold
    replica's first request loads models and opens pools, which is start-up, not latency)."""
    try:
        import aiohttp  # noqa: F401
    except ImportError as exc:
        raise BadInput("measuring the orchestrator needs aiohttp", hint="pip install 'cato-migrate[orchestrator]'") from exc
    tag = nonce()
    auth = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    if warmup:
        asyncio.run(_drive(base_url, LoadPlan(requests=warmup, timeout_s=plan.timeout_s, sessions=False), tag + "w",
                           lambda m: None, auth))
    samples, wall = asyncio.run(_drive(base_url, plan, tag, progress, auth))
    return summarise(samples, wall)
