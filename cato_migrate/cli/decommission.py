"""Decommission LiteLLM (week 16).

Without --delete: scale LiteLLM to 0 replicas, verified, only once the new stack serves 100%. The monitoring period (the runbook's week) starts then.

With --delete: delete LiteLLM and archive its configuration; refused until the monitoring period has passed, unless --force --reason.
"""
from __future__ import annotations

from typing import Optional

import typer

from cato_migrate.cli import _common, _render


def decommission(
    delete: bool = typer.Option(False, "--delete", help="Delete LiteLLM and archive its config (after the monitoring period)."),
    force: bool = typer.Option(False, "--force", help="Override a guardrail (needs --reason; audited)."),
    reason: Optional[str] = typer.Option(None, "--reason", help="Why; recorded in the audit log."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what it would do now and what would refuse it; change nothing."),
) -> None:
    """Example: cato-migrate decommission   then, a week later:   cato-migrate decommission --delete"""
    why = _common.require_reason(force, reason)
    what = "decommission --delete" if delete else "decommission"
    if dry_run:
        from cato_migrate.core.decommission import plan_decommission

        from cato_migrate.cli import _plan

        plan = plan_decommission(_common.reading(), delete=delete)
        _render.emit(_common.output(), plan, _plan.printer(plan))
        return
    with _common.mutating(what, force=force, reason=why) as ctx:
        if delete:
            from cato_migrate.core.decommission import archive_legacy_config, delete_legacy

            result = delete_legacy(ctx)
            result["archived"] = archive_legacy_config(ctx)
        else:
            from cato_migrate.core.decommission import scale_legacy_to_zero

            result = scale_legacy_to_zero(ctx)

    def human(c) -> None:
        c.print(f"[green]ok[/green] {_render.esc(result['message'])}")
        for path in result.get("archived", []):
            c.print(f"archived: {_render.esc(path)}")

    _render.emit(_common.output(), result, human)
