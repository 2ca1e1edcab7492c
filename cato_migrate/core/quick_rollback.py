"""`rollback --quick`: the flag to 0% in minutes, without undoing another rollback.

Order: LiteLLM can take the traffic (ready replicas, via the Workloads port) -> the hold is
recorded (raises refused until `canary resume`) -> an interrupted change is reconciled -> any
in-flight deployment that is not already a 0% deployment is stopped (a 0% one is adopted and
waited for, never stopped) -> a 0% version and its audit record -> StartDeployment with zero
bake -> served 0% verified through appconfigdata.
"""
from __future__ import annotations

from typing import Any

from cato_migrate.core.context import RunContext
from cato_migrate.core.rollback_hold import set_hold
from cato_migrate.core.traffic import IN_FLIGHT, TRAFFIC_KEY, verify_served, flag_status, reconcile_traffic, wait_for
from cato_migrate.errors import CatoError, CheckFailed, Conflict, Unverified
from cato_migrate.ports import Deployment, FlagSpec, TrafficFlag


def legacy_readiness(ctx: RunContext) -> dict[str, Any]:
    """Whether LiteLLM has the configured ready replicas to take all traffic (read, never assumed)."""
    s = ctx.settings
    need = s.legacy_min_ready
    try:
        st = ctx.services.workloads().status(s.legacy_workload, s.workload_namespace)
    except CatoError as exc:
        return {"ok": False, "ready": None, "need": need, "why": f"could not read {s.legacy_workload}: {exc.message}"}
    ok = st.exists and st.ready >= need
    why = ("" if ok else f"{s.workload_namespace}/{s.legacy_workload} does not exist" if not st.exists
           else f"{s.workload_namespace}/{s.legacy_workload} has {st.ready} ready replica(s), fewer than {need}")
    return {"ok": ok, "ready": st.ready, "desired": st.desired, "need": need, "why": why}


def _require_legacy(ctx: RunContext) -> dict[str, Any]:
    ready = legacy_readiness(ctx)
    if ready["ok"]:
        return ready
    if not ctx.force:
        raise CheckFailed(
            f"refusing to move all traffic to LiteLLM: {ready['why']}; every user would get an error; "
            "nothing was changed",
            hint="run `cato-migrate rollback --full` (scales LiteLLM up first, then moves the flag), "
                 "or `cato-migrate rollback --quick --force --reason TEXT` to move the flag anyway",
            details={"legacy": ready})
    ctx.audit("guardrail.override", TRAFFIC_KEY, ctx.reason, override="rollback --quick with LiteLLM not ready",
              legacy=ready)
    return ready


def _is_zero(flag: TrafficFlag, dep: Deployment) -> bool:
    try:
        return flag.configured(dep).effective_percentage == 0
    except CatoError:
        return False


def quick_rollback(ctx: RunContext, *, attempts: int = 5, check_legacy: bool = True) -> dict[str, Any]:
    t0 = ctx.clock.now()
    budget = ctx.runbook.meta.rollback.quick_budget_seconds
    legacy = _require_legacy(ctx) if check_legacy else None
    set_hold(ctx, "rollback --quick" if check_legacy else "rollback --full")
    flag = ctx.services.traffic_flag()
    flag.ensure_setup()
    reconcile_traffic(ctx, flag)
    before = flag_status(flag)
    stopped: list[int] = []
    adopted = None
    for _ in range(attempts):
        blocking = flag.blocking_deployment()
        if blocking is None:
            break
        if blocking.profile and blocking.profile != getattr(flag, "profile", blocking.profile):
            if not ctx.force:  # someone else's configuration: wait for it rather than revert it
                ctx.progress(f"waiting for deployment #{blocking.number} of profile {blocking.profile} ({blocking.state})")
                wait_for(ctx, flag, blocking, timeout=max(10.0, budget / 2))
                continue
        elif _is_zero(flag, blocking):
            adopted = blocking  # another rollback's 0% deployment: stopping it would revert clients
            break
        ctx.progress(f"stopping deployment #{blocking.number} ({blocking.state})")
        flag.stop_deployment(blocking.number)
        stopped.append(blocking.number)
    if adopted is not None:
        ctx.progress(f"deployment #{adopted.number} already deploys 0%: waiting for it instead of stopping it")
        ctx.journal(TRAFFIC_KEY, "started", inputs={"target": 0, "rollback": "quick", "version": adopted.version,
                                                   "adopted": adopted.number})
        ctx.audit("rollback.quick", TRAFFIC_KEY, ctx.reason, adopted_deployment=adopted.number, legacy=legacy)
        dep = adopted
    else:
        strategy = flag.ensure_strategy(ctx.settings.rollback_strategy, 0, 0, 100)
        version = flag.create_version(FlagSpec(enabled=False, percentage=0),
                                      f"cato-migrate rollback --quick by {ctx.actor}")
        ctx.journal(TRAFFIC_KEY, "started", inputs={"target": 0, "rollback": "quick", "version": version})
        ctx.audit("rollback.quick", TRAFFIC_KEY, ctx.reason, stopped_deployments=stopped, version=version,
                  legacy=legacy)
        started = None
        for _ in range(attempts):
            try:
                started = flag.start_deployment(version, strategy, "rollback --quick: 0%")
                break
            except Conflict:
                ctx.clock.sleep(0.2)
        if started is None:
            raise Unverified("could not start the 0% deployment: another deployment kept starting",
                             hint="run `cato-migrate rollback --quick` again; check who else deploys the flag")
        dep = started
    dep = wait_for(ctx, flag, dep, timeout=max(60.0, budget))
    result = verify_served(ctx, flag, dep, 0, previous=before.served_percentage)
    elapsed = ctx.clock.now() - t0
    result.update({"stopped_deployments": stopped, "adopted_deployment": adopted.number if adopted else None,
                   "legacy": legacy, "elapsed_seconds": round(elapsed, 3),
                   "budget_seconds": budget, "within_budget": elapsed <= budget,
                   "message": f"served 0% verified in {elapsed:.1f}s (budget {budget}s)"})
    return result


def plan_quick_rollback(ctx: RunContext) -> dict[str, Any]:
    """What `rollback --quick` would do now (reads only)."""
    flag = ctx.services.traffic_flag()
    st = flag_status(flag)
    legacy = legacy_readiness(ctx)
    would = []
    if not legacy["ok"]:
        would.append(f"REFUSE unless --force: {legacy['why']} (use `cato-migrate rollback --full`)")
    else:
        would.append(f"LiteLLM ready ({legacy['ready']} >= {legacy['need']} replicas)")
    would.append("record the rollback hold: raises refused until `cato-migrate canary resume --reason TEXT`")
    blocking = getattr(flag, "blocking_deployment", lambda: None)()
    if blocking is not None and blocking.state in IN_FLIGHT:
        if _is_zero(flag, blocking):
            would.append(f"wait for deployment #{blocking.number} (already 0%, not stopped)")
        else:
            would.append(f"stop deployment #{blocking.number} ({blocking.state})")
    if blocking is None or not _is_zero(flag, blocking):
        would.append(f"deploy 0% with strategy {ctx.settings.rollback_strategy} (zero bake) and verify served 0%")
    return {"dry_run": True, "changed": False, "served_percentage": st.served_percentage,
            "deployment_state": st.deployment_state, "legacy": legacy, "would": would,
            "budget_seconds": ctx.runbook.meta.rollback.quick_budget_seconds,
            "message": f"would move {st.served_percentage}% -> 0%; nothing was changed (dry run)"}
