"""The blue/green rollout planner and executor against an in-memory SageMaker (pure, fast)."""
from __future__ import annotations

import pytest

from cato_migrate.core.endpoint_rollout import (EndpointState, ModelSpec, Rollout, Smoke, UpdateUnsupported,
                                                plan_rollout, spec_hash, version_name)
from cato_migrate.errors import ExternalError
from tests.fakes import FakeClock


def spec(**kw) -> ModelSpec:
    base = dict(endpoint="cato-shadow-self", image="123.dkr.ecr/x@sha256:aa", instance_type="ml.g4dn.xlarge",
                environment={"HIDDEN_STATE_SIZE": "64"}, execution_role_arn="arn:aws:iam::1:role/r")
    return ModelSpec(**{**base, **kw})


class FakeSageMaker:
    """Endpoints take `provision_s` of clock time to leave Creating/Updating; configs listed in
    `failing` end Failed (create) or are rolled back by the service itself (update)."""

    def __init__(self, clock: FakeClock, *, update_supported: bool = True, provision_s: float = 30.0):
        self.clock, self.update_supported, self.provision_s = clock, update_supported, provision_s
        self.models: set[str] = set()
        self.configs: set[str] = set()
        self.endpoints: dict[str, dict] = {}
        self.failing: set[str] = set()
        self.calls: list[str] = []

    def describe_endpoint(self, name):
        ep = self.endpoints.get(name)
        if ep is None:
            return EndpointState(name=name)
        if ep["status"] in ("Creating", "Updating") and self.clock.now() >= ep["ready_at"]:
            if ep["pending"] in self.failing:
                if ep["status"] == "Updating":  # SageMaker keeps the old fleet
                    ep.update(status="InService", reason=f"{ep['pending']} failed health checks")
                else:
                    ep.update(status="Failed", config=ep["pending"], reason="container did not pass /ping")
            else:
                ep.update(status="InService", config=ep["pending"], reason=None)
        return EndpointState(name=name, status=ep["status"], config=ep["config"], failure_reason=ep.get("reason"))

    def model_exists(self, name):
        return name in self.models

    def config_exists(self, name):
        return name in self.configs

    def create_model(self, name, spec):
        self.calls.append(f"create_model:{name}")
        self.models.add(name)

    def create_endpoint_config(self, name, model, spec):
        self.calls.append(f"create_config:{name}")
        self.configs.add(name)

    def create_endpoint(self, name, config):
        self.calls.append(f"create_endpoint:{config}")
        self.endpoints[name] = {"status": "Creating", "config": config, "pending": config,
                                "ready_at": self.clock.now() + self.provision_s}

    def update_endpoint(self, name, config):
        self.calls.append(f"update_endpoint:{config}")
        if not self.update_supported:
            raise UpdateUnsupported("SageMaker update_endpoint answered 500")
        self.endpoints[name].update(status="Updating", pending=config, ready_at=self.clock.now() + self.provision_s)

    def delete_endpoint(self, name):
        self.calls.append("delete_endpoint")
        self.endpoints.pop(name, None)


def rollout(port, clock, smoke=None, **kw) -> Rollout:
    return Rollout(port=port, clock=clock, smoke=smoke or (lambda ep: Smoke(True, "ok")), poll_s=5.0,
                   timeout_s=600.0, **kw)


def test_names_are_a_content_hash_of_the_spec():
    a, b = spec(), spec(image="123.dkr.ecr/x@sha256:bb")
    assert version_name(a) == f"cato-shadow-self-{spec_hash(a)}" and version_name(a) != version_name(b)
    assert version_name(a) == version_name(spec())  # stable
    long = spec(endpoint="e" * 60)
    assert len(version_name(long)) <= 63


def test_plan_is_pure_and_names_each_case():
    s = spec()
    absent = plan_rollout(s, EndpointState(name=s.endpoint), model_exists=False, config_exists=False)
    assert absent.kind == "create" and absent.actions[0].startswith("create model")
    same = plan_rollout(s, EndpointState(name=s.endpoint, status="InService", config=version_name(s)),
                        model_exists=True, config_exists=True)
    assert same.kind == "noop"
    other = plan_rollout(s, EndpointState(name=s.endpoint, status="InService", config="old-cfg"),
                         model_exists=False, config_exists=False, fallback="recreate")
    assert other.kind == "update" and other.previous == "old-cfg"
    assert any("delete + create" in a for a in other.actions) and any("switch back to old-cfg" in a for a in other.actions)
    failed = plan_rollout(s, EndpointState(name=s.endpoint, status="Failed", config=version_name(s)),
                          model_exists=True, config_exists=True)
    assert failed.kind == "repair"


