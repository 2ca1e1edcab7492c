"""The success report's pure model: every metric row met / not met / stale / not measured, each
planted; risks, drills and overrides from the journal and audit; the runbook's data for it."""
from __future__ import annotations

import shutil

import pytest

from cato_migrate.core.loader import DEFAULT_RUNBOOK_DIR, load_runbook
from cato_migrate.core.report import DAY, build_report
from cato_migrate.errors import RunbookError
from tests.report_world import LOAD_TEST, World, cost_evidence, demo_world


def report(w: World, *, days_later: float = 0.0, dual_write=None, bench=None, max_age_days: float = 7.0):
    return build_report(w.ctx().runbook, w.store.journal("local"), w.store.audit("local", 100_000), env="local",
                        now=w.clock.now() + days_later * DAY, max_age_days=max_age_days,
                        dual_write=w.gateway.counts if dual_write is None else dual_write, bench=bench)


def row(r, metric_id):
    return next(m for m in r.metrics if m.id == metric_id)


@pytest.fixture
def demo(tmp_path):
    return demo_world(tmp_path)


def test_runbook_holds_the_five_success_metrics_and_four_risks_as_data():
    rb = load_runbook()
    assert [(m.title, m.before, m.target) for m in rb.meta.success_metrics] == [
        ("Max concurrent requests", "504", "50,000+"), ("p99 latency", "1.5s", "< 1s"),
        ("Context persistence", "No", "Yes"), ("Hidden state extraction", "No", "Yes"),
        ("Cost efficiency", "Baseline", "-30%")]
    assert [(r.risk, r.impact, r.mitigation) for r in rb.meta.risks] == [
        ("Performance regression", "High", "Extensive load testing"),
        ("Data loss during migration", "Critical", "Dual-write during transition"),
        ("Team unfamiliarity", "Medium", "Training sessions"), ("Cost overrun", "Medium", "Budget monitoring")]


def test_a_success_metric_naming_an_unknown_step_is_a_runbook_error(tmp_path):
    d = tmp_path / "rb"
    shutil.copytree(DEFAULT_RUNBOOK_DIR, d)
    meta = d / "runbook.yaml"
    meta.write_text(meta.read_text().replace("{source: load_test_ramp, key: p1.w4.load-test}",
                                             "{source: load_test_ramp, key: p1.w4.no-such-step}"))
    with pytest.raises(RunbookError, match="p1.w4.no-such-step"):
        load_runbook(d)


def test_demo_state_fills_every_metric_with_provenance(demo):
    r = report(demo)
    states = {m.id: m.state for m in r.metrics}
    # the sandbox's ramp reaches 20 of the 50,000 target: measured, and honestly not met
    assert states == {"max-concurrency": "not_met", "p99-latency": "met", "context-persistence": "met",
                      "hidden-state-extraction": "met", "cost-efficiency": "met"}
    mc = row(r, "max-concurrency")
    assert mc.value == 20 and mc.provenance[0].concurrency == 20 and mc.provenance[0].sample_size == 1000
    assert "no capacity model" in mc.provenance[0].note and "ceiling is higher" in mc.provenance[0].note
    p99 = row(r, "p99-latency")
    new, legacy = p99.provenance
    assert (new.stack, new.concurrency, new.sample_size, new.env) == ("new", 10, 1000, "local")
    assert legacy.stack == "legacy" and legacy.figure == "p99 240 ms" and legacy.sample_size == 2100
    assert "canary.analysis" in legacy.source and legacy.at is not None
    cost = row(r, "cost-efficiency")
    assert cost.value == pytest.approx(-0.41) and "demo-mix" in cost.provenance[0].what
    assert "2026-12-01" in cost.provenance[0].what


def test_not_measured_rows_say_why_and_carry_no_number(tmp_path):
    r = report(World(tmp_path), dual_write={"served": None, "why": "no gateway URL known"})
    for m in r.metrics:
        assert m.state == "not_measured" and m.value is None and m.actual.startswith("not measured: ")
    assert "cato-migrate phase run 1" in row(r, "max-concurrency").actual
    assert row(r, "cost-efficiency").actual == "not measured: run `cato-migrate cost measure`"
    assert "cato-migrate validate 2" in row(r, "context-persistence").actual
    assert {k.state for k in r.risks} == {"not_evidenced"}
    assert all(c.status == "never_run" for c in r.criteria) and r.drills == [] and r.overrides == []
    assert r.charts.latency == [] and r.charts.traffic is None and r.charts.cost == []
    assert "not measured" in r.charts.traffic_note and "cost measure" in r.charts.cost_note


