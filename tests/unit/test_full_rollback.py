"""Full rollback: the safe order, each stage verified, resumable, and the faults it guards against."""
import pytest

from cato_migrate.adapters.sqlite_store import SqliteStateStore
from cato_migrate.core.full_rollback import STAGES, full_rollback, interrupted_full_rollback
from cato_migrate.core.traffic import flag_status, set_traffic
from cato_migrate.errors import CheckFailed, ExternalError, Unverified
from tests.fakes import FakeClock, FakeFlag, FakeGateway, FakeWorkloads, make_ctx


@pytest.fixture
def store(tmp_path):
    return SqliteStateStore(tmp_path / "state.db")


def _at_50(store, workloads, gateway=None, **kw):
    clock = workloads.clock
    ctx = make_ctx(store, clock=clock, flag=FakeFlag(clock), workloads=workloads, gateway=gateway, force=True,
                   reason="test", drain_quiet_seconds=3, **kw)
    set_traffic(ctx, 10)
    set_traffic(ctx, 50)
    assert flag_status(ctx.services.flag).served_percentage == 50
    return ctx


def _world(legacy=1, orch=2):
    clock = FakeClock()
    wl = FakeWorkloads(clock)
    wl.add("litellm", legacy)
    wl.add("cato-orchestrator", orch, kind="RayService")
    return wl


def test_safe_order_from_50_percent(store):
    wl = _world()
    ctx = _at_50(store, wl, FakeGateway([2, 1, 0]))
    order = []
    flag = ctx.services.flag
    orig_create = flag.create_version
    flag.create_version = lambda spec, d: (order.append(("flag", wl.items["litellm"]["desired"])), orig_create(spec, d))[1]
    result = full_rollback(ctx)
    assert [s["stage"] for s in result["stages"]] == list(STAGES)
    # LiteLLM was scaled up (to legacy_replicas=2) and ready BEFORE the flag moved
    assert order == [("flag", 2)]
    assert wl.calls.index("scale:litellm:2") < wl.calls.index("scale:cato-orchestrator:0")
    assert flag_status(flag).served_percentage == 0
    assert wl.status("cato-orchestrator", "cato").ready == 0
    assert wl.status("litellm", "cato").ready == 2
    assert result["within_budget"] and result["budget_seconds"] == 3600
    assert all(s["seconds"] >= 0 for s in result["stages"])
    events = [(e.key, e.event) for e in store.journal("local") if e.key.startswith("rollback.full")]
    assert events[0] == ("rollback.full", "started") and events[-1] == ("rollback.full", "finished")
    assert interrupted_full_rollback(store.journal("local")) is None


def test_legacy_never_ready_stops_before_touching_the_flag(store):
    wl = _world()
    wl.never_ready.add("litellm")
    ctx = _at_50(store, wl, FakeGateway([0]), rollout_timeout_seconds=30)
    with pytest.raises(ExternalError):
        full_rollback(ctx)
    assert flag_status(ctx.services.flag).served_percentage == 50  # traffic not moved to a stack that can't take it
    assert "scale:cato-orchestrator:0" not in wl.calls
    assert interrupted_full_rollback(store.journal("local")) == "legacy-up"


def test_deleted_legacy_is_refused_with_nothing_changed(store):
    wl = _world()
    del wl.items["litellm"]
    ctx = _at_50(store, wl)
    with pytest.raises(CheckFailed) as e:
        full_rollback(ctx)
    assert "does not exist" in e.value.message
    assert flag_status(ctx.services.flag).served_percentage == 50 and wl.calls == []


