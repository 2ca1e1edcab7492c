"""Breaking a lock whose holder is gone (`lock release --force --lease ID --reason`), as an
operation: the look finds the lock free (nothing to do) or held by a different lease (refused,
nothing changed); apply releases that one lease by compare-and-delete and audits it; verify reads
the lock back and finds that lease gone."""
from __future__ import annotations

from typing import Any

from cato_migrate.core.context import RunContext
from cato_migrate.core.lock import describe_holder, force_release, lease_id, lease_id_too_short, not_that_lease
from cato_migrate.core.operation import Look, Outcome, Verified, apply_operation
from cato_migrate.core.state import LockLease


class ReleaseLock:
    name = "lock-release"

    def __init__(self, wanted: str, reason: str):
        self.wanted, self.reason = wanted.strip(), reason

    def look(self, ctx: RunContext) -> Look:
        if len(self.wanted) < 6:
            return Look("REFUSE: lease id too short", refusal=lease_id_too_short(self.wanted))
        current = ctx.store.read_lock(ctx.env)
        if current is None:
            return Look("nothing: the lock is free", already=True,
                        message="the lock was already free; nothing was changed")
        if not current.token.startswith(self.wanted):
            return Look(f"REFUSE: the lease is {lease_id(current)}", refusal=not_that_lease(current, self.wanted))
        return Look(f"release lease {lease_id(current)} held by {describe_holder(current)} (`{current.command}`)")

    def apply(self, ctx: RunContext, look: Look) -> dict[str, Any]:
        removed = force_release(ctx.store, ctx.env, self.wanted)  # compare-and-delete of that one lease
        if removed is not None:
            ctx.audit("lock.force_release", f"lock:{ctx.env}", self.reason, previous_holder=removed.holder,
                      previous_command=removed.command, previous_pid=removed.pid, previous_host=removed.host,
                      previous_lease=lease_id(removed), previous_boot_id=removed.boot_id)
        return {"removed": removed}  # None: its holder released it meanwhile

    def verify(self, ctx: RunContext, look: Look, applied: dict[str, Any]) -> Verified:
        now = ctx.store.read_lock(ctx.env)
        gone = now is None or not now.token.startswith(self.wanted)
        return Verified(gone, "released" if gone else "the lease is still there", applied)


def release_lock(ctx: RunContext, wanted: str, reason: str) -> LockLease | None:
    """The lease broken, or None when the lock was free (or its holder released it meanwhile)."""
    outcome, _message, evidence = apply_operation(ctx, ReleaseLock(wanted, reason))
    removed: LockLease | None = evidence.get("removed") if outcome is Outcome.DONE else None
    return removed
