"""Exit criterion "< 500ms p99 latency" (and the rollback trigger "p99 > 2s").

A fresh, short, low-concurrency measurement: unique chat completions (cache misses) timed
end to end through the orchestrator's HTTP API. The engine applies the runbook's threshold
to `measured` (p99 in ms). Too few successful requests is "waiting" with the reason, never
a pass: a p99 over a handful of samples, or over errors, proves nothing.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from cato_migrate.core.kinds import CheckKind, CheckResult, register_check
from cato_migrate.core.model import CoreModel


class ProbeRunParams(CoreModel):
    target: Literal["orchestrator"] = Field(default="orchestrator", description="What to measure: the orchestrator's API.")
    requests: int = Field(default=40, ge=5, le=1000, description="Requests to time (after one uncounted warm-up).")
    concurrency: int = Field(default=2, ge=1, le=50, description="Requests in flight at once (low: latency, not capacity).")
    timeout_s: float = Field(default=10.0, gt=0, description="A request slower than this counts as an error.")


class LatencyParams(ProbeRunParams):
    min_ok: int = Field(default=30, ge=1, description="Fewest successful requests a p99 may be computed from.")
    max_p99_ms: float = Field(default=500.0, gt=0, description="Pass bound where the runbook gives no threshold (its threshold, when given, decides).")


def measure(params, ctx):
    """Time `params.requests` completions at the target; (summary, what-was-measured text)."""
    from cato_migrate.acceptance.load import LoadPlan, drive

    api = ctx.services.orchestrator_api()
    base = api.base_url
    backend = "the sandbox's model simulator" if ctx.env == "local" else f"the {ctx.env} model backends"
    what = (f"end-to-end wall time of POST {base}/v1/chat/completions, unique queries (cache misses), "
            f"{params.concurrency} in flight, backend {backend}")
    ctx.progress(f"timing {params.requests} requests at {base}")
    plan = LoadPlan(requests=params.requests, concurrency=params.concurrency, timeout_s=params.timeout_s)
    return drive(base, plan, warmup=1, api_key=api.api_key), what


@register_check
class LatencyP99(CheckKind):
    name = "latency_p99"
    Params = LatencyParams

    def evaluate(self, criterion, params, ctx) -> CheckResult:
        s, what = measure(params, ctx)
        evidence = {"n": s.requests, "ok": s.ok, "errors": s.errors, "error_kinds": s.error_kinds,
                    "p50_ms": s.p50_ms, "p95_ms": s.p95_ms, "p99_ms": s.p99_ms, "max_ms": s.max_ms,
                    "what": what}
        if s.ok < min(params.min_ok, params.requests):
            return CheckResult("waiting", f"only {s.ok} of {s.requests} requests succeeded ({s.error_kinds}); "
                               f"a p99 needs at least {min(params.min_ok, params.requests)}", None, evidence)
        ok = s.p99_ms < params.max_p99_ms
        return CheckResult("pass" if ok else "fail", f"p99 {s.p99_ms:g} ms, p50 {s.p50_ms:g} ms over {s.ok} requests "
                           f"({s.errors} errors)", s.p99_ms, evidence)
