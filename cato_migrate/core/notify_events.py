"""Which journal and audit entries the on-call channel hears about, and what it reads. Pure.

`events_for(entry, ...)` maps one JournalEntry / AuditEntry (or the Unverified a command ends
with) to zero or more NotifyEvents; the payload functions turn an event into what a Slack
incoming webhook or a generic JSON webhook receives. Nothing here does I/O, and nothing here
ever sees a webhook URL: channels are named ("slack", "webhook"), URLs live in the adapter.
"""
from __future__ import annotations

import time
import uuid
from typing import Any

from pydantic import Field

from cato_migrate.core.cost import BUDGET_KEY
from cato_migrate.core.decommission import DAY, ZERO_KEY
from cato_migrate.core.full_rollback import KEY as FULL_KEY
from cato_migrate.core.model import Record
from cato_migrate.core.runbook import CommunicationStep, RunbookSpec
from cato_migrate.core.state import AuditEntry, JournalEntry
from cato_migrate.core.traffic import TRAFFIC_KEY

MONITORING_ENDED = "monitoring.ended"
BUDGET_EXCEEDED = "budget.exceeded"

# audit action -> (event kind, what the summary says was done)
_AUDITED = {
    "guardrail.override": ("guardrail.override", "overrode a guardrail on"),
    "phase.run.force": ("guardrail.forced_steps", "forced steps of"),
    "lock.preempt": ("lock.preempted", "preempted the lock"),
    "lock.takeover": ("lock.taken_over", "took over the lock"),
    "lock.force_release": ("lock.force_released", "force-released the lock"),
    "attest": ("attestation", "attested"),
    "rollback.quick": ("rollback.quick.started", "started a quick rollback"),
    "rollback.full": ("rollback.full.started", "started a full rollback"),
}


class NotifyEvent(Record):
    id: str = Field(description="Unique id; receivers may use it to drop a duplicate (delivery is at least once).")
    event: str = Field(description="Kind, e.g. rollback.quick.finished, canary.failed, announce.")
    env: str = Field(description="Environment it happened in.")
    at: float = Field(description="Unix time it happened.")
    actor: str = Field(description="Who ran the command (user@host).")
    summary: str = Field(description="One line for people.")
    details: dict[str, Any] = Field(default_factory=dict, description="Non-secret facts: reason, measurements, budget.")
    severity: str = Field(default="info", description="info, warning or critical: how loud the Slack message is.")
    not_before: float | None = Field(default=None, description="Deliver no earlier than this (a scheduled reminder).")


def _event(kind: str, env: str, at: float, actor: str, summary: str, severity: str = "info",
           event_id: str | None = None, not_before: float | None = None, **details: Any) -> NotifyEvent:
    return NotifyEvent(id=event_id or uuid.uuid4().hex[:16], event=kind, env=env, at=at, actor=actor,
                       summary=summary, severity=severity, not_before=not_before,
                       details={k: v for k, v in details.items() if v not in (None, "", [], {})})


