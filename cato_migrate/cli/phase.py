"""Phases of the runbook: list them, show one, run one (or one week or step)."""
from __future__ import annotations

from typing import Optional

import typer

from cato_migrate.cli import _common, _render

app = typer.Typer(no_args_is_help=True)


@app.command("list")
def list_phases() -> None:
    """The four phases, their weeks and how far each has got."""
    from cato_migrate.core.progress import latest_checks, phase_progress

    ctx = _common.reading()
    entries = ctx.store.journal(ctx.env)
    checks = latest_checks(entries)
    rows = []
    for p in ctx.runbook.phases:
        prog = phase_progress(p, entries)
        crit = [checks[c.id].status if c.id in checks else "unchecked" for c in p.exit_criteria]
        rows.append({"phase": p.phase, "name": p.name, "weeks": f"{p.weeks[0].week}-{p.weeks[-1].week}",
                     "steps_done": sum(s.state == "done" for s in prog), "steps_total": len(prog),
                     "criteria_passed": crit.count("pass"), "criteria_total": len(crit)})

    def human(c) -> None:
        t = _render.table("phase", "name", "weeks", "steps done", "exit criteria passed")
        for r in rows:
            t.add_row(str(r["phase"]), r["name"], r["weeks"], f"{r['steps_done']}/{r['steps_total']}",
                      f"{r['criteria_passed']}/{r['criteria_total']}")
        c.print(t)

    _render.emit(_common.output(), {"env": ctx.env, "phases": rows}, human)


@app.command("show")
def show(number: int = typer.Argument(..., help="Phase number, 1-4.")) -> None:
    """Every step of a phase with its kind and state, and the exit criteria."""
    from cato_migrate.core.kinds import check_kind, step_kind
    from cato_migrate.core.progress import latest_checks, phase_progress

    ctx = _common.reading()
    phase = ctx.runbook.phase(number)
    entries = ctx.store.journal(ctx.env)
    checks = latest_checks(entries)
    steps = [{"id": sp.step.id, "week": w.week, "title": sp.step.title, "kind": sp.step.kind,
              "implemented": step_kind(sp.step.kind).implemented, "state": sp.state}
             for (w, _), sp in zip(phase.steps(), phase_progress(phase, entries))]
    crits = [{"id": c.id, "title": c.title, "check": c.check, "implemented": check_kind(c.check).implemented,
              "threshold": c.threshold.describe() if c.threshold else "",
              "last_result": checks[c.id].status if c.id in checks else "unchecked"} for c in phase.exit_criteria]

    def human(c) -> None:
        esc = _render.esc  # runbook text is data, never markup
        t = _render.table("week", "step", "kind", "state", title=f"Phase {phase.phase}: {esc(phase.name)}")
        for s in steps:
            kind = esc(s["kind"]) + ("" if s["implemented"] else " [magenta](not implemented yet)[/magenta]")
            t.add_row(str(s["week"]), f"{esc(s['id'])}\n[dim]{esc(s['title'])}[/dim]", kind, _render.styled(s["state"]))
        c.print(t)
        t = _render.table("exit criterion", "check", "threshold", "last result")
        for k in crits:
            kind = esc(k["check"]) + ("" if k["implemented"] else " [magenta](not implemented yet)[/magenta]")
            t.add_row(f"{esc(k['id'])}\n[dim]{esc(k['title'])}[/dim]", kind, esc(k["threshold"]),
                      _render.styled(k["last_result"]))
        c.print(t)

    _render.emit(_common.output(), {"phase": phase.phase, "name": phase.name, "steps": steps,
                                    "exit_criteria": crits}, human)


@app.command("run")
def run(
    number: int = typer.Argument(..., help="Phase number, 1-4."),
    week: Optional[int] = typer.Option(None, "--week", help="Only this week's steps."),
    step: Optional[str] = typer.Option(None, "--step", help="Only this step id."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what each step would do; change nothing."),
    force: bool = typer.Option(False, "--force", help="Override traffic guardrails (needs --reason)."),
    reason: Optional[str] = typer.Option(None, "--reason", help="Why; recorded in the audit log."),
) -> None:
    """Run a phase's steps in order: apply, then verify; finished steps are skipped.

    Example: cato-migrate phase run 4 --week 13 --dry-run
    """
    from cato_migrate.core.engine import plan_phase, run_phase

    why = _common.require_reason(force, reason)
    out = _common.output()
    if dry_run:
        ctx = _common.reading()
        phase = ctx.runbook.phase(number)
        outcomes = plan_phase(ctx, phase, week, step)
        _render_outcomes(out, phase, outcomes, dry_run=True)
        return
    ctx_probe = _common.reading()
    phase = ctx_probe.runbook.phase(number)
    from cato_migrate.core.engine import select_steps

    select_steps(phase, week, step)  # bad --week/--step is an error before the lock is taken
    with _common.mutating(f"phase run {number}", force=force, reason=why) as ctx:
        if force:
            ctx.audit("phase.run.force", f"phase:{number}", why, week=week, step=step)
        err = _render.err()  # this command's console, whichever thread reports an outcome
        outcomes = run_phase(ctx, phase, week, step,
                             on_outcome=(lambda o: err.print(
                                 f"{_render.styled(o.outcome)} {_render.esc(o.id)}: {_render.esc(o.message)}"))
                             if out != "json" else (lambda o: None))
    _render_outcomes(out, phase, outcomes, dry_run=False)
    if any(o.outcome not in ("skipped", "done", "resumed") for o in outcomes):
        raise typer.Exit(1)


def _render_outcomes(out: str, phase, outcomes, dry_run: bool) -> None:
    stopped = next((o for o in outcomes if o.outcome not in ("skipped", "done", "resumed", "planned")), None)
    data = {"phase": phase.phase, "dry_run": dry_run, "steps": [o.to_dict() for o in outcomes],
            "complete": stopped is None and not dry_run,
            "stopped_at": stopped.id if stopped and not dry_run else None}

    def human(c) -> None:
        esc = _render.esc  # step messages quote vendor errors, names and URLs
        t = _render.table("week", "step", "outcome", "detail", title=f"Phase {phase.phase}: {esc(phase.name)}"
                          + (" (dry run: nothing changed)" if dry_run else ""))
        for o in outcomes:
            t.add_row(str(o.week), esc(o.id), _render.styled(o.outcome), esc(o.message))
        c.print(t)
        if not dry_run:
            if stopped:
                c.print(f"[bold]stopped at[/bold] {esc(stopped.id)}: {esc(stopped.message)}")
            else:
                c.print("[green]all selected steps done[/green]")

    _render.emit(out, data, human)
