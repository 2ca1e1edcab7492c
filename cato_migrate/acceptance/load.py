"""Drive chat completions at an OpenAI-compatible API (the orchestrator, or LiteLLM) and time
each one, end to end; ramp the concurrency to find where a stack stops meeting its target.

Used by the `load_test` step, the `latency_p99` / `error_rate` checks and `no_regression`
(`compare`: both stacks under one plan, interleaved). Queries carry a per-run tag and a sequence number, so they miss the
semantic cache (its guard refuses a match whose numbers differ) and measure the full path:
routing, cache lookup, model call, memory write. `repeat_share` re-sends earlier queries
verbatim to add cache hits in a known proportion. One pooled aiohttp session: measured here,
httpx's pool costs ~100x more CPU per request at high concurrency and would time itself.
"""
from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import replace as _replace

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
    model: str = "cato"  # "cato" lets the orchestrator route; a LiteLLM model name works on both stacks


def is_repeat(i: int, repeat_share: float) -> bool:
    return i > 0 and int((i + 1) * repeat_share) > int(i * repeat_share)


def query_for(i: int, tag: str, repeat_share: float) -> str:
    """The i-th query: unique, except that a `repeat_share` of them re-send an earlier one."""
    while is_repeat(i, repeat_share):
        i //= 2  # back to an earlier query that was itself sent, verbatim: a hit if the cache works
    return f"{TEMPLATES[i % len(TEMPLATES)]} (load {tag} #{i})"


