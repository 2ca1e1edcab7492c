"""`canary watch`'s screen: one interval's snapshot as a rich renderable that fits 24 lines.

Describes itself only; cli/canary_watch.py prints it (rich Live on a terminal, reprinted otherwise).
"""
from __future__ import annotations

import time

from rich.console import Group
from rich.table import Table
from rich.text import Text

from cato_migrate.cli._render import STATUS_STYLE, esc

VERDICT_STYLE = {"healthy": "bold green", "breach": "bold red", "waiting": "bold yellow", "unmeasured": "bold yellow"}


def _pct(v) -> str:
    return "-" if v is None else f"{v:.1%}"


def _ms(v) -> str:
    return "-" if v is None else f"{v:.0f} ms"


def _state(t: dict | None) -> Text:
    if t is None:
        return Text("-")
    style = STATUS_STYLE.get(t["state"], "")
    fig = "" if t["measured"] is None else (f" {t['measured']:.2%}" if t["trigger"] == "error-rate"
                                            else f" {t['measured']:.0f}ms" if t["trigger"] == "latency-p99"
                                            else f" {t['measured']:.2f}/1k")
    return Text(t["state"] + fig, style=style)


def render(snap: dict, source: str, every: float) -> Group:
    flag = snap["flag"]
    when = time.strftime("%H:%M:%S", time.localtime(snap["at"]))
    head = Text.from_markup(
        f"[bold]canary watch[/bold] {esc(snap['env'])}  #{snap['evaluation']} at {when}  "
        f"window {snap['window_seconds']:g}s, every {every:g}s, min {snap['min_requests']} requests  "
        f"[dim]{esc(source)}[/dim]")
    if flag.get("error"):
        flag_line = Text.from_markup(f"[bold]flag[/bold] [yellow]could not be read[/yellow]: {esc(flag['error'])}")
    else:
        differs = "  [yellow](differ: a deployment is in flight or rolled back)[/yellow]" \
            if flag["configured"] != flag["served"] else ""
        flag_line = Text.from_markup(f"[bold]flag[/bold] configured {flag['configured']}%  served {flag['served']}%"
                                     f"  ({esc(flag['deployment_state'])}){differs}")
    stacks = Table(show_edge=False, pad_edge=False, header_style="bold", box=None)
    for col in ("stack", "share", "requests", "p50", "p99", "errors", "cache hit", "complaints"):
        stacks.add_column(col, justify="left" if col == "stack" else "right")
    for name in ("legacy", "new"):
        s = snap["stacks"].get(name, {"error": "not read"})
        if s.get("error"):
            stacks.add_row(name, Text(f"unmeasured: {s['error']}"[:90], style="yellow"))
            continue
        stacks.add_row(name, _pct(s["share"]), str(s["requests"]), _ms(s["p50_ms"]), _ms(s["p99_ms"]),
                       "-" if s["error_rate"] is None else f"{s['error_rate']:.2%}", _pct(s["cache_hit_rate"]),
                       "-" if s["complaints"] is None else str(s["complaints"]))
    trig = Table(show_edge=False, pad_edge=False, header_style="bold", box=None)
    for col in ("trigger", "legacy", "new", f"new streak / {snap['consecutive_breaches']}"):
        trig.add_column(col)
    by = {(t["trigger"], t["stack"]): t for t in snap["triggers"]}
    for tid in dict.fromkeys(t["trigger"] for t in snap["triggers"]):
        title = next(t["title"] for t in snap["triggers"] if t["trigger"] == tid)
        trig.add_row(esc(title), _state(by.get((tid, "legacy"))), _state(by.get((tid, "new"))),
                     str(snap["breaches"].get(tid, 0)))
    verdict = Text.from_markup(
        f"[bold]verdict[/bold] [{VERDICT_STYLE[snap['verdict']]}]{snap['verdict'].upper()}[/]"
        f"  (the new stack decides; legacy is shown only)"
        + (f"  unmeasured {snap['unmeasured_run']} in a row, policy {snap['unmeasured_policy']}"
           if snap["unmeasured_run"] else ""))
    lines = [head, flag_line, Text(""), stacks, Text(""), trig, Text(""), verdict]
    if snap["decision"] == "rollback":
        lines.append(Text.from_markup(f"[bold red]ROLLBACK[/bold red] {esc(snap['reason'])}"))
    else:
        waiting = [t for t in snap["triggers"] if t["stack"] == "new" and t["state"] in ("waiting", "unmeasured")]
        if waiting:
            lines.append(Text(f"new stack: {waiting[0]['message']}"[:160], style="dim"))
    return Group(*lines)
