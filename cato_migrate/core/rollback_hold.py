"""The persisted "rolled back" state of an environment, like Argo Rollouts' abort.

A rollback sets it; every raise of traffic is refused while it is set; only
`cato-migrate canary resume --reason TEXT` clears it. Kept in the journal under
HOLD_KEY ("started" = held, "finished" = resumed), so both state stores carry it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from cato_migrate.core.model import Record
from cato_migrate.core.state import JournalEntry

if TYPE_CHECKING:  # annotations only: the notifier and doctor import this module without a context
    from cato_migrate.core.context import RunContext
    from cato_migrate.ports import StateStore

HOLD_KEY = "traffic.hold"


class Hold(Record):
    env: str = Field(description="Environment that is held at 0%.")
    at: float = Field(description="Unix time the rollback set it.")
    actor: str = Field(description="Who rolled back.")
    reason: str = Field(default="", description="Why, as given to the rollback.")
    by_command: str = Field(default="", description="rollback --quick, rollback --full, or canary watch.")


def hold_from_journal(entries: list[JournalEntry]) -> Hold | None:
    """The hold in force, from the environment's journal (None: raises are allowed)."""
    last = next((e for e in reversed(entries) if e.key == HOLD_KEY), None)
    if last is None or last.event != "started":
        return None
    return Hold(env=last.env, at=last.at, actor=last.actor, reason=str(last.inputs.get("reason", "")),
                by_command=str(last.inputs.get("by_command", "")))


def current_hold(store: StateStore, env: str) -> Hold | None:
    return hold_from_journal(store.journal(env, HOLD_KEY))


def set_hold(ctx: RunContext, by_command: str) -> Hold | None:
    """Record the hold before a rollback's first write, so a crash mid-rollback still refuses raises.
    The hold as the store reads it back (None only if the store lost the write)."""
    held = current_hold(ctx.store, ctx.env)
    if held is not None:
        return held
    ctx.journal(HOLD_KEY, "started", inputs={"reason": ctx.reason, "by_command": by_command},
                message=f"rolled back by {by_command}: raises refused until `cato-migrate canary resume`")
    return current_hold(ctx.store, ctx.env)


def hold_problem(hold: Hold) -> str:
    return (f"{hold.env} was rolled back by {hold.actor} ({hold.by_command or 'rollback'}"
            + (f": {hold.reason}" if hold.reason else "") + "); raises are refused until "
            "`cato-migrate canary resume --reason TEXT` (--force does not bypass a rollback)")


def resume(ctx: RunContext) -> dict[str, Any]:
    """Clear the hold (audited). Changes no traffic: the next `canary set` does."""
    held = current_hold(ctx.store, ctx.env)
    if held is None:
        return {"changed": False, "message": f"{ctx.env} is not held by a rollback; nothing to resume"}
    ctx.journal(HOLD_KEY, "finished", inputs={"reason": ctx.reason},
                message=f"resumed by {ctx.actor}: raises allowed again")
    ctx.audit("canary.resume", HOLD_KEY, ctx.reason, held_since=held.at, held_by=held.actor,
              rollback_reason=held.reason)
    return {"changed": True, "hold": held.model_dump(),
            "message": f"resumed: raises allowed again (held since the rollback by {held.actor})"}
