"""The report's rows (pure): each success metric's Actual with provenance, each risk's evidence.

Every reader returns "not measured: why" when the journal lacks the figure, never a number.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Iterable

from cato_migrate.core.report import (DAY, DrillRow, EvidenceItem, EvidenceState, MetricRow, MetricState, Provenance,
                                      RiskRow, RiskState)
from cato_migrate.core.runbook import Risk, RiskEvidence, RunbookSpec, SuccessMetric
from cato_migrate.core.state import AuditEntry, JournalEntry

COST_KEY = "cost.comparison"
BUDGET_KEY = "cost.budget"
NO_COST = "not measured: run `cato-migrate cost measure`"


@dataclass(frozen=True)
class Lookup:
    """The journal of one environment and the clock the report judges age by."""

    runbook: RunbookSpec
    entries: list[JournalEntry]
    env: str
    now: float
    max_age_s: float
    audit: tuple[AuditEntry, ...] = ()

    def last(self, key: str, *events: str) -> JournalEntry | None:
        return next((e for e in reversed(self.entries) if e.key == key and (not events or e.event in events)), None)

    def is_stale(self, at: float | None) -> bool:
        return at is not None and self.now - at > self.max_age_s

    def age(self, at: float) -> str:
        days = (self.now - at) / DAY
        return f"measured {days:.1f} days ago ({time.strftime('%Y-%m-%d', time.gmtime(at))}), older than " \
               f"{self.max_age_s / DAY:g} days: measure again"


def _num(v: object) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _row(m: SuccessMetric, actual: str, state: MetricState, why: str = "", value: float | None = None,
         prov: Iterable[Provenance] = ()) -> MetricRow:
    return MetricRow(id=m.id, title=m.title, before=m.before, target=m.target, actual=actual, value=value,
                     state=state, why=why, provenance=list(prov))


def _not_measured(m: SuccessMetric, why: str, prov: Iterable[Provenance] = ()) -> MetricRow:
    text = why if why.startswith("not measured") else f"not measured: {why}"
    return _row(m, text, "not_measured", text, None, prov)


def _judged(m: SuccessMetric, look: Lookup, value: float, actual: str, at: float, prov: Iterable[Provenance]) -> MetricRow:
    if look.is_stale(at):
        return _row(m, actual, "stale", look.age(at), value, prov)
    if m.threshold is None or m.threshold.passes(value):
        return _row(m, actual, "met", "", value, prov)
    return _row(m, actual, "not_met", f"{value:g} does not meet {m.threshold.describe()}", value, prov)


def _step_missing(look: Lookup, key: str) -> str:
    last = look.last(key)
    phase = key.split(".")[0][1:]
    if last is None:
        return f"step {key} has not run: `cato-migrate phase run {phase}`"
    return f"step {key} has not finished ({last.event}: {last.message or 'no message'})"


def metric_row(m: SuccessMetric, look: Lookup) -> MetricRow:
    return {"load_test_ramp": _max_concurrency, "load_test_p99": _p99, "exit_check": _exit_check,
            "cost_comparison": _cost}[m.measure.source](m, look)


def _max_concurrency(m: SuccessMetric, look: Lookup) -> MetricRow:
    e = look.last(m.measure.key, "finished")
    if e is None:
        return _not_measured(m, _step_missing(look, m.measure.key))
    ramp = e.evidence.get("ramp")
    levels = ramp.get("levels") if isinstance(ramp, dict) else None
    if not levels or not isinstance(ramp, dict):
        return _not_measured(m, f"step {m.measure.key} ran without a ramp (set `ramp` in its params)")
    sustained = ramp.get("sustained_concurrency")
    tried = [lv.get("concurrency") for lv in levels]
    at_level = next((lv for lv in levels if lv.get("concurrency") == sustained), None)
    first_miss = next((lv for lv in levels if not lv.get("ok")), None)
    prov = Provenance(
        stack="new", figure=f"{sustained:,} concurrent" if sustained else "no level met the target",
        what=f"highest concurrency of the week-4 ramp ({'/'.join(map(str, tried))}) whose p99 stayed under "
             f"{_num(ramp.get('target_p99_ms')) or 0:g} ms with errors <= {(_num(ramp.get('max_error_rate')) or 0):.0%}",
        env=look.env, source=f"journal {m.measure.key} (load_test ramp) against {e.evidence.get('target', '?')}",
        at=e.at, by=e.actor, sample_size=at_level.get("requests") if at_level else None, concurrency=sustained,
        note="measured ramp; there is no capacity model in the data (docs/capacity.md is arithmetic on the bench, "
             "not a measurement)" + ("; the ramp stopped at its highest level, so the ceiling is higher"
                                     if first_miss is None else f"; {first_miss.get('concurrency')}: {first_miss.get('why')}"))
    if sustained is None:
        return _judged(m, look, 0.0, f"below {tried[0]} (the lowest level tried missed: {levels[0].get('why')})",
                       e.at, [prov])
    actual = f"{sustained:,}" + (" (highest level tried)" if first_miss is None else "")
    return _judged(m, look, float(sustained), actual, e.at, [prov])


def _legacy_p99(look: Lookup) -> Provenance:
    from cato_migrate.core.canary_analysis import ANALYSIS_KEY

    e = look.last(ANALYSIS_KEY, "check")
    stack = (e.evidence.get("stacks") or {}).get("legacy") if e is not None else None
    p99 = _num(stack.get("p99_ms")) if isinstance(stack, dict) else None
    if p99 is None or e is None or not isinstance(stack, dict):  # a p99 comes only from an analysis' dict
        watched = _legacy_p99_watched(look)
        if watched is not None:
            return watched
        why = ("no canary analysis in the journal (`cato-migrate canary analyze`) and no canary watch rollback"
               if e is None else f"the latest canary analysis has no legacy p99 ({(stack or {}).get('error', 'no figure')})")
        return Provenance(stack="legacy", figure=f"not measured: {why}", what="p99 of LiteLLM under live traffic",
                          env=look.env, source="journal canary.analysis")
    return Provenance(
        stack="legacy", figure=f"p99 {p99:g} ms", what=f"p99 of LiteLLM over a {stack.get('window_seconds', 0):g} s "
        "window of live traffic through the gateway (histogram buckets)", env=look.env,
        source=f"journal canary.analysis ({stack.get('source', '?')})", at=e.at, by=e.actor,
        sample_size=stack.get("requests"), concurrency=None,
        note="concurrency not recorded: live traffic, not a fixed load")


def _legacy_p99_watched(look: Lookup) -> Provenance | None:
    """Without an analysis: the legacy figures `canary watch` audited when it rolled back by itself."""
    a = next((a for a in reversed(look.audit) if a.action == "canary.watch.rollback"), None)
    stack = ((a.details.get("stacks") or {}).get("legacy") if a is not None else None) or {}
    p99 = _num(stack.get("p99_ms"))
    if p99 is None or a is None:  # no audit entry: no figures
        return None
    return Provenance(
        stack="legacy", figure=f"p99 {p99:g} ms", what="p99 of LiteLLM over canary watch's window of live traffic "
        "when it rolled the new stack back (the fault was on the new stack)", env=look.env,
        source=f"audit canary.watch.rollback ({stack.get('source', '?')})", at=a.at, by=a.actor,
        sample_size=stack.get("requests") if isinstance(stack.get("requests"), int) else None,
        note="concurrency not recorded: live traffic, not a fixed load")


def _p99(m: SuccessMetric, look: Lookup) -> MetricRow:
    legacy = _legacy_p99(look)
    e = look.last(m.measure.key, "finished")
    p99 = _num(e.evidence.get("p99_ms")) if e is not None else None
    if p99 is None or e is None:
        why = _step_missing(look, m.measure.key) if e is None else f"step {m.measure.key} recorded no p99"
        return _not_measured(m, why, [legacy])
    conc = e.evidence.get("concurrency")
    new = Provenance(stack="new", figure=f"p99 {p99:g} ms", what=f"p99 of {e.evidence.get('ok', '?')} successful chat "
                     f"completions at {conc} concurrent (week-4 load test, {e.evidence.get('error_rate', 0):.2%} errors)",
                     env=look.env, source=f"journal {m.measure.key} (load_test) against {e.evidence.get('target', '?')}",
                     at=e.at, by=e.actor, sample_size=e.evidence.get("ok"), concurrency=conc if isinstance(conc, int) else None)
    lead = f"new {p99:g} ms at {conc} concurrent; legacy " + (
        legacy.figure.removeprefix("p99 ") + (" (canary analysis)" if "analysis" in legacy.source else " (canary watch)")
        if legacy.at else "not measured")
    return _judged(m, look, p99, lead, e.at, [new, legacy])


def _exit_check(m: SuccessMetric, look: Lookup) -> MetricRow:
    key = m.measure.key
    e = look.last(key, "check")
    phase = key.split(".")[0][1:]
    if e is None:
        return _not_measured(m, f"exit criterion {key} never checked: `cato-migrate validate {phase}`")
    prov = Provenance(figure=e.status, what=f"exit criterion {key}: {e.message}", env=look.env,
                      source=f"journal {key} (validate {phase})", at=e.at, by=e.actor,
                      note="a probe against the running stack, not a load")
    if e.status == "pass":
        return _judged(m, look, 1.0, "Yes (exit check passed)", e.at, [prov])
    if e.status == "fail":
        if look.is_stale(e.at):
            return _row(m, "No (exit check failed)", "stale", look.age(e.at), 0.0, [prov])
        return _row(m, "No (exit check failed)", "not_met", e.message, 0.0, [prov])
    return _not_measured(m, f"exit criterion {key} is {e.status}: {e.message}", [prov])


def cost_entry(look: Lookup, key: str = COST_KEY) -> tuple[tuple[JournalEntry, float] | None, str]:
    """The latest finished cost comparison and its figures, or (None, why)."""
    e = look.last(key, "check", "finished")  # `cost measure` journals a check (status measured|unmeasured)
    if e is None:
        return None, NO_COST
    ev = e.evidence
    if ev.get("efficiency") is None and isinstance(ev.get("legacy"), dict):
        return None, f"not measured: {e.message.removeprefix('cost efficiency not measured: ') or 'no efficiency'}"
    try:
        eff = float(ev["efficiency"])
        legacy, new = ev["legacy"], ev["new"]
        float(legacy["per_1k_requests_usd"]), float(new["per_1k_requests_usd"])
    except (KeyError, TypeError, ValueError) as exc:
        return None, f"not measured: the {key} entry of {time.strftime('%Y-%m-%d', time.gmtime(e.at))} lacks {exc}"
    return (e, eff), ""


def _cost(m: SuccessMetric, look: Lookup) -> MetricRow:
    found, why = cost_entry(look, m.measure.key)
    if found is None:
        return _not_measured(m, why)
    e, eff = found
    ev = e.evidence
    mix, prices = ev.get("mix") or {}, ev.get("prices") or {}
    at = _num(ev.get("measured_at")) or e.at
    prov = Provenance(
        figure=f"{eff:+.1%}", what=f"both stacks priced on one request mix '{mix.get('name', '?')}' "
        f"({mix.get('prompts', '?')} prompts, {_num(mix.get('repeated_share')) or 0:.0%} repeated); prices "
        f"{prices.get('source', '?')} taken {prices.get('taken_on', '?')}", env=look.env,
        source=f"journal {m.measure.key}: legacy {ev['legacy'].get('source', '?')}; new {ev['new'].get('source', '?')}",
        at=at, by=e.actor, sample_size=ev.get("requests") if isinstance(ev.get("requests"), int) else None,
        note=f"cache hits {ev['new'].get('cache_hits', '?')}, saved ${_num(ev['new'].get('saved_usd')) or 0:.4f}")
    actual = (f"{eff:+.1%} (new ${float(ev['new']['per_1k_requests_usd']):.4f} vs legacy "
              f"${float(ev['legacy']['per_1k_requests_usd']):.4f} per 1,000 requests)")
    return _judged(m, look, eff, actual, at, [prov])


# ---- the risk register --------------------------------------------------------------------------

def _item(kind: str, key: str, state: EvidenceState, detail: str, at: float | None = None) -> EvidenceItem:
    return EvidenceItem(kind=kind, key=key, state=state, detail=detail, at=at)


def _state(by_status: dict[str, EvidenceState], status: str) -> EvidenceState:
    return by_status.get(status, "not_measured")


def _aged(look: Lookup, item: EvidenceItem) -> EvidenceItem:
    if item.state in ("ok", "failing") and item.at is not None and look.is_stale(item.at):
        return item.model_copy(update={"state": "stale", "detail": f"{item.detail} ({look.age(item.at)})"})
    return item


def evidence_item(ev: RiskEvidence, look: Lookup, drills: list[DrillRow], dual_write: dict[str, Any] | None) -> EvidenceItem:
    from cato_migrate.core.canary_analysis import ANALYSIS_KEY
    from cato_migrate.core.progress import attestation, step_state

    k, key = ev.kind, ev.key
    if k == "step":
        state, last = step_state(look.entries, key)
        if state == "done" and last is not None:
            return _aged(look, _item(k, key, "ok", f"done: {last.message}", last.at))
        if state == "failed" and last is not None:
            return _aged(look, _item(k, key, "failing", f"failed: {last.message}", last.at))
        return _item(k, key, "not_measured", f"not measured: step {key} is {state}")
    if k == "check":
        e = look.last(key, "check")
        if e is None:
            return _item(k, key, "not_measured", "not measured: never checked (`cato-migrate validate`)")
        st = _state({"pass": "ok", "fail": "failing"}, e.status)
        return _aged(look, _item(k, key, st, f"{e.status}: {e.message}", e.at))
    if k == "analysis":
        e = look.last(key or ANALYSIS_KEY, "check")
        if e is None:
            return _item(k, key, "not_measured", "not measured: no canary analysis (`cato-migrate canary analyze`)")
        st = _state({"pass": "ok", "marginal": "failing", "fail": "failing"}, e.status)
        return _aged(look, _item(k, key, st, f"{e.status}: {e.message}", e.at))
    if k == "attestation":
        e = attestation(look.entries, key)
        if e is None:
            return _item(k, key, "not_measured", f"not signed: `cato-migrate attest {key} --by NAME`")
        note = e.evidence.get("note") or e.message
        return _item(k, key, "ok", f"signed by {e.evidence.get('by') or e.actor}" + (f": {note}" if note else ""), e.at)
    if k == "dual_write":
        return _dual_write_item(dual_write, look.now)
    if k == "cost":
        found, why = cost_entry(look, key or COST_KEY)
        if found is None:
            return _item(k, key, "not_measured", why)
        e, eff = found
        at = _num(e.evidence.get("measured_at")) or e.at
        st = "ok" if eff <= 0 else "failing"
        return _aged(look, _item(k, key, st, f"measured: the new stack costs {abs(eff):.1%} "
                                 f"{'less' if eff <= 0 else 'MORE'} than LiteLLM on the same request mix", at))
    if k == "budget":
        e = look.last(key or BUDGET_KEY, "check")
        if e is None:
            return _item(k, key, "not_measured", "not measured: no budget reading (`cato-migrate cost status`)")
        st = _state({"within": "ok", "exceeded": "failing"}, e.status)
        return _aged(look, _item(k, key, st, f"{e.status}: {e.message}", e.at))
    if k == "rollback_drills":
        done = [d for d in drills if d.outcome == "finished"]
        bad = [d for d in drills if d.outcome != "finished" or d.within_budget is False]
        if not drills:
            return _item(k, key, "not_measured", "not measured: no rollback has been run (`cato-migrate rollback --quick`)")
        detail = (f"{len(done)} of {len(drills)} rollbacks verified, "
                  f"{sum(1 for d in done if d.within_budget)} within budget")
        return _item(k, key, "failing" if bad else "ok", detail, drills[-1].started_at)
    return _item(k, key, "not_measured", f"not measured: unknown evidence kind {k}")


def _dual_write_item(dw: dict[str, Any] | None, now: float) -> EvidenceItem:
    if not dw or dw.get("served") is None:
        why = (dw or {}).get("why") or "not read"
        return _item("dual_write", "", "not_measured", f"not measured: the edge's dual-write counters: {why}")
    lost = int(dw.get("failed", 0) or 0) + int(dw.get("dropped", 0) or 0)
    detail = (f"{'active' if dw.get('active') else 'idle'} (read live): LiteLLM served {dw['served']}, stored in the "
              f"new stack {dw.get('stored', 0)}, failed {dw.get('failed', 0)}, dropped {dw.get('dropped', 0)}, "
              f"queued {dw.get('queued', 0)}")
    return _item("dual_write", "", "failing" if lost else "ok", detail, now)


def risk_row(r: Risk, look: Lookup, drills: list[DrillRow], dual_write: dict[str, Any] | None) -> RiskRow:
    items = [evidence_item(ev, look, drills, dual_write) for ev in r.evidence]
    states = [i.state for i in items]
    state: RiskState = ("failing" if "failing" in states else "in_place" if all(s == "ok" for s in states)
                        else "not_evidenced" if "ok" not in states else "partial")
    return RiskRow(id=r.id, risk=r.risk, likelihood=r.likelihood, impact=r.impact, mitigation=r.mitigation,
                   state=state, evidence=items)
