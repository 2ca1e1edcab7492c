import pytest

from cato_migrate.adapters.sqlite_store import SqliteStateStore
from cato_migrate.core.quick_rollback import quick_rollback
from cato_migrate.core.traffic import TRAFFIC_KEY, flag_status, parse_percentage, set_traffic
from cato_migrate.errors import BadInput, CheckFailed, Unverified
from tests.fakes import FakeClock, FakeFlag, make_ctx


@pytest.fixture
def store(tmp_path):
    return SqliteStateStore(tmp_path / "state.db")


@pytest.mark.parametrize("raw", ["150", "-5", "10.5", "abc", "", " ", "1e2", "0x10", "101"])
def test_bad_percentages_are_bad_input(raw):
    with pytest.raises(BadInput) as e:
        parse_percentage(raw)
    assert e.value.exit_code == 2


@pytest.mark.parametrize("raw,want", [("0", 0), ("10", 10), ("100", 100), (" 50 ", 50)])
def test_good_percentages(raw, want):
    assert parse_percentage(raw) == want


def test_raise_refused_until_previous_phases_pass_and_nothing_is_created(store):
    ctx = make_ctx(store)
    flag = ctx.services.flag
    with pytest.raises(CheckFailed) as e:
        set_traffic(ctx, 10)
    assert "phase 1's exit criteria" in e.value.message
    assert flag.versions == {} and flag.deps == []
    assert store.audit("local") == []


def test_raise_must_follow_plan_order(store):
    ctx = make_ctx(store)
    with pytest.raises(CheckFailed) as e:
        set_traffic(ctx, 50)
    assert "must go to 10% next" in e.value.message
    with pytest.raises(CheckFailed) as e:
        set_traffic(ctx, 30)
    assert "not a stage of the traffic plan" in e.value.message


def _pass_phases(store, ctx, phases=(1, 2, 3)):
    for n in phases:
        for c in ctx.runbook.phase(n).exit_criteria:
            ctx.journal(c.id, "check", status="pass")


def _triggers(monkeypatch, **status):
    """Plant what the rollback triggers measure (the real measurement is an integration test)."""
    from cato_migrate.core import triggers

    def fake(ctx):
        return [triggers.TriggerStatus(t.id, t.title, status.get(t.id.replace("-", "_"), "clear"), "planted",
                                       None if status.get(t.id.replace("-", "_")) == "unmeasured" else 1.0)
                for t in ctx.runbook.meta.rollback.triggers]
    monkeypatch.setattr(triggers, "trigger_statuses", fake)


def test_raise_allowed_once_phases_passed_in_journal(store, monkeypatch):
    _triggers(monkeypatch, user_complaints="not_monitored")
    ctx = make_ctx(store)
    _pass_phases(store, ctx)
    ctx.journal("p4.w13.alert-oncall", "attested", evidence={"by": "on-call"})  # the promotion gate's sign-off
    result = set_traffic(ctx, 10)
    assert result["changed"] and result["status"]["served_percentage"] == 10
    events = [e.event for e in store.journal("local", TRAFFIC_KEY)]
    assert events == ["started", "finished"]
    started = store.journal("local", TRAFFIC_KEY)[0]
    assert started.inputs["triggers"] == {"error-rate": "clear", "latency-p99": "clear", "user-complaints": "not_monitored"}


@pytest.mark.parametrize("planted", [{"latency_p99": "fired"}, {"error_rate": "fired"}, {"error_rate": "unmeasured"}])
def test_raise_refused_while_a_rollback_trigger_fires_or_cannot_be_measured(store, monkeypatch, planted):
    _triggers(monkeypatch, **planted)
    ctx = make_ctx(store)
    _pass_phases(store, ctx)
    ctx.journal("p4.w13.alert-oncall", "attested", evidence={"by": "on-call"})  # the promotion gate's sign-off
    with pytest.raises(CheckFailed) as e:
        set_traffic(ctx, 10)
    assert "rollback trigger" in e.value.message and "nothing was changed" in e.value.message
    assert ctx.services.flag.versions == {}


