"""Decommissioning the legacy stack (runbook week 16, DESIGN.md section 5).

Scale LiteLLM to 0 only once the new stack serves all traffic; the monitoring period starts
then (journaled under `decommission.legacy-zero`). Deleting LiteLLM is refused until that
period has passed, unless forced with a reason (audited). Its configuration is archived,
not deleted.
"""
from __future__ import annotations

import time
from typing import Any

from cato_migrate.core.context import RunContext
from cato_migrate.core.runbook import RunbookSpec
from cato_migrate.errors import CheckFailed, NotFound, Unverified

ZERO_KEY = "decommission.legacy-zero"
DELETE_KEY = "decommission.delete"
DAY = 86400.0


def runbook_monitoring_days(runbook: RunbookSpec) -> float:
    """The runbook's monitoring period: the `workload_delete` step's after_monitoring_days."""
    for p in runbook.phases:
        for _, s in p.steps():
            if s.kind == "workload_delete":
                return float(s.params.get("after_monitoring_days", 7))
    return 7.0


def monitoring_days(ctx: RunContext) -> float:
    return runbook_monitoring_days(ctx.runbook)


def monitoring_started(ctx: RunContext) -> float | None:
    """When LiteLLM was (last) verified at 0 replicas, from the journal."""
    found = None
    for e in ctx.store.journal(ctx.env, ZERO_KEY):
        if e.event == "finished":
            found = e.at
    return found


def monitoring_status(ctx: RunContext) -> dict[str, Any]:
    days = monitoring_days(ctx)
    started = monitoring_started(ctx)
    ends = started + days * DAY if started is not None else None
    return {"monitoring_days": days, "started_at": started, "ends_at": ends,
            "passed": ends is not None and ctx.clock.now() >= ends}


