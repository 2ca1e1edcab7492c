"""The audit log: every change and override, who, when and why (oldest first)."""
from __future__ import annotations

import typer

from cato_migrate.cli import _common, _render


def history(limit: int = typer.Option(50, "--limit", "-n", min=1, help="How many recent entries.")) -> None:
    from cato_migrate.core.lock import fmt_time

    ctx = _common.reading()
    entries = ctx.store.audit(ctx.env, limit)

    def human(c) -> None:
        t = _render.table("when", "who", "action", "target", "reason", "details")
        for e in entries:
            details = ", ".join(f"{k}={v}" for k, v in e.details.items())
            t.add_row(fmt_time(e.at), e.actor, e.action, e.target, e.reason, details)
        c.print(t if entries else "no changes recorded yet")

    _render.emit(_common.output(), {"env": ctx.env, "entries": [e.model_dump() for e in entries]}, human)
