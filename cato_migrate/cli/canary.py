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
) -> None:
    """Deploy the flag at N% and wait until clients are served it (read back, not assumed).

    Example: cato-migrate canary set 10
    """
    from cato_migrate.core.traffic import parse_percentage, set_traffic

    target = parse_percentage(percentage)  # bad input fails before anything is touched
    why = _common.require_reason(force, reason)
    with _common.mutating(f"canary set {target}", force=force, reason=why) as ctx:
        result = set_traffic(ctx, target)

    def human(c) -> None:
        c.print(f"[green]ok[/green] {result['message']}")
        if result.get("triggers"):
            c.print("rollback triggers before raising: " + "; ".join(
                f"{t['title']}: {_render.styled(t['status'])} ({t['message']})" for t in result["triggers"]))

    _render.emit(_common.output(), result, human)


@app.command("status")
def status() -> None:
    """Live read: configured vs served percentage and the latest deployment's state."""
    from cato_migrate.core.traffic import flag_status

    ctx = _common.reading()
    st = flag_status(ctx.services.traffic_flag())
    data = {"env": ctx.env, **st.model_dump()}

    def human(c) -> None:
        conf = f"{st.configured_percentage}%" + (" (never deployed: no flag means 0%)" if st.deployment is None else "")
        c.print(f"[bold]served[/bold]     {st.served_percentage}%  (what clients read now, version {st.served_version or '-'})")
        c.print(f"[bold]configured[/bold] {conf}  (latest deployment)")
        d = st.deployment
        if d:
            c.print(f"[bold]deployment[/bold] #{d.number} {_render.styled(d.state.lower())} "
                    f"{d.percentage_complete:.0f}% complete, strategy {d.strategy}")
        if st.configured_percentage != st.served_percentage:
            c.print("[yellow]configured and served differ: a deployment is in flight or was rolled back[/yellow]")

    _render.emit(_common.output(), data, human)
