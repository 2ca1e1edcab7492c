"""Sign off a manual runbook item (an `attest` step). Example: cato-migrate attest p4.w13.alert-oncall --by alice"""
from __future__ import annotations

from typing import Optional

import typer

from cato_migrate.cli import _common, _render


def attest(
    step: str = typer.Argument(..., help="Id of an attest step (see `cato-migrate phase show N`)."),
    by: str = typer.Option(..., "--by", help="Name of the person signing off."),
    note: Optional[str] = typer.Option(None, "--note", help="What was done, links."),
) -> None:
    from cato_migrate.core.attest import attest_step, check_attest

    check_attest(_common.reading(), step, by)  # bad input refused before the lock is taken
    with _common.mutating(f"attest {step}") as ctx:
        result = attest_step(ctx, step, by, note or "")
    _render.emit(_common.output(), result,
                 lambda c: c.print(f"[green]ok[/green] {_render.esc(step)} attested by {_render.esc(result['by'])}"))
