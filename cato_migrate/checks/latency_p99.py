"""Exit criterion "< 500ms p99 latency" (and the rollback trigger "p99 > 2s").

Unique chat completions (cache misses) timed end to end through the orchestrator's HTTP API,
at the concurrency the runbook data states (a p99 at concurrency 2 says nothing about a stack
that must carry hundreds at once). The engine applies the runbook's threshold to `measured`
(p99 in ms). Too few successful requests is "waiting" with the reason, never a pass: a p99
over a handful of samples is the slowest request, and one over errors proves nothing
(`acceptance/load.py`, P99_MIN_OK: the rule is >= 10 samples slower than the p99).

`sandbox:` in the params replaces the load figures where the environment's profile says so (the
local sandbox, where two cores cannot hold a staging load); the evidence says which figures were used.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from cato_migrate.core.environment import EnvironmentProfile
from cato_migrate.core.kinds import CheckKind, CheckResult, register_check
from cato_migrate.core.model import CoreModel


class ProbeLoad(CoreModel):
    """The load figures a sandbox override may replace."""

    requests: int | None = Field(default=None, ge=5, le=100_000, description="Requests to time.")
    concurrency: int | None = Field(default=None, ge=1, le=5000, description="Requests in flight at once.")
    min_ok: int | None = Field(default=None, ge=1, description="Fewest successful requests a p99 may be computed from.")


class ProbeRunParams(CoreModel):
    target: Literal["orchestrator"] = Field(default="orchestrator", description="What to measure: the orchestrator's API.")
    requests: int = Field(default=40, ge=5, le=100_000, description="Requests to time (after one uncounted warm-up).")
    concurrency: int = Field(default=2, ge=1, le=5000, description="Requests in flight at once.")
    timeout_s: float = Field(default=10.0, gt=0, description="A request slower than this counts as an error.")
    sandbox: ProbeLoad | None = Field(default=None, description="On the local sandbox, these figures replace the ones above.")

    def in_force(self, profile: EnvironmentProfile):
        """The params in force under an environment profile: the sandbox override where it applies."""
        if not profile.sandbox_overrides or self.sandbox is None:
            return self
        return self.model_copy(update=self.sandbox.model_dump(exclude_none=True))


class LatencyParams(ProbeRunParams):
    min_ok: int = Field(default=30, ge=1, description="Fewest successful requests a p99 may be computed from.")
    max_p99_ms: float = Field(default=500.0, gt=0, description="Pass bound where the runbook gives no threshold (its threshold, when given, decides).")


def measure(params, ctx):
    """Time `params.requests` completions at the target; (summary, what-was-measured text)."""
    from cato_migrate.acceptance.load import LoadPlan, drive

    api = ctx.services.orchestrator_api()
    base = api.base_url
    backend = ctx.services.environment().model_backends
    what = (f"end-to-end wall time of POST {base}/v1/chat/completions, {params.requests} unique queries (cache misses), "
            f"{params.concurrency} in flight, backend {backend}")
    ctx.progress(f"timing {params.requests} requests at {base}, {params.concurrency} at once")
    plan = LoadPlan(requests=params.requests, concurrency=params.concurrency, timeout_s=params.timeout_s)
    return drive(base, plan, warmup=1, api_key=api.api_key), what


@register_check
class LatencyP99(CheckKind):
    name = "latency_p99"
    Params = LatencyParams

    def evaluate(self, criterion, params, ctx) -> CheckResult:
        params = params.in_force(ctx.services.environment())
        s, what = measure(params, ctx)
        evidence = {"n": s.requests, "ok": s.ok, "errors": s.errors, "error_kinds": s.error_kinds,
                    "concurrency": params.concurrency, "p50_ms": s.p50_ms, "p95_ms": s.p95_ms, "p99_ms": s.p99_ms,
                    "max_ms": s.max_ms, "throughput_rps": s.throughput_rps, "what": what}
        need = min(params.min_ok, params.requests)
        if s.ok < need:
            return CheckResult("waiting", f"only {s.ok} of {s.requests} requests succeeded ({s.error_kinds}); "
                               f"a p99 needs at least {need}", None, evidence)
        ok = s.p99_ms < params.max_p99_ms
        return CheckResult("pass" if ok else "fail", f"p99 {s.p99_ms:g} ms, p50 {s.p50_ms:g} ms over {s.ok} requests "
                           f"at concurrency {params.concurrency} ({s.errors} errors)", s.p99_ms, evidence)
