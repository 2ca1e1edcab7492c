"""A runbook week whose work is proven by probing the running orchestrator (weeks 5-8)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from cato_migrate.core.kinds import StepKind, Verification, register_step
from cato_migrate.core.model import CoreModel


class ProbeParams(CoreModel):
    probe: Literal["routing", "context", "circuit_breaker", "cache"] = Field(description="Which capability to probe.")


@register_step
class OrchestratorProbe(StepKind):
    name = "orchestrator_probe"
    Params = ProbeParams
    mutating = False

    def plan(self, step, params, ctx) -> str:
        extra = (f" (plants a Sonnet fault {ctx.services.environment().breaker_fault}, then clears it)"
                 if params.probe == "circuit_breaker" else "")
        return f"probe the orchestrator's {params.probe.replace('_', ' ')} through its API{extra}"

    def apply(self, step, params, ctx) -> dict:
        return {}  # the capability ships with the orchestrator; the step is its verification

    def verify(self, step, params, ctx) -> Verification:
        from cato_migrate.core import probes

        api = ctx.services.orchestrator_api()
        if params.probe == "circuit_breaker":
            r = probes.probe_breaker(api, ctx.services.fault_injector())
        else:
            r = getattr(probes, f"probe_{params.probe}")(api)
        return Verification(r.ok, r.message, {"probe": r.name, "measured": r.measured, **r.evidence})
