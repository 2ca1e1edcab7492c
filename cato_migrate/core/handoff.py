"""`status` and `status --handoff`: where things stand, for the next person on call (pure).

The served value is the live read when it worked; when it did not, the journal's last value is
shown labelled with its time and why the live read failed, never as a bare "verified". The
hand-over fits MAX_LINES lines of plain text: every list is capped, with "(+N more)".
"""
from __future__ import annotations

import re
from typing import Any, Callable

from cato_migrate.core.lock import fmt_time
from cato_migrate.core.runbook import STEP_ID, RunbookSpec
from cato_migrate.core.state import AuditEntry, JournalEntry

MAX_LINES = 40
IN_FLIGHT = ("DEPLOYING", "BAKING", "VALIDATING", "ROLLING_BACK")
OVERRIDE_ACTIONS = ("guardrail.override", "phase.run.force")
SHOWN = {"overrides": 3, "forced_steps": 3, "attestations": 4, "failing_criteria": 3}


def served_view(live: dict[str, Any] | None, live_error: str | None, last: dict[str, Any] | None) -> dict[str, Any]:
    """What clients are served: live (flag_status dump) or the journal's last value, labelled."""
    if live is not None:
        state = live.get("deployment_state", "NONE")
        dep = live.get("deployment") or {}
        label = f"live: served {live['served_percentage']}%"
        if state in IN_FLIGHT:
            label += (f"; deployment #{dep.get('number', '?')} {state} toward "
                      f"{live.get('configured_percentage')}%")
        return {"source": "live", "served_percentage": live["served_percentage"],
                "configured_percentage": live.get("configured_percentage"), "deployment_state": state,
                "in_flight": state in IN_FLIGHT, "label": label}
    why = " ".join((live_error or "unknown error").split())  # vendor errors can carry an HTML page
    why = why if len(why) <= 160 else why[:159] + "…"
    if last is None:
        return {"source": "none", "served_percentage": None, "in_flight": None,
                "label": f"unknown: live read failed: {why}; the journal has no traffic change"}
    kind = "last verified" if last.get("verified") else "last UNVERIFIED"
    return {"source": "journal", "served_percentage": last.get("value"), "in_flight": None,
            "label": f"{last.get('value')}% ({kind} {fmt_time(last['at'])} by {last.get('by')}, "
                     f"live read failed: {why})"}


def last_triggers(entries: list[JournalEntry]) -> dict[str, Any] | None:
    """The rollback triggers as last measured before a raise (journaled with the traffic intent)."""
    from cato_migrate.core.traffic import TRAFFIC_KEY

    e = next((e for e in reversed(entries) if e.key == TRAFFIC_KEY and e.event == "started"
              and e.inputs.get("triggers")), None)
    return None if e is None else {"at": e.at, "by": e.actor, "target": e.inputs.get("target"),
                                   "triggers": dict(e.inputs["triggers"])}


def criteria_summary(entries: list[JournalEntry]) -> dict[str, Any]:
    from cato_migrate.core.progress import latest_checks

    latest = latest_checks(entries)
    counts: dict[str, int] = {}
    for e in latest.values():
        counts[e.status] = counts.get(e.status, 0) + 1
    return {"counts": counts, "not_passing": [k for k, e in latest.items() if e.status != "pass"]}


def overrides(audit: list[AuditEntry]) -> list[dict[str, Any]]:
    return [{"at": a.at, "actor": a.actor, "action": a.action, "target": a.target, "reason": a.reason}
            for a in audit if a.action in OVERRIDE_ACTIONS]


def forced_steps(entries: list[JournalEntry]) -> list[dict[str, Any]]:
    return [{"step": e.key, "at": e.at, "actor": e.actor, "reason": e.inputs.get("reason", "")}
            for e in entries if e.event == "started" and e.inputs.get("forced") is True and re.match(STEP_ID, e.key)]


def pending_attestations(runbook: RunbookSpec, entries: list[JournalEntry], upto_week: int) -> list[dict[str, Any]]:
    """Manual sign-offs (attest steps) not done, up to the current week."""
    from cato_migrate.core.progress import step_state

    out = []
    for p in runbook.phases:
        for w, s in p.steps():
            if s.kind == "attest" and w.week <= upto_week and step_state(entries, s.id)[0] != "done":
                out.append({"step": s.id, "week": w.week, "title": s.title})
    return out


def build_handoff(*, env: str, where: dict[str, Any], served: dict[str, Any], observed: dict[str, Any] | None,
                  entries: list[JournalEntry], audit: list[AuditEntry], lock: dict[str, Any] | None,
                  hold: dict[str, Any] | None, intent: dict[str, Any] | None, runbook: RunbookSpec,
                  interrupted: str | None) -> dict[str, Any]:
    rb = runbook.meta.rollback
    return {
        "env": env, "phase": where["phase"], "week": where["week"],
        "steps_done": where["steps_done"], "steps_total": where["steps_total"],
        "served": served, "observed": observed,
        "triggers": last_triggers(entries), "criteria": criteria_summary(entries),
        "lock": lock, "hold": hold, "pending_traffic_intent": intent,
        "overrides": overrides(audit), "forced_steps": forced_steps(entries),
        "pending_attestations": pending_attestations(runbook, entries, where["week"]),
        "full_rollback_interrupted_at": interrupted, "next": where["next"],
        "rollback": [
            {"command": "cato-migrate rollback --quick", "budget_seconds": rb.quick_budget_seconds,
             "what": "flag to 0%, verified"},
            {"command": "cato-migrate rollback --full", "budget_seconds": rb.full_budget_seconds,
             "what": "LiteLLM up, flag 0%, drain, orchestrator to 0"}],
        "contacts": [{"role": c.role, "who": c.who} for c in runbook.meta.contacts],
    }


