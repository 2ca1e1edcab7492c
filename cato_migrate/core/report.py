"""`cato-migrate report`: the runbook's Success Metrics table filled from measurements, then the
risk register, the exit criteria, the rollback drills and the overrides. Pure.

Inputs are what the verb read: the runbook, the environment's journal and audit log, the edge's
dual-write counters (read live, or why they could not be) and, optionally, a side-by-side
benchmark file. A figure that is missing is `not_measured` with why, never a number or a pass;
one older than `max_age_s` is `stale` whatever it says. The rows themselves: core/report_rows.py;
the page: core/report_html.py.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from cato_migrate.core.model import Record
from cato_migrate.core.runbook import RunbookSpec
from cato_migrate.core.state import AuditEntry, JournalEntry

if TYPE_CHECKING:  # report_rows imports this module's rows
    from cato_migrate.core.report_rows import Lookup

MetricState = Literal["met", "not_met", "stale", "not_measured"]
EvidenceState = Literal["ok", "failing", "stale", "not_measured"]
RiskState = Literal["in_place", "partial", "failing", "not_evidenced"]
DAY = 86400.0


class Provenance(Record):
    stack: str = Field(default="", description="new, legacy, or empty when the figure is not per stack.")
    figure: str = Field(description="The figure as measured, or 'not measured: why'.")
    what: str = Field(description="What was measured, and how.")
    env: str = Field(description="Environment it was measured in.")
    source: str = Field(description="Where it was read from: journal key, step or file, and the system measured.")
    at: float | None = Field(default=None, description="Unix time of the measurement (None: never measured).")
    by: str = Field(default="", description="Who ran the measurement.")
    sample_size: int | None = Field(default=None, description="Requests (or probes) the figure rests on; None: not recorded.")
    concurrency: int | None = Field(default=None, description="Requests in flight at once while measuring; None: not recorded.")
    note: str = Field(default="", description="What a reader should know about this figure.")


class MetricRow(Record):
    id: str = Field(description="The runbook's success-metric id.")
    title: str = Field(description="The runbook's wording.")
    before: str = Field(description="Before, as the runbook states it.")
    target: str = Field(description="Target, as the runbook states it.")
    actual: str = Field(description="The Actual column for people; 'not measured: why' when there is no figure.")
    value: float | None = Field(default=None, description="The number judged against the target; None when not measured.")
    state: MetricState = Field(description="met, not_met, stale (older than the report's max age) or not_measured.")
    why: str = Field(default="", description="Why the state is what it is (always set unless met).")
    provenance: list[Provenance] = Field(default_factory=list, description="Where each figure behind Actual comes from.")


class EvidenceItem(Record):
    kind: str = Field(description="The runbook's evidence kind (step, check, analysis, attestation, ...).")
    key: str = Field(default="", description="Step id, criterion id or journal key.")
    state: EvidenceState = Field(description="ok, failing, stale or not_measured.")
    detail: str = Field(description="What was found, for people.")
    at: float | None = Field(default=None, description="When it was recorded or read; None when never.")


class RiskRow(Record):
    id: str = Field(description="The runbook's risk id.")
    risk: str = Field(description="The runbook's wording.")
    likelihood: str = Field(description="As the runbook rates it.")
    impact: str = Field(description="As the runbook rates it.")
    mitigation: str = Field(description="The runbook's mitigation.")
    state: RiskState = Field(description="in_place (all evidence ok), failing (any failing), partial, not_evidenced (none ok).")
    evidence: list[EvidenceItem] = Field(description="Each piece of evidence and its state.")


class CriterionRow(Record):
    phase: int = Field(description="Phase number.")
    id: str = Field(description="Criterion id.")
    title: str = Field(description="The runbook's wording.")
    status: str = Field(description="Latest result: pass, fail, waiting, not_implemented, or never_run.")
    at: float | None = Field(default=None, description="When it was last checked.")
    by: str = Field(default="", description="Who checked it.")
    message: str = Field(default="", description="The check's own line.")
    stale: bool = Field(default=False, description="Checked longer ago than the report's max age.")


class DrillRow(Record):
    kind: Literal["quick", "full"] = Field(description="rollback --quick (or canary watch's automatic one) or --full.")
    started_at: float = Field(description="When the rollback's first record was written (its hold, or its start).")
    outcome: Literal["finished", "failed", "unfinished"] = Field(description="How it ended, from the journal.")
    elapsed_seconds: float | None = Field(default=None, description="Wall time to the verified end; None when it did not end.")
    budget_seconds: int = Field(description="The runbook's budget for this rollback.")
    within_budget: bool | None = Field(default=None, description="elapsed <= budget; None when it did not finish.")
    by: str = Field(description="Who ran it.")
    reason: str = Field(default="", description="Why, from the audit log.")
    stages: dict[str, float] = Field(default_factory=dict, description="Full rollback: seconds per stage.")


class OverrideRow(Record):
    at: float = Field(description="When.")
    actor: str = Field(description="Who.")
    action: str = Field(description="guardrail.override, phase.run.force, or step.forced (a step run with --force).")
    target: str = Field(description="What it was done to.")
    reason: str = Field(description="The reason given (an override always needs one).")
    overrode: list[str] = Field(default_factory=list, description="What the guardrail would have refused.")


class Series(Record):
    name: str = Field(description="Legend text.")
    source: str = Field(description="Where the points come from, and when.")
    points: list[tuple[float, float]] = Field(description="(x, y) pairs in x order.")


class CostBar(Record):
    stack: Literal["legacy", "new"] = Field(description="Which stack.")
    name: str = Field(description="Tier (new) or model (legacy).")
    requests: int = Field(description="Requests it served in the measured mix.")
    per_1k_usd: float = Field(description="Cost per 1,000 of its requests, USD.")


class Charts(Record):
    latency: list[Series] = Field(default_factory=list, description="p99 (ms) against concurrency, per stack and source.")
    latency_target_ms: float | None = Field(default=None, description="The runbook's p99 target, drawn as a line.")
    latency_note: str = Field(default="", description="Why a stack has no points ('not measured: ...').")
    traffic: Series | None = Field(default=None, description="Share of traffic on the new stack (%) against Unix time.")
    traffic_note: str = Field(default="", description="Why there is no traffic chart.")
    cost: list[CostBar] = Field(default_factory=list, description="Cost per 1,000 requests per tier and stack.")
    cost_totals: dict[str, float] = Field(default_factory=dict, description="Per stack: cost per 1,000 requests over the whole mix.")
    cost_note: str = Field(default="", description="The mix and prices, or why there is no cost chart.")


class Report(Record):
    env: str = Field(description="Environment reported on.")
    generated_at: float = Field(description="Unix time the report was built.")
    max_age_days: float = Field(description="A measurement older than this is stale.")
    metrics: list[MetricRow] = Field(description="The runbook's five success metrics, in its order.")
    risks: list[RiskRow] = Field(description="The risk register with each mitigation's state.")
    criteria: list[CriterionRow] = Field(description="Every phase's exit criteria, latest result.")
    drills: list[DrillRow] = Field(description="Rollbacks done (drills and real), oldest first.")
    overrides: list[OverrideRow] = Field(description="Every guardrail override and forced step, oldest first.")
    charts: Charts = Field(description="What the HTML page draws.")
    warnings: list[str] = Field(default_factory=list, description="What needs attention first (a daily budget exceeded).")


def build_report(runbook: RunbookSpec, entries: list[JournalEntry], audit: list[AuditEntry], *, env: str, now: float,
                 max_age_days: float = 7.0,
                 dual_write: dict[str, Any] | None = None, bench: dict[str, Any] | None = None, bench_name: str = "") -> Report:
    """The whole report from what was read. `dual_write`: the edge's counters or {"served": None,
    "why": ...}; `bench`: a bench/results JSON (gateway_compare.py), named `bench_name`."""
    from cato_migrate.core import report_charts as ch
    from cato_migrate.core import report_rows as rows

    env_entries = [e for e in entries if e.env == env]
    env_audit = [a for a in audit if a.env == env]
    look = rows.Lookup(runbook=runbook, entries=env_entries, env=env, now=now, max_age_s=max_age_days * DAY,
                       audit=tuple(env_audit))
    drills = rollback_drills(runbook, env_entries, env_audit)
    return Report(
        env=env, generated_at=now, max_age_days=max_age_days,
        metrics=[rows.metric_row(m, look) for m in runbook.meta.success_metrics],
        risks=[rows.risk_row(r, look, drills, dual_write) for r in runbook.meta.risks],
        criteria=criteria_rows(look),
        drills=drills, overrides=overrides(env_entries, env_audit),
        charts=ch.charts(look, bench, bench_name), warnings=warnings(look))


def warnings(look: Lookup) -> list[str]:
    from cato_migrate.core.report_rows import BUDGET_KEY

    e = look.last(BUDGET_KEY, "check")
    if e is not None and e.status == "exceeded":
        return [f"daily budget EXCEEDED ({time.strftime('%Y-%m-%d', time.gmtime(e.at))}): {e.message}"]
    return []


def criteria_rows(look: Lookup) -> list[CriterionRow]:
    from cato_migrate.core.progress import latest_checks

    latest = latest_checks(look.entries)
    out = []
    for p in look.runbook.phases:
        for c in p.exit_criteria:
            e = latest.get(c.id)
            if e is None:
                out.append(CriterionRow(phase=p.phase, id=c.id, title=c.title, status="never_run",
                                        message=f"never checked: run `cato-migrate validate {p.phase}`"))
            else:
                out.append(CriterionRow(phase=p.phase, id=c.id, title=c.title, status=e.status or "unknown",
                                        at=e.at, by=e.actor, message=e.message, stale=look.is_stale(e.at)))
    return out


def rollback_drills(runbook: RunbookSpec, entries: list[JournalEntry], audit: list[AuditEntry]) -> list[DrillRow]:
    """Every quick and full rollback in the journal, timed as the notifier times them
    (core/notify_events.py): a quick one from its hold (its first write) to the verified 0%; a full
    one by its own journaled seconds. A quick rollback that a full one ran is part of the full one."""
    from cato_migrate.core.full_rollback import KEY as FULL_KEY
    from cato_migrate.core.rollback_hold import HOLD_KEY
    from cato_migrate.core.traffic import TRAFFIC_KEY

    rb = runbook.meta.rollback
    full_runs = {e.run_id for e in entries if e.key == FULL_KEY and e.event == "started"}
    out: list[DrillRow] = []
    open_quick: dict[str, tuple[JournalEntry, float]] = {}
    open_full: dict[str, JournalEntry] = {}
    holds: dict[str, float] = {}
    for e in entries:
        if e.key == HOLD_KEY and e.event == "started":
            holds.setdefault(e.run_id, e.at)
        elif e.key == TRAFFIC_KEY and e.event == "started" and e.inputs.get("rollback") == "quick":
            if e.run_id not in full_runs:
                open_quick[e.run_id] = (e, min(holds.get(e.run_id, e.at), e.at))
        elif e.key == TRAFFIC_KEY and e.event in ("finished", "failed") and e.run_id in open_quick:
            start, began = open_quick.pop(e.run_id)
            elapsed = round(e.at - began, 3)
            ok = e.event == "finished"
            out.append(DrillRow(kind="quick", started_at=began, outcome=e.event, budget_seconds=rb.quick_budget_seconds,
                                elapsed_seconds=elapsed if ok else None,
                                within_budget=(elapsed <= rb.quick_budget_seconds) if ok else None,
                                by=start.actor, reason=_reason(audit, ("rollback.quick",), began, e.at)))
        elif e.key == FULL_KEY and e.event == "started":
            open_full[e.run_id] = e
        elif e.key == FULL_KEY and e.event in ("finished", "failed") and e.run_id in open_full:
            start = open_full.pop(e.run_id)
            began = min(holds.get(e.run_id, start.at), start.at)
            ok = e.event == "finished"
            secs = e.evidence.get("seconds") if ok else None
            secs = float(secs) if isinstance(secs, (int, float)) else (round(e.at - began, 3) if ok else None)
            raw_stages = e.evidence.get("stages")
            stages: dict[Any, Any] = raw_stages if isinstance(raw_stages, dict) else {}
            out.append(DrillRow(kind="full", started_at=began, outcome=e.event, budget_seconds=rb.full_budget_seconds,
                                elapsed_seconds=secs,
                                within_budget=(secs <= rb.full_budget_seconds) if ok and secs is not None else None,
                                by=start.actor, reason=_reason(audit, ("rollback.full",), began, e.at),
                                stages={str(k): float(v) for k, v in stages.items() if isinstance(v, (int, float))}))
    for start, began in open_quick.values():
        out.append(DrillRow(kind="quick", started_at=began, outcome="unfinished", budget_seconds=rb.quick_budget_seconds,
                            by=start.actor, reason=_reason(audit, ("rollback.quick",), began, None)))
    for start in open_full.values():
        out.append(DrillRow(kind="full", started_at=start.at, outcome="unfinished", budget_seconds=rb.full_budget_seconds,
                            by=start.actor, reason=_reason(audit, ("rollback.full",), start.at, None)))
    return sorted(out, key=lambda d: d.started_at)


def _reason(audit: list[AuditEntry], actions: tuple[str, ...], since: float, until: float | None) -> str:
    """The audit record a rollback wrote right after its journaled start carries the reason."""
    for a in audit:
        if a.action in actions and a.at >= since - 1e-6 and (until is None or a.at <= until + 1e-6):
            return a.reason
    return ""


def overrides(entries: list[JournalEntry], audit: list[AuditEntry]) -> list[OverrideRow]:
    from cato_migrate.core.handoff import OVERRIDE_ACTIONS, forced_steps

    out = []
    for a in audit:
        if a.action in OVERRIDE_ACTIONS:
            d = a.details
            problems = d.get("problems")
            what: list[Any] = problems if isinstance(problems, list) else [d["override"]] if d.get("override") else []
            out.append(OverrideRow(at=a.at, actor=a.actor, action=a.action, target=a.target, reason=a.reason,
                                   overrode=[str(w) for w in what]))
    for f in forced_steps(entries):
        out.append(OverrideRow(at=f["at"], actor=f["actor"], action="step.forced", target=f["step"],
                               reason=str(f["reason"])))
    return sorted(out, key=lambda o: o.at)
