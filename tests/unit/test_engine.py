import pytest

from cato_migrate.adapters.sqlite_store import SqliteStateStore
from cato_migrate.core.engine import evaluate_criterion, plan_phase, run_phase
from cato_migrate.core.progress import step_state
from cato_migrate.errors import BadInput
from tests.fakes import make_ctx


@pytest.fixture
def store(tmp_path):
    return SqliteStateStore(tmp_path / "state.db")


def test_dry_run_changes_nothing(store, tmp_path):
    ctx = make_ctx(store, work_dir=tmp_path / "work")
    outcomes = plan_phase(ctx, ctx.runbook.phase(4))
    assert {o.outcome for o in outcomes} == {"planned"}
    assert "scale cato/litellm to 0" in outcomes[4].message
    assert store.journal("local") == [] and ctx.services.flag.calls == []
    assert not (tmp_path / "work").exists()  # not even the sandbox's copy of the deployment files


def test_attest_step_waits_then_runs_after_sign_off(store):
    ctx = make_ctx(store, force=True, reason="rehearsal")
    phase = ctx.runbook.phase(4)
    first = run_phase(ctx, phase, week=13)
    assert [o.outcome for o in first] == ["waiting"]
    assert "cato-migrate attest p4.w13.alert-oncall" in first[0].message
    ctx.journal("p4.w13.alert-oncall", "attested", evidence={"by": "alice"})
    second = run_phase(ctx, phase, week=13)
    assert [o.outcome for o in second] == ["skipped", "done"]
    assert second[1].evidence["served_percentage"] == 10


def test_rerun_skips_finished_steps(store):
    ctx = make_ctx(store, force=True, reason="r")
    ctx.journal("p4.w13.alert-oncall", "attested", evidence={"by": "alice"})
    run_phase(ctx, ctx.runbook.phase(4), week=13)
    calls = len(ctx.services.flag.calls)
    again = run_phase(ctx, ctx.runbook.phase(4), week=13)
    assert [o.outcome for o in again] == ["skipped", "skipped"]
    assert len(ctx.services.flag.calls) == calls


def test_interrupted_step_is_reverified_not_reapplied(store):
    ctx = make_ctx(store, force=True, reason="r")
    ctx.journal("p4.w13.alert-oncall", "attested", evidence={"by": "alice"})
    run_phase(ctx, ctx.runbook.phase(4), week=13)
    # plant: the step's finish record is lost as if the process died after apply
    ctx2 = make_ctx(SqliteStateStore(ctx.store.path.parent / "other.db"), clock=ctx.clock,
                    flag=ctx.services.flag, force=True, reason="r")
    ctx2.journal("p4.w13.alert-oncall", "attested", evidence={"by": "alice"})
    ctx2.journal("p4.w13.canary-10", "started", inputs={"percentage": 10})
    n = len(ctx.services.flag.versions)
    out = run_phase(ctx2, ctx2.runbook.phase(4), week=13)
    assert [o.outcome for o in out] == ["skipped", "resumed"]
    assert len(ctx.services.flag.versions) == n  # verified, not re-applied
    assert step_state(ctx2.store.journal("local"), "p4.w13.canary-10")[0] == "done"


def test_interrupted_step_that_did_not_take_is_reapplied(store):
    ctx = make_ctx(store, force=True, reason="r")
    ctx.journal("p4.w13.alert-oncall", "attested", evidence={"by": "alice"})
    ctx.journal("p4.w13.canary-10", "started", inputs={"percentage": 10})
    out = run_phase(ctx, ctx.runbook.phase(4), week=13)
    assert [o.outcome for o in out] == ["skipped", "done"]


def test_not_implemented_step_stops_the_phase_and_never_passes(store, monkeypatch):
    from cato_migrate.core.kinds import STEP_KINDS, load_kinds

    from cato_migrate.checks.planned import AnyParams
    from cato_migrate.core.kinds import StepKind

    load_kinds()  # plant: week 1's build step is a placeholder again
    placeholder = type("Planned_container_image", (StepKind,), {
        "name": "container_image", "Params": AnyParams, "implemented": False, "planned_for": "the build (planted)"})
    monkeypatch.setitem(STEP_KINDS, "container_image", placeholder)
    ctx = make_ctx(store)
    out = run_phase(ctx, ctx.runbook.phase(1))
    assert [o.outcome for o in out] == ["waiting"]
    ctx.journal("p1.w1.announce-kickoff", "attested", evidence={"by": "lead"})
    out = run_phase(ctx, ctx.runbook.phase(1))
    assert [o.outcome for o in out] == ["skipped", "not_implemented"]
    assert step_state(store.journal("local"), "p1.w1.build-shadow-self-image")[0] == "pending"


def test_bad_week_and_step_are_bad_input(store):
    ctx = make_ctx(store)
    with pytest.raises(BadInput):
        run_phase(ctx, ctx.runbook.phase(4), week=3)
    with pytest.raises(BadInput):
        run_phase(ctx, ctx.runbook.phase(4), step_id="p4.w13.nope")


def test_unimplemented_checks_report_not_implemented(store):
    from cato_migrate.core.runbook import CriterionSpec

    ctx = make_ctx(store)
    crit = CriterionSpec(id="p4.exit.complaints", title="No complaint spike", check="complaints")
    out = evaluate_criterion(ctx, crit)
    assert out.status == "not_implemented" and "not implemented yet" in out.message


