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
    from cato_migrate.errors import BadInput

    ctx0 = _common.reading()
    found = ctx0.runbook.find_step(step)
    if found is None:
        raise BadInput(f"no step {step!r} in the runbook", hint="see `cato-migrate phase show N` for step ids")
    phase, week, spec = found
    if spec.kind != "attest":
        raise BadInput(f"{step} is a {spec.kind!r} step, not a manual sign-off; run it with `cato-migrate phase run {phase.phase} --step {step}`")
    if not by.strip():
        raise BadInput("--by needs a name")
    with _common.mutating(f"attest {step}") as ctx:
        entry = ctx.journal(step, "attested", evidence={"by": by.strip(), "note": note or ""},
                            message=f"attested by {by.strip()}")
        ctx.audit("attest", step, note or "", by=by.strip())
    _render.emit(_common.output(), {"step": step, "by": by.strip(), "note": note or "", "at": entry.at},
                 lambda c: c.print(f"[green]ok[/green] {_render.esc(step)} attested by {_render.esc(by.strip())}"))
