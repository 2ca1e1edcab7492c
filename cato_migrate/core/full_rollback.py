"""Full rollback, in the safe order (DESIGN.md section 5), which differs from the runbook's text:

    1. legacy-up          LiteLLM scaled up and ready     (it must be able to take the traffic)
    2. flag-zero          flag to 0%, verified            (the quick rollback, if not already 0)
    3. drain              in-flight requests to the orchestrator drained
    4. orchestrator-down  orchestrator scaled to 0

Shifting traffic away from a stack before the other can take it loses requests, so each stage
is verified before the next starts. Every stage is idempotent: a re-run after an interruption
checks each stage's state and only does what is still missing. Stages are journaled under
`rollback.full.<stage>` with their wall time; the total is reported against the runbook's budget.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from cato_migrate.core.context import RunContext
from cato_migrate.core.state import JournalEntry
from cato_migrate.errors import CatoError, CheckFailed, Unverified
from cato_migrate.ports import GatewayMetrics, StackTraffic, Workloads

KEY = "rollback.full"
STAGES = ("legacy-up", "flag-zero", "drain", "orchestrator-down")


@dataclass
class StageResult:
    stage: str
    outcome: str  # done | already | failed
    message: str
    seconds: float
    evidence: dict[str, Any] = field(default_factory=dict)


def _legacy_up(ctx: RunContext, wl: Workloads) -> tuple[str, str, dict[str, Any]]:
    s = ctx.settings
    st = wl.status(s.legacy_workload, s.workload_namespace)
    if not st.exists:
        raise CheckFailed(
            f"the legacy workload {s.workload_namespace}/{s.legacy_workload} does not exist (deleted by decommission?); "
            "nothing was changed: traffic stays where it is",
            hint="re-create it from the archived manifest (kubectl apply -f ...), then run `cato-migrate rollback --full` again; "
                 "`cato-migrate rollback --quick` would send traffic to a stack that is not there")
    target = max(st.desired, s.legacy_replicas)
    if st.desired >= target and st.is_ready and st.ready > 0:
        return "already", f"{st.name} already ready ({st.ready}/{st.desired})", st.model_dump()
    if st.desired != target:
        ctx.progress(f"scaling {st.name} {st.desired} -> {target}")
        wl.scale(st.name, st.namespace, target)
        ctx.audit("workload.scale", f"{st.namespace}/{st.name}", ctx.reason, replicas=target, previous=st.desired,
                  by="rollback --full")
    ctx.progress(f"waiting for {st.name} to be ready")
    after = wl.wait_ready(st.name, st.namespace, s.rollout_timeout_seconds)
    if not (after.is_ready and after.ready > 0):
        raise Unverified(f"{st.name} is not ready ({after.ready}/{after.desired}); traffic was NOT moved",
                         hint="check the LiteLLM pods, then run `cato-migrate rollback --full` again")
    return "done", f"{st.name} ready ({after.ready}/{after.desired})", after.model_dump()


def _flag_zero(ctx: RunContext) -> tuple[str, str, dict[str, Any]]:
    from cato_migrate.core.quick_rollback import quick_rollback
    from cato_migrate.core.traffic import IN_FLIGHT, flag_status

    before = flag_status(ctx.services.traffic_flag())
    if before.served_percentage == 0 and before.deployment_state not in IN_FLIGHT:
        return "already", "flag already serves 0% (verified through appconfigdata)", before.model_dump()
    result = quick_rollback(ctx, check_legacy=False)  # legacy-up just made LiteLLM ready
    return "done", result["message"], {"deployment": result.get("deployment"),
                                       "stopped_deployments": result["stopped_deployments"]}


def _drain(ctx: RunContext, gw: GatewayMetrics | None) -> tuple[str, str, dict[str, Any]]:
    """Quiet = nothing in flight to the new stack and its served counter unchanged for the quiet window."""
    s = ctx.settings
    if gw is None:
        ctx.progress(f"no gateway metrics configured: waiting the quiet window ({s.drain_quiet_seconds:.0f}s) blind")
        ctx.clock.sleep(s.drain_quiet_seconds)
        return "done", f"no gateway metrics: waited {s.drain_quiet_seconds:.0f}s for clients to re-read the flag (not measured)", {"measured": False}
    deadline = ctx.clock.now() + s.drain_timeout_seconds
    first: StackTraffic = gw.traffic()
    last = first
    quiet_since = ctx.clock.now() if first.in_flight_new == 0 else None
    while True:
        ctx.ensure_held()
        now = ctx.clock.now()
        if quiet_since is not None and now - quiet_since >= s.drain_quiet_seconds:
            break
        if now >= deadline:
            raise Unverified(
                f"the orchestrator still has {last.in_flight_new} request(s) in flight after {s.drain_timeout_seconds:.0f}s; "
                "it was NOT scaled down (the flag is at 0%, LiteLLM is serving)",
                hint="find who still reaches the orchestrator directly, then run `cato-migrate rollback --full` again",
                details=last.model_dump())
        ctx.clock.sleep(min(0.5, max(s.drain_quiet_seconds / 4, 0.05)))
        cur = gw.traffic()
        if cur.in_flight_new > 0 or cur.served_new != last.served_new or cur.errors_new != last.errors_new:
            quiet_since = None
            ctx.progress(f"draining: {cur.in_flight_new} in flight to the orchestrator")
        elif quiet_since is None:
            quiet_since = ctx.clock.now()
        last = cur
    drained = last.served_new - first.served_new
    return "done", f"drained: 0 in flight, no new requests for {s.drain_quiet_seconds:.0f}s ({drained} finished while draining)", \
        {"measured": True, "finished_while_draining": drained, **last.model_dump()}


def _orchestrator_down(ctx: RunContext, wl: Workloads) -> tuple[str, str, dict[str, Any]]:
    s = ctx.settings
    st = wl.status(s.orchestrator_workload, s.workload_namespace)
    if not st.exists or (st.desired == 0 and st.ready == 0):
        return "already", f"{s.orchestrator_workload} already at 0", st.model_dump()
    if st.desired != 0 or st.ready != 0:  # desired 0 but still serving: ask again (idempotent)
        ctx.progress(f"scaling {st.name} {st.desired} -> 0")
        wl.scale(st.name, st.namespace, 0)
        ctx.audit("workload.scale", f"{st.namespace}/{st.name}", ctx.reason, replicas=0, previous=st.desired,
                  by="rollback --full")
    after = wl.wait_ready(st.name, st.namespace, s.rollout_timeout_seconds)
    if after.ready != 0:
        raise Unverified(f"{st.name} still has {after.ready} ready replica(s) after scaling to 0",
                         hint="check the orchestrator, then run `cato-migrate rollback --full` again")
    return "done", f"{st.name} scaled to 0", after.model_dump()


def full_rollback(ctx: RunContext) -> dict[str, Any]:
    """Run the four stages in order, each verified and timed; stop at the first that fails."""
    wl = ctx.services.workloads()
    gw = ctx.services.gateway_metrics()
    runners: dict[str, Callable[[], tuple[str, str, dict[str, Any]]]] = {
        "legacy-up": lambda: _legacy_up(ctx, wl),
        "flag-zero": lambda: _flag_zero(ctx),
        "drain": lambda: _drain(ctx, gw),
        "orchestrator-down": lambda: _orchestrator_down(ctx, wl),
    }
    budget = ctx.runbook.meta.rollback.full_budget_seconds
    t0 = ctx.clock.now()
    from cato_migrate.core.rollback_hold import set_hold

    set_hold(ctx, "rollback --full")  # before the first write: a crash mid-rollback still refuses raises
    ctx.journal(KEY, "started", inputs={"stages": list(STAGES)})
    ctx.audit("rollback.full", KEY, ctx.reason)
    results: list[StageResult] = []
    for i, name in enumerate(STAGES, 1):
        key = f"{KEY}.{name}"
        ctx.journal(key, "started")
        started = ctx.clock.now()
        try:
            outcome, message, evidence = runners[name]()
        except CatoError as exc:
            secs = round(ctx.clock.now() - started, 3)
            ctx.journal(key, "failed", message=exc.message, evidence={"seconds": secs, **exc.details})
            ctx.journal(KEY, "failed", message=f"stopped at {name}: {exc.message}")
            results.append(StageResult(name, "failed", exc.message, secs))
            exc.details = {**exc.details, "stages": [asdict(r) for r in results]}
            raise
        secs = round(ctx.clock.now() - started, 3)
        ctx.progress(f"[{i}/{len(STAGES)}] {name}: {message} ({secs:.1f}s)")
        ctx.journal(key, "finished", message=message, evidence={"seconds": secs, "outcome": outcome, **evidence})
        results.append(StageResult(name, outcome, message, secs, evidence))
    total = round(ctx.clock.now() - t0, 3)
    ctx.journal(KEY, "finished", message=f"legacy serving, flag 0%, orchestrator at 0 in {total:.1f}s",
                evidence={"seconds": total, "stages": {r.stage: r.seconds for r in results}})
    return {"stages": [asdict(r) for r in results], "elapsed_seconds": total, "budget_seconds": budget,
            "within_budget": total <= budget,
            "message": f"LiteLLM serving all traffic; flag 0% verified; orchestrator at 0 in {total:.1f}s (budget {budget}s)"}


def interrupted_full_rollback(entries: list[JournalEntry]) -> str | None:
    """The stage an unfinished full rollback stopped at, or None when the last one finished (or none ran)."""
    runs = [e for e in entries if e.key == KEY]
    if not runs or runs[-1].event == "finished":
        return None
    start = max(e.seq for e in runs if e.event == "started")
    latest: dict[str, str] = {}
    for e in entries:
        if e.seq >= start and e.key.startswith(KEY + "."):
            latest[e.key.removeprefix(KEY + ".")] = e.event
    for stage in STAGES:
        if latest.get(stage) != "finished":
            return stage
    return STAGES[-1]


def plan_full_rollback(ctx: RunContext) -> list[dict[str, Any]]:
    """What each stage would do now (reads only; changes nothing): `rollback --full --dry-run`."""
    from cato_migrate.core.traffic import IN_FLIGHT, flag_status

    s = ctx.settings
    wl = ctx.services.workloads()
    gw = ctx.services.gateway_metrics()
    legacy = wl.status(s.legacy_workload, s.workload_namespace)
    target = max(legacy.desired, s.legacy_replicas)
    if not legacy.exists:
        up = f"STOP: {legacy.namespace}/{legacy.name} does not exist; the rollback would refuse before moving traffic"
    elif legacy.desired >= target and legacy.is_ready and legacy.ready > 0:
        up = f"nothing: {legacy.name} ready ({legacy.ready}/{legacy.desired})"
    else:
        up = f"scale {legacy.name} {legacy.desired} -> {target} and wait until ready (now {legacy.ready} ready)"
    flag = flag_status(ctx.services.traffic_flag())
    if flag.served_percentage == 0 and flag.deployment_state not in IN_FLIGHT:
        zero = "nothing: the flag already serves 0%"
    else:
        zero = (f"stop deployment #{flag.deployment.number} ({flag.deployment_state}), " if flag.deployment_state in IN_FLIGHT
                and flag.deployment else "") + f"deploy 0% with zero bake and verify (now serving {flag.served_percentage}%)"
    if gw is None:
        drain = f"no gateway metrics: wait {s.drain_quiet_seconds:g}s blind"
    else:
        t = gw.traffic()
        drain = (f"wait until 0 in flight to the orchestrator and no new request for {s.drain_quiet_seconds:g}s "
                 f"(now {t.in_flight_new} in flight; at most {s.drain_timeout_seconds:g}s)")
    orch = wl.status(s.orchestrator_workload, s.workload_namespace)
    down = (f"nothing: {orch.name} already at 0" if not orch.exists or (orch.desired == 0 and orch.ready == 0)
            else f"scale {orch.name} {orch.desired} -> 0 and wait until nothing runs (now {orch.ready} ready)")
    return [{"stage": name, "would": what} for name, what in zip(STAGES, (up, zero, drain, down))]
