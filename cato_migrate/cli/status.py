"""Where the migration stands: phase and week, steps done, the flag, the lock, the next step.

Reads only the journal and the lock (no cloud calls): the flag shown is the last
verified read; `cato-migrate canary status` reads it live.
"""
from __future__ import annotations

from cato_migrate.cli import _common, _render


def status() -> None:
    from cato_migrate.core.kinds import step_kind
    from cato_migrate.core.lock import fmt_time
    from cato_migrate.core.progress import where_are_we
    from cato_migrate.core.full_rollback import interrupted_full_rollback
    from cato_migrate.core.traffic import TRAFFIC_KEY

    ctx = _common.reading()
    entries = ctx.store.journal(ctx.env)
    where = where_are_we(ctx.runbook, entries)
    flag = next((e for e in reversed(entries) if e.key == TRAFFIC_KEY and e.event in ("finished", "failed")), None)
    lock = ctx.store.read_lock(ctx.env)
    if where["next"]:
        kind = step_kind(where["next"]["kind"])
        where["next"]["implemented"] = kind.implemented
        where["next"]["not_implemented"] = "" if kind.implemented else f"not implemented yet: {kind.planned_for}"
    data = {
        "env": ctx.env, **where,
        "flag": None if flag is None else {
            "served_percentage": flag.evidence.get("served_percentage"),
            "deployment_state": flag.evidence.get("deployment_state"),
            "verified": flag.event == "finished", "at": flag.at, "by": flag.actor,
            "source": "journal (last verified read); live: cato-migrate canary status"},
        "lock": lock.model_dump() if lock else None,
        "full_rollback_interrupted_at": interrupted_full_rollback(entries),
    }

    def human(c) -> None:
        c.print(f"[bold]env[/bold] {ctx.env}   [bold]phase[/bold] {where['phase']}   "
                f"[bold]week[/bold] {where['week']}   [bold]steps done[/bold] {where['steps_done']}/{where['steps_total']}")
        if flag is None:
            c.print("[bold]flag[/bold] never changed by cato-migrate (live read: cato-migrate canary status)")
        else:
            ok = "verified" if flag.event == "finished" else "[red]NOT verified[/red]"
            c.print(f"[bold]flag[/bold] served {flag.evidence.get('served_percentage')}% ({ok} {fmt_time(flag.at)} "
                    f"by {flag.actor}); live read: cato-migrate canary status")
        if lock:
            c.print(f"[bold]lock[/bold] held by {lock.holder} running `{lock.command}` since {fmt_time(lock.started)}")
        else:
            c.print("[bold]lock[/bold] free")
        if data["full_rollback_interrupted_at"]:
            c.print(f"[bold red]full rollback unfinished[/bold red] (stopped at {data['full_rollback_interrupted_at']}): "
                    "run `cato-migrate rollback --full` again to resume")
        n = where["next"]
        if n:
            c.print(f"[bold]next[/bold] {n['step']} (week {n['week']}, {_render.styled(n['state'])}): {n['title']}")
            if n["not_implemented"]:
                c.print(f"     [magenta]{n['not_implemented']}[/magenta]")
            else:
                c.print(f"     run: cato-migrate phase run {n['phase']}")
        else:
            c.print("[bold]next[/bold] nothing: every step is done")

    _render.emit(_common.output(), data, human)
