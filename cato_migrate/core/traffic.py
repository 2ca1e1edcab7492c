"""Moving traffic with the flag: set, then verify what clients are served.

`canary set N`: reconcile an interrupted change -> validate -> hold and guardrails -> hosted
version -> intent (journal and audit) -> StartDeployment -> wait -> read back through
appconfigdata -> journal. Every write goes through fenced adapters (core/fencing.py).
`rollback --quick` lives in core/quick_rollback.py.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from cato_migrate.core.context import RunContext
from cato_migrate.core.progress import phase_passed
from cato_migrate.core.state import JournalEntry
from cato_migrate.errors import BadInput, CheckFailed, Unverified
from cato_migrate.ports import Deployment, FlagSpec, FlagStatus, TrafficFlag

if TYPE_CHECKING:  # core.triggers imports this module; it is imported lazily where measured
    from cato_migrate.core.triggers import TriggerStatus

IN_FLIGHT = ("DEPLOYING", "BAKING", "VALIDATING", "ROLLING_BACK")
TRAFFIC_KEY = "traffic.flag"


def parse_percentage(raw: object) -> int:
    text = str(raw).strip()
    if not re.fullmatch(r"\d{1,3}", text) or int(text) > 100:
        raise BadInput(f"percentage must be a whole number from 0 to 100, got {str(raw)!r}; nothing was changed",
                       hint="e.g. cato-migrate canary set 10")
    return int(text)


def flag_status(flag: TrafficFlag) -> FlagStatus:
    latest = flag.latest_deployment()
    served_spec, served_version = flag.read_served()
    served = served_spec.effective_percentage if served_spec else 0
    configured = flag.configured(latest).effective_percentage if latest else 0
    return FlagStatus(configured_percentage=configured, served_percentage=served,
                      served_version=served_version,
                      deployment_state=latest.state if latest else "NONE", deployment=latest)


def guardrail_problems(ctx: RunContext, current: int, target: int) -> list[str]:
    """Why raising from `current` to `target` is not allowed now (empty: allowed)."""
    if target <= current:
        return []
    plan = [s.percentage for s in ctx.runbook.meta.traffic_plan]
    problems = []
    higher = [p for p in plan if p > current]
    if target not in plan:
        problems.append(f"{target}% is not a stage of the traffic plan ({' -> '.join(map(str, plan))})")
    elif higher and target != higher[0]:
        problems.append(f"raising from {current}% must go to {higher[0]}% next (plan: {' -> '.join(map(str, plan))})")
    stage = ctx.runbook.stage_for(target)
    if stage:
        entries = ctx.store.journal(ctx.env)
        for n in stage.requires_phases:
            if not phase_passed(ctx.runbook.phase(n), entries):
                problems.append(f"phase {n}'s exit criteria have not all passed "
                                f"(run `cato-migrate validate {n}`)")
    return problems


def wait_for(ctx: RunContext, flag: TrafficFlag, dep: Deployment, timeout: float, poll: float = 0.2) -> Deployment:
    deadline = ctx.clock.now() + timeout
    seen = None
    while True:
        ctx.ensure_held()
        dep = flag.get_deployment(dep.number)
        if (dep.state, int(dep.percentage_complete)) != seen:
            ctx.progress(f"deployment #{dep.number}: {dep.state} ({dep.percentage_complete:.0f}% of clients)")
            seen = (dep.state, int(dep.percentage_complete))
        if dep.state not in IN_FLIGHT:
            return dep
        if ctx.clock.now() >= deadline:
            return dep
        ctx.clock.sleep(poll)


def pending_traffic_intent(entries: list[JournalEntry]) -> dict[str, Any] | None:
    """A traffic change whose intent is in the journal but whose outcome is not (the command died)."""
    last = next((e for e in reversed(entries) if e.key == TRAFFIC_KEY), None)
    if last is None or last.event != "started":
        return None
    return {"target": last.inputs.get("target"), "version": last.inputs.get("version"),
            "rollback": last.inputs.get("rollback", ""), "at": last.at, "actor": last.actor, "run_id": last.run_id}


def reconcile_traffic(ctx: RunContext, flag: TrafficFlag) -> dict[str, Any] | None:
    """Close an interrupted change from what AppConfig shows, so the journal never keeps a stale value.
    A deployment still in flight is left pending (the caller sees it as in flight)."""
    intent = pending_traffic_intent(ctx.store.journal(ctx.env, TRAFFIC_KEY))
    if intent is None:
        return None
    st = flag_status(flag)
    dep = st.deployment
    if dep is not None and dep.version == str(intent["version"]) and dep.state in IN_FLIGHT:
        return {**intent, "outcome": "in_flight", "deployment": dep.number}
    evidence = {"deployment": dep.number if dep else None, "deployment_state": st.deployment_state,
                "served_percentage": st.served_percentage, "served_version": st.served_version,
                "reconciled": True}
    started = dep is not None and dep.version == str(intent["version"])
    ok = started and dep is not None and dep.state == "COMPLETE" and st.served_percentage == intent["target"]
    if ok and dep is not None:
        msg = f"reconciled: the interrupted change to {intent['target']}% completed (deployment #{dep.number})"
    elif started and dep is not None:
        msg = f"reconciled: the interrupted change to {intent['target']}% ended {dep.state}; serving {st.served_percentage}%"
    else:
        msg = (f"reconciled: the interrupted change to {intent['target']}% never started a deployment; "
               f"serving {st.served_percentage}%")
    ctx.journal(TRAFFIC_KEY, "finished" if ok else "failed", evidence=evidence, message=msg)
    ctx.audit("traffic.reconciled", TRAFFIC_KEY, "", interrupted_run=intent["run_id"], to_percentage=intent["target"],
              version=intent["version"], outcome="completed" if ok else dep.state if started and dep is not None else "never started",
              served_percentage=st.served_percentage)
    ctx.progress(msg)
    return {**intent, "outcome": "completed" if ok else "not completed", "message": msg}


def _blocking_elsewhere(flag: TrafficFlag) -> Deployment | None:
    """An in-flight deployment of another configuration profile: AWS allows one per environment."""
    blocking: Deployment | None = getattr(flag, "blocking_deployment", lambda: None)()
    latest = flag.latest_deployment()
    if blocking is None or (latest is not None and blocking.number == latest.number):
        return None
    return blocking


def set_traffic(ctx: RunContext, target: int, *, timeout: float | None = None, dry_run: bool = False) -> dict[str, Any]:
    from cato_migrate.core.rollback_hold import current_hold, hold_problem

    flag = ctx.services.traffic_flag()
    if not dry_run:
        reconcile_traffic(ctx, flag)
    before = flag_status(flag)
    current = before.served_percentage  # what clients get; a rolled-back deployment does not count
    if before.deployment is not None and before.deployment_state in IN_FLIGHT:
        raise CheckFailed(
            f"deployment #{before.deployment.number} is {before.deployment_state}; nothing was changed",
            hint="wait for it (`cato-migrate canary status`) or undo it with `cato-migrate rollback --quick`")
    other = _blocking_elsewhere(flag)
    if other is not None:
        raise CheckFailed(
            f"deployment #{other.number} of another configuration profile ({other.profile or 'unknown'}) is "
            f"{other.state} in this AppConfig environment; AWS allows one at a time; nothing was changed",
            hint="wait for it to finish (`aws appconfig get-deployment`), then run this again")
    hold = current_hold(ctx.store, ctx.env) if target > current else None
    if hold is not None:
        raise CheckFailed(f"refusing to raise traffic from {current}% to {target}%: {hold_problem(hold)}; "
                          "nothing was changed",
                          hint="when the cause is fixed: cato-migrate canary resume --reason TEXT",
                          details={"hold": hold.model_dump()})
    problems = guardrail_problems(ctx, current, target)
    gate: dict[str, Any] = {}
    if target > current:  # the promotion gate (soak, analysis, first-raise sign-off): core/promotion_gate.py
        from cato_migrate.core.promotion_gate import gate_problems

        gate_issues, gate = gate_problems(ctx, current, measure=not ctx.force and not problems, journal=not dry_run)
        problems += gate_issues
    triggers: list[TriggerStatus] = []
    if target > current and not problems and not ctx.force and not dry_run:
        # measured only when everything cheaper allows the raise, and never when overriding
        from cato_migrate.core.triggers import trigger_problems

        ctx.progress("measuring the rollback triggers before raising traffic")
        trigger_issues, triggers = trigger_problems(ctx)
        problems += trigger_issues
    if problems and not ctx.force:
        raise CheckFailed(f"refusing to raise traffic from {current}% to {target}%: " + "; ".join(problems)
                          + "; nothing was changed",
                          hint="fix the above, or override with --force --reason TEXT (audited)",
                          details={"problems": problems, "triggers": [t.to_dict() for t in triggers], "gate": gate})
    if before.configured_percentage == target and before.served_percentage == target:
        return {"changed": False, "from": current, "to": target, "status": before.model_dump(),
                "message": f"already serving {target}%; nothing to do"}
    if dry_run:
        s = ctx.settings
        return {"changed": False, "dry_run": True, "from": current, "to": target, "status": before.model_dump(),
                "would": [f"create a hosted version of {s.flag_name} = {target}%",
                          f"deploy it with strategy {s.canary_strategy} ({s.canary_deploy_minutes:g} min + "
                          f"{s.canary_bake_minutes:g} min bake)",
                          "wait for COMPLETE and read the served value back through appconfigdata"]
                + ([f"override (audited): {p}" for p in problems] if problems else [])
                + ([] if target <= current else ["measure the rollback triggers first (not measured by a dry run)"]),
                "message": f"would move {current}% -> {target}%; nothing was changed (dry run)"}
    if problems:
        ctx.audit("guardrail.override", TRAFFIC_KEY, ctx.reason, to_percentage=target, current=current, problems=problems)
    flag.ensure_setup()
    monitors = flag.ensure_monitors()  # AppConfig's own alarm rollback, armed before it deploys
    if monitors.get("missing") or monitors.get("problem"):
        ctx.progress("alarm monitors not armed for " + (", ".join(monitors["missing"]) + " (no such CloudWatch alarm)"
                     if monitors.get("missing") else f"the configured alarms: {monitors['problem']}"))
    strategy = flag.ensure_strategy(ctx.settings.canary_strategy, ctx.settings.canary_deploy_minutes,
                                    ctx.settings.canary_bake_minutes, ctx.settings.canary_growth_percent)
    spec = FlagSpec(enabled=target > 0, percentage=target)
    version = flag.create_version(spec, f"cato-migrate canary set {target} by {ctx.actor}")
    # intent before effect: a crash after StartDeployment still leaves both records, reconciled next run
    ctx.journal(TRAFFIC_KEY, "started", inputs={"target": target, "from": current, "version": version,
                                               "strategy": strategy, "forced": bool(problems),
                                               "triggers": {t.id: t.status for t in triggers}})
    ctx.audit("canary.set", TRAFFIC_KEY, ctx.reason, to_percentage=target, previous=current, version=version,
              forced=bool(problems))
    dep = flag.start_deployment(version, strategy, f"canary {current}% -> {target}%")
    dep = wait_for(ctx, flag, dep, timeout or ctx.settings.deployment_timeout_seconds)
    result = verify_served(ctx, flag, dep, target, current)
    result["triggers"] = [t.to_dict() for t in triggers]
    result["monitors"] = monitors
    result["gate"] = gate
    return result


def verify_served(ctx: RunContext, flag: TrafficFlag, dep: Deployment, target: int, previous: int) -> dict[str, Any]:
    after = flag_status(flag)
    evidence = {"deployment": dep.number, "deployment_state": dep.state,
                "served_percentage": after.served_percentage, "served_version": after.served_version}
    if dep.state == "ROLLED_BACK" and dep.rollback_by == "CLOUDWATCH_ALARM" and after.served_percentage == previous:
        _alarm_rolled_back(ctx, dep, target, previous, evidence)
    if dep.state != "COMPLETE" or after.served_percentage != target:
        ctx.journal(TRAFFIC_KEY, "failed", evidence=evidence,
                    message=f"deployment #{dep.number} {dep.state}; served {after.served_percentage}%")
        raise Unverified(
            f"deployment #{dep.number} of {target}% is {dep.state}; clients are served "
            f"{after.served_percentage}% (was {previous}%)",
            hint="check `cato-migrate canary status`; run this command again to retry, "
                 "or `cato-migrate rollback --quick` to go to 0%",
            details=evidence)
    ctx.journal(TRAFFIC_KEY, "finished", evidence=evidence, message=f"serving {target}%")
    return {"changed": True, "from": previous, "to": target, "deployment": dep.number,
            "status": after.model_dump(), "message": f"now serving {target}% (verified through appconfigdata)"}


def _alarm_rolled_back(ctx: RunContext, dep: Deployment, target: int, previous: int, evidence: dict[str, Any]) -> None:
    """AppConfig undid the change itself because a monitor's alarm fired: verified (clients get the
    previous value again), so a failed check (exit 1), not an unverified change."""
    alarm = dep.rollback_alarm or "(unnamed)"
    evidence = {**evidence, "rollback_by": dep.rollback_by, "rollback_alarm": dep.rollback_alarm,
                "rollback_reason": dep.rollback_reason}
    msg = (f"AppConfig rolled deployment #{dep.number} of {target}% back: CloudWatch alarm {alarm} fired while it "
           f"was deploying or baking; clients are served {previous}% again")
    ctx.journal(TRAFFIC_KEY, "failed", evidence=evidence, message=msg)
    raise CheckFailed(msg + f" ({dep.rollback_reason})" if dep.rollback_reason else msg,
                      hint=f"find why {alarm} fired (`aws cloudwatch describe-alarm-history --alarm-name {alarm}`) and "
                           "raise again once it is OK; to lower traffic while it fires use `cato-migrate rollback "
                           "--quick` (no bake time: the alarm cannot undo it)",
                      details=evidence)
