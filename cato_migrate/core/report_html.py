"""The report as ONE self-contained HTML page for stakeholders (pure: a Report in, a string out).

Inline CSS and inline SVG (core/report_svg.py); no script, no external URL of any kind, so the
file opens the same from a mail attachment, offline. Every text from the journal, the audit log
or the runbook is escaped: reasons and notes are typed by people.
"""
from __future__ import annotations

import time

from cato_migrate.core.report import Provenance, Report
from cato_migrate.core.report_svg import bar_chart, esc, line_chart

STATE_LABEL = {"met": "met", "not_met": "NOT met", "stale": "stale", "not_measured": "not measured",
               "in_place": "in place", "partial": "partial", "failing": "FAILING", "not_evidenced": "not evidenced",
               "ok": "ok", "pass": "pass", "fail": "FAIL", "waiting": "waiting", "never_run": "never run",
               "not_implemented": "not implemented", "finished": "verified", "failed": "FAILED",
               "unfinished": "unfinished"}
GOOD = {"met", "in_place", "ok", "pass", "finished"}
BAD = {"not_met", "failing", "fail", "failed"}

CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1100px;color:#222}
h1{font-size:22px;margin-bottom:4px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
.sub{color:#666;font-size:13px}table{border-collapse:collapse;width:100%;font-size:13px;margin-top:8px}
th,td{border:1px solid #ddd;padding:6px 8px;text-align:left;vertical-align:top}th{background:#f5f5f5}
.state{font-weight:600;white-space:nowrap}.good{color:#17733a}.bad{color:#b3261e}.warn{color:#8a6100}
.prov{color:#555;font-size:12px;margin:2px 0}.missing{border:1px dashed #bbb;padding:24px;color:#8a6100;background:#fffbea}
.chart{margin:12px 0}.note{color:#555;font-size:12px}
"""


def _t(ts: float | None) -> str:
    return "never" if ts is None else time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


def _state(s: str) -> str:
    cls = "good" if s in GOOD else "bad" if s in BAD else "warn"
    return f'<span class="state {cls}" data-state="{esc(s)}">{esc(STATE_LABEL.get(s, s))}</span>'


def _table(head: list[str], rows: list[list[str]], cls: str) -> str:
    th = "".join(f"<th>{esc(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def _provenance(p: Provenance) -> str:
    bits = [f"{esc(p.stack + ': ') if p.stack else ''}<b>{esc(p.figure)}</b> &mdash; {esc(p.what)}",
            f"where: {esc(p.env)}, {esc(p.source)}; when: {esc(_t(p.at))}" + (f" by {esc(p.by)}" if p.by else ""),
            f"sample: {esc(p.sample_size if p.sample_size is not None else 'not recorded')}; concurrency: "
            f"{esc(p.concurrency if p.concurrency is not None else 'not recorded')}"]
    if p.note:
        bits.append(esc(p.note))
    return '<div class="prov">' + "<br>".join(bits) + "</div>"


def metrics_table(r: Report) -> str:
    rows = [[esc(m.title), esc(m.before), esc(m.target), esc(m.actual) + (f'<div class="prov">{esc(m.why)}</div>'
             if m.why and m.state != "not_measured" else ""), _state(m.state),
             "".join(_provenance(p) for p in m.provenance) or '<span class="prov">none</span>']
            for m in r.metrics]
    return _table(["Metric", "Before", "Target", "Actual", "State", "Provenance"], rows, "metrics")


def _missing(text: str) -> str:
    return f'<div class="missing" data-missing="1">{esc(text)}</div>'


def charts_html(r: Report) -> str:
    c = r.charts
    out = ["<h2>Latency against concurrency</h2>"]
    if c.latency:
        out.append('<div class="chart" id="chart-latency">' + line_chart(
            "p99 latency (ms) against concurrency", c.latency, xlabel="requests in flight", ylabel="p99 (ms)",
            hline=c.latency_target_ms, hline_label=f"target < {c.latency_target_ms:g} ms" if c.latency_target_ms else "")
            + "</div>")
        out += [f'<p class="note">{esc(s.name)}: {esc(s.source)}</p>' for s in c.latency]
        if c.latency_note:
            out.append(f'<p class="note">{esc(c.latency_note)}</p>')
    else:
        out.append(_missing(c.latency_note or "not measured"))
    out.append("<h2>Traffic on the new stack</h2>")
    if c.traffic is not None:
        out.append('<div class="chart" id="chart-traffic">' + line_chart(
            "share of traffic on the new stack (%)", [c.traffic], xlabel="time (UTC)", ylabel="% of users",
            step=True, time_x=True, y_range=(0.0, 100.0)) + f'</div><p class="note">{esc(c.traffic.source)}</p>')
    else:
        out.append(_missing(c.traffic_note))
    out.append("<h2>Cost per 1,000 requests</h2>")
    if c.cost:
        bars = [(b.stack, b.name, b.per_1k_usd) for b in c.cost] + [(s, "whole mix", v) for s, v in c.cost_totals.items()]
        out.append('<div class="chart" id="chart-cost">' + bar_chart("cost per 1,000 requests (USD)", bars,
                                                                      unit="USD per 1,000 requests") + "</div>")
        out.append(f'<p class="note">{esc(c.cost_note)}</p>')
    else:
        out.append(_missing(c.cost_note))
    return "".join(out)


def risks_table(r: Report) -> str:
    rows = [[esc(k.risk), esc(k.likelihood), esc(k.impact), esc(k.mitigation), _state(k.state),
             "".join(f'<div class="prov">{_state(i.state)} {esc(i.kind)}{(" " + esc(i.key)) if i.key else ""}: '
                     f'{esc(i.detail.removeprefix("not measured: "))}</div>' for i in k.evidence)] for k in r.risks]
    return _table(["Risk", "Likelihood", "Impact", "Mitigation", "State", "Evidence"], rows, "risks")


def criteria_table(r: Report) -> str:
    rows = [[f"{c.phase}", esc(c.title), _state(c.status) + (' <span class="warn">(stale)</span>' if c.stale else ""),
             esc(_t(c.at)), esc(c.message)] for c in r.criteria]
    return _table(["Phase", "Exit criterion", "Latest", "When", "Detail"], rows, "criteria")


def drills_table(r: Report) -> str:
    if not r.drills:
        return _missing("no rollback has been run in this environment")
    rows = [[esc(d.kind), esc(_t(d.started_at)), _state(d.outcome),
             esc("-" if d.elapsed_seconds is None else f"{d.elapsed_seconds:.1f} s"), esc(f"{d.budget_seconds} s"),
             _state("ok" if d.within_budget else "failing") if d.within_budget is not None else "-",
             esc(d.by), esc(d.reason)] for d in r.drills]
    return _table(["Rollback", "Started", "Outcome", "Elapsed", "Budget", "Within", "By", "Reason"], rows, "drills")


def overrides_table(r: Report) -> str:
    if not r.overrides:
        return "<p>No guardrail was overridden and no step was forced.</p>"
    rows = [[esc(_t(o.at)), esc(o.actor), esc(o.action), esc(o.target), esc(o.reason), esc("; ".join(o.overrode))]
            for o in r.overrides]
    return _table(["When", "Who", "Action", "Target", "Reason", "What it overrode"], rows, "overrides")


def render_html(r: Report) -> str:
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>Cato migration report: {esc(r.env)}</title><style>{CSS}</style></head><body>"
            f"<h1>Cato migration: LiteLLM &rarr; Ray Serve + Bedrock ({esc(r.env)})</h1>"
            f'<p class="sub">generated {esc(_t(r.generated_at))} by cato-migrate report; a measurement older than '
            f"{r.max_age_days:g} days is stale; a missing one says why</p>"
            + "".join(f'<p class="missing bad" data-warning="1">{esc(w)}</p>' for w in r.warnings)
            + "<h2>Success metrics</h2>" + metrics_table(r) + charts_html(r)
            + "<h2>Risk register</h2>" + risks_table(r)
            + "<h2>Exit criteria</h2>" + criteria_table(r)
            + "<h2>Rollback drills</h2>" + drills_table(r)
            + "<h2>Overrides</h2>" + overrides_table(r) + "</body></html>\n")
