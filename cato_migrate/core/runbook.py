"""The runbook as data: the desired spec the engine executes (`RunbookSpec`).

Observed progress lives in the journal (see `core.state`), never here.
"""
from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, model_validator

from cato_migrate.core.model import CoreModel

STEP_ID = r"^p[1-4]\.w([1-9]|1[0-6])\.[a-z0-9][a-z0-9-]*$"
CRITERION_ID = r"^p[1-4]\.exit\.[a-z0-9][a-z0-9-]*$"


class Threshold(CoreModel):
    metric: str = Field(description="What is measured, e.g. p99_latency_ms, cache_hit_rate.")
    op: Literal["<", "<=", ">", ">=", "=="] = Field(description="How the measurement compares to value to pass.")
    value: float = Field(description="The threshold value, in `unit`.")
    unit: str = Field(default="", description="Unit of value, for display (ms, ratio, percent).")

    def passes(self, measured: float) -> bool:
        return {
            "<": measured < self.value,
            "<=": measured <= self.value,
            ">": measured > self.value,
            ">=": measured >= self.value,
            "==": measured == self.value,
        }[self.op]

    def describe(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}{(' ' + self.unit) if self.unit else ''}"


class StepSpec(CoreModel):
    id: str = Field(pattern=STEP_ID, description="Stable id, p<phase>.w<week>.<slug>; the journal key.")
    title: str = Field(description="One line an on-call engineer reads in plans and status.")
    kind: str = Field(description="Registered step kind that plans, applies and verifies this step.")
    params: dict[str, Any] = Field(default_factory=dict, description="Parameters for the step kind, validated by its params model.")
    runbook_ref: str = Field(default="", description="The runbook text or command this step encodes.")


class WeekSpec(CoreModel):
    week: int = Field(ge=1, le=16, description="Week number in the 16-week plan.")
    title: str = Field(description="The runbook's heading for the week.")
    steps: list[StepSpec] = Field(min_length=1, description="Steps, executed in order.")


class CriterionSpec(CoreModel):
    id: str = Field(pattern=CRITERION_ID, description="Stable id, p<phase>.exit.<slug>.")
    title: str = Field(description="The runbook's wording of the exit criterion.")
    check: str = Field(description="Registered check kind that measures this criterion.")
    params: dict[str, Any] = Field(default_factory=dict, description="Parameters for the check kind.")
    threshold: Threshold | None = Field(default=None, description="Pass condition on the measured value, where the check measures a number.")


class PhaseSpec(CoreModel):
    phase: int = Field(ge=1, le=4, description="Phase number.")
    name: str = Field(description="Phase name, e.g. Infrastructure.")
    weeks: list[WeekSpec] = Field(min_length=1, description="Weeks of the phase, in order.")
    exit_criteria: list[CriterionSpec] = Field(min_length=1, description="What must pass before the next phase's traffic moves.")

    @model_validator(mode="after")
    def _ids_belong_to_phase(self) -> "PhaseSpec":
        for week in self.weeks:
            for step in week.steps:
                prefix = f"p{self.phase}.w{week.week}."
                if not step.id.startswith(prefix):
                    raise ValueError(f"step id {step.id!r} must start with {prefix!r}")
        for crit in self.exit_criteria:
            if not crit.id.startswith(f"p{self.phase}.exit."):
                raise ValueError(f"criterion id {crit.id!r} must start with 'p{self.phase}.exit.'")
        return self

    def steps(self) -> list[tuple[WeekSpec, StepSpec]]:
        return [(w, s) for w in self.weeks for s in w.steps]


class RollbackTrigger(CoreModel):
    id: str = Field(description="Stable id of the trigger.")
    title: str = Field(description="The runbook's wording.")
    check: str = Field(description="Registered check kind that measures the trigger's metric.")
    params: dict[str, Any] = Field(default_factory=dict, description="Parameters for the check kind.")
    threshold: Threshold | None = Field(default=None, description="The trigger FIRES when this condition holds.")


class RollbackSpec(CoreModel):
    quick_budget_seconds: int = Field(gt=0, description="Runbook budget for the quick rollback (< 5 minutes).")
    full_budget_seconds: int = Field(gt=0, description="Runbook budget for the full rollback (< 1 hour).")
    triggers: list[RollbackTrigger] = Field(description="Conditions that call for a rollback.")


