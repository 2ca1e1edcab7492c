"""Scaling a workload and waiting for it: the one implementation the full rollback, decommission
and the runbook's workload_scale step share (audited, idempotent, verified by the caller)."""
from __future__ import annotations

from cato_migrate.core.context import RunContext
from cato_migrate.ports import Workloads, WorkloadStatus


def needs_scaling(st: WorkloadStatus, replicas: int) -> bool:
    """Desired differs, or (to 0) desired is 0 but something still serves: ask again (idempotent)."""
    return st.desired != replicas or (replicas == 0 and st.ready != 0)


def scale(ctx: RunContext, wl: Workloads, st: WorkloadStatus, replicas: int, *, by: str) -> None:
    """Scale (when needed) and audit who did it; no wait."""
    if not needs_scaling(st, replicas):
        return
    ctx.progress(f"scaling {st.name} {st.desired} -> {replicas}")
    wl.scale(st.name, st.namespace, replicas)
    ctx.audit("workload.scale", f"{st.namespace}/{st.name}", ctx.reason, replicas=replicas, previous=st.desired, by=by)


def scale_and_wait(ctx: RunContext, wl: Workloads, st: WorkloadStatus, replicas: int, *, by: str) -> WorkloadStatus:
    """Scale (when needed), then wait for the rollout; returns what it reads at the end."""
    scale(ctx, wl, st, replicas, by=by)
    ctx.progress(f"waiting for {st.name} to be {'ready' if replicas else 'at 0'}")
    return wl.wait_ready(st.name, st.namespace, ctx.settings.rollout_timeout_seconds)


def at_zero(st: WorkloadStatus) -> bool:
    return st.desired == 0 and st.ready == 0
