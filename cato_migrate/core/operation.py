"""Staged mutations outside the runbook (full rollback, decommission): plan / apply / verify.

Each stage is an `Operation`. `look` reads the world (and changes nothing) and decides, once,
what the stage would do: nothing (`already`), a refusal, or a change. The dry run prints that
decision; the run acts on the same decision, so a dry run and a run can never disagree about
what is already done. `apply` makes the change and `verify` reads back that it took; a stage
finishes only when its verification passes.

`run_operations` journals each stage under `<key>.<stage>` (started, then finished with its
outcome and wall time, or failed with the error) and stops at the first stage that does not
finish; `plan_operations` is its read-only twin.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any, Callable, Protocol, Sequence

from cato_migrate.core.context import RunContext
from cato_migrate.errors import CatoError, Unverified


class Outcome(str, Enum):
    """How a stage ended."""

    DONE = "done"          # changed, and verified
    ALREADY = "already"    # nothing to change: the look found it done
    FAILED = "failed"      # refused, or the change could not be made or verified


@dataclass(frozen=True)
class Look:
    """What a stage found and would do now (read-only), shared by the dry run and the run."""

    would: str                                   # the dry run's line: what it would do now
    already: bool = False                        # nothing to change
    message: str = ""                            # the run's line when already
    refusal: CatoError | None = None             # the run refuses with this (the dry run says so)
    facts: dict[str, Any] = field(default_factory=dict)   # what apply/verify need from the reading


@dataclass(frozen=True)
class Verified:
    ok: bool
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    error: CatoError | None = None               # raised when not ok (default: Unverified(message))


class Operation(Protocol):
    name: str

    def look(self, ctx: RunContext) -> Look: ...

    def apply(self, ctx: RunContext, look: Look) -> dict[str, Any]: ...

    def verify(self, ctx: RunContext, look: Look, applied: dict[str, Any]) -> Verified: ...


@dataclass
class StageResult:
    stage: str
    outcome: Outcome
    message: str
    seconds: float
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "outcome": self.outcome.value}


def plan_operations(ctx: RunContext, ops: Sequence[Operation]) -> list[dict[str, str]]:
    """What each stage would do now; reads only."""
    return [{"stage": op.name, "would": op.look(ctx).would} for op in ops]


def run_operations(ctx: RunContext, key: str, ops: Sequence[Operation],
                   on_stage: Callable[[int, StageResult], None] = lambda i, r: None) -> list[StageResult]:
    """Run the stages in order, each looked at, applied, verified and timed; stop at the first that
    fails (its error is raised with the results so far in `details["stages"]`)."""
    results: list[StageResult] = []
    for i, op in enumerate(ops, 1):
        stage_key = f"{key}.{op.name}"
        ctx.journal(stage_key, "started")
        started = ctx.clock.now()
        try:
            outcome, message, evidence = apply_operation(ctx, op)
        except CatoError as exc:
            secs = round(ctx.clock.now() - started, 3)
            ctx.journal(stage_key, "failed", message=exc.message, evidence={"seconds": secs, **exc.details})
            ctx.journal(key, "failed", message=f"stopped at {op.name}: {exc.message}")
            results.append(StageResult(op.name, Outcome.FAILED, exc.message, secs))
            exc.details = {**exc.details, "stages": [r.to_dict() for r in results]}
            raise
        secs = round(ctx.clock.now() - started, 3)
        result = StageResult(op.name, outcome, message, secs, evidence)
        on_stage(i, result)
        ctx.journal(stage_key, "finished", message=message,
                    evidence={"seconds": secs, "outcome": outcome.value, **evidence})
        results.append(result)
    return results


def apply_operation(ctx: RunContext, op: Operation) -> tuple[Outcome, str, dict[str, Any]]:
    """One operation, unjournaled by the engine (the operation records what it does itself: an
    attestation is its own journal entry): look, refuse or find it done, else fence, apply, verify."""
    look = op.look(ctx)
    if look.refusal is not None:
        raise look.refusal
    if look.already:
        return Outcome.ALREADY, look.message, dict(look.facts)
    ctx.fence(op.name)  # nothing is written after the lock is lost
    applied = op.apply(ctx, look)
    check = op.verify(ctx, look, applied)
    if not check.ok:
        raise check.error or Unverified(check.message, details=check.evidence)
    return Outcome.DONE, check.message, check.evidence
