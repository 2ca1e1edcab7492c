"""Run a phase: for each step, plan (dry run) or apply then verify, journaling both ends.

A finished step is skipped; an interrupted one (started, never finished) is verified
first and only re-applied if its verify fails. No step moves on until its verify passes.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Literal

from cato_migrate.core.context import RunContext
from cato_migrate.core.kinds import CheckResult, CheckStatus, check_kind, step_kind
from cato_migrate.core.progress import step_state
from cato_migrate.core.runbook import CriterionSpec, PhaseSpec, StepSpec, WeekSpec
from cato_migrate.errors import BadInput, CatoError, Unverified


StepOutcomeKind = Literal["planned", "skipped", "done", "resumed", "waiting", "not_implemented", "failed", "unverified"]


class StepWaiting(Exception):
    """The step needs something outside the tool first (a person's sign-off)."""


@dataclass
class StepOutcome:
    id: str
    week: int
    title: str
    kind: str
    outcome: StepOutcomeKind
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def select_steps(phase: PhaseSpec, week: int | None, step_id: str | None) -> list[tuple[WeekSpec, StepSpec]]:
    steps = phase.steps()
    if week is not None:
        weeks = [w.week for w in phase.weeks]
        if week not in weeks:
            raise BadInput(f"phase {phase.phase} has weeks {weeks[0]}-{weeks[-1]}, not week {week}")
        steps = [(w, s) for w, s in steps if w.week == week]
    if step_id is not None:
        steps = [(w, s) for w, s in steps if s.id == step_id]
        if not steps:
            raise BadInput(f"no step {step_id!r} in phase {phase.phase}" + (f" week {week}" if week else ""),
                           hint=f"see `cato-migrate phase show {phase.phase}`")
    return steps


def plan_phase(ctx: RunContext, phase: PhaseSpec, week: int | None = None, step_id: str | None = None) -> list[StepOutcome]:
    entries = ctx.store.journal(ctx.env)
    out = []
    for w, s in select_steps(phase, week, step_id):
        kind = step_kind(s.kind)
        params = kind.Params.model_validate(s.params)
        state, last = step_state(entries, s.id)
        if state == "done" and last is not None:
            out.append(StepOutcome(s.id, w.week, s.title, s.kind, "skipped", f"done (by {last.actor}); would skip"))
        elif not kind.implemented:
            out.append(StepOutcome(s.id, w.week, s.title, s.kind, "not_implemented",
                                   f"not implemented yet: {kind.planned_for}"))
        else:
            prefix = "interrupted earlier; would verify, then re-apply if needed: " if state == "running" else ""
            out.append(StepOutcome(s.id, w.week, s.title, s.kind, "planned", prefix + kind.plan(s, params, ctx)))
    return out


def run_phase(ctx: RunContext, phase: PhaseSpec, week: int | None = None, step_id: str | None = None,
              on_outcome: Callable[[StepOutcome], None] = lambda o: None) -> list[StepOutcome]:
    """Execute; stops at the first step that does not finish. Returns every outcome so far."""
    outcomes: list[StepOutcome] = []
    for w, s in select_steps(phase, week, step_id):
        ctx.ensure_held()
        o = _run_step(ctx, w, s)
        outcomes.append(o)
        on_outcome(o)
        if o.outcome not in ("skipped", "done", "resumed"):
            break
    return outcomes


def find_step(ctx: RunContext, kind: str, **params: Any) -> tuple[PhaseSpec, WeekSpec, StepSpec]:
    """The runbook step of this kind whose params include these values (e.g. the k8s_apply of
    the orchestrator's manifest), for a verb that runs that step rather than a copy of it."""
    for phase in ctx.runbook.phases:
        for w, s in phase.steps():
            if s.kind == kind and all(s.params.get(k) == v for k, v in params.items()):
                return phase, w, s
    raise BadInput(f"the runbook has no {kind} step with {params}",
                   hint="check runbook/ (the step this command runs lives there)")


def run_step_again(ctx: RunContext, w: WeekSpec, s: StepSpec, key: str) -> StepOutcome:
    """Run one (idempotent) runbook step again, whatever the journal says: the same kind, params,
    apply and verify as `phase run`, journaled under `key` (a verb's own record, so the runbook's
    progress stays the runbook's). `orchestrator install` brings the orchestrator back this way."""
    ctx.ensure_held()
    return _run_step(ctx, w, s, key=key)


def _run_step(ctx: RunContext, w: WeekSpec, s: StepSpec, key: str | None = None) -> StepOutcome:
    kind = step_kind(s.kind)
    params = kind.Params.model_validate(s.params)
    jkey = key or s.id
    state, last = step_state(ctx.store.journal(ctx.env, jkey), jkey)
    if key is not None and state == "done":  # run again: a verb's re-apply of an idempotent step
        state = "pending"

    def out(outcome: StepOutcomeKind, message: str, evidence: dict[str, Any] | None = None) -> StepOutcome:
        return StepOutcome(s.id, w.week, s.title, s.kind, outcome, message, evidence or {})

    if state == "done" and last is not None:
        return out("skipped", f"already done (by {last.actor})")
    if not kind.implemented:
        return out("not_implemented", f"not implemented yet: {kind.planned_for}; nothing was changed")
    inputs = s.params | ({"forced": True, "reason": ctx.reason} if ctx.force else {})
    if state == "running":
        check = kind.verify(s, params, ctx)
        if check.ok:
            ctx.journal(jkey, "finished", evidence=check.evidence, message="resumed: verified after interruption")
            return out("resumed", "interrupted earlier; verified, now done: " + check.message, check.evidence)
    try:
        ctx.fence(f"step {jkey}")
        ctx.journal(jkey, "started", inputs=inputs)
        evidence = kind.apply(s, params, ctx)
        check = kind.verify(s, params, ctx)
    except StepWaiting as wait:
        ctx.journal(jkey, "failed", message=f"waiting: {wait}")
        return out("waiting", str(wait))
    except CatoError as exc:
        ctx.journal(jkey, "failed", message=exc.message, evidence=exc.details)
        raise
    if not check.ok:
        ctx.journal(jkey, "failed", evidence={**evidence, **check.evidence}, message=check.message)
        raise Unverified(f"step {s.id} was applied but its verification failed: {check.message}",
                         hint="fix the cause, then run the same command again" if key else
                         f"fix the cause, then re-run `cato-migrate phase run {s.id.split('.')[0][1:]} --step {s.id}`",
                         details={"step": s.id, **check.evidence})
    ctx.journal(jkey, "finished", evidence={**evidence, **check.evidence}, message=check.message)
    return out("done", check.message, {**evidence, **check.evidence})


@dataclass
class CriterionOutcome:
    id: str
    title: str
    check: str
    status: CheckStatus
    message: str
    threshold: str = ""
    measured: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate_criterion(ctx: RunContext, crit: CriterionSpec, record: bool = True) -> CriterionOutcome:
    kind = check_kind(crit.check)
    if not kind.implemented:
        res = CheckResult("not_implemented", f"not implemented yet: {kind.planned_for}")
    else:
        try:
            res = kind.evaluate(crit, kind.Params.model_validate(crit.params), ctx)
        except CatoError as exc:
            res = CheckResult("waiting", f"could not measure: {exc.message}", evidence=exc.details)
        res = apply_threshold(crit, res)
    if record:
        ctx.journal(crit.id, "check", status=res.status, message=res.message,
                    evidence={**res.evidence, "measured": res.measured})
    return CriterionOutcome(crit.id, crit.title, crit.check, res.status, res.message,
                            crit.threshold.describe() if crit.threshold else "", res.measured, res.evidence)


def apply_threshold(crit: CriterionSpec, res: CheckResult) -> CheckResult:
    """A criterion with a threshold passes only on a measured number that meets it."""
    if crit.threshold is None or res.status not in ("pass", "fail"):
        return res
    if res.measured is None:
        return CheckResult("waiting", "no measurement yet: " + res.message, None, res.evidence)
    ok = crit.threshold.passes(res.measured)
    verdict = "meets" if ok else "does not meet"
    # A check's own fail (a fault beyond the number) is never overridden by a met threshold.
    status: CheckStatus = "pass" if ok and res.status == "pass" else "fail"
    lead = f"{res.message}; " if res.message else ""
    return CheckResult(status, f"{lead}measured {res.measured:g} {verdict} {crit.threshold.describe()}",
                       res.measured, res.evidence)


def validate_phase(ctx: RunContext, phase: PhaseSpec) -> list[CriterionOutcome]:
    return [evaluate_criterion(ctx, c) for c in phase.exit_criteria]
