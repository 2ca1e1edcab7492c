"""Exit criterion: the orchestrator's routing probe passes against the running orchestrator."""
from __future__ import annotations

from cato_migrate.core.kinds import CheckKind, CheckResult, register_check


@register_check
class OrchestratorRouting(CheckKind):
    name = "orchestrator_routing"

    def evaluate(self, criterion, params, ctx) -> CheckResult:
        from cato_migrate.core import probes

        api = ctx.services.orchestrator_api()
        r = probes.probe_routing(api)
        return CheckResult("pass" if r.ok else "fail", r.message, r.measured, r.evidence)
