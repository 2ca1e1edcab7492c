"""The success report: the runbook's Before / Target / Actual table from measurements, with
provenance, then the risk register, exit criteria, rollback drills and overrides.

`--output json` dumps the model; `--output html --out FILE` writes one self-contained page
(inline CSS and SVG charts, nothing loaded from anywhere). Reads only: exit 0 whatever it shows.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cato_migrate.cli import _common, _render

AUDIT_LIMIT = 100_000  # every override since the start, not the last page of the log
BENCH_DIR = Path(__file__).resolve().parents[2] / "bench" / "results"


def report(
    out: Optional[Path] = typer.Option(None, "--out", help="Write to FILE instead of stdout (any --output; "
                                                           "html: the page to open or send)."),
    max_age_days: float = typer.Option(7.0, "--max-age-days", min=0.01,
                                       help="A measurement older than this many days is shown as stale."),
    bench: str = typer.Option("auto", "--bench", help="A bench/results JSON (bench/gateway_compare.py) for the "
                              "side-by-side latency chart; 'auto': the newest in bench/results; 'none': skip."),
) -> None:
    from cato_migrate.cli.canary import _dual_write
    from cato_migrate.core.report import build_report

    st = _common.state()
    fmt = st.output
    if fmt == "html":
        st.output = None  # settings know table|json; html belongs to this verb alone
    ctx = _common.reading()
    fmt = fmt or _common.output()
    bench_data, bench_name = _bench(bench)
    r = build_report(ctx.runbook, ctx.store.journal(ctx.env), ctx.store.audit(ctx.env, AUDIT_LIMIT), env=ctx.env,
                     now=ctx.clock.now(), max_age_days=max_age_days, dual_write=_dual_write(ctx),
                     bench=bench_data, bench_name=bench_name)
    if fmt == "html":
        from cato_migrate.core.report_html import render_html

        return _write(out, render_html(r), f"report page for {ctx.env}")
    if out is not None:
        import json

        if fmt == "json":
            return _write(out, json.dumps(r.model_dump(), indent=2, default=str) + "\n", "report (json)")
        from rich.console import Console

        with _open(out) as f:
            _human(Console(file=f, width=140, highlight=False, soft_wrap=True), r)
        _render.err().print(f"wrote {_render.esc(out)}")
        return None
    _render.emit(fmt, r.model_dump(), lambda c: _human(c, r))


def _open(path: Path):
    from cato_migrate.errors import BadInput

    try:
        return open(path, "w", encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"cannot write {path}: {exc.strerror or exc}", hint="pass --out a writable file path") from exc


def _write(path: Optional[Path], text: str, what: str) -> None:
    if path is None:
        import sys

        sys.stdout.write(text)
        return
    with _open(path) as f:
        f.write(text)
    _render.err().print(f"wrote the {what} to {_render.esc(path)}")


def _bench(choice: str) -> tuple[dict | None, str]:
    """The benchmark file to chart beside the journal's figures (None: none, or unreadable)."""
    import json

    from cato_migrate.errors import BadInput

    if choice == "none":
        return None, ""
    if choice == "auto":
        # gateway_compare's results are named by UTC timestamp; other benches' (startup.json) are not charted
        files = sorted(BENCH_DIR.glob("[0-9]*.json")) if BENCH_DIR.is_dir() else []
        if not files:
            return None, ""
        path = files[-1]  # names are UTC timestamps: the last is the newest
    else:
        path = Path(choice)
    try:
        return json.loads(path.read_text(encoding="utf-8")), path.name
    except (OSError, ValueError) as exc:
        if choice == "auto":
            return None, ""
        raise BadInput(f"cannot read the bench file {path}: {exc}", hint="pass a bench/results/*.json file, or --bench none") from exc


def _human(c, r) -> None:
    from cato_migrate.core.lock import fmt_time

    esc = _render.esc
    c.print(f"[bold]SUCCESS METRICS[/bold] ({esc(r.env)}, {fmt_time(r.generated_at)}; stale after {r.max_age_days:g} days)")
    for w in r.warnings:
        c.print(f"[bold red]WARNING[/bold red] {esc(w)}")
    t = _render.table("metric", "before", "target", "actual", "state")
    for m in r.metrics:
        t.add_row(esc(m.title), esc(m.before), esc(m.target), esc(m.actual), _st(m.state))
    c.print(t)
    for m in r.metrics:
        if m.why and m.state != "not_measured":
            c.print(f"  {esc(m.title)}: {esc(m.why)}")
        for p in m.provenance:
            who = f"{p.stack}: " if p.stack else ""
            c.print(f"  [dim]{esc(m.title)} <- {esc(who + p.figure)}; {esc(p.source)}; "
                    f"{fmt_time(p.at) if p.at else 'never'}; sample {esc(p.sample_size if p.sample_size is not None else '-')}"
                    f", concurrency {esc(p.concurrency if p.concurrency is not None else '-')}[/dim]")
    c.print("\n[bold]RISK REGISTER[/bold]")
    room = max(c.width - 16, 40)
    for k in r.risks:
        pad = " " * max(14 - len(k.state), 1)  # _st adds markup: pad the visible label
        c.print(f"  {_st(k.state)}{pad}{esc(_render.clip(f'{k.risk} ({k.impact}): {k.mitigation}', room))}")
        for i in k.evidence:
            c.print(f"                {_evidence_line(i, room)}")
    c.print("\n[bold]EXIT CRITERIA[/bold]")
    t = _render.table("phase", "criterion", "latest", "when")
    for cr in r.criteria:
        t.add_row(str(cr.phase), esc(cr.title), _render.styled(cr.status) + (" (stale)" if cr.stale else ""),
                  fmt_time(cr.at) if cr.at else "never")
    c.print(t)
    c.print("\n[bold]ROLLBACK DRILLS[/bold]" + ("" if r.drills else ": none run"))
    if r.drills:
        t = _render.table("rollback", "started", "outcome", "elapsed", "budget", "reason")
        for d in r.drills:
            el = "-" if d.elapsed_seconds is None else f"{d.elapsed_seconds:.1f}s" + ("" if d.within_budget else " OVER")
            t.add_row(d.kind, fmt_time(d.started_at), _render.styled(d.outcome), el, f"{d.budget_seconds}s",
                      esc(_render.clip(d.reason, 40)))
        c.print(t)
    c.print(f"\n[bold]OVERRIDES[/bold]: {len(r.overrides)}" + ("" if r.overrides else " (none)"))
    for o in r.overrides:
        c.print(f"  {fmt_time(o.at)} {esc(o.actor)} {esc(o.action)} {esc(o.target)}: {esc(o.reason)}"
                + (f" [dim](overrode: {esc('; '.join(o.overrode))})[/dim]" if o.overrode else ""))
    c.print("\n[dim]every detail: --output json; the page with charts: --output html --out report.html[/dim]")


def _evidence_line(i, width: int) -> str:
    """A tired reader scans states: what is in place is named, what is not says why, one line each."""
    if i.state == "ok":
        return f"{_st(i.state)} {_render.esc(i.kind)} {_render.esc(i.key)}".rstrip()
    return f"{_st(i.state)}: {_render.esc(_render.clip(i.detail.removeprefix('not measured: '), width - len(i.state) - 2))}"


_COLOUR = {"met": "green", "in_place": "green", "ok": "green", "not_met": "red", "failing": "red",
           "stale": "yellow", "not_measured": "yellow", "partial": "yellow", "not_evidenced": "yellow"}


def _st(state: str) -> str:
    colour = _COLOUR.get(state)
    label = state.replace("_", " ")
    return f"[{colour}]{label}[/{colour}]" if colour else label
