"""Check phase exit criteria with real measurements; exit 1 unless every one passes.

Results are recorded in the journal; raising traffic needs them passed there.
"""
from __future__ import annotations

from typing import Optional

import typer

from cato_migrate.cli import _common, _render


def validate(number: Optional[int] = typer.Argument(None, help="Phase number; default: every phase.")) -> None:
    from cato_migrate.core.engine import validate_phase

    ctx = _common.reading()
    phases = [ctx.runbook.phase(number)] if number is not None else ctx.runbook.phases
    results = {p.phase: validate_phase(ctx, p) for p in phases}
    flat = [r for rs in results.values() for r in rs]
    counts = {s: sum(r.status == s for r in flat) for s in ("pass", "fail", "waiting", "not_implemented")}
    ok = counts["pass"] == len(flat)
    data = {"env": ctx.env, "passed": ok, "counts": counts,
            "phases": [{"phase": n, "criteria": [r.to_dict() for r in rs]} for n, rs in results.items()]}

    def human(c) -> None:
        for n, rs in results.items():
            esc = _render.esc  # evidence quotes vendor errors and URLs; titles are runbook data
            t = _render.table("exit criterion", "result", "threshold", "evidence",
                              title=f"Phase {n}: {esc(ctx.runbook.phase(n).name)}")
            for r in rs:
                t.add_row(f"{esc(r.id)}\n[dim]{esc(r.title)}[/dim]", _render.styled(r.status), esc(r.threshold),
                          esc(r.message))
            c.print(t)
        summary = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items() if v)
        c.print(("[green]all exit criteria pass[/green]" if ok else "[red]not passed:[/red] ") + ("" if ok else summary))

    _render.emit(_common.output(), data, human)
    if not ok:
        raise typer.Exit(1)
