"""Exit criterion "Consolidation pipeline extracting facts": a probe interaction with a unique
fact goes through the orchestrator, its exchange is consolidated, and the fact must appear in
semantic memory with that interaction as provenance (`core.memory_probes.probe_consolidation`)."""
from __future__ import annotations

from pydantic import Field

from cato_migrate.core.kinds import CheckKind, CheckResult, register_check
from cato_migrate.core.model import CoreModel


class ConsolidationParams(CoreModel):
    domain: str = Field(default="ai", min_length=1, description="Semantic-memory domain the probe fact goes to.")


@register_check
class ConsolidationFacts(CheckKind):
    name = "consolidation_facts"
    Params = ConsolidationParams

    def evaluate(self, criterion, params, ctx) -> CheckResult:
        from cato_migrate.core.memory_probes import probe_consolidation

        r = probe_consolidation(ctx.services.orchestrator_api(), params.domain)
        return CheckResult("pass" if r.ok else "fail", r.message, r.measured, r.evidence)
