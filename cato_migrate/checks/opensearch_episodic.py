"""Exit criterion "OpenSearch indexing episodic memory": index a probe episode through the
orchestrator's episodic memory, then search it back (`core.memory_probes.probe_episodic`).

The orchestrator's index is OpenSearch Serverless in production and its embedded vector index
on the sandbox; the evidence names the index that answered."""
from __future__ import annotations

from pydantic import Field

from cato_migrate.core.kinds import CheckKind, CheckResult, register_check
from cato_migrate.core.model import CoreModel


class EpisodicParams(CoreModel):
    min_score: float = Field(default=0.5, ge=0, le=1, description="Similarity the probe's own episode must reach.")


@register_check
class OpenSearchEpisodic(CheckKind):
    name = "opensearch_episodic"
    Params = EpisodicParams

    def evaluate(self, criterion, params, ctx) -> CheckResult:
        from cato_migrate.core.memory_probes import probe_episodic

        r = probe_episodic(ctx.services.orchestrator_api(), params.min_score)
        index = ctx.services.environment().episodic_index
        if index:
            r.evidence["path"] = index
        return CheckResult("pass" if r.ok else "fail", r.message, r.measured, r.evidence)