def test_lowering_and_forced_raises_do_not_measure_triggers(store, monkeypatch):
    from cato_migrate.core import triggers

    calls = []
    monkeypatch.setattr(triggers, "trigger_statuses", lambda ctx: calls.append(1) or [])
    ctx = make_ctx(store, force=True, reason="drill")
    set_traffic(ctx, 10)
    ctx.force = False
    set_traffic(ctx, 0)
    assert calls == []


def test_a_later_failing_check_blocks_raising_again(store):
    ctx = make_ctx(store)
    _pass_phases(store, ctx)
    ctx.journal("p2.exit.cache-hit-rate", "check", status="fail")
    with pytest.raises(CheckFailed):
        set_traffic(ctx, 10)


def test_force_overrides_guardrails_and_is_audited(store):
    ctx = make_ctx(store, force=True, reason="drill")
    result = set_traffic(ctx, 10)
    assert result["status"]["served_percentage"] == 10
    actions = [a.action for a in store.audit("local")]
    assert actions == ["guardrail.override", "canary.set"]
    assert store.audit("local")[0].reason == "drill"


def test_lowering_is_always_allowed(store):
    ctx = make_ctx(store, force=True, reason="setup")
    set_traffic(ctx, 10)
    ctx.force = False
    assert set_traffic(ctx, 0)["status"]["served_percentage"] == 0


def test_set_is_idempotent(store):
    ctx = make_ctx(store, force=True, reason="x")
    set_traffic(ctx, 10)
    n = len(ctx.services.flag.versions)
    again = set_traffic(ctx, 10)
    assert again["changed"] is False and len(ctx.services.flag.versions) == n


def test_served_value_not_matching_is_unverified(store):
    ctx = make_ctx(store, force=True, reason="x")
    ctx.services.flag.serve_override = 0  # planted: clients keep getting 0%
    with pytest.raises(Unverified) as e:
        set_traffic(ctx, 10)
    assert e.value.exit_code == 5 and "served 0%" in e.value.message
    assert store.journal("local", TRAFFIC_KEY)[-1].event == "failed"


def test_refuses_while_a_deployment_is_in_flight(store):
    clock = FakeClock()
    flag = FakeFlag(clock)
    ctx = make_ctx(store, clock=clock, flag=flag, force=True, reason="x")
    flag.ensure_strategy("cato-canary", 2, 1, 20)
    flag.start_deployment(flag.create_version(__import__("cato_migrate.ports").ports.FlagSpec(enabled=True, percentage=10), ""), "cato-canary", "")
    with pytest.raises(CheckFailed) as e:
        set_traffic(ctx, 10)
    assert "DEPLOYING" in e.value.message


def test_quick_rollback_while_baking(store):
    from tests.fakes import FakeWorkloads

    clock = FakeClock()
    flag = FakeFlag(clock)
    wl = FakeWorkloads(clock)
    wl.add("litellm", 2)
    ctx = make_ctx(store, clock=clock, flag=flag, force=True, reason="x", workloads=wl)
    set_traffic(ctx, 10)
    # start a second canary and leave it baking
    from cato_migrate.ports import FlagSpec

    v = flag.create_version(FlagSpec(enabled=True, percentage=50), "")
    dep = flag.start_deployment(v, "cato-canary", "")
    clock.t += 150  # 2.5 min: past the 2-min deploy, inside the 1-min bake
    assert flag.get_deployment(dep.number).state == "BAKING"
    result = quick_rollback(ctx)
    assert result["stopped_deployments"] == [dep.number]
    assert result["status"]["served_percentage"] == 0
    assert result["within_budget"] is True
    assert flag_status(flag).served_percentage == 0
    assert [a.action for a in store.audit("local")][-1] == "rollback.quick"
