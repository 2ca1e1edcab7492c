"""`canary watch` and `canary analyze`: the canary measured per stack, through the metrics source.

watch: every interval, the runbook's rollback triggers on each stack over a trailing window, and
the verdict (the new stack decides; legacy is shown, never acted on). Exit 0 when --for ends with
every trigger on the new stack clear; 1 when a rollback was decided (with --auto-rollback: after
the quick rollback ran) or the last evaluation breached; 6 when it ended waiting or unmeasured.

analyze: the new stack against legacy over one window (Mann-Whitney U on latency, two-proportion
test on errors), journaled; exit 0 only on pass.
"""
from __future__ import annotations

import json
import sys
from typing import Optional

import typer

from cato_migrate.cli import _common, _render


def watch(
    interval: Optional[float] = typer.Option(None, "--interval", min=0.1, help="Seconds between evaluations (default: the runbook's canary_analysis.interval_seconds)."),
    for_: Optional[str] = typer.Option(None, "--for", help="Stop after this long (30s, 10m, 1h); exit 0 only if every trigger is clear then. Default: until Ctrl-C."),
    window: Optional[float] = typer.Option(None, "--window", min=1, help="Seconds of traffic each evaluation looks back over (default: the runbook's canary_analysis.window_seconds)."),
    auto_rollback: bool = typer.Option(False, "--auto-rollback", help="Run the quick rollback when a trigger fires on the new stack N evaluations running (audited), then exit 1."),
) -> None:
    """Watch the rollback triggers on both stacks, live; optionally roll back by itself.

    Example: cato-migrate canary watch --interval 10 --for 1h --auto-rollback
    """
    from cato_migrate.core.canary_measure import require_source
    from cato_migrate.core.canary_watcher import watch as run_watch
    from cato_migrate.core.drill import parse_duration

    duration = parse_duration(for_) if for_ is not None else None
    ctx = _common.reading()
    source = require_source(ctx)
    every = interval or ctx.runbook.meta.canary_analysis.interval_seconds
    as_json = _common.output() == "json"
    view = _View(ctx, source.describe(), every) if not as_json else None
    show = _json_line if as_json else view.update
    try:
        last = run_watch(ctx, source, interval=every, duration=duration, on_interval=show,
                         auto_rollback=auto_rollback, on_rollback=_rollback, window=window)
    finally:
        if view is not None:
            view.stop()
    if as_json and "rolled_back" in last:  # scripts see the rollback's result as the last line
        _json_line(last)
    code, message, hint = outcome(last)
    if message:
        _render.err().print(f"[bold]{'ok' if code == 0 else 'canary watch'}:[/bold] {_render.esc(message)}")
    if hint:
        _render.err().print(f"[bold]next:[/bold] {_render.esc(hint)}")
    if code:
        raise typer.Exit(code)


def outcome(last: dict) -> tuple[int, str, str]:
    """(exit code, message, hint) for the watch's last snapshot."""
    from cato_migrate.errors import EXIT_CHECK_FAILED, EXIT_NOT_PROVEN

    new_not_clear = [t for t in last["triggers"] if t["stack"] == "new" and t["state"] != "clear"]
    if "rolled_back" in last:
        return (EXIT_CHECK_FAILED, f"rolled back: {last['reason']}; {last['rolled_back'].get('message', '')}",
                "find the cause (`cato-migrate history`), then `cato-migrate canary resume --reason TEXT`")
    if last["decision"] == "rollback":
        return (EXIT_CHECK_FAILED, f"a rollback is called for: {last['reason']}",
                "run `cato-migrate rollback --quick --reason TEXT` (or watch with --auto-rollback)")
    if last["verdict"] == "breach":
        return (EXIT_CHECK_FAILED, "the last evaluation breached: " + "; ".join(
            f"{t['title']}: {t['message']}" for t in new_not_clear if t["state"] == "fired"), "")
    if last["verdict"] != "healthy":
        return (EXIT_NOT_PROVEN, f"not proven: the watch ended {last['verdict']}: " + "; ".join(
            f"{t['title']}: {t['message']}" for t in new_not_clear),
            "send traffic or check the metrics source, and watch again")
    return 0, "every rollback trigger on the new stack was clear at the last evaluation", ""


