"""A person's sign-off of a manual runbook item (an `attest` step), as an operation: the look
refuses what is not an attest step; apply journals the attestation (the record `phase run` reads);
verify reads the step back as done, signed by that person."""
from __future__ import annotations

from typing import Any

from cato_migrate.core.context import RunContext
from cato_migrate.core.operation import Look, Verified, apply_operation
from cato_migrate.core.progress import step_state
from cato_migrate.errors import BadInput


class Attest:
    name = "attest"

    def __init__(self, step_id: str, by: str, note: str = ""):
        self.step_id, self.by, self.note = step_id, by.strip(), note

    def look(self, ctx: RunContext) -> Look:
        found = ctx.runbook.find_step(self.step_id)
        if found is None:
            return Look(f"REFUSE: no step {self.step_id!r}", refusal=BadInput(
                f"no step {self.step_id!r} in the runbook", hint="see `cato-migrate phase show N` for step ids"))
        phase, _week, spec = found
        if spec.kind != "attest":
            return Look(f"REFUSE: {self.step_id} is a {spec.kind} step", refusal=BadInput(
                f"{self.step_id} is a {spec.kind!r} step, not a manual sign-off; run it with "
                f"`cato-migrate phase run {phase.phase} --step {self.step_id}`"))
        if not self.by:
            return Look("REFUSE: no name", refusal=BadInput("--by needs a name"))
        return Look(f"record {self.step_id} as signed off by {self.by}")

    def apply(self, ctx: RunContext, look: Look) -> dict[str, Any]:
        entry = ctx.journal(self.step_id, "attested", evidence={"by": self.by, "note": self.note},
                            message=f"attested by {self.by}")
        ctx.audit("attest", self.step_id, self.note, by=self.by)
        return {"at": entry.at}

    def verify(self, ctx: RunContext, look: Look, applied: dict[str, Any]) -> Verified:
        state, last = step_state(ctx.store.journal(ctx.env, self.step_id), self.step_id)
        signed = state == "done" and last is not None and last.event == "attested" and last.evidence.get("by") == self.by
        return Verified(signed, f"{self.step_id} attested by {self.by}" if signed else
                        f"{self.step_id} does not read back as attested by {self.by}", applied)


def check_attest(ctx: RunContext, step_id: str, by: str) -> None:
    """Refuse bad input before the lock is taken (the same look the run acts on)."""
    look = Attest(step_id, by).look(ctx)
    if look.refusal is not None:
        raise look.refusal


def attest_step(ctx: RunContext, step_id: str, by: str, note: str = "") -> dict[str, Any]:
    op = Attest(step_id, by, note)
    _outcome, _message, evidence = apply_operation(ctx, op)
    return {"step": step_id, "by": op.by, "note": note, "at": evidence["at"]}