class AnalysisSpec(CoreModel):
    """`canary analyze`: the new stack against legacy over the same window."""

    window_seconds: float = Field(gt=0, description="Trailing window both stacks are compared over.")
    min_requests: dict[Literal["latency", "error_rate"], int] = Field(
        description="Least requests each stack must have served in the window before a metric is compared "
                    "(fewer: that metric is waiting).")
    alpha: float = Field(gt=0, lt=1, description="Significance level of both tests (two-sided).")
    latency_marginal_effect: float = Field(
        gt=0.5, lt=1, description="Common-language effect size P(a new request is slower than a legacy one) at "
                                  "or above which a significant slowdown is marginal (Vargha-Delaney: 0.56 small).")
    latency_fail_effect: float = Field(
        gt=0.5, lt=1, description="Effect size at or above which a significant slowdown fails (0.64 medium).")
    error_rate_marginal_diff: float = Field(
        ge=0, le=1, description="New minus legacy error rate at or above which a significant difference is marginal.")
    error_rate_fail_diff: float = Field(
        ge=0, le=1, description="New minus legacy error rate at or above which a significant difference fails.")

    @model_validator(mode="after")
    def _ordered(self) -> "AnalysisSpec":
        if self.latency_fail_effect < self.latency_marginal_effect:
            raise ValueError("latency_fail_effect must be >= latency_marginal_effect")
        if self.error_rate_fail_diff < self.error_rate_marginal_diff:
            raise ValueError("error_rate_fail_diff must be >= error_rate_marginal_diff")
        return self


class CanaryAnalysisSpec(CoreModel):
    """How the canary is watched (`canary watch`), analysed (`canary analyze`) and promoted (`canary set`)."""

    window_seconds: float = Field(gt=0, description="`canary watch`: trailing window each interval's triggers are evaluated over.")
    interval_seconds: float = Field(gt=0, description="`canary watch`: default seconds between evaluations.")
    min_requests: int = Field(ge=1, description="Least requests a stack must have served in the window before its "
                                                "triggers are evaluated; fewer is `waiting`, never `clear`.")
    consecutive_breaches: int = Field(ge=1, description="N: a trigger that fires on the new stack in N consecutive "
                                                        "evaluations (no clear one between) decides a rollback.")
    unmeasured_policy: Literal["hold", "rollback"] = Field(
        description="When the metrics cannot be read: hold (no rollback, never clear) or rollback after "
                    "`unmeasured_intervals` consecutive unmeasured evaluations.")
    unmeasured_intervals: int = Field(ge=1, description="Consecutive unmeasured evaluations before the "
                                                        "`rollback` policy rolls back.")
    min_soak_minutes: dict[int, float] = Field(
        description="Per traffic stage (percentage): strategy minutes it must have served before the next raise "
                    "(on the sandbox a strategy minute lasts CATO_SANDBOX_MINUTE_SECONDS).")
    first_raise_attestation: str = Field(description="Attest step that must be signed before the first raise from 0%.")
    analysis: AnalysisSpec = Field(description="The new-against-legacy comparison the promotion gate needs to pass.")


_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


