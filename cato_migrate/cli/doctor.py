"""Check the runbook's prerequisites and rollback readiness, with evidence; exit 1 if any fails.

Each check reads its system (short timeouts: doctor answers in seconds when things are down)
and says pass, warn, fail or unknown (not configured here: never counted as pass).

Examples: cato-migrate doctor;  cato-migrate doctor --for raise --output json
"""
from __future__ import annotations

from typing import Optional

import typer

from cato_migrate.cli import _common, _render


def doctor(
    for_: Optional[str] = typer.Option(None, "--for", help="raise | rollback | decommission: only the checks "
                                                            "that matter before that action."),
) -> None:
    from cato_migrate.adapters.doctor_probes import read_all
    from cato_migrate.core.doctor import diagnose
    from cato_migrate.errors import CheckFailed

    ctx = _common.reading()
    data = diagnose(ctx, for_, lambda names, exp: read_all(ctx.services, ctx.settings, exp, names))
    out = _common.output()

    def human(c) -> None:
        esc = _render.esc  # messages quote vendor errors, URLs, holders' command lines
        c.print(f"[bold]doctor[/bold] env {esc(data['env'])}" + (f", before {esc(for_)}" if for_ else ""))
        room = max(c.width - 30, 40)
        for r in data["checks"]:
            msg = _render.clip(r["message"], room)
            pad = " " * (8 - len(r["status"]))  # styled() adds markup: pad the visible label
            c.print(f"{_render.styled(r['status'])}{pad}{r['id']:<17} {esc(msg)}")
        n = data["counts"]
        c.print(f"{n['pass']} pass, {n['warn']} warn, {n['unknown']} unknown, {n['fail']} fail"
                + ("" if data["ok"] else "   (--output json shows the evidence)"))

    _render.emit(out, data, human)
    if not data["ok"]:
        if out == "json":
            raise typer.Exit(1)
        failed = [r for r in data["checks"] if r["status"] == "fail"]
        raise CheckFailed("doctor: " + "; ".join(f"{r['id']}: {r['message']}" for r in failed),
                          hint="fix each failure above, then run `cato-migrate doctor` again"
                               + (f" --for {for_}" if for_ else ""))
