"""Traffic on the new orchestrator: the AppConfig feature flag `use_new_orchestrator`."""
from __future__ import annotations

from typing import Optional

import typer

from cato_migrate.cli import _common, _render

app = typer.Typer(no_args_is_help=True)


@app.command("set")
def set_(
    percentage: str = typer.Argument(..., help="Whole number 0-100; raising follows the plan 10 -> 50 -> 100."),
    force: bool = typer.Option(False, "--force", help="Override the guardrails (needs --reason; audited)."),
    reason: Optional[str] = typer.Option(None, "--reason", help="Why; recorded in the audit log."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what it would do and what would refuse it; change nothing."),
) -> None:
    """Deploy the flag at N% and wait until clients are served it (read back, not assumed).

    Refused while a rollback holds the environment (see `canary resume`).

    Example: cato-migrate canary set 10
    """
    from cato_migrate.core.traffic import parse_percentage, set_traffic

    target = parse_percentage(percentage)  # bad input fails before anything is touched
    why = _common.require_reason(force, reason)
    if dry_run:
        from cato_migrate.cli import _plan

        ctx = _common.reading()
        ctx.force, ctx.reason = force, why
        plan = set_traffic(ctx, target, dry_run=True)
        _render.emit(_common.output(), plan, _plan.printer(plan) if plan.get("dry_run") else
                     lambda c: c.print(_render.esc(plan["message"])))
        return
    with _common.mutating(f"canary set {target}", force=force, reason=why) as ctx:
        result = set_traffic(ctx, target)

    def human(c) -> None:
        c.print(f"[green]ok[/green] {_render.esc(result['message'])}")
        if result.get("triggers"):
            c.print("rollback triggers before raising: " + "; ".join(
                f"{_render.esc(t['title'])}: {_render.styled(t['status'])} ({_render.esc(t['message'])})"
                for t in result["triggers"]))

    _render.emit(_common.output(), result, human)


@app.command("resume")
def resume(
    reason: Optional[str] = typer.Option(None, "--reason", help="Why raising is safe again (required; audited)."),
) -> None:
    """Clear the hold a rollback left, so `canary set` may raise traffic again. Moves no traffic.

    Example: cato-migrate canary resume --reason "root cause fixed in #4711"
    """
    from cato_migrate.core.rollback_hold import resume as resume_hold
    from cato_migrate.errors import BadInput

    if not (reason and reason.strip()):
        raise BadInput("canary resume needs --reason TEXT (it goes in the audit log); nothing was changed",
                       hint='e.g. cato-migrate canary resume --reason "root cause fixed"')
    with _common.mutating("canary resume", reason=reason.strip()) as ctx:
        result = resume_hold(ctx)
    _render.emit(_common.output(), result, lambda c: c.print(
        ("[green]ok[/green] " if result["changed"] else "") + _render.esc(result["message"])))


@app.command("status")
def status() -> None:
    """Live read: configured vs served percentage and the latest deployment's state."""
    from cato_migrate.core.traffic import flag_status

    ctx = _common.reading()
    from cato_migrate.core.rollback_hold import current_hold

    st = flag_status(ctx.services.traffic_flag())
    hold = current_hold(ctx.store, ctx.env)
    data = {"env": ctx.env, **st.model_dump(), "hold": hold.model_dump() if hold else None,
            "dual_write": _dual_write(ctx)}

    def human(c) -> None:
        conf = f"{st.configured_percentage}%" + (" (never deployed: no flag means 0%)" if st.deployment is None else "")
        c.print(f"[bold]served[/bold]     {st.served_percentage}%  (what clients read now, version {st.served_version or '-'})")
        c.print(f"[bold]configured[/bold] {conf}  (latest deployment)")
        d = st.deployment
        if d:
            c.print(f"[bold]deployment[/bold] #{d.number} {_render.styled(d.state.lower())} "
                    f"{d.percentage_complete:.0f}% complete, strategy {_render.esc(d.strategy)}")
        if hold:
            c.print(f"[bold red]rolled back[/bold red] by {_render.esc(hold.actor)} "
                    f"({_render.esc(hold.reason or hold.by_command)}): raises refused until "
                    "`cato-migrate canary resume --reason TEXT`")
        if st.configured_percentage != st.served_percentage:
            c.print("[yellow]configured and served differ: a deployment is in flight or was rolled back[/yellow]")
        dw = data["dual_write"]
        if dw.get("served") is None:
            c.print(f"[bold]dual-write[/bold] unmeasured ({_render.esc(dw.get('why', ''))})")
        else:
            c.print(f"[bold]dual-write[/bold] {'active' if dw.get('active') else 'idle'}: LiteLLM served "
                    f"{dw['served']}, stored in the new stack {dw.get('stored', 0)}, failed {dw.get('failed', 0)}, "
                    f"dropped {dw.get('dropped', 0)}, queued {dw.get('queued', 0)}")

    _render.emit(_common.output(), data, human)


from cato_migrate.cli import canary_watch as _watch  # noqa: E402  (`canary watch`, `canary analyze`)

_watch.register(app)


def _dual_write(ctx) -> dict:
    """The edge's dual-write counters (served vs stored), or why they could not be read: never assumed."""
    from cato_migrate.errors import CatoError

    gw = ctx.services.gateway_metrics()
    if gw is None or not hasattr(gw, "dual_write"):
        return {"served": None, "why": "no gateway URL known (CATO_GATEWAY_URL)"}
    try:
        counts = gw.dual_write()
    except CatoError as exc:
        return {"served": None, "why": exc.message}
    return counts if counts is not None else {"served": None, "why": "the edge exposes no dual-write series"}
