"""The audit log: every change and override, who, when and why (oldest first)."""
from __future__ import annotations

import typer

from cato_migrate.cli import _common, _render


def history(limit: int = typer.Option(50, "--limit", "-n", min=1, help="How many recent entries.")) -> None:
    from cato_migrate.core.lock import fmt_time

    ctx = _common.reading()
    entries = ctx.store.audit(ctx.env, limit)

    def human(c) -> None:
        if not entries:
            c.print("no changes recorded yet")
        esc = _render.esc  # reasons, actors and targets are typed by people
        for e in entries:
            reason = f' "{esc(e.reason)}"' if e.reason else ""
            c.print(f"[dim]{fmt_time(e.at)}[/dim]  {esc(e.actor)}  [bold]{esc(e.action)}[/bold] {esc(e.target)}{reason}")
            if e.details:
                c.print("    " + ", ".join(f"{k}={_short(v)}" for k, v in e.details.items()), markup=False)

    _render.emit(_common.output(), {"env": ctx.env, "entries": [e.model_dump() for e in entries]}, human)


def _short(v) -> str:
    if isinstance(v, list):
        return f"[{len(v)} items]" if len(v) > 3 or len(str(v)) > 60 else str(v)
    return str(v)
