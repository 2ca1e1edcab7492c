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
from cato_migrate.core.operation import Look
from cato_migrate.core.workload_scaling import at_zero, scale_and_wait
from cato_migrate.errors import CatoError, CheckFailed, NotFound, Unverified
from cato_migrate.ports import Workloads, WorkloadStatus

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


def _legacy(ctx: RunContext) -> tuple[Workloads, WorkloadStatus, str]:
    s = ctx.settings
    wl = ctx.services.workloads()
    return wl, wl.status(s.legacy_workload, s.workload_namespace), f"{s.workload_namespace}/{s.legacy_workload}"


def look_zero(ctx: RunContext) -> Look:
    """`decommission`'s one reading (the dry run prints it, the run acts on it): LiteLLM to 0
    replicas, refused while the flag serves less than 100% unless forced."""
    from cato_migrate.core.traffic import flag_status

    wl, st, name = _legacy(ctx)
    served = flag_status(ctx.services.traffic_flag()).served_percentage
    mon = monitoring_status(ctx)
    lines: list[str] = []
    refusal: CatoError | None = None
    if not st.exists:
        lines.append(f"REFUSE: {name} does not exist")
        refusal = NotFound(f"{name} does not exist; nothing to scale",
                           hint="it may already be deleted: `cato-migrate history` shows when")
    elif served < 100:
        lines.append(f"REFUSE unless --force: the flag serves {served}% (< 100%) to the new stack")
        if not ctx.force:
            refusal = CheckFailed(f"refusing to scale LiteLLM to 0 while the flag serves only {served}% to the new stack: "
                                  f"{100 - served}% of users would lose service; nothing was changed",
                                  hint="finish the rollout (`cato-migrate canary set 100`), or override with --force --reason TEXT")
    lines.append(f"scale {name} {st.desired} -> 0 and wait until nothing runs" if not at_zero(st) else f"{name} is already at 0")
    lines.append(f"start the {mon['monitoring_days']:g}-day monitoring period")
    already = st.exists and at_zero(st) and mon["started_at"] is not None
    return Look("; ".join(lines), already=already, refusal=refusal,
                message=f"{st.name} already at 0; monitoring ends {_fmt(mon['ends_at'])}" if already else "",
                facts={"workloads": wl, "status": st, "served": served, "monitoring": mon, "lines": lines})


def scale_legacy_to_zero(ctx: RunContext) -> dict[str, Any]:
    """LiteLLM to 0 replicas, verified; refused while the flag serves less than 100% (unless forced)."""
    look = look_zero(ctx)
    if look.refusal is not None:
        raise look.refusal
    wl, st, served = look.facts["workloads"], look.facts["status"], look.facts["served"]
    if served < 100:  # forced (look_zero refused otherwise)
        ctx.audit("guardrail.override", f"{st.namespace}/{st.name}", ctx.reason, override="scale legacy to 0 below 100%",
                  served_percentage=served)
    if look.already:
        return {"changed": False, "workload": st.model_dump(), **look.facts["monitoring"], "message": look.message}
    ctx.journal(ZERO_KEY, "started", inputs={"previous_replicas": st.desired, "served_percentage": served})
    after = scale_and_wait(ctx, wl, st, 0, by="decommission")
    if after.ready != 0:
        ctx.journal(ZERO_KEY, "failed", evidence=after.model_dump(), message="still running")
        raise Unverified(f"{st.name} still has {after.ready} ready replica(s) after scaling to 0",
                         hint="check the LiteLLM pods, then run `cato-migrate decommission` again")
    ctx.journal(ZERO_KEY, "finished", evidence={"previous_replicas": st.desired, **after.model_dump()},
                message=f"{st.name} at 0 replicas; monitoring period starts")
    mon = monitoring_status(ctx)
    return {"changed": True, "previous_replicas": st.desired, "workload": after.model_dump(), **mon,
            "message": f"{st.name} scaled to 0 (was {st.desired}); delete allowed after {_fmt(mon['ends_at'])}"}


def look_delete(ctx: RunContext) -> Look:
    """`decommission --delete`'s one reading: delete LiteLLM after the monitoring period at 0
    replicas (or forced with a reason), and archive its configuration."""
    wl, st, name = _legacy(ctx)
    mon = monitoring_status(ctx)
    lines: list[str] = []
    refusal: CatoError | None = None
    if not st.exists:
        lines.append(f"{name} is already deleted")
    elif not at_zero(st) or mon["started_at"] is None:
        lines.append(f"REFUSE: {name} is not at 0 replicas (run `cato-migrate decommission` first)")
        refusal = CheckFailed(f"{st.name} is not scaled to 0 ({st.ready}/{st.desired} ready); it is deleted only after "
                              "the monitoring period at 0 replicas; nothing was changed",
                              hint="run `cato-migrate decommission` first")
    elif not mon["passed"]:
        lines.append(f"REFUSE unless --force: monitoring ends {_fmt(mon['ends_at'])}")
        if not ctx.force:
            refusal = CheckFailed(f"the {mon['monitoring_days']:g}-day monitoring period ends {_fmt(mon['ends_at'])}; "
                                  f"refusing to delete {st.name} before then; nothing was changed",
                                  hint="wait, or override with --force --reason TEXT (audited)")
    lines.append(f"delete {name}")
    lines.append("archive the LiteLLM configuration named by the runbook's archive_config steps")
    return Look("; ".join(lines), already=not st.exists, refusal=refusal, message=f"{name} already deleted",
                facts={"workloads": wl, "status": st, "monitoring": mon, "lines": lines})


def delete_legacy(ctx: RunContext) -> dict[str, Any]:
    """Delete LiteLLM after the monitoring period (or forced with a reason, audited)."""
    look = look_delete(ctx)
    if look.already:
        return {"changed": False, "message": look.message}
    if look.refusal is not None:
        raise look.refusal
    wl, st, mon = look.facts["workloads"], look.facts["status"], look.facts["monitoring"]
    if not mon["passed"]:  # forced (look_delete refused otherwise)
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
    """What `decommission [--delete]` would do now, and what would refuse it (reads only): the
    same look the run acts on."""
    from cato_migrate.core.traffic import flag_status

    look = look_delete(ctx) if delete else look_zero(ctx)
    served = look.facts.get("served")
    if served is None:
        served = flag_status(ctx.services.traffic_flag()).served_percentage
    return {"dry_run": True, "changed": False, "served_percentage": served, "legacy": look.facts["status"].model_dump(),
            "monitoring": look.facts["monitoring"], "would": look.facts["lines"], "message": "nothing was changed (dry run)"}


def archive_legacy_config(ctx: RunContext) -> list[str]:
    """Archive what the runbook's archive_config steps name, through that step's own apply and
    verify (so `decommission --delete` and the runbook step can never archive differently)."""
    from cato_migrate.core.kinds import step_kind

    archived: list[str] = []
    for phase in ctx.runbook.phases:
        for _, step in phase.steps():
            if step.kind != "archive_config":
                continue
            kind = step_kind(step.kind)
            params = kind.Params.model_validate(step.params)
            archived += kind.apply(step, params, ctx)["archived"]
            check = kind.verify(step, params, ctx)
            if not check.ok:
                raise Unverified(f"LiteLLM was deleted but its configuration was not archived: {check.message}",
                                 hint="run `cato-migrate decommission --delete` again (the delete is done; "
                                      "archiving is idempotent)", details=check.evidence)
    return archived
