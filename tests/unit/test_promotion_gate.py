"""The promotion gate in `canary set`: each condition refuses a raise (exit 1, nothing changed) until met."""
from __future__ import annotations

import pytest

from cato_migrate.adapters.sqlite_store import SqliteStateStore
from cato_migrate.core.canary_analysis import ANALYSIS_KEY
from cato_migrate.core.promotion_gate import minute_seconds, stage_since
from cato_migrate.core.state import JournalEntry
from cato_migrate.core.traffic import TRAFFIC_KEY, set_traffic
from cato_migrate.errors import CheckFailed
from tests.fake_metrics import UNREADABLE, FakeMetrics, steady, window_of
from tests.fakes import make_ctx

ATTEST = "p4.w13.alert-oncall"


@pytest.fixture
def store(tmp_path):
    return SqliteStateStore(tmp_path / "state.db")


@pytest.fixture(autouse=True)
def clear_triggers(monkeypatch):
    """The pre-raise trigger measurement (fresh requests to the orchestrator) is planted clear here."""
    from cato_migrate.core import triggers

    monkeypatch.setattr(triggers, "trigger_statuses", lambda ctx: [
        triggers.TriggerStatus(t.id, t.title, "clear", "planted", 0.0) for t in ctx.runbook.meta.rollback.triggers])


def _ready(store, metrics=None, attest=True, **kw):
    ctx = make_ctx(store, metrics=metrics, **kw)
    for n in (1, 2, 3):
        for c in ctx.runbook.phase(n).exit_criteria:
            ctx.journal(c.id, "check", status="pass")
    if attest:
        ctx.journal(ATTEST, "attested", evidence={"by": "alice"})
    return ctx


def _soak(ctx, stage=10):
    ctx.clock.sleep(ctx.runbook.meta.canary_analysis.min_soak_minutes[stage] * minute_seconds(ctx) + 1)


def _refused(ctx, target):
    versions = dict(ctx.services.flag.versions)
    with pytest.raises(CheckFailed) as e:
        set_traffic(ctx, target)
    assert e.value.exit_code == 1 and "nothing was changed" in e.value.message
    assert ctx.services.flag.versions == versions  # nothing created, nothing deployed
    return e.value


def test_first_raise_needs_the_on_call_attestation(store):
    ctx = _ready(store, attest=False)
    err = _refused(ctx, 10)
    assert ATTEST in err.message and f"cato-migrate attest {ATTEST}" in err.message
    ctx.journal(ATTEST, "attested", evidence={"by": "alice"})
    assert set_traffic(ctx, 10)["status"]["served_percentage"] == 10


def test_next_raise_refused_until_the_stage_has_soaked(store):
    metrics = FakeMetrics(new=steady("new", 3000), legacy=steady("legacy", 3000))
    ctx = _ready(store, metrics)
    set_traffic(ctx, 10)
    err = _refused(ctx, 50)
    assert "soaked" in err.message and "1440 strategy minutes" in err.message
    assert metrics.calls == []  # the cheaper refusal comes first: nothing analysed
    _soak(ctx)
    assert set_traffic(ctx, 50)["status"]["served_percentage"] == 50
    analysis = store.journal("local", ANALYSIS_KEY)
    assert [e.status for e in analysis] == ["pass"] and analysis[0].evidence["analysis"]["verdict"] == "pass"


def test_soak_is_counted_in_strategy_minutes_scaled_on_the_sandbox(store):
    ctx = _ready(store, FakeMetrics(new=steady("new", 3000), legacy=steady("legacy", 3000)),
                 sandbox_minute_seconds=0.05)
    set_traffic(ctx, 10)
    ctx.clock.sleep(1440 * 0.05 - 5)
    assert "ready in" in _refused(ctx, 50).message
    ctx.clock.sleep(6)
    assert set_traffic(ctx, 50)["changed"]


@pytest.mark.parametrize("new,legacy,verdict", [
    (steady("new", 3000, 0.7), steady("legacy", 3000, 0.3), "fail"),          # slowed new stack
    (window_of("new", []), window_of("legacy", []), "waiting"),               # no traffic
    (UNREADABLE, UNREADABLE, "unmeasured"),                                   # source cannot be read
])
def test_raise_refused_unless_the_analysis_passes(store, new, legacy, verdict):
    ctx = _ready(store, FakeMetrics(new=new, legacy=legacy))
    set_traffic(ctx, 10)
    _soak(ctx)
    err = _refused(ctx, 50)
    assert f"analysis is {verdict}, not pass" in err.message
    assert store.journal("local", ANALYSIS_KEY)[-1].status == verdict  # journaled, as evidence


def test_no_metrics_source_refuses_and_says_how_to_configure_one(store):
    ctx = _ready(store, metrics=None)
    set_traffic(ctx, 10)
    _soak(ctx)
    err = _refused(ctx, 50)
    assert "no metrics source" in err.message and "prometheus_url" in err.message


def test_force_overrides_the_gate_and_is_audited(store):
    metrics = FakeMetrics(new=steady("new", 3000, 0.7), legacy=steady("legacy", 3000, 0.3))
    ctx = _ready(store, metrics)
    set_traffic(ctx, 10)
    ctx.force, ctx.reason = True, "sandbox rehearsal"
    assert set_traffic(ctx, 50)["status"]["served_percentage"] == 50
    override = [a for a in store.audit("local") if a.action == "guardrail.override"]
    assert len(override) == 1 and override[0].reason == "sandbox rehearsal"
    assert any("soaked" in p for p in override[0].details["problems"])
    assert metrics.calls == []  # a forced raise is not analysed


def test_soak_unknown_when_the_journal_has_no_record_of_the_stage(store, tmp_path):
    ctx = _ready(store, FakeMetrics(new=steady("new", 3000), legacy=steady("legacy", 3000)))
    set_traffic(ctx, 10)
    ctx.store = SqliteStateStore(tmp_path / "elsewhere.db")  # 10% served, but this journal never moved it
    _soak(ctx)
    assert "cannot be measured" in _refused(ctx, 50).message


def _e(seq, event, served, at):
    return JournalEntry(env="local", key=TRAFFIC_KEY, event=event, actor="a", at=at, seq=seq,
                        evidence={"served_percentage": served})


def test_stage_since_is_the_start_of_the_last_unbroken_run():
    # 10% at t=100; a raise to 50 that failed and left 10% served; still the stage of t=100
    assert stage_since([_e(1, "finished", 10, 100), _e(2, "failed", 10, 200)], 10) == 100
    # a rollback to 0 and back to 10 starts the stage again
    assert stage_since([_e(1, "finished", 10, 100), _e(2, "finished", 0, 200), _e(3, "finished", 10, 300)], 10) == 300
    assert stage_since([_e(1, "finished", 50, 100)], 10) is None


def test_lowering_is_never_gated(store):
    ctx = _ready(store, metrics=None)
    set_traffic(ctx, 10)
    assert set_traffic(ctx, 0)["status"]["served_percentage"] == 0
