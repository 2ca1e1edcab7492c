"""The share of traffic on the new stack: the flag as a client reads it, and where a gateway
exists, what the gateway observably does with real requests from probe users."""
from __future__ import annotations

from cato_migrate.core.kinds import CheckKind, CheckResult, register_check

PROBE_USERS = 24


def observe_split(gw, percentage: int, users: int = PROBE_USERS) -> dict:
    """Send one request per probe user through the gateway; compare each with the sticky split.

    Bucketing is deterministic, so every probe user's expected stack at `percentage` is known
    exactly: any mismatch is a real disagreement between the flag and the edge, not noise."""
    from cato_migrate.core.bucketing import pick_stack

    mismatches, errors, new = [], [], 0
    for i in range(users):
        user = f"cato-migrate-probe-{i}"
        stack, status = gw.probe(user)
        new += stack == "new"
        if stack != pick_stack(user, percentage):
            mismatches.append({"user": user, "expected": pick_stack(user, percentage), "observed": stack})
        if status >= 400:
            errors.append({"user": user, "stack": stack, "status": status})
    return {"probe_users": users, "observed_new_share": round(100.0 * new / users, 1),
            "mismatches": mismatches, "errors": errors}


@register_check
class FlagServedPercentage(CheckKind):
    name = "flag_served_percentage"

    def evaluate(self, criterion, params, ctx) -> CheckResult:
        from cato_migrate.core.traffic import flag_status

        st = flag_status(ctx.services.traffic_flag())
        evidence = {"served_percentage": st.served_percentage, "configured_percentage": st.configured_percentage,
                    "deployment_state": st.deployment_state, "served_version": st.served_version}
        served = float(st.served_percentage)
        if st.deployment_state in ("DEPLOYING", "BAKING"):
            return CheckResult("waiting", f"deployment {st.deployment_state}; served {st.served_percentage}% so far",
                               served, evidence)
        gw = ctx.services.gateway_metrics()
        if gw is None:
            return CheckResult("pass", f"flag serves {st.served_percentage}% (no gateway configured: observed share "
                               "not measured)", served, evidence)
        obs = observe_split(gw, st.served_percentage)
        if obs["mismatches"] or obs["errors"]:
            ctx.clock.sleep(1.0)  # the gateway re-reads the flag every ~0.5 s; one retry absorbs a fresh change
            obs = observe_split(gw, st.served_percentage)
        evidence["gateway"] = obs
        if obs["mismatches"]:
            m = obs["mismatches"][0]
            return CheckResult("fail", f"the gateway routed {len(obs['mismatches'])} of {obs['probe_users']} probe users "
                               f"differently from the flag's {st.served_percentage}% (e.g. {m['user']} went to {m['observed']}, "
                               f"expected {m['expected']}); observed new-stack share {obs['observed_new_share']}%",
                               served, evidence)
        if obs["errors"]:
            e = obs["errors"][0]
            return CheckResult("fail", f"{len(obs['errors'])} of {obs['probe_users']} probe requests failed "
                               f"(e.g. HTTP {e['status']} from the {e['stack']} stack)", served, evidence)
        return CheckResult("pass", f"flag serves {st.served_percentage}%; the gateway routed all {obs['probe_users']} "
                           f"probe users as the flag says (observed new-stack share {obs['observed_new_share']}%)",
                           served, evidence)