def test_every_row_goes_stale_after_the_max_age(demo):
    r = report(demo, days_later=8)
    assert {m.state for m in r.metrics} == {"stale"}
    assert "older than 7 days" in row(r, "p99-latency").why
    assert row(report(demo, days_later=8, max_age_days=30), "p99-latency").state == "met"
    assert all(c.stale for c in r.criteria)


def test_not_met_rows_are_planted_from_measurements(tmp_path):
    w = World(tmp_path)
    slow = {**LOAD_TEST, "p99_ms": 1500.0}
    w.step("p1.w4.load-test", slow)
    w.check("p2.exit.context-persists", "fail", "turn 2 did not see turn 1")
    c = w.ctx()
    c.journal("cost.comparison", "check", status="measured", evidence=cost_evidence(w.clock.now(), efficiency=-0.10))
    r = report(w)
    assert row(r, "p99-latency").state == "not_met" and "1500" in row(r, "p99-latency").why
    assert row(r, "context-persistence").state == "not_met" and row(r, "context-persistence").actual.startswith("No")
    assert row(r, "cost-efficiency").state == "not_met" and row(r, "cost-efficiency").value == pytest.approx(-0.10)
    # the ramp: none of the levels met the target is a measured "below", not a missing figure
    levels = [{**lv, "ok": False, "why": "p99 1200 ms >= 1000 ms"} for lv in LOAD_TEST["ramp"]["levels"][:1]]
    w.step("p1.w4.load-test", {**LOAD_TEST, "ramp": {**LOAD_TEST["ramp"], "sustained_concurrency": None, "levels": levels}})
    mc = row(report(w), "max-concurrency")
    assert mc.state == "not_met" and mc.actual.startswith("below 5")


def test_a_met_ramp_target_and_a_waiting_check(tmp_path):
    w = World(tmp_path)
    ramp = {**LOAD_TEST["ramp"], "sustained_concurrency": 60000,
            "levels": [{**LOAD_TEST["ramp"]["levels"][0], "concurrency": 60000}]}
    w.step("p1.w4.load-test", {**LOAD_TEST, "ramp": ramp})
    w.check("p1.exit.shadow-self-hidden-states", "waiting", "endpoint cato-shadow-self is Creating")
    r = report(w)
    assert row(r, "max-concurrency").state == "met"
    hs = row(r, "hidden-state-extraction")
    assert hs.state == "not_measured" and "Creating" in hs.actual and hs.value is None


def test_a_load_test_without_a_ramp_or_a_malformed_cost_entry_is_not_measured(tmp_path):
    w = World(tmp_path)
    w.step("p1.w4.load-test", {k: v for k, v in LOAD_TEST.items() if k != "ramp"})
    w.ctx().journal("cost.comparison", "check", status="measured", evidence={"efficiency": -0.5})
    r = report(w)
    assert row(r, "max-concurrency").state == "not_measured" and "without a ramp" in row(r, "max-concurrency").actual
    assert row(r, "cost-efficiency").state == "not_measured" and "lacks" in row(r, "cost-efficiency").actual
    assert "not measured" in row(r, "p99-latency").provenance[1].figure  # no canary analysis: legacy says so


def test_risks_follow_their_evidence(demo):
    r = report(demo)
    assert {k.id: k.state for k in r.risks} == {"performance-regression": "in_place", "data-loss": "in_place",
                                                "team-unfamiliarity": "in_place", "cost-overrun": "in_place"}
    lost = report(demo, dual_write={"served": 400, "stored": 390, "failed": 4, "dropped": 6, "queued": 0})
    dl = next(k for k in lost.risks if k.id == "data-loss")
    assert dl.state == "failing" and "dropped 6" in dl.evidence[0].detail
    unread = report(demo, dual_write={"served": None, "why": "connection refused"})
    dl = next(k for k in unread.risks if k.id == "data-loss")
    assert dl.state == "partial" and dl.evidence[0].detail.startswith("not measured") and "refused" in dl.evidence[0].detail


def test_rollback_drills_are_timed_against_their_budgets(demo):
    r = report(demo)
    assert [(d.kind, d.outcome, d.within_budget, d.reason) for d in r.drills] == [
        ("quick", "finished", True, "drill"), ("full", "finished", True, "drill")]
    full = r.drills[1]
    assert full.elapsed_seconds == pytest.approx(22.5) and full.budget_seconds == 3600
    assert set(full.stages) == {"legacy-up", "flag-zero", "drain", "orchestrator-down"}


