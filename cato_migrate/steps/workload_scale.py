"""Scale a workload (week 16: LiteLLM to 0 replicas, once the new stack serves 100%)."""
from __future__ import annotations

from pydantic import Field

from cato_migrate.core.kinds import StepKind, Verification, register_step
from cato_migrate.core.model import CoreModel


class ScaleParams(CoreModel):
    workload: str = Field(description="Workload name, e.g. litellm.")
    namespace: str = Field(default="cato", description="Namespace.")
    replicas: int = Field(ge=0, description="Desired replicas.")


@register_step
class WorkloadScale(StepKind):
    name = "workload_scale"
    Params = ScaleParams

    def _is_legacy_off(self, params, ctx) -> bool:
        return params.workload == ctx.settings.legacy_workload and params.replicas == 0

    def plan(self, step, params, ctx) -> str:
        guard = (" only if the flag serves 100% to the new stack; starts the monitoring period"
                 if self._is_legacy_off(params, ctx) else "")
        return f"scale {params.namespace}/{params.workload} to {params.replicas} replica(s) and wait{guard}"

    def apply(self, step, params, ctx) -> dict:
        if self._is_legacy_off(params, ctx):
            from cato_migrate.core.decommission import scale_legacy_to_zero

            r = scale_legacy_to_zero(ctx)
            return {"previous_replicas": r.get("previous_replicas"), "monitoring_ends_at": r["ends_at"]}
        from cato_migrate.core.workload_scaling import scale

        wl = ctx.services.workloads()
        before = wl.status(params.workload, params.namespace)
        scale(ctx, wl, before, params.replicas, by=step.id)
        return {"previous_replicas": before.desired}

    def verify(self, step, params, ctx) -> Verification:
        st = ctx.services.workloads().wait_ready(params.workload, params.namespace,
                                                 ctx.settings.rollout_timeout_seconds)
        ok = st.exists and st.desired == params.replicas and st.ready == params.replicas
        if params.replicas > 0:
            ok = st.exists and st.desired == params.replicas and st.is_ready
        return Verification(ok, f"{st.name}: {st.ready}/{st.desired} ready ({st.detail or st.kind})", st.model_dump())
