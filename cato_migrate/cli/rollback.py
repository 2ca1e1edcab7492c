"""Roll back: --quick sends all traffic to LiteLLM (flag to 0%, verified). Preempts the lock."""
from __future__ import annotations

from typing import Optional

import typer

from cato_migrate.cli import _common, _render


def rollback(
    quick: bool = typer.Option(False, "--quick", help="Flag to 0%: stop in-flight deployments, deploy 0% with zero bake, verify."),
    full: bool = typer.Option(False, "--full", help="Full rollback (scale LiteLLM up, flag 0, drain, orchestrator to 0)."),
    reason: Optional[str] = typer.Option(None, "--reason", help="Why; recorded in the audit log."),
) -> None:
    """Example: cato-migrate rollback --quick --reason "error rate 3%" """
    from cato_migrate.errors import BadInput

    if quick == full:
        raise BadInput("choose one of --quick or --full")
    if full:
        raise BadInput("rollback --full is not implemented yet (needs the Kubernetes workloads port); nothing was changed",
                       hint="use `cato-migrate rollback --quick` to move all traffic to LiteLLM now")
    from cato_migrate.core.traffic import quick_rollback

    with _common.mutating("rollback --quick", preempt=True, reason=(reason or "rollback --quick")) as ctx:
        result = quick_rollback(ctx)

    def human(c) -> None:
        mark = "[green]within[/green]" if result["within_budget"] else "[red]OVER[/red]"
        c.print(f"[green]ok[/green] {result['message']}: {mark} the runbook's {result['budget_seconds']}s budget")
        if result["stopped_deployments"]:
            c.print(f"stopped in-flight deployment(s): {', '.join('#' + str(n) for n in result['stopped_deployments'])}")

    _render.emit(_common.output(), result, human)
