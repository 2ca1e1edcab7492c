"""A manual item a person signs off with `cato-migrate attest STEP --by NAME`."""
from __future__ import annotations

from pydantic import Field

from cato_migrate.core.engine import StepWaiting
from cato_migrate.core.kinds import StepKind, Verification, register_step
from cato_migrate.core.model import CoreModel
from cato_migrate.core.progress import attestation


class AttestParams(CoreModel):
    owner: str = Field(description="Who signs it off (a role, e.g. migration-lead).")
    items: list[str] = Field(default_factory=list, description="What the person confirms was done.")


@register_step
class Attest(StepKind):
    name = "attest"
    Params = AttestParams
    mutating = False

    def plan(self, step, params, ctx) -> str:
        what = "; ".join(params.items) or step.title
        return f"wait for {params.owner} to attest: {what}"

    def apply(self, step, params, ctx) -> dict:
        if attestation(ctx.store.journal(ctx.env, step.id), step.id) is None:
            raise StepWaiting(f"waiting for {params.owner} to sign off: "
                              f"cato-migrate attest {step.id} --by NAME [--note TEXT]")
        return {}

    def verify(self, step, params, ctx) -> Verification:
        a = attestation(ctx.store.journal(ctx.env, step.id), step.id)
        if a is None:
            return Verification(False, "no attestation recorded")
        return Verification(True, f"attested by {a.evidence.get('by')}", {"by": a.evidence.get("by"),
                                                                          "note": a.evidence.get("note", "")})