def test_planned_placeholder_never_replaces_an_implemented_kind():
    from cato_migrate.core.kinds import CHECK_KINDS, CheckKind, load_kinds, register_check

    load_kinds()
    real = CHECK_KINDS["attested"]
    register_check(type("Planned_attested", (CheckKind,), {"name": "attested", "implemented": False}))
    assert CHECK_KINDS["attested"] is real
    with pytest.raises(RuntimeError):
        register_check(type("Another_attested", (CheckKind,), {"name": "attested"}))


def test_full_traffic_check_fails_at_50_and_passes_at_100(store):
    ctx = make_ctx(store, force=True, reason="r")
    crit = next(c for c in ctx.runbook.phase(4).exit_criteria if c.id == "p4.exit.full-traffic")
    from cato_migrate.core.traffic import set_traffic

    assert evaluate_criterion(ctx, crit).status == "fail"  # never deployed: served 0
    set_traffic(ctx, 50)
    r = evaluate_criterion(ctx, crit)
    assert r.status == "fail" and r.measured == 50
    set_traffic(ctx, 100)
    assert evaluate_criterion(ctx, crit).status == "pass"


def test_attested_criterion_waits_for_sign_off(store):
    ctx = make_ctx(store)
    crit = next(c for c in ctx.runbook.phase(4).exit_criteria if c.id == "p4.exit.team-trained")
    assert evaluate_criterion(ctx, crit).status == "waiting"
    ctx.journal("p4.w16.team-trained", "attested", evidence={"by": "em"})
    assert evaluate_criterion(ctx, crit).status == "pass"


def test_threshold_without_measurement_is_waiting():
    from cato_migrate.core.engine import apply_threshold
    from cato_migrate.core.kinds import CheckResult
    from cato_migrate.core.runbook import CriterionSpec

    crit = CriterionSpec(id="p1.exit.x", title="x", check="latency_p99",
                         threshold={"metric": "p99", "op": "<", "value": 500})
    assert apply_threshold(crit, CheckResult("pass", "no data")).status == "waiting"
    assert apply_threshold(crit, CheckResult("pass", "", 700.0)).status == "fail"
    # a check's own fail (a fault beyond the number) is never overridden by a met threshold
    assert apply_threshold(crit, CheckResult("fail", "gateway disagrees", 300.0)).status == "fail"


def test_run_step_again_applies_a_done_step_again_under_the_verbs_key(store, monkeypatch):
    # `orchestrator install` re-runs the runbook's own deploy step (one install path): a done step
    # is skipped by `phase run` but applied and verified again, journaled under the verb's key.
    from cato_migrate.checks.planned import AnyParams
    from cato_migrate.core.engine import find_step, run_step_again
    from cato_migrate.core.kinds import STEP_KINDS, StepKind, Verification, load_kinds

    applied = []

    class Counting(StepKind):
        name, Params = "k8s_apply", AnyParams

        def plan(self, step, params, ctx):
            return "count"

        def apply(self, step, params, ctx):
            applied.append(step.id)
            return {"applied": [f"RayService/{len(applied)}"]}

        def verify(self, step, params, ctx):
            return Verification(bool(applied), "counted", {})

    load_kinds()
    monkeypatch.setitem(STEP_KINDS, "k8s_apply", Counting)
    ctx = make_ctx(store, force=True, reason="test")
    phase, week, step = find_step(ctx, "k8s_apply", manifest="k8s/ray-serve/cato-orchestrator.yaml")
    assert step.id == "p1.w3.deploy-orchestrator"
    assert run_phase(ctx, phase, step_id=step.id)[0].outcome == "done"
    assert run_phase(ctx, phase, step_id=step.id)[0].outcome == "skipped"
    for n in (2, 3):  # again and again: never "already done"
        again = run_step_again(ctx, week, step, key="orchestrator.install")
        assert again.outcome == "done" and again.evidence["applied"] == [f"RayService/{n}"]
    assert applied == [step.id] * 3
    assert [e.event for e in store.journal("local", step.id)] == ["started", "finished"]
    assert [e.event for e in store.journal("local", "orchestrator.install")] == ["started", "finished"] * 2
    with pytest.raises(BadInput, match="no k8s_apply step"):
        find_step(ctx, "k8s_apply", manifest="k8s/nowhere.yaml")


def test_attest_operation_refuses_before_writing_and_reads_the_sign_off_back(store):
    from cato_migrate.core.attest import Attest, attest_step

    ctx = make_ctx(store)
    for step, by in (("p9.nowhere", "alice"), ("p1.w1.build-shadow-self-image", "alice"), ("p4.w13.alert-oncall", " ")):
        with pytest.raises(BadInput):
            attest_step(ctx, step, by)
    assert store.journal("local") == [] and store.audit("local", 10) == []
    assert Attest("p4.w13.alert-oncall", "alice").look(ctx).would == "record p4.w13.alert-oncall as signed off by alice"
    out = attest_step(ctx, "p4.w13.alert-oncall", " alice ", "paged the on-call")
    assert out["by"] == "alice" and step_state(store.journal("local"), "p4.w13.alert-oncall")[0] == "done"
    assert [a.action for a in store.audit("local", 10)] == ["attest"]
