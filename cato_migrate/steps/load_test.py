"""Runbook week 4: load test the stack, judged by the runbook's own rollback triggers.

Drives concurrent chat completions at the orchestrator and records p50/p95/p99, error rate
and throughput; verify fails if the run would have fired a rollback trigger (error rate
> 1%, p99 > 2 s, as `runbook.yaml` states them, not as this file remembers them).

With `ramp`, it then steps the concurrency up (acceptance/load.py `ramp`) and records the
highest level whose p99 stays under `ramp_target_p99_ms` with errors <= 1%; `min_sustained`
makes a lower result fail the step. `sandbox:` replaces the load figures where the environment's
profile says so (the local sandbox).
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from cato_migrate.core.kinds import StepKind, Verification, register_step
from cato_migrate.core.model import CoreModel
from cato_migrate.errors import BadInput

# The trigger metrics this step measures, and the summary field that holds each.
_MEASURES = {"error_rate": "error_rate", "p99_latency_ms": "p99_ms"}


class LoadFigures(CoreModel):
    """The figures a sandbox override may replace."""

    concurrency: int | None = Field(default=None, ge=1, le=5000, description="Virtual users sending at once.")
    requests: int | None = Field(default=None, ge=1, description="Requests to send in all.")
    ramp: list[int] | None = Field(default=None, description="Ascending concurrency levels to ramp through.")
    ramp_requests: int | None = Field(default=None, ge=1, description="Requests per ramp level.")
    min_sustained: int | None = Field(default=None, ge=1, description="Fail if the ramp sustains less than this.")


class LoadParams(CoreModel):
    target: Literal["orchestrator"] = Field(description="What to load: the orchestrator's OpenAI-compatible API.")
    concurrency: int = Field(default=10, ge=1, le=5000, description="Virtual users sending at once.")
    requests: int = Field(default=200, ge=1, description="Requests to send in all (fewer if duration_s runs out first).")
    ramp: list[int] | None = Field(default=None, description="After the main run, ramp through these ascending concurrencies to find the highest that meets ramp_target_p99_ms.")
    ramp_requests: int = Field(default=1000, ge=1, description="Requests per ramp level (a p99 needs >= 1,000: acceptance/load.py P99_MIN_OK).")
    ramp_target_p99_ms: float = Field(default=1000.0, gt=0, description="p99 bound a ramp level must stay under.")
    min_sustained: int | None = Field(default=None, ge=1, description="Fail the step if the ramp's highest sustained concurrency is below this.")
    sandbox: LoadFigures | None = Field(default=None, description="On the local sandbox, these figures replace the ones here.")
    duration_s: float | None = Field(default=None, gt=0, description="Stop starting new requests after this many seconds.")
    repeat_share: float = Field(default=0.1, ge=0, lt=1, description="Share of requests that repeat an earlier query verbatim (cache hits); the rest are unique (misses).")
    timeout_s: float = Field(default=30.0, gt=0, description="A request slower than this counts as an error.")


def trigger_limits(runbook) -> dict[str, object]:
    """The runbook's rollback-trigger thresholds for what a load test measures, by metric."""
    found = {t.threshold.metric: t.threshold for t in runbook.meta.rollback.triggers
             if t.threshold is not None and t.threshold.metric in _MEASURES}
    missing = set(_MEASURES) - set(found)
    if missing:
        raise BadInput(f"the runbook's rollback triggers give no threshold for {', '.join(sorted(missing))}",
                       hint="add it under rollback.triggers in runbook/runbook.yaml")
    return found


def judge(summary, limits) -> list[str]:
    """Which rollback triggers this run fires (empty: clear). No successful request fires."""
    fired = []
    for metric, thr in limits.items():
        value = getattr(summary, _MEASURES[metric])
        if value is not None and thr.passes(value):
            fired.append(f"{metric} {value:g} {thr.op} {thr.value:g}")
    if summary.ok == 0:
        fired.append(f"no request succeeded ({summary.errors} errors: {summary.error_kinds})")
    return fired


@register_step
class LoadTest(StepKind):
    name = "load_test"
    Params = LoadParams
    mutating = False

    def __init__(self) -> None:
        self._summary = None
        self._ramp = None

    @staticmethod
    def _in_force(params, ctx):
        if not ctx.services.environment().sandbox_overrides or params.sandbox is None:
            return params
        return params.model_copy(update=params.sandbox.model_dump(exclude_none=True))

    def plan(self, step, params, ctx) -> str:
        params = self._in_force(params, ctx)
        limit = f" or {params.duration_s:g}s" if params.duration_s else ""
        ramp = (f"; then ramp {'/'.join(map(str, params.ramp))} ({params.ramp_requests} each) for the highest "
                f"concurrency with p99 < {params.ramp_target_p99_ms:g} ms" if params.ramp else "")
        return (f"send {params.requests} chat completions{limit} at the {params.target}, {params.concurrency} at once "
                f"({params.repeat_share:.0%} repeats){ramp}; fail on the runbook's rollback triggers")

    def _run(self, params, ctx):
        from cato_migrate.acceptance.load import LoadPlan, drive, ramp

        api = ctx.services.orchestrator_api()
        base = api.base_url
        ctx.progress(f"load test: {params.requests} requests, {params.concurrency} concurrent, at {base}")
        plan = LoadPlan(requests=params.requests, concurrency=params.concurrency, duration_s=params.duration_s,
                        repeat_share=params.repeat_share, timeout_s=params.timeout_s)
        summary = drive(base, plan, progress=ctx.progress, warmup=1, api_key=api.api_key)
        ramped = None
        if params.ramp:
            ramped = ramp(base, params.ramp, requests_per_level=params.ramp_requests,
                          target_p99_ms=params.ramp_target_p99_ms, api_key=api.api_key, timeout_s=params.timeout_s,
                          repeat_share=params.repeat_share, progress=ctx.progress)
        return base, summary, ramped

    def apply(self, step, params, ctx) -> dict:
        params = self._in_force(params, ctx)
        base, self._summary, self._ramp = self._run(params, ctx)
        return {"target": base, "concurrency": params.concurrency, **self._summary.model_dump(),
                **({"ramp": self._ramp.as_evidence()} if self._ramp else {})}

    def verify(self, step, params, ctx) -> Verification:
        params = self._in_force(params, ctx)
        if self._summary is None:
            _, self._summary, self._ramp = self._run(params, ctx)
        s, r = self._summary, self._ramp
        fired = judge(s, trigger_limits(ctx.runbook))
        figures = (f"{s.requests} requests at concurrency {params.concurrency}, {s.errors} errors ({s.error_rate:.2%}), "
                   f"p50 {s.p50_ms} ms, p95 {s.p95_ms} ms, p99 {s.p99_ms} ms, {s.throughput_rps} rps")
        msg = figures + ("; rollback triggers FIRED: " + "; ".join(fired) if fired else "; rollback triggers clear")
        evidence: dict = {"triggers_fired": fired}
        short = False
        if r is not None:
            evidence["ramp"] = r.as_evidence()
            msg += (f"; ramp: highest concurrency with p99 < {r.target_p99_ms:g} ms and errors <= 1%: "
                    f"{r.sustained if r.sustained is not None else 'none'} ({r.steps[-1].why} at {r.steps[-1].concurrency})")
            short = params.min_sustained is not None and (r.sustained or 0) < params.min_sustained
            if short:
                msg += f"; below the required {params.min_sustained}"
        return Verification(not fired and not short, msg, evidence)