def _capped(items: list[dict[str, Any]], n: int, fmt: Callable[[dict[str, Any]], str]) -> list[str]:
    lines = [fmt(i) for i in items[-n:]]
    if len(items) > n:
        lines.insert(0, f"  (+{len(items) - n} earlier; `cato-migrate history` lists them)")
    return lines


def _one_line(text: object, width: int = 110) -> str:
    raw = str(text)
    s = raw[:len(raw) - len(raw.lstrip(" "))] + " ".join(raw.split())  # keep the indent; no newlines
    return s if len(s) <= width else s[:width - 1] + "…"


def handoff_lines(h: dict[str, Any]) -> list[str]:
    """The paste-ready hand-over: plain text, at most MAX_LINES lines."""
    L = [f"HAND-OVER {h['env']}: phase {h['phase']}, week {h['week']}, {h['steps_done']}/{h['steps_total']} steps done"]
    L.append(_one_line(f"Served: {h['served']['label']}"))
    o = h["observed"]
    if o is None:
        L.append("Observed (gateway): not measured")
    elif o.get("error"):
        L.append(_one_line(f"Observed (gateway): read failed: {o['error']}"))
    else:
        share = "no requests in the window" if o.get("share_new_pct") is None else f"{o['share_new_pct']}% on the new stack"
        L.append(f"Observed (gateway): {share} ({o.get('requests_new', 0)} new / {o.get('requests_legacy', 0)} legacy)")
    t = h["triggers"]
    L.append("Triggers: never measured (no raise yet)" if t is None else _one_line(
        f"Triggers (before the raise to {t['target']}%, {fmt_time(t['at'])}): "
        + ", ".join(f"{k} {v}" for k, v in t["triggers"].items())))
    c = h["criteria"]
    crit = ", ".join(f"{n} {s}" for s, n in sorted(c["counts"].items())) or "none recorded"
    bad, k = c["not_passing"], SHOWN["failing_criteria"]
    if bad:
        crit += f"; not passing: {', '.join(bad[:k])}" + (f" (+{len(bad) - k})" if len(bad) > k else "")
    L.append(_one_line(f"Exit criteria: {crit}"))
    lk = h["lock"]
    L.append("Lock: free" if lk is None else _one_line(
        f"Lock: held by {lk['holder']} running `{lk['command']}` since {fmt_time(lk['started'])}"))
    if h["hold"]:
        hd = h["hold"]
        L.append(_one_line(f"HOLD: rolled back by {hd['actor']} at {fmt_time(hd['at'])}: raises refused until "
                           "`cato-migrate canary resume --reason TEXT`" + (f" (why: {hd['reason']})" if hd.get("reason") else ""),
                           160))
    if h["pending_traffic_intent"]:
        pi = h["pending_traffic_intent"]
        L.append(_one_line(f"UNFINISHED traffic change to {pi.get('target')}% by {pi.get('actor')} at "
                           f"{fmt_time(pi['at'])}: `cato-migrate canary status`, then rerun or roll back"))
    if h["full_rollback_interrupted_at"]:
        L.append(f"UNFINISHED full rollback (stopped at {h['full_rollback_interrupted_at']}): "
                 "run `cato-migrate rollback --full` again")
    ov, fs, pa = h["overrides"], h["forced_steps"], h["pending_attestations"]
    L.append(f"Overrides: {len(ov)}" + ("" if ov else " (none)"))
    L += _capped(ov, SHOWN["overrides"], lambda a: _one_line(
        f"  {fmt_time(a['at'])} {a['actor']} {a['action']} {a['target']}: {a['reason']}"))
    L.append(f"Forced steps: {len(fs)}" + ("" if fs else " (none)"))
    L += _capped(fs, SHOWN["forced_steps"], lambda f: _one_line(f"  {f['step']} by {f['actor']}: {f['reason']}"))
    L.append(f"Pending attestations: {len(pa)}" + ("" if pa else " (none)"))
    L += _capped(pa, SHOWN["attestations"], lambda a: _one_line(f"  {a['step']} (week {a['week']}): {a['title']}"))
    n = h["next"]
    L.append("Next: nothing, every step is done" if n is None else _one_line(
        f"Next: {n['step']} (week {n['week']}, {n['state']}): {n['title']}; run: cato-migrate phase run {n['phase']}"))
    L.append("Rollback:")
    L += [f"  {r['command']}   (budget {r['budget_seconds']} s: {r['what']})" for r in h["rollback"]]
    L.append(_one_line("Contacts: " + ("; ".join(f"{c['role']}: {c['who']}" for c in h["contacts"]) or "none listed"), 160))
    return L[:MAX_LINES]
