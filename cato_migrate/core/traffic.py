"""Moving traffic with the flag: set, then verify what clients are served.

`canary set N`: validate -> guardrails -> hosted version -> StartDeployment -> wait ->
read back through appconfigdata -> journal. `rollback --quick`: stop any in-flight
deployment, deploy 0% with a zero-bake strategy, verify served is 0.
"""
from __future__ import annotations

import re

from cato_migrate.core.context import RunContext
from cato_migrate.core.progress import phase_passed
from cato_migrate.errors import BadInput, CheckFailed, Conflict, Unverified
from cato_migrate.ports import Deployment, FlagSpec, FlagStatus, TrafficFlag

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


def set_traffic(ctx: RunContext, target: int, *, timeout: float | None = None) -> dict:
    flag = ctx.services.traffic_flag()
    before = flag_status(flag)
    current = before.served_percentage  # what clients get; a rolled-back deployment does not count
    if before.deployment_state in IN_FLIGHT:
        raise CheckFailed(
            f"deployment #{before.deployment.number} is {before.deployment_state}; nothing was changed",
            hint="wait for it (`cato-migrate canary status`) or undo it with `cato-migrate rollback --quick`")
    problems = guardrail_problems(ctx, current, target)
    triggers = []
    if target > current and not problems and not ctx.force:
        # measured only when everything cheaper allows the raise, and never when overriding
        from cato_migrate.core.triggers import trigger_problems

        ctx.progress("measuring the rollback triggers before raising traffic")
        trigger_issues, triggers = trigger_problems(ctx)
        problems += trigger_issues
    if problems and not ctx.force:
        raise CheckFailed(f"refusing to raise traffic from {current}% to {target}%: " + "; ".join(problems)
                          + "; nothing was changed",
                          hint="fix the above, or override with --force --reason TEXT (audited)",
                          details={"problems": problems, "triggers": [t.to_dict() for t in triggers]})
    if before.configured_percentage == target and before.served_percentage == target:
        return {"changed": False, "from": current, "to": target, "status": before.model_dump(),
                "message": f"already serving {target}%; nothing to do"}
    if problems:
        ctx.audit("guardrail.override", TRAFFIC_KEY, ctx.reason, to_percentage=target, current=current, problems=problems)
    flag.ensure_setup()
    strategy = flag.ensure_strategy(ctx.settings.canary_strategy, ctx.settings.canary_deploy_minutes,
                                    ctx.settings.canary_bake_minutes, ctx.settings.canary_growth_percent)
    spec = FlagSpec(enabled=target > 0, percentage=target)
    version = flag.create_version(spec, f"cato-migrate canary set {target} by {ctx.actor}")
    ctx.journal(TRAFFIC_KEY, "started", inputs={"target": target, "from": current, "version": version,
                                               "strategy": strategy, "forced": bool(problems),
                                               "triggers": {t.id: t.status for t in triggers}})
    dep = flag.start_deployment(version, strategy, f"canary {current}% -> {target}%")
    ctx.audit("canary.set", TRAFFIC_KEY, ctx.reason, to_percentage=target, previous=current, version=version,
              deployment=dep.number, forced=bool(problems))
    dep = wait_for(ctx, flag, dep, timeout or ctx.settings.deployment_timeout_seconds)
    result = _verify(ctx, flag, dep, target, current)
    result["triggers"] = [t.to_dict() for t in triggers]
    return result


def _verify(ctx: RunContext, flag: TrafficFlag, dep: Deployment, target: int, previous: int) -> dict:
    after = flag_status(flag)
    evidence = {"deployment": dep.number, "deployment_state": dep.state,
                "served_percentage": after.served_percentage, "served_version": after.served_version}
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


def quick_rollback(ctx: RunContext, *, attempts: int = 5) -> dict:
    t0 = ctx.clock.now()
    flag = ctx.services.traffic_flag()
    flag.ensure_setup()
    before = flag_status(flag)
    stopped = []
    strategy = flag.ensure_strategy(ctx.settings.rollback_strategy, 0, 0, 100)
    version = flag.create_version(FlagSpec(enabled=False, percentage=0),
                                  f"cato-migrate rollback --quick by {ctx.actor}")
    ctx.journal(TRAFFIC_KEY, "started", inputs={"target": 0, "rollback": "quick", "version": version})
    dep = None
    for _ in range(attempts):
        latest = flag.latest_deployment()
        if latest and latest.state in IN_FLIGHT:
            flag.stop_deployment(latest.number)
            stopped.append(latest.number)
            ctx.progress(f"stopped deployment #{latest.number} ({latest.state})")
        try:
            dep = flag.start_deployment(version, strategy, "rollback --quick: 0%")
            break
        except Conflict:
            ctx.clock.sleep(0.2)
    if dep is None:
        raise Unverified("could not start the 0% deployment: another deployment kept starting",
                         hint="run `cato-migrate rollback --quick` again; check who else deploys the flag")
    ctx.audit("rollback.quick", TRAFFIC_KEY, ctx.reason, stopped_deployments=stopped, version=version,
              deployment=dep.number)
    dep = wait_for(ctx, flag, dep, timeout=max(60.0, ctx.runbook.meta.rollback.quick_budget_seconds))
    result = _verify(ctx, flag, dep, 0, previous=before.served_percentage)
    elapsed = ctx.clock.now() - t0
    budget = ctx.runbook.meta.rollback.quick_budget_seconds
    result.update({"stopped_deployments": stopped, "elapsed_seconds": round(elapsed, 3),
                   "budget_seconds": budget, "within_budget": elapsed <= budget,
                   "message": f"served 0% verified in {elapsed:.1f}s (budget {budget}s)"})
    return result
