"""Runbook week 4: load test the stack, judged by the runbook's own rollback triggers.

Drives concurrent chat completions at the orchestrator and records p50/p95/p99, error rate
and throughput; verify fails if the run would have fired a rollback trigger (error rate
> 1%, p99 > 2 s, as `runbook.yaml` states them, not as this file remembers them).
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from cato_migrate.core.kinds import StepKind, Verification, register_step
from cato_migrate.core.model import CoreModel
from cato_migrate.errors import BadInput

# The trigger metrics this step measures, and the summary field that holds each.
_MEASURES = {"error_rate": "error_rate", "p99_latency_ms": "p99_ms"}


class LoadParams(CoreModel):
    target: Literal["orchestrator"] = Field(description="What to load: the orchestrator's OpenAI-compatible API.")
    concurrency: int = Field(default=10, ge=1, le=2000, description="Virtual users sending at once.")
    requests: int = Field(default=200, ge=1, description="Requests to send in all (fewer if duration_s runs out first).")
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

    def plan(self, step, params, ctx) -> str:
        limit = f" or {params.duration_s:g}s" if params.duration_s else ""
        return (f"send {params.requests} chat completions{limit} at the {params.target}, {params.concurrency} at once "
                f"({params.repeat_share:.0%} repeats); fail on the runbook's rollback triggers")

    def _run(self, params, ctx):
        from cato_migrate.acceptance.load import LoadPlan, drive

        api = ctx.services.orchestrator_api()
        base = api.base_url
        ctx.progress(f"load test: {params.requests} requests, {params.concurrency} concurrent, at {base}")
        plan = LoadPlan(requests=params.requests, concurrency=params.concurrency, duration_s=params.duration_s,
                        repeat_share=params.repeat_share, timeout_s=params.timeout_s)
        return base, drive(base, plan, progress=ctx.progress, warmup=1, api_key=api.api_key)

    def apply(self, step, params, ctx) -> dict:
        base, self._summary = self._run(params, ctx)
        return {"target": base, "concurrency": params.concurrency, **self._summary.model_dump()}

    def verify(self, step, params, ctx) -> Verification:
        s = self._summary or self._run(params, ctx)[1]
        fired = judge(s, trigger_limits(ctx.runbook))
        figures = (f"{s.requests} requests, {s.errors} errors ({s.error_rate:.2%}), p50 {s.p50_ms} ms, "
                   f"p95 {s.p95_ms} ms, p99 {s.p99_ms} ms, {s.throughput_rps} rps")
        msg = figures + ("; rollback triggers FIRED: " + "; ".join(fired) if fired else "; rollback triggers clear")
        return Verification(not fired, msg, {"triggers_fired": fired})