def test_first_deploy_waits_for_inservice_then_smokes_and_rerun_does_nothing():
    clock = FakeClock()
    sm = FakeSageMaker(clock)
    smoked = []
    r = rollout(sm, clock, smoke=lambda ep: smoked.append(ep) or Smoke(True, "ok"))
    report = r.run(spec())
    assert report.plan.kind == "create" and report.switched_by == "create" and report.waited_s >= 30
    assert smoked == ["cato-shadow-self"]
    calls = list(sm.calls)
    again = r.run(spec())
    assert again.plan.kind == "noop" and sm.calls == calls  # idempotent: no call that changes anything


def test_update_is_blue_green_by_update_endpoint_keeping_the_old_config():
    clock = FakeClock()
    sm = FakeSageMaker(clock)
    rollout(sm, clock).run(spec())
    old = version_name(spec())
    new_spec = spec(environment={"HIDDEN_STATE_SIZE": "64", "X": "1"})
    report = rollout(sm, clock).run(new_spec)
    assert report.plan.kind == "update" and report.plan.previous == old
    assert report.switched_by == "update_endpoint"
    assert sm.endpoints["cato-shadow-self"]["config"] == version_name(new_spec)
    assert old in sm.configs  # kept for rollback


def test_update_unsupported_falls_back_to_recreate_only_when_allowed():
    clock = FakeClock()
    sm = FakeSageMaker(clock, update_supported=False)
    rollout(sm, clock).run(spec())
    with pytest.raises(UpdateUnsupported) as exc:
        rollout(sm, clock, fallback="none").run(spec(instance_count=2))
    assert "still serves the config it had" in exc.value.message and "recreate" in exc.value.hint
    assert sm.endpoints["cato-shadow-self"]["config"] == version_name(spec())
    report = rollout(sm, clock, fallback="recreate").run(spec(instance_count=2))
    assert report.switched_by == "recreate" and "delete_endpoint" in sm.calls


def test_smoke_failure_rolls_back_to_the_previous_config():
    clock = FakeClock()
    sm = FakeSageMaker(clock)
    rollout(sm, clock).run(spec())
    old = version_name(spec())
    bad = spec(image="123.dkr.ecr/x@sha256:bad")

    def smoke(ep):  # the new config answers without hidden states; the old one is fine
        cfg = sm.endpoints[ep]["config"]
        return Smoke(cfg != version_name(bad), "no hidden_states in the answer" if cfg == version_name(bad) else "ok")

    with pytest.raises(ExternalError) as exc:
        rollout(sm, clock, smoke=smoke).run(bad)
    assert "rolled back because its smoke invocation failed: no hidden_states" in exc.value.message
    assert "answers its smoke invocation again" in exc.value.message
    assert sm.endpoints["cato-shadow-self"]["config"] == old
    assert sm.calls[-1] == f"update_endpoint:{old}"
    assert exc.value.details["previous_config"] == old


def test_new_config_that_never_gets_healthy_is_reported_with_the_failure_reason():
    clock = FakeClock()
    sm = FakeSageMaker(clock)
    rollout(sm, clock).run(spec())
    bad = spec(image="123.dkr.ecr/x@sha256:crash")
    sm.failing.add(version_name(bad))
    with pytest.raises(ExternalError) as exc:
        rollout(sm, clock).run(bad)
    assert "SageMaker rolled the update back itself" in exc.value.message
    assert "failed health checks" in exc.value.message
    assert sm.endpoints["cato-shadow-self"]["config"] == version_name(spec())


def test_first_deploy_that_fails_has_nothing_to_roll_back_to():
    clock = FakeClock()
    sm = FakeSageMaker(clock)
    sm.failing.add(version_name(spec()))
    with pytest.raises(ExternalError) as exc:
        rollout(sm, clock).run(spec())
    assert "is Failed (FailureReason: container did not pass /ping)" in exc.value.message
    assert "CloudWatch" in exc.value.hint
    # A re-run after the cause is fixed repairs it (delete + create on the same config).
    sm.failing.clear()
    report = rollout(sm, clock).run(spec())
    assert report.plan.kind == "repair" and report.switched_by == "recreate"


def test_wait_times_out_with_the_status():
    clock = FakeClock()
    sm = FakeSageMaker(clock, provision_s=10_000)
    with pytest.raises(ExternalError) as exc:
        rollout(sm, clock).run(spec())
    assert "still Creating after 600s" in exc.value.message