def _fmt_time(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


def from_audit(entry: AuditEntry, runbook: RunbookSpec, *, in_full_rollback: bool = False) -> list[NotifyEvent]:
    if entry.action == "announce":
        step = next((c for c in runbook.meta.communication_plan if c.id == entry.target), None)
        return [] if step is None else [announcement(step, runbook, entry.details, env=entry.env,
                                                     actor=entry.actor, at=entry.at)]
    if entry.action not in _AUDITED or (entry.action == "rollback.quick" and in_full_rollback):
        return []
    kind, did = _AUDITED[entry.action]
    d = entry.details
    if entry.action.startswith("lock."):
        whose = d.get("previous_holder", "")
        summary = f"{entry.actor} {did} for {entry.env}" + (f" from {whose}" if whose else "")
        if d.get("previous_command"):
            summary += f" (was running `{d['previous_command']}`)"
    elif entry.action == "attest":
        summary = f"{d.get('by') or entry.actor} attested {entry.target}"
    elif entry.action.startswith("rollback."):
        summary = f"{entry.actor} {did} in {entry.env}"
    else:
        summary = f"{entry.actor} {did} {entry.target}"
    if entry.reason:
        summary += f": {entry.reason}"
    severity = ("critical" if entry.action.startswith("rollback.")
                else "info" if entry.action == "attest" else "warning")
    return [_event(kind, entry.env, entry.at, entry.actor, summary, severity, target=entry.target,
                   reason=entry.reason, **d)]


def from_journal(entry: JournalEntry, runbook: RunbookSpec, *, reason: str = "",
                 started: JournalEntry | None = None, in_full_rollback: bool = False,
                 began: float | None = None) -> list[NotifyEvent]:
    """`started` is this run's last `started` entry for the same key (how a finish is told apart:
    a quick rollback's 0% or a canary's N%); `in_full_rollback` mutes the quick rollback a full one
    runs; `began` is when the rollback's first write happened (its hold), for the elapsed time."""
    if entry.key == TRAFFIC_KEY:
        return _traffic(entry, runbook, reason, started, in_full_rollback, began)
    if entry.key == FULL_KEY and entry.event in ("finished", "failed"):
        return [_full_rollback(entry, runbook, reason, started)]
    if entry.key == ZERO_KEY and entry.event == "finished":
        return _monitoring(entry, runbook)
    if entry.key == BUDGET_KEY and entry.event == "check" and entry.status == "exceeded":
        return [_budget_exceeded(entry)]
    return []


def _budget_exceeded(entry: JournalEntry) -> NotifyEvent:
    """Once per environment and UTC day (the id), however often `cost status` sees it."""
    day = time.strftime("%Y-%m-%d", time.gmtime(entry.at))
    return _event(BUDGET_EXCEEDED, entry.env, entry.at, entry.actor,
                  f"cost in {entry.env}: {entry.message}", "warning",
                  event_id=f"{BUDGET_EXCEEDED}:{entry.env}:{day}", **entry.evidence)


def _traffic(entry: JournalEntry, runbook: RunbookSpec, reason: str, started: JournalEntry | None,
             in_full_rollback: bool, began: float | None) -> list[NotifyEvent]:
    inputs = started.inputs if started is not None else {}
    is_rollback = inputs.get("rollback") == "quick"
    if is_rollback and in_full_rollback:
        return []
    ev = entry.evidence
    if started is None and entry.event != "started":
        # closed without a start in this run: an interrupted change reconciled from AppConfig
        return [_event("traffic.reconciled", entry.env, entry.at, entry.actor, f"traffic in {entry.env}: {entry.message}",
                       "info" if entry.event == "finished" else "warning", reason=reason, **ev)]
    if is_rollback and started is not None:  # is_rollback is read from `started`
        if entry.event == "started":
            return []  # the audit entry `rollback.quick` already said so, with the reason
        budget = runbook.meta.rollback.quick_budget_seconds
        elapsed = round(entry.at - min(began or started.at, started.at), 3)
        within = elapsed <= budget
        if entry.event == "finished":
            summary = (f"quick rollback in {entry.env} done: clients served {ev.get('served_percentage', 0)}% "
                       f"(verified) in {elapsed:.1f}s, {'within' if within else 'OVER'} the {budget}s budget")
            return [_event("rollback.quick.finished", entry.env, entry.at, entry.actor, summary,
                           "info" if within else "critical", reason=reason, elapsed_seconds=elapsed,
                           budget_seconds=budget, within_budget=within, **ev)]
        summary = f"quick rollback in {entry.env} NOT verified after {elapsed:.1f}s: {entry.message}"
        return [_event("rollback.quick.failed", entry.env, entry.at, entry.actor, summary, "critical",
                       reason=reason, elapsed_seconds=elapsed, budget_seconds=budget, **ev)]
    target = inputs.get("target", ev.get("served_percentage"))
    if entry.event == "started":
        forced = " (guardrails overridden)" if inputs.get("forced") else ""
        summary = f"canary in {entry.env}: moving traffic {inputs.get('from', '?')}% -> {target}%{forced}"
        return [_event("canary.started", entry.env, entry.at, entry.actor, summary,
                       "warning" if forced else "info", reason=reason, to_percentage=target,
                       from_percentage=inputs.get("from"), forced=bool(inputs.get("forced")))]
    if entry.event == "finished":
        summary = f"canary in {entry.env}: {entry.message or f'serving {target}%'} (verified)"
        return [_event("canary.finished", entry.env, entry.at, entry.actor, summary, reason=reason,
                       to_percentage=target, **ev)]
    if entry.event == "failed":
        summary = f"canary in {entry.env} FAILED to reach {target}%: {entry.message}"
        return [_event("canary.failed", entry.env, entry.at, entry.actor, summary, "critical", reason=reason,
                       to_percentage=target, **ev)]
    return []


def _full_rollback(entry: JournalEntry, runbook: RunbookSpec, reason: str, started: JournalEntry | None) -> NotifyEvent:
    budget = runbook.meta.rollback.full_budget_seconds
    elapsed = entry.evidence.get("seconds")
    if elapsed is None and started is not None:
        elapsed = round(entry.at - started.at, 3)
    if entry.event == "finished":
        within = elapsed is not None and elapsed <= budget
        summary = (f"full rollback in {entry.env} done: {entry.message}; "
                   f"{'within' if within else 'OVER'} the {budget}s budget")
        return _event("rollback.full.finished", entry.env, entry.at, entry.actor, summary,
                      "info" if within else "critical", reason=reason, elapsed_seconds=elapsed,
                      budget_seconds=budget, within_budget=within, stages=entry.evidence.get("stages"))
    return _event("rollback.full.failed", entry.env, entry.at, entry.actor,
                  f"full rollback in {entry.env} STOPPED: {entry.message}", "critical", reason=reason,
                  elapsed_seconds=elapsed, budget_seconds=budget)


def monitoring_days(runbook: RunbookSpec) -> float:
    from cato_migrate.core.decommission import runbook_monitoring_days

    return runbook_monitoring_days(runbook)


def _monitoring(entry: JournalEntry, runbook: RunbookSpec) -> list[NotifyEvent]:
    days = monitoring_days(runbook)
    ends = entry.at + days * DAY
    started = _event("monitoring.started", entry.env, entry.at, entry.actor,
                     f"LiteLLM in {entry.env} is at 0 replicas: the {days:g}-day monitoring period runs "
                     f"until {_fmt_time(ends)}", monitoring_days=days, ends_at=ends)
    # Scheduled: the outbox holds it until `ends` (any later `notify flush` delivers it).
    ended = _event(MONITORING_ENDED, entry.env, ends, entry.actor,
                   f"the {days:g}-day monitoring period in {entry.env} ended {_fmt_time(ends)}: "
                   "LiteLLM may now be deleted (`cato-migrate decommission --delete`)",
                   event_id=f"{MONITORING_ENDED}:{entry.env}:{int(entry.at)}", not_before=ends,
                   monitoring_days=days, started_at=entry.at)
    return [started, ended]


def cancels_for(entry: JournalEntry | AuditEntry) -> list[str]:
    """Scheduled event kinds an entry makes stale: a rollback or a new monitoring start ends the old period."""
    if isinstance(entry, AuditEntry) and entry.action == "rollback.full":
        return [MONITORING_ENDED]
    if isinstance(entry, JournalEntry) and entry.key == ZERO_KEY and entry.event == "finished":
        return [MONITORING_ENDED]
    return []


def unverified(message: str, hint: str | None, *, env: str, actor: str, at: float, command: str) -> NotifyEvent:
    """A command that ended with exit 5: a change was made but could not be verified."""
    return _event("unverified", env, at, actor, f"`{command}` in {env} ended UNVERIFIED (exit 5): {message}",
                  "critical", command=command, message=message, next=hint)


def announcement_status(runbook: RunbookSpec, entries: list[JournalEntry]) -> dict[str, Any]:
    """Where the migration stands, from the journal only (the same reading as `status`)."""
    from cato_migrate.core.progress import where_are_we

    where = where_are_we(runbook, entries)
    flag = next((e for e in reversed(entries) if e.key == TRAFFIC_KEY and e.event in ("finished", "failed")), None)
    out = {"phase": where["phase"], "week": where["week"], "steps_done": where["steps_done"],
           "steps_total": where["steps_total"], "next_step": (where["next"] or {}).get("step", "")}
    if flag is not None:
        out["served_percentage"] = flag.evidence.get("served_percentage")
        out["flag_verified"] = flag.event == "finished"
    return out


def announcement_text(step: CommunicationStep, runbook: RunbookSpec, status: dict[str, Any]) -> tuple[str, list[str]]:
    """(headline, lines) of a communication-plan message."""
    head = f"Cato migration, week {step.week}: {step.title}"
    lines = [f"- {a}" for a in step.actions]
    now = f"Now: phase {status.get('phase')}, week {status.get('week')}, " \
          f"{status.get('steps_done')}/{status.get('steps_total')} steps done"
    if status.get("served_percentage") is not None:
        now += f", new stack serves {status['served_percentage']}%" + \
               ("" if status.get("flag_verified", True) else " (NOT verified)")
    lines.append(now)
    if status.get("next_step"):
        lines.append(f"Next: {status['next_step']}")
    if runbook.meta.contacts:
        lines.append("Contacts: " + "; ".join(f"{c.role}: {c.who}" for c in runbook.meta.contacts))
    return head, lines


def announcement(step: CommunicationStep, runbook: RunbookSpec, status: dict[str, Any], *, env: str, actor: str,
                 at: float) -> NotifyEvent:
    head, lines = announcement_text(step, runbook, status)
    return _event("announce", env, at, actor, head, step=step.id, week=step.week,
                  title=step.title, actions=list(step.actions), text="\n".join(lines),
                  status={k: v for k, v in status.items() if v is not None})


def events_for(entry: object, runbook: RunbookSpec, *, reason: str = "", started: JournalEntry | None = None,
               in_full_rollback: bool = False, began: float | None = None) -> list[NotifyEvent]:
    if isinstance(entry, AuditEntry):
        return from_audit(entry, runbook, in_full_rollback=in_full_rollback)
    if isinstance(entry, JournalEntry):
        return from_journal(entry, runbook, reason=reason, started=started, in_full_rollback=in_full_rollback,
                            began=began)
    return []