class MetricsQueries(CoreModel):
    """PromQL for the per-stack figures a canary is judged on (`canary watch`, `canary analyze`).

    Templates, not queries: `{stack}` becomes legacy or new and `{window}` a PromQL duration such as
    60s. Prometheus' HTTP API answers them (adapters/prometheus_metrics.py); the gateway-scrape
    fallback computes the same figures from the same series without them.
    """

    requests: str = Field(description="Requests a stack completed in the window (ok + error): one number.")
    errors: str = Field(description="Requests a stack failed in the window (outcome=error): one number.")
    latency_buckets: str = Field(description="Increase of the latency histogram's buckets in the window, one sample per `le` (sum by (le)); p50/p99 are computed from it.")
    complaints: str = Field(description="User complaints recorded for a stack in the window: one number.")
    cache_hits: str = Field(description="Semantic-cache hits in the window (the new stack only; no {stack}).")
    cache_lookups: str = Field(description="Semantic-cache lookups in the window (the new stack only; no {stack}).")

    @model_validator(mode="after")
    def _placeholders(self) -> "MetricsQueries":
        for name in type(self).model_fields:
            text = getattr(self, name)
            unknown = sorted(set(_PLACEHOLDER.findall(text)) - {"stack", "window"})
            if unknown:
                raise ValueError(f"metrics.{name}: unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)}; "
                                 "use {stack} and {window}")
            if "{window}" not in text:
                raise ValueError(f"metrics.{name}: needs a {{window}} placeholder (e.g. [{{window}}])")
            if name not in ("cache_hits", "cache_lookups") and "{stack}" not in text:
                raise ValueError(f"metrics.{name}: needs a {{stack}} placeholder (figures are per stack)")
        return self

    def render(self, name: str, stack: str, window_seconds: float) -> str:
        """The query `name` for one stack over a trailing window (str.format is no use: PromQL is full of braces)."""
        query: str = getattr(self, name)
        return query.replace("{stack}", stack).replace("{window}", promql_duration(window_seconds))


def promql_duration(seconds: float) -> str:
    """A PromQL range duration: whole seconds as `60s`, anything finer in milliseconds (`1500ms`)."""
    if not seconds > 0:
        raise ValueError(f"a window must be longer than 0 s, got {seconds}")
    ms = int(round(seconds * 1000))
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{max(ms, 1)}ms"


class TrafficStage(CoreModel):
    percentage: int = Field(ge=0, le=100, description="Share of traffic on the new orchestrator.")
    week: int = Field(ge=1, le=16, description="Week the stage happens in.")
    requires_phases: list[int] = Field(description="Phases whose exit criteria must have passed (in the journal) before raising to this stage.")


class Contact(CoreModel):
    role: str = Field(description="What the contact is for, e.g. Migration Lead, On-call, Escalation.")
    who: str = Field(description="Handle, channel or person, as the runbook names it.")


class CommunicationStep(CoreModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="Stable id, used by `cato-migrate announce ID`.")
    week: int = Field(ge=1, le=16, description="Week the communication happens in.")
    title: str = Field(description="The runbook's heading, e.g. Canary Start.")
    actions: list[str] = Field(min_length=1, description="What is communicated, as the runbook lists it.")


class MetricMeasure(CoreModel):
    """Where a success metric's Actual comes from (core/report_rows.py reads it)."""

    source: Literal["load_test_ramp", "load_test_p99", "exit_check", "cost_comparison"] = Field(
        description="load_test_ramp: the highest concurrency a load_test step's ramp sustained; load_test_p99: "
                    "that step's p99 at its stated concurrency (legacy beside it from the latest canary "
                    "analysis); exit_check: the latest result of an exit criterion; cost_comparison: the "
                    "journaled cost measurement (new/legacy - 1).")
    key: str = Field(description="The step id (load_test_*), criterion id (exit_check) or journal key (cost_comparison).")


class SuccessMetric(CoreModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="Stable id of the metric.")
    title: str = Field(description="The runbook's wording, e.g. Max concurrent requests.")
    before: str = Field(description="The runbook's Before column, as written.")
    target: str = Field(description="The runbook's Target column, as written.")
    measure: MetricMeasure = Field(description="What fills the Actual column.")
    threshold: Threshold | None = Field(default=None, description="The target as a condition on the measured "
                                                                  "number; None for yes/no metrics (an exit check).")


class RiskEvidence(CoreModel):
    kind: Literal["step", "check", "analysis", "attestation", "dual_write", "cost", "budget", "rollback_drills"] = Field(
        description="step: a runbook step done; check: an exit criterion's latest result; analysis: the latest "
                    "canary analysis; attestation: a manual sign-off; dual_write: the edge's live dual-write "
                    "counters; cost: the journaled cost comparison; budget: the latest daily-budget reading "
                    "(`cost status`); rollback_drills: rollbacks done within budget.")
    key: str = Field(default="", description="Step id, criterion id or journal key, where the kind needs one.")


