"""The share of traffic the flag actually serves, read as a client reads it."""
from __future__ import annotations

from cato_migrate.core.kinds import CheckKind, CheckResult, register_check


@register_check
class FlagServedPercentage(CheckKind):
    name = "flag_served_percentage"

    def evaluate(self, criterion, params, ctx) -> CheckResult:
        from cato_migrate.core.traffic import flag_status

        st = flag_status(ctx.services.traffic_flag())
        evidence = {"served_percentage": st.served_percentage, "configured_percentage": st.configured_percentage,
                    "deployment_state": st.deployment_state, "served_version": st.served_version}
        if st.deployment_state in ("DEPLOYING", "BAKING"):
            return CheckResult("waiting", f"deployment {st.deployment_state}; served {st.served_percentage}% so far",
                               float(st.served_percentage), evidence)
        return CheckResult("pass", f"flag serves {st.served_percentage}% (observed gateway share: not measured yet)",
                           float(st.served_percentage), evidence)
