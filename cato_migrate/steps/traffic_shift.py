"""Move the traffic flag to a percentage (the runbook's canary weeks)."""
from __future__ import annotations

from pydantic import Field

from cato_migrate.core.kinds import StepKind, Verification, register_step
from cato_migrate.core.model import CoreModel


class TrafficParams(CoreModel):
    percentage: int = Field(ge=0, le=100, description="Target share of traffic on the new orchestrator.")


@register_step
class TrafficShift(StepKind):
    name = "traffic_shift"
    Params = TrafficParams

    def plan(self, step, params, ctx) -> str:
        s = ctx.settings
        return (f"deploy flag {s.flag_name}={params.percentage}% to AppConfig "
                f"{s.appconfig_application}/{s.appconfig_env_name}/{s.appconfig_profile} with strategy "
                f"{s.canary_strategy}, wait for COMPLETE, read the served value back")

    def apply(self, step, params, ctx) -> dict:
        from cato_migrate.core.traffic import IN_FLIGHT, TRAFFIC_KEY, flag_status, set_traffic, wait_for

        flag = ctx.services.traffic_flag()
        st = flag_status(flag)
        if st.deployment_state in IN_FLIGHT and st.deployment and st.configured_percentage == params.percentage:
            # A run killed mid-wait left its own deployment rolling out: resume by waiting for it
            # (set_traffic refuses any in-flight deployment, rightly for `canary set`).
            dep = wait_for(ctx, flag, st.deployment, ctx.settings.deployment_timeout_seconds)
            ctx.journal(TRAFFIC_KEY, "finished" if dep.state == "COMPLETE" else "failed",
                        evidence={"deployment": dep.number, "deployment_state": dep.state},
                        message=f"resumed: waited for deployment #{dep.number} ({dep.state})")
            return {"deployment": dep.number, "changed": True}
        result = set_traffic(ctx, params.percentage)
        return {"deployment": result.get("deployment"), "changed": result["changed"]}

    def verify(self, step, params, ctx) -> Verification:
        from cato_migrate.core.traffic import flag_status

        st = flag_status(ctx.services.traffic_flag())
        ok = st.served_percentage == params.percentage and st.deployment_state == "COMPLETE"
        return Verification(ok, f"served {st.served_percentage}% (deployment {st.deployment_state})",
                            {"served_percentage": st.served_percentage, "deployment_state": st.deployment_state})