class Risk(CoreModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="Stable id of the risk.")
    risk: str = Field(description="The runbook's wording.")
    likelihood: Literal["Low", "Medium", "High"] = Field(description="As the runbook rates it.")
    impact: Literal["Low", "Medium", "High", "Critical"] = Field(description="As the runbook rates it.")
    mitigation: str = Field(description="The runbook's mitigation.")
    evidence: list[RiskEvidence] = Field(min_length=1, description="What shows the mitigation is in place.")


class RunbookMeta(CoreModel):
    name: str = Field(description="Runbook name.")
    source: str = Field(description="The document this data encodes.")
    phase_files: list[str] = Field(min_length=1, description="Phase files, relative to this file, in order.")
    traffic_plan: list[TrafficStage] = Field(min_length=1, description="The order traffic is raised in (10 -> 50 -> 100).")
    rollback: RollbackSpec = Field(description="Rollback budgets and triggers.")
    canary_analysis: CanaryAnalysisSpec = Field(description="Watching, analysing and promoting the canary.")
    metrics: MetricsQueries | None = Field(default=None, description="PromQL templates for the per-stack canary figures, read from Prometheus (None: only the gateway-scrape fallback can measure).")
    contacts: list[Contact] = Field(default_factory=list, description="Who to reach: the runbook's Contact section.")
    communication_plan: list[CommunicationStep] = Field(default_factory=list, description="The runbook's Communication Plan, by week.")
    success_metrics: list[SuccessMetric] = Field(default_factory=list, description="The runbook's Success Metrics table: Before and Target; `report` fills Actual.")
    risks: list[Risk] = Field(default_factory=list, description="The runbook's Risk Register, with what evidences each mitigation.")

    @model_validator(mode="after")
    def _plan_rises(self) -> "RunbookMeta":
        pcts = [s.percentage for s in self.traffic_plan]
        if pcts != sorted(set(pcts)):
            raise ValueError(f"traffic_plan must strictly rise, got {pcts}")
        unknown = sorted(set(self.canary_analysis.min_soak_minutes) - set(pcts))
        if unknown:
            raise ValueError(f"canary_analysis.min_soak_minutes names {unknown}, which are not traffic_plan stages {pcts}")
        return self


class RunbookSpec(CoreModel):
    meta: RunbookMeta = Field(description="Runbook-wide data.")
    phases: list[PhaseSpec] = Field(description="The four phases in order.")

    def reference_problems(self) -> list[str]:
        """A success metric or risk naming a step or criterion the phases lack would never be measured
        (checked by the loader once the phases are known to be sound)."""
        problems = []
        steps = {s.id: s for p in self.phases for _, s in p.steps()}
        crits = {c.id for p in self.phases for c in p.exit_criteria}
        for m in self.meta.success_metrics:
            src, key = m.measure.source, m.measure.key
            if src.startswith("load_test") and (key not in steps or steps[key].kind != "load_test"):
                problems.append(f"success_metrics {m.id}: {key!r} is not a load_test step of the phases")
            if src == "exit_check" and key not in crits:
                problems.append(f"success_metrics {m.id}: {key!r} is not an exit criterion of the phases")
        for r in self.meta.risks:
            for ev in r.evidence:
                if ev.kind in ("step", "attestation") and ev.key not in steps:
                    problems.append(f"risks {r.id}: {ev.key!r} is not a step of the phases")
                if ev.kind == "check" and ev.key not in crits:
                    problems.append(f"risks {r.id}: {ev.key!r} is not an exit criterion of the phases")
        return problems

    def phase(self, number: int) -> PhaseSpec:
        for p in self.phases:
            if p.phase == number:
                return p
        from cato_migrate.errors import BadInput

        raise BadInput(
            f"there is no phase {number}; the runbook has phases "
            + ", ".join(str(p.phase) for p in self.phases),
            hint="run `cato-migrate phase list`",
        )

    def find_step(self, step_id: str) -> tuple[PhaseSpec, WeekSpec, StepSpec] | None:
        for p in self.phases:
            for w, s in p.steps():
                if s.id == step_id:
                    return p, w, s
        return None

    def stage_for(self, percentage: int) -> TrafficStage | None:
        for st in self.meta.traffic_plan:
            if st.percentage == percentage:
                return st
        return None
