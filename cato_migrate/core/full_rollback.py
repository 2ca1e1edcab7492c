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

from typing import Any

from cato_migrate.core.context import RunContext
from cato_migrate.core.operation import Look, Operation, StageResult, Verified, plan_operations, run_operations
from cato_migrate.core.workload_scaling import at_zero, scale_and_wait
from cato_migrate.core.state import JournalEntry
from cato_migrate.errors import CheckFailed, Unverified
from cato_migrate.ports import GatewayMetrics, StackTraffic, Workloads

KEY = "rollback.full"
STAGES = ("legacy-up", "flag-zero", "drain", "orchestrator-down")
BY = "rollback --full"


class LegacyUp:
    """LiteLLM scaled up and ready: it must be able to take the traffic before the flag moves."""

    name = "legacy-up"

    def __init__(self, wl: Workloads):
        self.wl = wl

    def look(self, ctx: RunContext) -> Look:
        s = ctx.settings
        st = self.wl.status(s.legacy_workload, s.workload_namespace)
        target = max(st.desired, s.legacy_replicas)
        facts = {"status": st, "target": target}
        if not st.exists:
            return Look(f"STOP: {st.namespace}/{st.name} does not exist; the rollback would refuse before moving traffic",
                        refusal=CheckFailed(
                f"the legacy workload {s.workload_namespace}/{s.legacy_workload} does not exist (deleted by decommission?); "
                "nothing was changed: traffic stays where it is",
                hint="re-create it from the archived manifest (kubectl apply -f ...), then run `cato-migrate rollback --full` again; "
                     "`cato-migrate rollback --quick` would send traffic to a stack that is not there"), facts=facts)
        if st.desired >= target and st.is_ready and st.ready > 0:
            return Look(f"nothing: {st.name} ready ({st.ready}/{st.desired})", already=True,
                        message=f"{st.name} already ready ({st.ready}/{st.desired})", facts=st.model_dump())
        return Look(f"scale {st.name} {st.desired} -> {target} and wait until ready (now {st.ready} ready)", facts=facts)

    def apply(self, ctx: RunContext, look: Look) -> dict[str, Any]:
        return {"after": scale_and_wait(ctx, self.wl, look.facts["status"], look.facts["target"], by=BY)}

    def verify(self, ctx: RunContext, look: Look, applied: dict[str, Any]) -> Verified:
        after = applied["after"]
        if after.is_ready and after.ready > 0:
            return Verified(True, f"{after.name} ready ({after.ready}/{after.desired})", after.model_dump())
        return Verified(False, "", error=Unverified(
            f"{after.name} is not ready ({after.ready}/{after.desired}); traffic was NOT moved",
            hint="check the LiteLLM pods, then run `cato-migrate rollback --full` again"))


class FlagZero:
    """The flag to 0%, verified through appconfigdata (the quick rollback, if not already at 0)."""

    name = "flag-zero"

    def look(self, ctx: RunContext) -> Look:
        from cato_migrate.core.traffic import IN_FLIGHT, flag_status

        flag = flag_status(ctx.services.traffic_flag())
        if flag.served_percentage == 0 and flag.deployment_state not in IN_FLIGHT:
            return Look("nothing: the flag already serves 0%", already=True,
                        message="flag already serves 0% (verified through appconfigdata)", facts=flag.model_dump())
        stop = (f"stop deployment #{flag.deployment.number} ({flag.deployment_state}), "
                if flag.deployment_state in IN_FLIGHT and flag.deployment else "")
        return Look(stop + f"deploy 0% with zero bake and verify (now serving {flag.served_percentage}%)")

    def apply(self, ctx: RunContext, look: Look) -> dict[str, Any]:
        from cato_migrate.core.quick_rollback import quick_rollback

        return quick_rollback(ctx, check_legacy=False)  # legacy-up just made LiteLLM ready

    def verify(self, ctx: RunContext, look: Look, applied: dict[str, Any]) -> Verified:
        # quick_rollback verified what clients are served before it returned (it raises otherwise)
        return Verified(True, applied["message"], {"deployment": applied.get("deployment"),
                                                   "stopped_deployments": applied["stopped_deployments"]})


