"""A rollback stays rolled back: fencing, the hold, intent and reconciliation, legacy readiness,
deployments of other profiles and another rollback's 0% deployment."""
import pytest

from cato_migrate.adapters.sqlite_store import SqliteStateStore
from cato_migrate.core.fencing import attach_lease
from cato_migrate.core.lock import LeaseKeeper
from cato_migrate.core.quick_rollback import plan_quick_rollback, quick_rollback
from cato_migrate.core.rollback_hold import HOLD_KEY, current_hold, resume
from cato_migrate.core.traffic import TRAFFIC_KEY, flag_status, pending_traffic_intent, reconcile_traffic, set_traffic
from cato_migrate.errors import CheckFailed, Unverified
from cato_migrate.ports import Deployment, FlagSpec
from tests.fakes import FakeClock, FakeFlag, FakeWorkloads, make_ctx


@pytest.fixture
def store(tmp_path):
    return SqliteStateStore(tmp_path / "state.db")


@pytest.fixture
def world(store):
    clock = FakeClock()
    flag = FakeFlag(clock)
    wl = FakeWorkloads(clock)
    wl.add("litellm", 2)
    return clock, flag, wl


def _ctx(store, world, **kw):
    clock, flag, wl = world
    return make_ctx(store, clock=clock, flag=flag, workloads=wl, **kw)


def _held(store, world, command, *, preempt=False, **kw):
    ctx = _ctx(store, world, **kw)
    keeper = LeaseKeeper(store, ctx.clock, env="local", actor=f"{command}@h", command=command, ttl=60)
    keeper.acquire(preempt=preempt, reason=kw.get("reason", ""))
    attach_lease(ctx, keeper)
    return ctx, keeper


def _pass_phases(ctx, phases=(1, 2, 3)):
    for n in phases:
        for c in ctx.runbook.phase(n).exit_criteria:
            ctx.journal(c.id, "check", status="pass")


def test_a_preempted_canary_set_never_deploys_after_the_rollback(store, world, monkeypatch):
    """The race from the issue: `canary set 50` is measuring its triggers when `rollback --quick`
    preempts the lock and verifies 0%; the preempted command must stop before any write."""
    from cato_migrate.core import triggers

    clock, flag, wl = world
    setup = _ctx(store, world, force=True, reason="setup")
    set_traffic(setup, 10)
    _pass_phases(setup, (1, 2, 3, 4))
    canary, canary_lock = _held(store, world, "canary set 50")
    rolled = {}

    def measure_while_rollback_preempts(ctx):
        rb, rb_lock = _held(store, world, "rollback --quick", preempt=True, reason="error rate 3%")
        rolled.update(quick_rollback(rb))
        rb_lock.release()
        return [triggers.TriggerStatus(t.id, t.title, "clear", "planted", 0.0)
                for t in ctx.runbook.meta.rollback.triggers]

    monkeypatch.setattr(triggers, "trigger_statuses", measure_while_rollback_preempts)
    # the promotion gate (soak, analysis) passes: this test is about the trigger measurement's race
    monkeypatch.setattr("cato_migrate.core.promotion_gate.gate_problems", lambda ctx, current, **kw: ([], {}))
    versions_after_rollback = None
    with pytest.raises(Unverified) as e:
        try:
            set_traffic(canary, 50)
        finally:
            versions_after_rollback = dict(flag.versions)
    canary_lock.release()
    assert rolled["status"]["served_percentage"] == 0
    assert "taken over" in e.value.message and e.value.exit_code == 5
    assert flag_status(flag).served_percentage == 0
    assert all(v.percentage != 50 for v in versions_after_rollback.values())
    assert not [a for a in store.audit("local") if a.action == "canary.set" and a.details.get("to_percentage") == 50]


def test_a_rollback_holds_every_raise_until_resume_and_force_does_not_bypass(store, world):
    ctx = _ctx(store, world, force=True, reason="setup")
    set_traffic(ctx, 10)
    quick_rollback(ctx)
    assert current_hold(store, "local") is not None
    with pytest.raises(CheckFailed) as e:
        set_traffic(ctx, 10)  # ctx.force is True: still refused
    assert "canary resume" in e.value.message and "nothing was changed" in e.value.message
    n = len(ctx.services.flag.versions)
    assert set_traffic(ctx, 0)["changed"] is False  # lowering is never held
    assert len(ctx.services.flag.versions) == n
    out = resume(ctx)
    assert out["changed"] and current_hold(store, "local") is None
    assert store.audit("local")[-1].action == "canary.resume"
    assert set_traffic(ctx, 10)["status"]["served_percentage"] == 10
    assert resume(ctx)["changed"] is False


def test_the_hold_is_recorded_before_the_flag_is_touched(store, world):
    _, flag, _ = world
    ctx = _ctx(store, world)

    def boom(*a, **k):
        raise RuntimeError("killed")

    flag.create_version = boom
    with pytest.raises(RuntimeError):
        quick_rollback(ctx)
    assert current_hold(store, "local") is not None
    assert [e.event for e in store.journal("local", HOLD_KEY)] == ["started"]


