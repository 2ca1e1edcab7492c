"""The operator lock: one mutating command per environment at a time."""
from __future__ import annotations

from typing import Optional

import typer

from cato_migrate.cli import _common, _render

app = typer.Typer(no_args_is_help=True)


@app.command("status")
def status() -> None:
    """Who holds the lock, running what, since when."""
    from cato_migrate.core.lock import fmt_time

    ctx = _common.reading()
    lease = ctx.store.read_lock(ctx.env)
    now = ctx.clock.now()
    data = {"env": ctx.env, "held": lease is not None and lease.expires >= now,
            "lease": lease.model_dump() if lease else None,
            "expired": bool(lease and lease.expires < now)}

    def human(c) -> None:
        if lease is None:
            c.print(f"lock for {ctx.env}: free")
            return
        state = "[yellow]expired (next command takes it over)[/yellow]" if data["expired"] else "[bold]held[/bold]"
        c.print(f"lock for {ctx.env}: {state} by {lease.holder} (pid {lease.pid} on {lease.host})")
        c.print(f"  running `{lease.command}` since {fmt_time(lease.started)}; "
                f"last heartbeat {fmt_time(lease.heartbeat)}; expires {fmt_time(lease.expires)}")

    _render.emit(_common.output(), data, human)


@app.command("release")
def release(
    force: bool = typer.Option(False, "--force", help="Required: you are taking someone's lock away."),
    reason: Optional[str] = typer.Option(None, "--reason", help="Required with --force; audited."),
) -> None:
    """Break a lock whose holder is gone. Example: cato-migrate lock release --force --reason "holder's laptop died" """
    from cato_migrate.errors import BadInput

    if not force:
        raise BadInput("lock release needs --force --reason TEXT; the holder's command keeps running otherwise")
    why = _common.require_reason(force, reason)
    s = _common.settings()
    _common.confirm_production(s, "lock release")
    ctx = _common.reading()
    removed = ctx.store.release_lock(ctx.env, None)
    if removed:
        ctx.audit("lock.force_release", f"lock:{ctx.env}", why, previous_holder=removed.holder,
                  previous_command=removed.command, previous_pid=removed.pid, previous_host=removed.host)
    data = {"env": ctx.env, "released": removed is not None, "previous": removed.model_dump() if removed else None}
    _render.emit(_common.output(), data, lambda c: c.print(
        f"released the lock held by {removed.holder} (`{removed.command}`)" if removed else "the lock was already free"))
