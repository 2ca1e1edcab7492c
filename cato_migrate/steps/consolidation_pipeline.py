"""Week 11: the memory consolidation pipeline, proven by running it on a probe interaction.

The pipeline ships inside the orchestrator (`orchestrator/memory/consolidation.py`, prompted on
the Haiku tier, triggered through `POST /admin/memory/consolidate`); nothing is deployed apart
from it. apply() records what is wired; verify() sends a probe interaction with a unique fact
through the orchestrator, consolidates it and finds the fact in semantic memory with provenance.
"""
from __future__ import annotations

from pydantic import Field

from cato_migrate.core.kinds import StepKind, Verification, register_step
from cato_migrate.core.model import CoreModel


class ConsolidationStepParams(CoreModel):
    domain: str = Field(default="ai", min_length=1, description="Semantic-memory domain the probe fact goes to.")


@register_step
class ConsolidationPipelineStep(StepKind):
    name = "consolidation_pipeline"
    Params = ConsolidationStepParams
    mutating = False

    def plan(self, step, params, ctx) -> str:
        return (f"send a probe interaction with a unique fact through the orchestrator, consolidate it "
                f"(POST /admin/memory/consolidate) and find the fact in domain {params.domain!r} with provenance; "
                "the probe fact is deleted after")

    def apply(self, step, params, ctx) -> dict:
        return {}  # the pipeline ships with the orchestrator; the step is its verification

    def verify(self, step, params, ctx) -> Verification:
        from cato_migrate.core.memory_probes import probe_consolidation

        r = probe_consolidation(ctx.services.orchestrator_api(), params.domain)
        return Verification(r.ok, r.message, {"measured": r.measured, **r.evidence})