def test_quick_rollback_refuses_when_litellm_cannot_take_the_traffic(store, world):
    clock, flag, wl = world
    ctx = _ctx(store, world, force=True, reason="setup")
    set_traffic(ctx, 10)
    wl.scale("litellm", "cato", 0)
    clock.t += 60
    ctx.force = False
    with pytest.raises(CheckFailed) as e:
        quick_rollback(ctx)
    assert "rollback --full" in e.value.hint and "0 ready" in e.value.message
    assert flag_status(flag).served_percentage == 10 and current_hold(store, "local") is None
    assert plan_quick_rollback(ctx)["would"][0].startswith("REFUSE")
    ctx.force, ctx.reason = True, "litellm pods restarting; users already failing"
    assert quick_rollback(ctx)["status"]["served_percentage"] == 0
    assert "guardrail.override" in [a.action for a in store.audit("local")]


def test_quick_rollback_refuses_when_the_workloads_cannot_be_read(store):
    ctx = make_ctx(store)  # no workloads port: readiness unknown is not ready
    with pytest.raises(CheckFailed) as e:
        quick_rollback(ctx)
    assert "could not read" in e.value.message


def test_a_rollback_never_stops_another_rollbacks_zero_deployment(store, world):
    clock, flag, _ = world
    ctx = _ctx(store, world, force=True, reason="setup")
    set_traffic(ctx, 50)
    flag.ensure_strategy("cato-canary", 2, 1, 20)
    zero = flag.start_deployment(flag.create_version(FlagSpec(enabled=False, percentage=0), "other rollback"),
                                 "cato-canary", "")
    assert flag.get_deployment(zero.number).state == "DEPLOYING"
    result = quick_rollback(ctx)
    assert result["stopped_deployments"] == [] and result["adopted_deployment"] == zero.number
    assert f"stop_deployment:{zero.number}" not in flag.calls
    assert result["status"]["served_percentage"] == 0


def test_a_rollback_stops_a_raise_in_flight(store, world):
    clock, flag, _ = world
    ctx = _ctx(store, world, force=True, reason="setup")
    set_traffic(ctx, 10)
    dep = flag.start_deployment(flag.create_version(FlagSpec(enabled=True, percentage=50), ""), "cato-canary", "")
    result = quick_rollback(ctx)
    assert result["stopped_deployments"] == [dep.number]


def test_another_profiles_deployment_refuses_a_raise(store, world):
    _, flag, _ = world
    ctx = _ctx(store, world, force=True, reason="x")
    flag.other_profile_busy = Deployment(number=7, state="BAKING", version="3", strategy="s", profile="pricing")
    with pytest.raises(CheckFailed) as e:
        set_traffic(ctx, 10)
    assert "pricing" in e.value.message and "one at a time" in e.value.message
    assert flag.versions == {}


def test_an_interrupted_change_is_in_the_audit_and_reconciled(store, world):
    """Killed between StartDeployment and the end: the audit already holds the change, and the next
    command closes the journal entry from what AppConfig shows (never a stale 'verified')."""
    clock, flag, _ = world
    ctx = _ctx(store, world, force=True, reason="x")
    real_start = flag.start_deployment

    def start_then_die(*a, **k):
        real_start(*a, **k)
        raise KeyboardInterrupt

    flag.start_deployment = start_then_die
    with pytest.raises(KeyboardInterrupt):
        set_traffic(ctx, 10)
    flag.start_deployment = real_start
    assert [a.action for a in store.audit("local")][-1] == "canary.set"
    pending = pending_traffic_intent(store.journal("local"))
    assert pending["target"] == 10
    clock.t += 600
    out = reconcile_traffic(ctx, flag)
    assert out["outcome"] == "completed"
    last = store.journal("local", TRAFFIC_KEY)[-1]
    assert last.event == "finished" and last.evidence["reconciled"] and last.evidence["served_percentage"] == 10
    assert pending_traffic_intent(store.journal("local")) is None
    assert store.audit("local")[-1].action == "traffic.reconciled"


def test_an_intent_that_never_started_is_reconciled_as_failed(store, world):
    clock, flag, _ = world
    ctx = _ctx(store, world, force=True, reason="x")

    def die(*a, **k):
        raise KeyboardInterrupt

    flag.start_deployment = die
    with pytest.raises(KeyboardInterrupt):
        set_traffic(ctx, 10)
    out = reconcile_traffic(ctx, flag)
    assert out["outcome"] == "not completed" and "never started" in out["message"]
    assert store.journal("local", TRAFFIC_KEY)[-1].event == "failed"


def test_dry_runs_change_nothing(store, world):
    _, flag, _ = world
    ctx = _ctx(store, world, force=True, reason="x")
    plan = set_traffic(ctx, 10, dry_run=True)
    assert plan["dry_run"] and plan["would"] and flag.versions == {} and flag.deps == []
    assert store.journal("local") == [] and store.audit("local") == []
    plan = plan_quick_rollback(ctx)
    assert plan["dry_run"] and flag.versions == {} and store.journal("local") == []
