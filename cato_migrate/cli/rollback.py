"""Roll back to LiteLLM. Both kinds preempt the operator lock (audited).

--quick (runbook: under 5 minutes): the flag to 0%. Checks LiteLLM has ready replicas (else refuses: use --full, or --force), stops in-flight deployments (never another rollback's 0% one), deploys 0% with zero bake, verifies what clients are served.

Both leave the environment rolled back: `canary set` refuses to raise until `cato-migrate canary resume --reason TEXT`.

--full (runbook: under 1 hour), in the safe order: LiteLLM scaled up and ready, then the flag to 0% verified, then in-flight requests to the orchestrator drained, then the orchestrator scaled to 0. Each stage is verified and timed; after an interruption, run it again and it resumes.
"""
from __future__ import annotations

from typing import Optional

import typer

from cato_migrate.cli import _common, _render


def rollback(
    quick: bool = typer.Option(False, "--quick", help="Flag to 0%: stop in-flight deployments, deploy 0% with zero bake, verify."),
    full: bool = typer.Option(False, "--full", help="Scale LiteLLM up and wait, flag to 0% verified, drain, orchestrator to 0."),
    reason: Optional[str] = typer.Option(None, "--reason", help="Why; recorded in the audit log."),
    force: bool = typer.Option(False, "--force", help="With --quick: move the flag even if LiteLLM is not ready (needs --reason; audited)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what it would do now; change nothing."),
) -> None:
    """Example: cato-migrate rollback --quick --reason "error rate 3%" """
    from cato_migrate.errors import BadInput

    if quick == full:
        raise BadInput("choose one of --quick or --full; nothing was changed",
                       hint="--quick moves all traffic to LiteLLM in minutes; --full also scales the stacks")
    if force and full:
        raise BadInput("--force goes with --quick; nothing was changed",
                       hint="--full scales LiteLLM up itself before moving the flag")
    why = _common.require_reason(force, reason)
    if full:
        return _plan_full() if dry_run else _full(reason)
    if dry_run:
        return _plan_quick()
    from cato_migrate.core.quick_rollback import quick_rollback

    with _common.mutating("rollback --quick", preempt=True, force=force,
                          reason=(why or "rollback --quick")) as ctx:
        result = quick_rollback(ctx)

    def human(c) -> None:
        mark = "[green]within[/green]" if result["within_budget"] else "[red]OVER[/red]"
        c.print(f"[green]ok[/green] {_render.esc(result['message'])}: {mark} the runbook's {result['budget_seconds']}s budget")
        if result["stopped_deployments"]:
            c.print(f"stopped in-flight deployment(s): {', '.join('#' + str(n) for n in result['stopped_deployments'])}")
        if result.get("adopted_deployment"):
            c.print(f"deployment #{result['adopted_deployment']} was already deploying 0%: waited for it, not stopped")
        c.print("raises are refused until `cato-migrate canary resume --reason TEXT`")

    _render.emit(_common.output(), result, human)


def _plan_quick() -> None:
    from cato_migrate.cli import _plan
    from cato_migrate.core.quick_rollback import plan_quick_rollback

    plan = plan_quick_rollback(_common.reading())
    _render.emit(_common.output(), plan, _plan.printer(plan))


def _plan_full() -> None:
    from cato_migrate.core.full_rollback import plan_full_rollback

    ctx = _common.reading()
    stages = plan_full_rollback(ctx)

    def human(c) -> None:
        t = _render.table("stage", "would do now", title="rollback --full --dry-run (nothing changed)")
        for st in stages:
            t.add_row(_render.esc(st["stage"]), _render.esc(st["would"]))
        c.print(t)

    _render.emit(_common.output(), {"dry_run": True, "stages": stages}, human)


def _full(reason: Optional[str]) -> None:
    from cato_migrate.core.full_rollback import full_rollback

    with _common.mutating("rollback --full", preempt=True, reason=(reason or "rollback --full")) as ctx:
        result = full_rollback(ctx)

    def human(c) -> None:
        t = _render.table("stage", "result", "seconds", "what")
        for st in result["stages"]:
            t.add_row(st["stage"], _render.styled("done" if st["outcome"] != "failed" else "failed")
                      + (" (already)" if st["outcome"] == "already" else ""), f"{st['seconds']:.1f}", _render.esc(st["message"]))
        c.print(t)
        mark = "[green]within[/green]" if result["within_budget"] else "[red]OVER[/red]"
        c.print(f"[green]ok[/green] {_render.esc(result['message'])}: {mark} the runbook's {result['budget_seconds']}s budget")

    _render.emit(_common.output(), result, human)
