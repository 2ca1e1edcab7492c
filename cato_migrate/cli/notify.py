"""Notifications to the on-call channel (Slack incoming webhook, generic JSON webhook): the outbox.

Mutating commands queue events (rollbacks, canary changes, overrides, lock preemptions, exit-5
endings, attestations, announcements) and start a detached `notify flush`; a receiver that is
down never slows them. URLs come from notify_slack_url_file / notify_webhook_url_file (or the
variables) per environment and are only ever shown redacted.
"""
from __future__ import annotations

import typer

from cato_migrate.cli import _common, _render

app = typer.Typer(no_args_is_help=True)


def _outbox(s):
    from cato_migrate.adapters.outbox import SqliteOutbox, outbox_path

    return SqliteOutbox(outbox_path(s))


def _when(ts: float | None) -> str:
    from cato_migrate.core.lock import fmt_time

    return fmt_time(ts) if ts else "-"


@app.command("flush")
def flush(
    now: bool = typer.Option(False, "--now", help="Try every undelivered row now, ignoring backoff and give-ups "
                                                   "(after the receiver is back); scheduled reminders keep their time."),
) -> None:
    """Deliver what is due, oldest first; a failure backs off (30 s doubling to 1 h, 12 tries).
    Safe to run from several places at once (cron, after each command): each row is sent once.

    Example: cato-migrate notify flush --output json
    """
    import time

    from cato_migrate.adapters.notifiers import senders
    from cato_migrate.core.notify import MAX_ATTEMPTS, flush as deliver

    s = _common.settings()
    ob = _outbox(s)
    try:
        if now:
            ob.retry_now(s.env, time.time())
        report = deliver(ob, senders(s), env=s.env, now=time.time, lease_seconds=2 * s.notify_timeout_seconds + 10)
    finally:
        ob.close()
    data = report.to_dict()

    def human(c) -> None:
        c.print(f"{s.env}: delivered {report.delivered} now; {data['pending']} pending, {data['scheduled']} "
                f"scheduled, {data['failed']} failed (gave up), {data['delivered']} delivered in all")
        for e in report.errors:
            then = f"retry after {_when(e['next_attempt_at'])}" if e["next_attempt_at"] else "gave up"
            c.print(f"[red]not delivered[/red] {e['channel']} {_render.esc(e['event'])}: {_render.esc(e['error'])}; "
                    f"{then} (try {e['attempts']}/{MAX_ATTEMPTS})")

    _render.emit(_common.output(), data, human)
    if report.errors:
        raise typer.Exit(4)


@app.command("status")
def status(limit: int = typer.Option(12, "--limit", min=1, max=500, help="How many of the latest rows to list.")) -> None:
    """The channels (URLs redacted) and the outbox's latest rows: delivered, pending, scheduled, failed."""
    import time

    from cato_migrate.adapters.notifiers import configured_channels, describe
    from cato_migrate.core.notify import row_view

    s = _common.settings()
    now = time.time()
    ob = _outbox(s)
    try:
        rows = [row_view(r, now) for r in ob.rows(s.env, limit)]
        counts = ob.counts(s.env, now)
    finally:
        ob.close()
    channels = [describe(c) for c in configured_channels(s).values()]
    data = {"env": s.env, "channels": channels, **counts, "rows": rows}

    def human(c) -> None:
        if not channels:
            c.print(f"{s.env}: no channel configured (set notify_slack_url_file or notify_webhook_url_file)")
        for ch in channels:
            shown = ch["url"] or f"[red]{_render.esc(ch['problem'])}[/red]"
            c.print(f"{ch['channel']}: {_render.esc(shown) if ch['url'] else shown} ({_render.esc(ch['source'])})")
        c.print(f"delivered {counts['delivered']}, pending {counts['pending']}, scheduled {counts['scheduled']}, "
                f"failed {counts['failed']}, canceled {counts['canceled']}")
        if rows:
            t = _render.table("id", "at", "event", "channel", "state", "tries", "next try / last error")
            for r in rows:
                err = r["last_error"]
                after = _render.esc(_render.clip(err, 60))
                if r["state"] in ("pending", "retrying", "scheduled"):
                    after = f"{_when(r['next_attempt_at'])} {after}".strip()
                t.add_row(str(r["id"]), _when(r["at"]), _render.esc(r["event"]), r["channel"],
                          _render.styled(r["state"]), str(r["attempts"]), after)
            c.print(t)

    _render.emit(_common.output(), data, human)