def test_drain_waits_for_in_flight_and_times_out_without_scaling_down(store):
    wl = _world()
    stuck = FakeGateway([5])  # always 5 in flight to the orchestrator
    ctx = _at_50(store, wl, stuck, drain_timeout_seconds=20)
    with pytest.raises(Unverified) as e:
        full_rollback(ctx)
    assert "still has 5 request(s) in flight" in e.value.message
    assert flag_status(ctx.services.flag).served_percentage == 0  # flag stage done before drain
    assert wl.status("cato-orchestrator", "cato").desired == 2  # NOT scaled down
    assert interrupted_full_rollback(store.journal("local")) == "drain"
    # once the stragglers finish, a re-run resumes: earlier stages are already satisfied
    ctx.services._gateway = FakeGateway([0])
    result = full_rollback(ctx)
    outcomes = {s["stage"]: s["outcome"] for s in result["stages"]}
    assert outcomes == {"legacy-up": "already", "flag-zero": "already", "drain": "done", "orchestrator-down": "done"}
    assert wl.status("cato-orchestrator", "cato").ready == 0


def test_drain_requires_a_quiet_window_not_a_single_zero_sample(store):
    wl = _world()
    gw = FakeGateway([0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    ctx = _at_50(store, wl, gw)
    result = full_rollback(ctx)
    drain = next(s for s in result["stages"] if s["stage"] == "drain")
    assert drain["evidence"]["measured"] is True and gw.reads > 3


def test_without_gateway_metrics_drain_is_labelled_unmeasured(store):
    wl = _world()
    ctx = _at_50(store, wl, None)
    result = full_rollback(ctx)
    drain = next(s for s in result["stages"] if s["stage"] == "drain")
    assert drain["evidence"] == {"measured": False} and "not measured" in drain["message"]


def test_orchestrator_recorded_at_0_but_still_serving_is_scaled_again(store):
    wl = _world()
    wl.items["cato-orchestrator"].update({"desired": 0, "from": 2, "at": wl.clock.now() + 10_000})  # spec 0, pods up
    ctx = _at_50(store, wl, FakeGateway([0]), rollout_timeout_seconds=60)
    result = full_rollback(ctx)
    assert "scale:cato-orchestrator:0" in wl.calls and wl.status("cato-orchestrator", "cato").ready == 0
    assert result["stages"][-1]["outcome"] == "done"


def test_dry_run_says_what_each_stage_would_do_and_changes_nothing(store):
    from cato_migrate.core.full_rollback import plan_full_rollback

    wl = _world(legacy=0)
    ctx = _at_50(store, wl, FakeGateway([3]))
    before = (list(wl.calls), len(ctx.services.flag.deps), len(store.journal("local")))
    plan = {s["stage"]: s["would"] for s in plan_full_rollback(ctx)}
    assert plan["legacy-up"].startswith("scale litellm 0 -> 2")
    assert "deploy 0%" in plan["flag-zero"] and "now serving 50%" in plan["flag-zero"]
    assert "now 3 in flight" in plan["drain"]
    assert plan["orchestrator-down"].startswith("scale cato-orchestrator 2 -> 0")
    assert (list(wl.calls), len(ctx.services.flag.deps), len(store.journal("local"))) == before
    del wl.items["litellm"]
    assert plan_full_rollback(ctx)[0]["would"].startswith("STOP")


@pytest.mark.parametrize("legacy,orch", [(0, 2), (2, 2), (2, 0), (1, 0)])
def test_dry_run_and_run_agree_on_what_is_already_done(store, legacy, orch):
    # The dry run and the run read the same look: a stage the plan calls "nothing" is the one the
    # run reports "already", and a stage it would change is the one the run does.
    from cato_migrate.core.full_rollback import plan_full_rollback

    wl = _world(legacy=legacy, orch=orch)
    ctx = _at_50(store, wl, FakeGateway([0]), rollout_timeout_seconds=60)
    planned = {s["stage"]: s["would"].startswith("nothing") for s in plan_full_rollback(ctx)}
    ran = {s["stage"]: s["outcome"] == "already" for s in full_rollback(ctx)["stages"]}
    assert planned == ran
    # a second run finds everything done, and so does its dry run
    assert all(s["would"].startswith("nothing") or s["stage"] == "drain" for s in plan_full_rollback(ctx))
    assert [s["outcome"] for s in full_rollback(ctx)["stages"]] == ["already", "already", "done", "already"]
