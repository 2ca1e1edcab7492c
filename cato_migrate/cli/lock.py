"""The operator lock: one mutating command per environment at a time."""
from __future__ import annotations

from typing import Optional

import typer

from cato_migrate.cli import _common, _render

app = typer.Typer(no_args_is_help=True)


@app.command("status")
def status() -> None:
    """Who holds the lock (lease id, holder process), running what, and its heartbeat's age."""
    from cato_migrate.core.lock import describe_holder, fmt_time, lease_id

    ctx = _common.reading()
    lease = ctx.store.read_lock(ctx.env)
    age = ctx.store.store_time() - lease.heartbeat if lease else None
    data = {"env": ctx.env, "held": lease is not None, "lease_id": lease_id(lease) if lease else None,
            "lease": lease.model_dump() if lease else None,
            "heartbeat_age_s": None if age is None else round(age, 1),
            "lease_seconds": lease.declared_ttl if lease else None,
            # a hint for people only: no command takes a lease over on a clock reading
            "renewals_missed": bool(lease and age is not None and age > lease.declared_ttl)}

    def human(c) -> None:
        if lease is None:
            c.print(f"lock for {ctx.env}: free")
            return
        c.print(f"lock for {ctx.env}: [bold]held[/bold] by {_render.esc(describe_holder(lease))}, "
                f"lease {_render.esc(lease_id(lease))}")
        c.print(f"  running `{_render.esc(lease.command)}` since {fmt_time(lease.started)}")
        ident = f"boot {lease.boot_id[:8]}, pid ns {lease.pid_ns}" if lease.boot_id else "no boot id recorded"
        c.print(f"  holder process: pid {lease.pid} started at tick {lease.proc_start} ({_render.esc(ident)})")
        c.print(f"  last heartbeat {age:.1f} s ago by the store's clock; lease {lease.declared_ttl:g} s, "
                f"renewed every {lease.declared_ttl / 3:.3g} s")
        if data["renewals_missed"]:
            c.print("  [yellow]no renewal for longer than its lease: its holder is probably gone; the next "
                    f"command takes it over after watching it for {lease.declared_ttl:g} s[/yellow]")
        c.print(f"  break it (holder gone): cato-migrate lock release --force --lease {_render.esc(lease_id(lease))} "
                "--reason TEXT")

    _render.emit(_common.output(), data, human)


@app.command("release")
def release(
    force: bool = typer.Option(False, "--force", help="Required: you are taking someone's lock away."),
    lease: Optional[str] = typer.Option(None, "--lease", help="Required with --force: the lease id "
                                        "`lock status` shows (or the full token)."),
    reason: Optional[str] = typer.Option(None, "--reason", help="Required with --force; audited."),
) -> None:
    """Break a lock whose holder is gone.
    Example: cato-migrate lock release --force --lease 3f9c1a2b --reason "holder's laptop died" """
    from cato_migrate.core.lock import lease_id
    from cato_migrate.core.lock_release import release_lock
    from cato_migrate.errors import BadInput

    if not force:
        raise BadInput("lock release needs --force --lease ID --reason TEXT; the holder's command keeps running "
                       "otherwise; nothing was changed")
    why = _common.require_reason(force, reason)
    if not (lease and lease.strip()):
        raise BadInput("lock release --force needs --lease ID (from `cato-migrate lock status`), so that only "
                       "the lease you looked at is broken; nothing was changed",
                       hint="cato-migrate lock status")
    s = _common.settings()
    _common.confirm_production(s, "lock release")
    ctx = _common.reading()
    removed = release_lock(ctx, lease, why)
    data = {"env": ctx.env, "released": removed is not None, "previous": removed.model_dump() if removed else None}
    _render.emit(_common.output(), data, lambda c: c.print(
        f"released lease {_render.esc(lease_id(removed))} held by {_render.esc(removed.holder)} "
        f"(`{_render.esc(removed.command)}`)" if removed else "the lock was already free; nothing was changed"))
