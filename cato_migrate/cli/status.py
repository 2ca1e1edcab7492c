"""Where the migration stands: phase and week, the LIVE served flag, the hold, the lock, the next step.

The flag is read live (what clients are served, and any deployment in flight); when that read
fails the journal's last value is shown with its time and the failure. `--handoff` prints a
paste-ready hand-over (at most 40 lines) for the next person on call.

Examples: cato-migrate status;  cato-migrate status --handoff > handoff.txt
"""
from __future__ import annotations

import typer

from cato_migrate.cli import _common, _render


def _read(ctx, names: set[str]) -> dict:
    """The live flag (and the gateway), in parallel, bounded: a system that hangs cannot hang status."""
    from cato_migrate.adapters.doctor_probes import read_all
    from cato_migrate.core.doctor import expectations

    return read_all(ctx.services, ctx.settings, expectations(ctx.runbook, ctx.settings), names, timeout_s=8.0)


def _observed(r) -> dict | None:
    if r.unconfigured:
        return None
    return {"error": r.error, "source": r.source} if r.error else {**r.value, "source": r.source}


def status(
    handoff: bool = typer.Option(False, "--handoff", help="Paste-ready hand-over for the next on-call "
                                                          "(plain text, at most 40 lines)."),
) -> None:
    from cato_migrate.core.doctor import last_traffic, pending_intent
    from cato_migrate.core.full_rollback import interrupted_full_rollback
    from cato_migrate.core.handoff import build_handoff, handoff_lines, served_view
    from cato_migrate.core.kinds import step_kind
    from cato_migrate.core.progress import where_are_we
    from cato_migrate.core.rollback_hold import hold_from_journal

    ctx = _common.reading()
    entries = ctx.store.journal(ctx.env)
    where = where_are_we(ctx.runbook, entries)
    if where["next"]:
        kind = step_kind(where["next"]["kind"])
        where["next"]["implemented"] = kind.implemented
        where["next"]["not_implemented"] = "" if kind.implemented else f"not implemented yet: {kind.planned_for}"
    readings = _read(ctx, {"flag", "gateway"} if handoff else {"flag"})
    flag = readings["flag"]
    live, why = (flag.value, None) if flag.ok else (None, flag.error or flag.unconfigured)
    served = served_view(live, why, last_traffic(entries))
    lease = ctx.store.read_lock(ctx.env)
    lock = lease.model_dump() if lease else None
    hold = hold_from_journal(entries)
    hold = hold.model_dump() if hold else None
    intent = pending_intent(entries)
    interrupted = interrupted_full_rollback(entries)
    out = _common.output()

    if handoff:
        data = build_handoff(env=ctx.env, where=where, served=served, observed=_observed(readings["gateway"]),
                             entries=entries, audit=ctx.store.audit(ctx.env, limit=1000), lock=lock, hold=hold,
                             intent=intent, runbook=ctx.runbook, interrupted=interrupted)
        lines = handoff_lines(data)
        data["text"] = "\n".join(lines)
        _render.emit(out, data, lambda c: [c.print(line, markup=False, highlight=False, emoji=False) for line in lines])
        return

    data = {"env": ctx.env, **where, "served": served, "live_flag": live, "live_error": why,
            "last_traffic": last_traffic(entries), "hold": hold, "pending_traffic_intent": intent,
            "lock": lock, "full_rollback_interrupted_at": interrupted}
    _render.emit(out, data, lambda c: _human(c, ctx.env, where, served, lock, hold, intent, interrupted))


def _human(c, env, where, served, lock, hold, intent, interrupted) -> None:
    from cato_migrate.core.lock import fmt_time

    esc = _render.esc  # holders, reasons, command lines and vendor errors are user text
    c.print(f"[bold]env[/bold] {esc(env)}   [bold]phase[/bold] {where['phase']}   [bold]week[/bold] {where['week']}   "
            f"[bold]steps done[/bold] {where['steps_done']}/{where['steps_total']}")
    style = "yellow" if served["source"] != "live" or served.get("in_flight") else "bold"
    c.print(f"[bold]flag[/bold] [{style}]{esc(served['label'])}[/{style}]")
    if hold:
        c.print(f"[bold red]held[/bold red] rolled back by {esc(hold['actor'])} at {fmt_time(hold['at'])}"
                + (f" ({esc(hold['reason'])})" if hold.get("reason") else "")
                + ": raises refused until `cato-migrate canary resume --reason TEXT`")
    if intent:
        c.print(f"[bold red]unfinished traffic change[/bold red] to {esc(intent.get('target'))}% by "
                f"{esc(intent.get('actor'))} at {fmt_time(intent['at'])}: check `cato-migrate canary status`")
    if lock:
        c.print(f"[bold]lock[/bold] held by {esc(lock['holder'])} running `{esc(lock['command'])}` "
                f"since {fmt_time(lock['started'])}")
    else:
        c.print("[bold]lock[/bold] free")
    if interrupted:
        c.print(f"[bold red]full rollback unfinished[/bold red] (stopped at {interrupted}): "
                "run `cato-migrate rollback --full` again to resume")
    n = where["next"]
    if n:
        c.print(f"[bold]next[/bold] {n['step']} (week {n['week']}, {_render.styled(n['state'])}): {esc(n['title'])}")
        if n["not_implemented"]:
            c.print(f"     [magenta]{esc(n['not_implemented'])}[/magenta]")
        else:
            c.print(f"     run: cato-migrate phase run {n['phase']}")
    else:
        c.print("[bold]next[/bold] nothing: every step is done")
