"""Send one moment of the runbook's communication plan (kickoff, mid-point, canary-start, completion)
to the configured channels, with where the migration stands now. Example: cato-migrate announce canary-start --dry-run"""
from __future__ import annotations

import typer

from cato_migrate.cli import _common, _render


def announce(
    step: str = typer.Argument(..., help="Communication plan id (runbook.yaml communication_plan), e.g. canary-start."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the message; queue and send nothing."),
) -> None:
    from cato_migrate.core.notify import slack_payload, webhook_payload
    from cato_migrate.core.notify_events import announcement, announcement_status, announcement_text
    from cato_migrate.errors import BadInput, ExternalError

    ctx = _common.reading()
    plan = ctx.runbook.meta.communication_plan
    found = next((c for c in plan if c.id == step), None)
    if found is None:
        ids = ", ".join(c.id for c in plan) or "(none in the runbook)"
        raise BadInput(f"no communication plan step {step!r}; the runbook has: {ids}; nothing was sent",
                       hint="e.g. cato-migrate announce canary-start --dry-run")
    status = announcement_status(ctx.runbook, ctx.store.journal(ctx.env))
    head, lines = announcement_text(found, ctx.runbook, status)
    channels = list(getattr(ctx.notify, "channels", []))

    def human(c) -> None:
        c.print(f"[bold]{_render.esc(head)}[/bold]" + (" (dry run: nothing sent)" if dry_run else ""))
        for line in lines:
            c.print(_render.esc(line))
        if not dry_run:
            c.print(f"[green]queued[/green] for {', '.join(channels)}; delivery runs in the background "
                    "(`cato-migrate notify status` shows it)")

    if dry_run:
        ev = announcement(found, ctx.runbook, status, env=ctx.env, actor=ctx.actor, at=ctx.clock.now())
        _render.emit(_common.output(), {"dry_run": True, "step": step, "channels": channels,
                                        "webhook": webhook_payload(ev), "slack": slack_payload(ev)}, human)
        return
    if ctx.notify is None:
        raise BadInput(f"no notification channel is configured for {ctx.env}; nothing was sent",
                       hint="set notify_slack_url_file or notify_webhook_url_file (under [environments."
                            f"{ctx.env}] in cato-migrate.toml), or look at the message with --dry-run")
    ctx.audit("announce", step, "", **status)  # the hook makes the message of it, queues it, starts delivery
    queued = [e for e in ctx.notify.queued if e.event == "announce"]
    if not queued:
        raise ExternalError("the announcement could not be queued (see the line above); nothing was sent",
                            hint=f"check that {ctx.settings.work_dir} is writable, then run this again")
    _render.emit(_common.output(), {"dry_run": False, "step": step, "channels": channels, "queued": True,
                                    "event_id": queued[-1].id, "text": "\n".join([head, *lines])}, human)