class Drain:
    """Quiet = nothing in flight to the new stack and its served counter unchanged for the quiet window."""

    name = "drain"

    def __init__(self, gw: GatewayMetrics | None):
        self.gw = gw

    def look(self, ctx: RunContext) -> Look:
        s = ctx.settings
        if self.gw is None:
            return Look(f"no gateway metrics: wait {s.drain_quiet_seconds:g}s blind")
        t = self.gw.traffic()
        return Look(f"wait until 0 in flight to the orchestrator and no new request for {s.drain_quiet_seconds:g}s "
                    f"(now {t.in_flight_new} in flight; at most {s.drain_timeout_seconds:g}s)")

    def apply(self, ctx: RunContext, look: Look) -> dict[str, Any]:
        return _drain(ctx, self.gw)

    def verify(self, ctx: RunContext, look: Look, applied: dict[str, Any]) -> Verified:
        # _drain returns only once the quiet window held (it raises at the timeout)
        return Verified(True, applied.pop("message"), applied)


class OrchestratorDown:
    """The orchestrator scaled to 0, and nothing of it running."""

    name = "orchestrator-down"

    def __init__(self, wl: Workloads):
        self.wl = wl

    def look(self, ctx: RunContext) -> Look:
        s = ctx.settings
        st = self.wl.status(s.orchestrator_workload, s.workload_namespace)
        if not st.exists or at_zero(st):
            return Look(f"nothing: {st.name} already at 0", already=True,
                        message=f"{s.orchestrator_workload} already at 0", facts=st.model_dump())
        return Look(f"scale {st.name} {st.desired} -> 0 and wait until nothing runs (now {st.ready} ready)",
                    facts={"status": st})

    def apply(self, ctx: RunContext, look: Look) -> dict[str, Any]:
        return {"after": scale_and_wait(ctx, self.wl, look.facts["status"], 0, by=BY)}

    def verify(self, ctx: RunContext, look: Look, applied: dict[str, Any]) -> Verified:
        after = applied["after"]
        if after.ready == 0:
            return Verified(True, f"{after.name} scaled to 0", after.model_dump())
        return Verified(False, "", error=Unverified(
            f"{after.name} still has {after.ready} ready replica(s) after scaling to 0",
            hint="check the orchestrator, then run `cato-migrate rollback --full` again"))


def stages(ctx: RunContext) -> list[Operation]:
    wl = ctx.services.workloads()
    return [LegacyUp(wl), FlagZero(), Drain(ctx.services.gateway_metrics()), OrchestratorDown(wl)]


def _drain(ctx: RunContext, gw: GatewayMetrics | None) -> dict[str, Any]:
    s = ctx.settings
    if gw is None:
        ctx.progress(f"no gateway metrics configured: waiting the quiet window ({s.drain_quiet_seconds:.0f}s) blind")
        ctx.clock.sleep(s.drain_quiet_seconds)
        return {"message": f"no gateway metrics: waited {s.drain_quiet_seconds:.0f}s for clients to re-read the flag "
                           "(not measured)", "measured": False}
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
    return {"message": f"drained: 0 in flight, no new requests for {s.drain_quiet_seconds:.0f}s "
                       f"({drained} finished while draining)",
            "measured": True, "finished_while_draining": drained, **last.model_dump()}


def full_rollback(ctx: RunContext) -> dict[str, Any]:
    """Run the four stages in order, each verified and timed; stop at the first that fails."""
    ops = stages(ctx)
    budget = ctx.runbook.meta.rollback.full_budget_seconds
    t0 = ctx.clock.now()
    from cato_migrate.core.rollback_hold import set_hold

    set_hold(ctx, BY)  # before the first write: a crash mid-rollback still refuses raises
    ctx.journal(KEY, "started", inputs={"stages": list(STAGES)})
    ctx.audit("rollback.full", KEY, ctx.reason)

    def say(i: int, r: StageResult) -> None:
        ctx.progress(f"[{i}/{len(STAGES)}] {r.stage}: {r.message} ({r.seconds:.1f}s)")

    results = run_operations(ctx, KEY, ops, on_stage=say)
    total = round(ctx.clock.now() - t0, 3)
    ctx.journal(KEY, "finished", message=f"legacy serving, flag 0%, orchestrator at 0 in {total:.1f}s",
                evidence={"seconds": total, "stages": {r.stage: r.seconds for r in results}})
    return {"stages": [r.to_dict() for r in results], "elapsed_seconds": total, "budget_seconds": budget,
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


def plan_full_rollback(ctx: RunContext) -> list[dict[str, str]]:
    """What each stage would do now (reads only; changes nothing): `rollback --full --dry-run`.
    The same looks the run acts on."""
    return plan_operations(ctx, stages(ctx))