def test_a_full_rollback_over_budget_fails_the_drill_evidence(tmp_path):
    w = World(tmp_path)
    c = w.ctx(reason="slow drill")
    c.journal("rollback.full", "started")
    c.audit("rollback.full", "rollback.full", "slow drill")
    w.clock.sleep(4000)
    c.journal("rollback.full", "finished", evidence={"seconds": 4000.0, "stages": {"legacy-up": 3990.0}})
    r = report(w)
    assert r.drills[0].within_budget is False and r.drills[0].reason == "slow drill"
    ev = next(i for k in r.risks for i in k.evidence if i.kind == "rollback_drills")
    assert ev.state == "failing"


def test_every_override_with_its_reason(demo):
    r = report(demo)
    forced = [o for o in r.overrides if o.action == "guardrail.override"]
    assert len(forced) == 3 and {o.reason for o in forced} == {"sandbox rehearsal: the stage soak is compressed away"}
    assert all(o.overrode for o in forced)
    w = demo
    w.step("p4.w16.delete-litellm", forced_reason="sandbox rehearsal")
    r = report(w)
    assert any(o.action == "step.forced" and o.target == "p4.w16.delete-litellm" and o.reason == "sandbox rehearsal"
               for o in r.overrides)


def test_charts_carry_the_measurements(demo):
    c = report(demo).charts
    assert [s.name for s in c.latency] == ["new (week-4 load test)"]
    assert c.latency[0].points == [(5.0, 40.0), (10.0, 71.0), (10.0, 73.2), (20.0, 150.0)]
    assert c.latency_target_ms == 1000 and c.latency_note.startswith("legacy: not measured")
    assert [p[1] for p in c.traffic.points] == [10, 0, 10, 50, 0, 10, 50, 100]
    assert {(b.stack, b.name) for b in c.cost} >= {("legacy", "claude-3-haiku"), ("new", "bedrock_haiku")}
    assert c.cost_totals == {"legacy": 3.0, "new": pytest.approx(1.77)}


def test_bench_file_adds_both_stacks_at_stated_concurrencies(demo):
    cells = [{"target": t, "scenario": "stateless", "latency_ms": 500, "concurrency": n, "p99": p, "round": rd}
             for t, base in (("litellm", 600.0), ("orchestrator", 540.0)) for n in (10, 50) for rd, p in
             ((1, base + n), (2, base + n + 5))]
    bench = {"timestamp": "20261204T175849Z", "label": "haproxy", "machine": {"cores": 2}, "cells": cells}
    c = report(demo, bench=bench).charts
    legacy = next(s for s in c.latency if s.name.startswith("legacy"))
    assert legacy.points == [(10.0, 615.0), (50.0, 655.0)] and "not this environment" in legacy.source
    assert c.latency_note == ""


def test_an_unpriced_cost_comparison_is_not_measured(tmp_path):
    w = World(tmp_path)
    ev = {**cost_evidence(w.clock.now()), "efficiency": None}
    w.ctx().journal("cost.comparison", "check", status="unmeasured", evidence=ev,
                    message="cost efficiency not measured: 3 legacy and 0 new answers had no price")
    m = row(report(w), "cost-efficiency")
    assert m.state == "not_measured" and m.value is None and "had no price" in m.actual


def test_a_budget_exceeded_is_a_warning_and_fails_the_cost_risk(demo):
    assert report(demo).warnings == []
    demo.ctx().journal("cost.budget", "check", status="exceeded",
                       message="spent $75.0000, OVER the daily budget of $50.00 (150%)")
    r = report(demo)
    assert len(r.warnings) == 1 and "OVER the daily budget" in r.warnings[0]
    assert next(k for k in r.risks if k.id == "cost-overrun").state == "failing"


def test_without_an_analysis_legacy_p99_comes_from_canary_watchs_rollback(tmp_path):
    w = World(tmp_path)
    w.step("p1.w4.load-test", LOAD_TEST)
    w.ctx(reason="watch").audit("canary.watch.rollback", "traffic.flag", "error rate fired", stacks={
        "new": {"requests": 900, "p99_ms": 80.0}, "legacy": {"requests": 4100, "p99_ms": 310.0,
                                                             "source": "prometheus http://127.0.0.1:9090"}})
    p = row(report(w), "p99-latency")
    assert p.provenance[1].figure == "p99 310 ms" and p.provenance[1].sample_size == 4100
    assert "canary.watch.rollback" in p.provenance[1].source and p.actual.endswith("310 ms (canary watch)")
