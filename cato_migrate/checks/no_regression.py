"""Risk register "Performance regression → extensive load testing": the new stack is no slower
than LiteLLM, measured side by side.

Both stacks get the same load plan in the same run (`acceptance/load.py` `compare`: the
requests split into rounds sent A B, B A, so drift on a shared machine falls on both), the
same queries, the same client key (both accept `Authorization: Bearer <key>`, as the gateway
sends it) and a model name both serve (`claude-3-haiku`: what LiteLLM's clients send today,
which the orchestrator maps to the same tier). `measured` is new p99 / legacy p99, judged by
the runbook's threshold (e.g. <= 1.10: at most 10% slower); the check itself also fails when
the new stack's throughput falls more than `max_throughput_drop` below legacy's, or its error
rate exceeds `max_error_rate` while legacy's does not.

Missing data is "waiting", never "pass": no legacy URL (set `legacy_url`; on the sandbox the
`litellm` component must be running: the environment profile knows where it is), no orchestrator, or fewer successful requests on either
stack than a p99 needs (P99_MIN_OK's rule unless `min_ok` says otherwise).
"""
from __future__ import annotations

from pydantic import Field

from cato_migrate.core.kinds import CheckKind, CheckResult, register_check
from cato_migrate.core.model import CoreModel


class CompareLoad(CoreModel):
    """The load figures a sandbox override may replace."""

    requests: int | None = Field(default=None, ge=2, le=100_000, description="Requests per stack.")
    concurrency: int | None = Field(default=None, ge=1, le=5000, description="Requests in flight at once, per stack.")
    rounds: int | None = Field(default=None, ge=1, le=20, description="Interleaved rounds.")
    min_ok: int | None = Field(default=None, ge=1, description="Fewest successes per stack a p99 may be computed from.")


class NoRegressionParams(CoreModel):
    requests: int = Field(default=1000, ge=2, le=100_000, description="Requests per stack (a p99 needs >= 1,000).")
    concurrency: int = Field(default=50, ge=1, le=5000, description="Requests in flight at once, per stack (one stack at a time).")
    rounds: int = Field(default=2, ge=1, le=20, description="Interleaved rounds (ABBA order) the requests are split into.")
    model: str = Field(default="claude-3-haiku", description="Model name sent to both stacks (one both serve).")
    timeout_s: float = Field(default=30.0, gt=0, description="A request slower than this counts as an error.")
    min_ok: int = Field(default=1000, ge=1, description="Fewest successes per stack a p99 may be computed from.")
    max_p99_ratio: float = Field(default=1.10, gt=0, description="Pass bound for new p99 / legacy p99 where the runbook gives no threshold (its threshold, when given, decides).")
    max_throughput_drop: float = Field(default=0.10, ge=0, lt=1, description="Fail if the new stack's throughput is below legacy's by more than this share.")
    max_error_rate: float = Field(default=0.01, ge=0, le=1, description="Fail if the new stack's error rate exceeds this while legacy's does not.")
    sandbox: CompareLoad | None = Field(default=None, description="On the local sandbox, these figures replace the ones above.")


def _figures(s) -> dict:
    return {"requests": s.requests, "ok": s.ok, "errors": s.errors, "error_rate": round(s.error_rate, 4),
            "error_kinds": s.error_kinds, "p50_ms": s.p50_ms, "p99_ms": s.p99_ms, "throughput_rps": s.throughput_rps}


def judge(new, legacy, params) -> tuple[str, str, float | None]:
    """Pure: (status, message, new p99 / legacy p99) from the two stacks' summaries."""
    need = min(params.min_ok, params.requests)
    short = [f"{name} {s.ok} of {s.requests}" for name, s in (("new", new), ("legacy", legacy)) if s.ok < need]
    if short:
        return "waiting", (f"too few successful requests to compare p99s (need {need} each): {', '.join(short)} "
                           f"({new.error_kinds or legacy.error_kinds})"), None
    ratio = round(new.p99_ms / legacy.p99_ms, 3)
    problems = []
    if new.throughput_rps < legacy.throughput_rps * (1 - params.max_throughput_drop):
        problems.append(f"throughput {new.throughput_rps:g} rps < legacy {legacy.throughput_rps:g} rps "
                        f"- {params.max_throughput_drop:.0%}")
    if new.error_rate > params.max_error_rate >= legacy.error_rate:
        problems.append(f"errors {new.error_rate:.2%} > {params.max_error_rate:.0%} (legacy {legacy.error_rate:.2%})")
    if ratio > params.max_p99_ratio:
        problems.append(f"p99 ratio {ratio:g} > {params.max_p99_ratio:g}")
    msg = (f"new p99 {new.p99_ms:g} ms vs legacy {legacy.p99_ms:g} ms (x{ratio:g}), "
           f"throughput {new.throughput_rps:g} vs {legacy.throughput_rps:g} rps, errors {new.error_rate:.2%} vs "
           f"{legacy.error_rate:.2%}" + ("; REGRESSION: " + "; ".join(problems) if problems else ""))
    return ("fail" if problems else "pass"), msg, ratio


@register_check
class NoRegression(CheckKind):
    name = "no_regression"
    Params = NoRegressionParams

    def evaluate(self, criterion, params, ctx) -> CheckResult:
        from cato_migrate.acceptance.load import LoadPlan, Target, compare

        profile = ctx.services.environment()
        if profile.sandbox_overrides and params.sandbox is not None:
            params = params.model_copy(update=params.sandbox.model_dump(exclude_none=True))
        legacy = profile.legacy_url
        if not legacy:
            return CheckResult("waiting", "no legacy stack to compare with: " + profile.legacy_hint)
        api = ctx.services.orchestrator_api()
        plan = LoadPlan(requests=params.requests, concurrency=params.concurrency, timeout_s=params.timeout_s,
                        model=params.model)
        what = (f"{params.requests} unique chat completions per stack, {params.concurrency} in flight, "
                f"{params.rounds} interleaved rounds, model {params.model}: new {api.base_url}, legacy {legacy}")
        ctx.progress(f"comparing with LiteLLM: {what}")
        out = compare([Target("new", api.base_url, api.api_key), Target("legacy", legacy, api.api_key)], plan,
                      rounds=params.rounds, progress=ctx.progress)
        status, msg, ratio = judge(out["new"], out["legacy"], params)
        evidence = {"what": what, "new": _figures(out["new"]), "legacy": _figures(out["legacy"]),
                    "p99_ratio": ratio, "max_throughput_drop": params.max_throughput_drop}
        return CheckResult(status, msg, ratio, evidence)