def _json_line(snap: dict) -> None:
    sys.stdout.write(json.dumps(snap, default=str) + "\n")
    sys.stdout.flush()


def _rollback(snap: dict) -> dict:
    """The quick rollback, under the lock (preempting, as `rollback --quick` does), audited with the figures."""
    from cato_migrate.core.quick_rollback import quick_rollback
    from cato_migrate.core.traffic import TRAFFIC_KEY

    reason = f"canary watch --auto-rollback: {snap['reason']}"
    with _common.mutating("canary watch --auto-rollback", preempt=True, reason=reason) as ctx:
        ctx.audit("canary.watch.rollback", TRAFFIC_KEY, reason, evaluation=snap["evaluation"], flag=snap["flag"],
                  breaches=snap["breaches"], stacks=snap["stacks"],
                  triggers=[t for t in snap["triggers"] if t["stack"] == "new"])
        return quick_rollback(ctx)


class _View:
    """The live view: redrawn in place on a terminal (24 lines), reprinted per interval otherwise."""

    def __init__(self, ctx, source: str, every: float):
        self.ctx, self.source, self.every = ctx, source, every
        self.console = _render.out()  # the command's: update() may be called from the watch loop's thread
        self.live = None
        if self.console.is_terminal:
            from rich.live import Live

            self.live = Live(console=self.console, auto_refresh=False, transient=False)
            self.live.start()

    def update(self, snap: dict) -> None:
        from cato_migrate.cli.canary_watch_view import render

        body = render(snap, self.source, self.every)
        if self.live is not None:
            self.live.update(body, refresh=True)
        else:
            self.console.print(body)
            self.console.print()

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()


def analyze(
    window: Optional[float] = typer.Option(None, "--window", min=1, help="Seconds to compare over (default: the runbook's canary_analysis.analysis.window_seconds)."),
) -> None:
    """Compare the new stack with legacy over the same window; journaled as canary.analysis.

    Example: cato-migrate canary analyze --window 900
    """
    from cato_migrate.core.canary_measure import require_source, run_analysis

    ctx = _common.reading()
    if window is not None:
        meta = ctx.runbook.meta
        spec = meta.canary_analysis.model_copy(update={
            "analysis": meta.canary_analysis.analysis.model_copy(update={"window_seconds": window})})
        ctx.runbook = ctx.runbook.model_copy(update={"meta": meta.model_copy(update={"canary_analysis": spec})})
    result, evidence = run_analysis(ctx, require_source(ctx))
    data = {"env": ctx.env, **result.model_dump(), "source": evidence["source"], "stacks": evidence["stacks"]}

    def human(c) -> None:
        t = _render.table("metric", "verdict", "new n", "legacy n", "effect", "p", "what",
                          title=f"canary analysis over {result.window_seconds:g}s ({_render.esc(evidence['source'])})")
        for m in result.metrics:
            t.add_row(m.metric, _render.styled(m.verdict), str(m.n_new if m.n_new is not None else "-"),
                      str(m.n_legacy if m.n_legacy is not None else "-"),
                      "-" if m.effect is None else f"{m.effect:.3f}", "-" if m.p_value is None else f"{m.p_value:.3g}",
                      _render.esc(m.message))
        c.print(t)
        c.print(f"verdict: {_render.styled(result.verdict)} (journaled as canary.analysis)")

    _render.emit(_common.output(), data, human)
    if result.verdict != "pass":  # the verdict is on stdout; the exit code says it to scripts
        from cato_migrate.errors import EXIT_CHECK_FAILED, EXIT_NOT_PROVEN

        raise typer.Exit(EXIT_CHECK_FAILED if result.verdict in ("fail", "marginal") else EXIT_NOT_PROVEN)


def register(app: typer.Typer) -> None:
    app.command("watch")(watch)
    app.command("analyze")(analyze)
