"""Exit criterion met by a person's sign-off of a named attest step."""
from __future__ import annotations

from pydantic import Field

from cato_migrate.core.kinds import CheckKind, CheckResult, register_check
from cato_migrate.core.model import CoreModel
from cato_migrate.core.progress import attestation


class AttestedParams(CoreModel):
    step: str = Field(description="Id of the attest step whose sign-off this criterion needs.")


@register_check
class Attested(CheckKind):
    name = "attested"
    Params = AttestedParams

    def evaluate(self, criterion, params, ctx) -> CheckResult:
        a = attestation(ctx.store.journal(ctx.env, params.step), params.step)
        if a is None:
            return CheckResult("waiting", f"waiting for sign-off: cato-migrate attest {params.step} --by NAME",
                               evidence={"step": params.step})
        return CheckResult("pass", f"attested by {a.evidence.get('by')}",
                           evidence={"step": params.step, "by": a.evidence.get("by"),
                                     "note": a.evidence.get("note", ""), "at": a.at})