def _fmt(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


def scale_legacy_to_zero(ctx: RunContext) -> dict[str, Any]:
    """LiteLLM to 0 replicas, verified; refused while the flag serves less than 100% (unless forced)."""
    from cato_migrate.core.traffic import flag_status

    s = ctx.settings
    wl = ctx.services.workloads()
    st = wl.status(s.legacy_workload, s.workload_namespace)
    if not st.exists:
        raise NotFound(f"{s.workload_namespace}/{s.legacy_workload} does not exist; nothing to scale",
                       hint="it may already be deleted: `cato-migrate history` shows when")
    served = flag_status(ctx.services.traffic_flag()).served_percentage
    if served < 100:
        if not ctx.force:
            raise CheckFailed(f"refusing to scale LiteLLM to 0 while the flag serves only {served}% to the new stack: "
                              f"{100 - served}% of users would lose service; nothing was changed",
                              hint="finish the rollout (`cato-migrate canary set 100`), or override with --force --reason TEXT")
        ctx.audit("guardrail.override", f"{st.namespace}/{st.name}", ctx.reason, override="scale legacy to 0 below 100%",
                  served_percentage=served)
    if st.desired == 0 and st.ready == 0 and monitoring_started(ctx) is not None:
        mon = monitoring_status(ctx)
        return {"changed": False, "workload": st.model_dump(), **mon,
                "message": f"{st.name} already at 0; monitoring ends {_fmt(mon['ends_at'])}"}
    ctx.journal(ZERO_KEY, "started", inputs={"previous_replicas": st.desired, "served_percentage": served})
    if st.desired != 0 or st.ready != 0:  # desired 0 but still serving: ask again (idempotent)
        wl.scale(st.name, st.namespace, 0)
        ctx.audit("workload.scale", f"{st.namespace}/{st.name}", ctx.reason, replicas=0, previous=st.desired,
                  by="decommission")
    after = wl.wait_ready(st.name, st.namespace, s.rollout_timeout_seconds)
    if after.ready != 0:
        ctx.journal(ZERO_KEY, "failed", evidence=after.model_dump(), message="still running")
        raise Unverified(f"{st.name} still has {after.ready} ready replica(s) after scaling to 0",
                         hint="check the LiteLLM pods, then run `cato-migrate decommission` again")
    ctx.journal(ZERO_KEY, "finished", evidence={"previous_replicas": st.desired, **after.model_dump()},
                message=f"{st.name} at 0 replicas; monitoring period starts")
    mon = monitoring_status(ctx)
    return {"changed": True, "previous_replicas": st.desired, "workload": after.model_dump(), **mon,
            "message": f"{st.name} scaled to 0 (was {st.desired}); delete allowed after {_fmt(mon['ends_at'])}"}


def delete_legacy(ctx: RunContext) -> dict[str, Any]:
    """Delete LiteLLM after the monitoring period (or forced with a reason, audited)."""
    s = ctx.settings
    wl = ctx.services.workloads()
    st = wl.status(s.legacy_workload, s.workload_namespace)
    if not st.exists:
        return {"changed": False, "message": f"{s.workload_namespace}/{s.legacy_workload} already deleted"}
    mon = monitoring_status(ctx)
    if st.desired != 0 or st.ready != 0 or mon["started_at"] is None:
        raise CheckFailed(f"{st.name} is not scaled to 0 ({st.ready}/{st.desired} ready); it is deleted only after "
                          "the monitoring period at 0 replicas; nothing was changed",
                          hint="run `cato-migrate decommission` first")
    if not mon["passed"]:
        if not ctx.force:
            raise CheckFailed(f"the {mon['monitoring_days']:g}-day monitoring period ends {_fmt(mon['ends_at'])}; "
                              f"refusing to delete {st.name} before then; nothing was changed",
                              hint="wait, or override with --force --reason TEXT (audited)")
        ctx.audit("guardrail.override", f"{st.namespace}/{st.name}", ctx.reason, override="delete before monitoring ended",
                  monitoring_ends_at=mon["ends_at"])
    ctx.journal(DELETE_KEY, "started", inputs={"workload": st.name, "forced": not mon["passed"]})
    wl.delete(st.name, st.namespace)
    ctx.audit("workload.delete", f"{st.namespace}/{st.name}", ctx.reason, forced=not mon["passed"])
    if wl.status(st.name, st.namespace).exists:
        ctx.journal(DELETE_KEY, "failed", message="still exists after delete")
        raise Unverified(f"{st.name} still exists after the delete call", hint="run `cato-migrate decommission --delete` again")
    ctx.journal(DELETE_KEY, "finished", message=f"{st.name} deleted")
    return {"changed": True, "forced": not mon["passed"], **mon, "message": f"{st.name} deleted"}


def plan_decommission(ctx: RunContext, *, delete: bool) -> dict[str, Any]:
    """What `decommission [--delete]` would do now, and what would refuse it (reads only)."""
    from cato_migrate.core.traffic import flag_status

    s = ctx.settings
    st = ctx.services.workloads().status(s.legacy_workload, s.workload_namespace)
    served = flag_status(ctx.services.traffic_flag()).served_percentage
    mon = monitoring_status(ctx)
    name = f"{s.workload_namespace}/{s.legacy_workload}"
    would: list[str] = []
    if not delete:
        if not st.exists:
            would.append(f"REFUSE: {name} does not exist")
        elif served < 100:
            would.append(f"REFUSE unless --force: the flag serves {served}% (< 100%) to the new stack")
        would.append(f"scale {name} {st.desired} -> 0 and wait until nothing runs"
                     if st.desired or st.ready else f"{name} is already at 0")
        would.append(f"start the {mon['monitoring_days']:g}-day monitoring period")
    else:
        if not st.exists:
            would.append(f"{name} is already deleted")
        elif st.desired or st.ready or mon["started_at"] is None:
            would.append(f"REFUSE: {name} is not at 0 replicas (run `cato-migrate decommission` first)")
        elif not mon["passed"]:
            would.append(f"REFUSE unless --force: monitoring ends {_fmt(mon['ends_at'])}")
        would.append(f"delete {name}")
        would.append("archive the LiteLLM configuration named by the runbook's archive_config steps")
    return {"dry_run": True, "changed": False, "served_percentage": served, "legacy": st.model_dump(),
            "monitoring": mon, "would": would, "message": "nothing was changed (dry run)"}