async def _one(session, url: str, query: str, sid: str | None, timeout, auth: dict[str, str],
               model: str = "cato") -> Sample:
    import aiohttp

    headers = {**auth, **({"x-session-id": sid} if sid else {})}
    body = {"model": model, "messages": [{"role": "user", "content": query}]}
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
            samples.append(await _one(session, url, query_for(i, tag, plan.repeat_share), turn_sid, timeout, auth,
                                      plan.model))
            if len(samples) % max(1, plan.requests // 10) == 0:
                progress(f"{len(samples)}/{plan.requests} requests")

    connector = aiohttp.TCPConnector(limit=plan.concurrency, force_close=False)
    async with aiohttp.ClientSession(connector=connector, trust_env=False) as session:
        await asyncio.gather(*(user(k, session) for k in range(plan.concurrency)))
    return samples, time.perf_counter() - t0


def _samples(base_url: str, plan: LoadPlan, *, progress: Callable[[str], None] = lambda m: None,
             warmup: int = 0, api_key: str = "", tag: str | None = None) -> tuple[list[Sample], float]:
    try:
        import aiohttp  # noqa: F401
    except ImportError as exc:
        raise BadInput("measuring the orchestrator needs aiohttp", hint="pip install 'cato-migrate[orchestrator]'") from exc
    tag = tag or nonce()
    auth = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    if warmup:
        asyncio.run(_drive(base_url, LoadPlan(requests=warmup, timeout_s=plan.timeout_s, sessions=False,
                                              model=plan.model), tag + "w", lambda m: None, auth))
    return asyncio.run(_drive(base_url, plan, tag, progress, auth))


def drive(base_url: str, plan: LoadPlan, *, progress: Callable[[str], None] = lambda m: None,
          warmup: int = 0, api_key: str = "") -> LatencySummary:
    """Run the plan and summarise it; `warmup` requests go first and are not counted (a cold
    replica's first request loads models and opens pools, which is start-up, not latency)."""
    return summarise(*_samples(base_url, plan, progress=progress, warmup=warmup, api_key=api_key))


# --- how many samples a p99 needs ---------------------------------------------------------------

P99_MIN_OK = 1000
"""Fewest successful requests a p99 is judged on. A nearest-rank p99 over n samples is the
ceil(0.99 n)-th; it rests on the n - ceil(0.99 n) + 1 slowest requests. Below 100 samples it IS
the slowest request; at 1,000 ten requests sit at or above it, so one stray slow request moves
it by one rank instead of deciding it. Our rule: >= 10 samples slower than the p99."""


def p99_support(n_ok: int) -> int:
    """How many samples rank above a nearest-rank p99 over `n_ok` (the rule above wants 10)."""
    return n_ok - max(1, math.ceil(0.99 * n_ok)) if n_ok else 0


# --- ramp: the highest concurrency that still meets the target -----------------------------------

@dataclass(frozen=True)
class RampStep:
    concurrency: int
    summary: LatencySummary
    ok: bool
    why: str  # what the level met or missed


@dataclass(frozen=True)
class RampResult:
    steps: tuple[RampStep, ...]
    sustained: int | None  # highest level that met the target (None: not even the first)
    target_p99_ms: float
    max_error_rate: float

    def as_evidence(self) -> dict:
        return {"sustained_concurrency": self.sustained, "target_p99_ms": self.target_p99_ms,
                "max_error_rate": self.max_error_rate,
                "levels": [{"concurrency": s.concurrency, "ok": s.ok, "why": s.why, "requests": s.summary.requests,
                            "errors": s.summary.errors, "p50_ms": s.summary.p50_ms, "p99_ms": s.summary.p99_ms,
                            "throughput_rps": s.summary.throughput_rps} for s in self.steps]}


def judge_level(s: LatencySummary, target_p99_ms: float, max_error_rate: float, min_ok: int) -> tuple[bool, str]:
    """Pure: does one level's run meet the target? Too few answers is a miss, never a pass."""
    if s.ok < min_ok:
        return False, f"only {s.ok} of {s.requests} answered (a p99 needs {min_ok})"
    if s.error_rate > max_error_rate:
        return False, f"errors {s.error_rate:.2%} > {max_error_rate:.0%} ({s.error_kinds})"
    if s.p99_ms >= target_p99_ms:
        return False, f"p99 {s.p99_ms:g} ms >= {target_p99_ms:g} ms"
    return True, f"p99 {s.p99_ms:g} ms < {target_p99_ms:g} ms, errors {s.error_rate:.2%}"


def ramp(base_url: str, levels: list[int], *, requests_per_level: int, target_p99_ms: float,
         max_error_rate: float = 0.01, min_ok: int | None = None, api_key: str = "", model: str = "cato",
         timeout_s: float = 30.0, repeat_share: float = 0.0,
         progress: Callable[[str], None] = lambda m: None) -> RampResult:
    """Step the concurrency up through `levels` (ascending); stop at the first level that misses
    the target (p99 >= target, errors > max_error_rate, or too few answers). `sustained` is the
    last level that met it. Works on any OpenAI-compatible stack: the orchestrator or LiteLLM."""
    if not levels or sorted(levels) != list(levels) or len(set(levels)) != len(levels):
        raise BadInput(f"ramp levels must be distinct and ascending, got {levels}")
    need = min(requests_per_level, P99_MIN_OK) if min_ok is None else min_ok
    steps: list[RampStep] = []
    warm = 1
    for c in levels:
        progress(f"ramp: {requests_per_level} requests at concurrency {c}")
        plan = LoadPlan(requests=max(requests_per_level, c), concurrency=c, timeout_s=timeout_s,
                        repeat_share=repeat_share, model=model)
        s = drive(base_url, plan, warmup=warm, api_key=api_key)
        warm = 0
        ok, why = judge_level(s, target_p99_ms, max_error_rate, need)
        steps.append(RampStep(c, s, ok, why))
        progress(f"ramp: concurrency {c}: {why}")
        if not ok:
            break
    passed = [s.concurrency for s in steps if s.ok]
    return RampResult(tuple(steps), passed[-1] if passed else None, target_p99_ms, max_error_rate)


# --- compare: two stacks under one plan, interleaved ----------------------------------------------

@dataclass(frozen=True)
class Target:
    name: str
    base_url: str
    api_key: str = ""


def compare(targets: list[Target], plan: LoadPlan, *, rounds: int = 2, warmup: int = 1,
            progress: Callable[[str], None] = lambda m: None) -> dict[str, LatencySummary]:
    """Measure every target with the same plan, split into `rounds` slices sent in ABBA order
    (A B, B A, ...), so drift on the shared machine (a noisy neighbour, a warming cache) falls on
    both alike. Each target's samples are pooled; throughput is its successes over its own wall."""
    if rounds < 1 or plan.requests < rounds:
        raise BadInput(f"compare needs 1 <= rounds <= requests, got {rounds} rounds of {plan.requests}")
    pooled: dict[str, list[Sample]] = {t.name: [] for t in targets}
    walls: dict[str, float] = {t.name: 0.0 for t in targets}
    tag = nonce()
    for r in range(rounds):
        order = targets if r % 2 == 0 else list(reversed(targets))
        share = plan.requests // rounds + (1 if r < plan.requests % rounds else 0)
        for t in order:
            progress(f"round {r + 1}/{rounds}: {share} requests at {t.name} ({t.base_url}), {plan.concurrency} at once")
            # The same queries go to both stacks (one tag per round), so neither gets easier text.
            samples, wall = _samples(t.base_url, _replace(plan, requests=share), warmup=warmup if r == 0 else 0,
                                     api_key=t.api_key, tag=f"{tag}r{r}")
            pooled[t.name] += samples
            walls[t.name] += wall
    return {name: summarise(pooled[name], walls[name]) for name in pooled}


def main(argv: list[str] | None = None) -> int:
    """`python -m cato_migrate.acceptance.load URL --levels 10,25,50,100,200 ...`: a ramp against
    any stack, JSON on stdout (the sandbox's LiteLLM: --key-file <work_dir>/litellm.key
    --model claude-3-haiku). Exit 0 when at least the first level met the target."""
    import argparse
    import json
    import sys
    from pathlib import Path

    ap = argparse.ArgumentParser(prog="python -m cato_migrate.acceptance.load", description=main.__doc__)
    ap.add_argument("url", help="base URL of an OpenAI-compatible API (orchestrator, LiteLLM, gateway)")
    ap.add_argument("--levels", default="10,25,50,100,200", help="ascending concurrencies, comma-separated")
    ap.add_argument("--requests", type=int, default=P99_MIN_OK, help="requests per level")
    ap.add_argument("--target-p99-ms", type=float, default=1000.0, help="p99 bound (runbook target: < 1 s)")
    ap.add_argument("--max-error-rate", type=float, default=0.01, help="error bound (rollback trigger: 1%%)")
    ap.add_argument("--key-file", type=Path, help="file holding the bearer key (e.g. <work_dir>/litellm.key)")
    ap.add_argument("--model", default="cato", help="model name to send (LiteLLM: claude-3-haiku)")
    a = ap.parse_args(argv)
    key = a.key_file.read_text().strip() if a.key_file else ""
    res = ramp(a.url, [int(x) for x in a.levels.split(",")], requests_per_level=a.requests,
               target_p99_ms=a.target_p99_ms, max_error_rate=a.max_error_rate, api_key=key, model=a.model,
               progress=lambda m: print(m, file=sys.stderr))
    print(json.dumps(res.as_evidence(), indent=2))
    return 0 if res.sustained is not None else 1


if __name__ == "__main__":
    raise SystemExit(main())
