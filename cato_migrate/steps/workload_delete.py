"""Delete LiteLLM after the monitoring period (week 16). Waits, never skips the period unless forced."""
from __future__ import annotations

from pydantic import Field

from cato_migrate.core.kinds import StepKind, Verification, register_step
from cato_migrate.core.model import CoreModel


class DeleteParams(CoreModel):
    workload: str = Field(description="Workload name, e.g. litellm.")
    namespace: str = Field(default="cato", description="Namespace.")
    after_monitoring_days: float = Field(ge=0, description="Days at 0 replicas before deletion is allowed.")


@register_step
class WorkloadDelete(StepKind):
    name = "workload_delete"
    Params = DeleteParams

    def plan(self, step, params, ctx) -> str:
        from cato_migrate.core.decommission import monitoring_status

        mon = monitoring_status(ctx)
        when = ("the monitoring period has not started (LiteLLM not yet at 0)" if mon["started_at"] is None
                else "the monitoring period has passed" if mon["passed"]
                else f"waits until {_fmt(mon['ends_at'])} (--force --reason to delete earlier, audited)")
        return f"delete {params.namespace}/{params.workload} after {params.after_monitoring_days:g} days at 0 replicas: {when}"

    def apply(self, step, params, ctx) -> dict:
        from cato_migrate.core.decommission import delete_legacy, monitoring_status
        from cato_migrate.core.engine import StepWaiting

        if not ctx.services.workloads().status(params.workload, params.namespace).exists:
            return {"changed": False}  # already deleted (e.g. by `cato-migrate decommission --delete`)
        mon = monitoring_status(ctx)
        if mon["started_at"] is not None and not mon["passed"] and not ctx.force:
            raise StepWaiting(f"monitoring period: {params.workload} may be deleted after {_fmt(mon['ends_at'])}; "
                              "run this phase again then (or `cato-migrate decommission --delete --force --reason TEXT`)")
        r = delete_legacy(ctx)
        return {"forced": r.get("forced", False), "changed": r["changed"]}

    def verify(self, step, params, ctx) -> Verification:
        st = ctx.services.workloads().status(params.workload, params.namespace)
        return Verification(not st.exists, f"{params.workload} {'still exists' if st.exists else 'deleted'}",
                            {"exists": st.exists})


def _fmt(ts: float) -> str:
    from cato_migrate.core.decommission import _fmt as fmt

    return fmt(ts)
