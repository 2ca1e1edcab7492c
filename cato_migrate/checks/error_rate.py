"""Rollback trigger "error rate > 1%": the error ratio of a short probe run at the target.

Same measurement as `latency_p99` (unique completions, end to end through the API); measured
is errors / requests, which the runbook's threshold judges. A run where nothing could be sent
is "waiting", not a zero.
"""
from __future__ import annotations

from pydantic import Field

from cato_migrate.checks.latency_p99 import ProbeRunParams, measure
from cato_migrate.core.kinds import CheckKind, CheckResult, register_check


class ErrorRateParams(ProbeRunParams):
    max_error_rate: float = Field(default=0.01, ge=0, le=1, description="Pass bound where the runbook gives no threshold (its threshold, when given, decides).")


@register_check
class ErrorRate(CheckKind):
    name = "error_rate"
    Params = ErrorRateParams

    def evaluate(self, criterion, params, ctx) -> CheckResult:
        params = params.in_force(ctx.services.environment())
        s, what = measure(params, ctx)
        evidence = {"n": s.requests, "concurrency": params.concurrency, "errors": s.errors, "error_kinds": s.error_kinds, "what": what}
        if s.requests == 0:
            return CheckResult("waiting", "no request was sent", None, evidence)
        ok = s.error_rate <= params.max_error_rate
        return CheckResult("pass" if ok else "fail", f"{s.errors} of {s.requests} requests failed ({s.error_rate:.2%})"
                           + (f": {s.error_kinds}" if s.errors else ""), s.error_rate, evidence)
