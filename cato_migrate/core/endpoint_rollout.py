"""Deploying a model to a SageMaker real-time endpoint, blue/green, with rollback.

    desired ModelSpec --content hash--> model `<endpoint>-<hash>` + endpoint config `<endpoint>-<hash>`

* first deploy: model -> endpoint config -> endpoint, wait for InService, smoke invocation;
* same spec again: nothing changes (the names are the hash, so "already there" is a lookup);
* changed spec: a NEW model + config beside the old ones, then the endpoint is switched to
  it. The switch is `UpdateEndpoint` (SageMaker provisions the new fleet and moves traffic
  only once it is healthy). Where UpdateEndpoint is not available (moto 5.2.5 answers 500)
  and the operator allowed it (`fallback="recreate"`, the sandbox's default), the endpoint is
  deleted and created again on the new config: callers keep the endpoint's name, but it does
  not answer between the delete and InService. Production never falls back silently.
* the new config does not reach InService, or its smoke invocation fails: switch back to the
  previous config the same way, wait, smoke it, and raise with what happened.

`plan_rollout` is pure; `run_rollout` drives a `ModelEndpoints` port with an injected clock.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

from pydantic import Field

from cato_migrate.core.model import CoreModel, Record
from cato_migrate.errors import ExternalError
from cato_migrate.backend_ports import ModelEndpoints

TERMINAL = ("InService", "Failed", "OutOfService", "UpdateRollbackFailed")
NAME_MAX = 63  # SageMaker names: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}
Fallback = Literal["none", "recreate"]


class ModelSpec(CoreModel):
    """What we want an endpoint to serve."""

    endpoint: str = Field(description="Endpoint name; callers invoke this name.")
    image: str = Field(description="Container image URI, pinned by digest where known (repo@sha256:...).")
    instance_type: str = Field(description="SageMaker instance type, e.g. ml.g5.12xlarge.")
    instance_count: int = Field(default=1, ge=1, description="Instances behind the endpoint.")
    environment: dict[str, str] = Field(default_factory=dict, description="Container environment.")
    execution_role_arn: str = Field(description="IAM role SageMaker assumes to pull the image.")


class EndpointState(Record):
    """What DescribeEndpoint says; status None means the endpoint does not exist."""

    name: str = Field(description="Endpoint name.")
    status: str | None = Field(default=None, description="EndpointStatus, or None if absent.")
    config: str | None = Field(default=None, description="The endpoint config it runs.")
    failure_reason: str | None = Field(default=None, description="FailureReason, when SageMaker gives one.")


class DeployedModel(Record):
    """The model behind an endpoint's current config."""

    endpoint: EndpointState = Field(description="The endpoint.")
    model: str = Field(description="Model name.")
    image: str = Field(description="Container image URI.")
    environment: dict[str, str] = Field(default_factory=dict, description="Container environment.")
    instance_type: str = Field(default="", description="Instance type of the first variant.")


class UpdateUnsupported(ExternalError):
    """The service cannot switch the endpoint in place (moto's UpdateEndpoint answers 500)."""


# --- pure planning ------------------------------------------------------------------------

def spec_hash(spec: ModelSpec) -> str:
    """8 hex chars over everything that changes what the endpoint serves."""
    canon = json.dumps(spec.model_dump(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canon.encode()).hexdigest()[:8]


def version_name(spec: ModelSpec) -> str:
    """The model's and the endpoint config's name: `<endpoint>-<hash>`, within SageMaker's 63."""
    h = spec_hash(spec)
    return f"{spec.endpoint[:NAME_MAX - len(h) - 1].rstrip('-')}-{h}"


class RolloutPlan(Record):
    kind: Literal["noop", "create", "update", "repair"] = Field(description="What the rollout does.")
    endpoint: str = Field(description="Endpoint name.")
    target: str = Field(description="Model and endpoint config name of the desired spec.")
    previous: str | None = Field(default=None, description="Config the endpoint runs now (rollback target).")
    actions: list[str] = Field(default_factory=list, description="Ordered actions, for people.")


def plan_rollout(spec: ModelSpec, observed: EndpointState, *, model_exists: bool, config_exists: bool,
                 fallback: Fallback = "none") -> RolloutPlan:
    target = version_name(spec)
    actions = []
    if not model_exists:
        actions.append(f"create model {target} (image {spec.image})")
    if not config_exists:
        actions.append(f"create endpoint config {target} ({spec.instance_count} x {spec.instance_type})")
    smoke = "smoke-invoke it"
    if observed.status is None:
        actions += [f"create endpoint {spec.endpoint} on {target}", "wait for InService", smoke]
        return RolloutPlan(kind="create", endpoint=spec.endpoint, target=target, actions=actions)
    if observed.config == target and observed.status == "InService":
        return RolloutPlan(kind="noop", endpoint=spec.endpoint, target=target, previous=target,
                           actions=[f"endpoint {spec.endpoint} already serves {target}: nothing to do"])
    if observed.config == target:
        # Our config, but Failed/OutOfService/still updating: wait if in flight, else rebuild.
        if observed.status in TERMINAL:
            actions += [f"endpoint {spec.endpoint} is {observed.status} on {target}: delete and create it again",
                        "wait for InService", smoke]
        else:
            actions += [f"endpoint {spec.endpoint} is {observed.status} on {target}: wait for InService", smoke]
        return RolloutPlan(kind="repair", endpoint=spec.endpoint, target=target, actions=actions)
    switch = "UpdateEndpoint (blue/green by SageMaker)"
    switch += "; if unavailable, delete + create (the endpoint is down until InService)" if fallback == "recreate" \
        else "; no fallback if unavailable"
    actions += [f"switch endpoint {spec.endpoint} from {observed.config} to {target}: {switch}",
                "wait for InService", smoke,
                f"on failure: switch back to {observed.config}, wait, smoke, and stop with the reason"]
    return RolloutPlan(kind="update", endpoint=spec.endpoint, target=target, previous=observed.config,
                       actions=actions)


# --- execution ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Smoke:
    ok: bool
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)


SmokeFn = Callable[[str], Smoke]


@dataclass
class RolloutReport:
    plan: RolloutPlan
    switched_by: str = ""        # "", "create", "update_endpoint", "recreate"
    waited_s: float = 0.0
    smoke: Smoke | None = None
    events: list[str] = field(default_factory=list)

    def evidence(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.plan.kind, "endpoint": self.plan.endpoint, "config": self.plan.target,
                               "previous_config": self.plan.previous, "switched_by": self.switched_by,
                               "waited_s": round(self.waited_s, 3), "events": self.events}
        if self.smoke:
            out["smoke"] = {"ok": self.smoke.ok, "message": self.smoke.message, **self.smoke.evidence}
        return out


@dataclass
class Rollout:
    port: ModelEndpoints
    clock: Any
    smoke: SmokeFn
    fallback: Fallback = "none"
    timeout_s: float = 1800.0
    poll_s: float = 15.0
    progress: Callable[[str], None] = lambda msg: None
    heartbeat: Callable[[], None] = lambda: None  # e.g. ctx.ensure_held: a preempted command stops waiting

    def plan(self, spec: ModelSpec) -> RolloutPlan:
        target = version_name(spec)
        return plan_rollout(spec, self.port.describe_endpoint(spec.endpoint),
                            model_exists=self.port.model_exists(target),
                            config_exists=self.port.config_exists(target), fallback=self.fallback)

    def run(self, spec: ModelSpec) -> RolloutReport:
        plan = self.plan(spec)
        report = RolloutReport(plan)
        if plan.kind == "noop":
            report.events.append("nothing to do: the endpoint already serves this spec")
            return report
        target = plan.target
        if not self.port.model_exists(target):
            self.port.create_model(target, spec)
            report.events.append(f"created model {target}")
        if not self.port.config_exists(target):
            self.port.create_endpoint_config(target, target, spec)
            report.events.append(f"created endpoint config {target}")
        observed = self.port.describe_endpoint(spec.endpoint)
        if observed.status is None:
            self.port.create_endpoint(spec.endpoint, target)
            report.switched_by = "create"
            report.events.append(f"created endpoint {spec.endpoint} on {target}")
        elif observed.config == target:
            if observed.status in TERMINAL and observed.status != "InService":
                self._recreate(spec.endpoint, target)
                report.switched_by = "recreate"
                report.events.append(f"endpoint was {observed.status}; recreated it on {target}")
        else:
            report.switched_by = self._switch(spec.endpoint, target)
            report.events.append(f"switched {spec.endpoint} to {target} by {report.switched_by}")
        problem = self._settle(spec.endpoint, target, report)
        if problem is None:
            report.smoke = self.smoke(spec.endpoint)
            if report.smoke.ok:
                report.events.append(f"smoke invocation passed: {report.smoke.message}")
                return report
            problem = f"its smoke invocation failed: {report.smoke.message}"
        raise self._rollback(spec.endpoint, plan.previous, target, problem, report)

    # -- helpers -------------------------------------------------------------------------------
    def _switch(self, endpoint: str, config: str) -> str:
        try:
            self.port.update_endpoint(endpoint, config)
            return "update_endpoint"
        except UpdateUnsupported as exc:
            if self.fallback != "recreate":
                raise UpdateUnsupported(
                    f"cannot switch endpoint {endpoint} to {config}: {exc.message}; the endpoint was not "
                    f"switched and still serves the config it had", hint="retry later; to accept downtime, set "
                    "sagemaker_update_fallback = \"recreate\" (the endpoint is deleted and created again)") from exc
            self.progress(f"UpdateEndpoint is unavailable ({exc.message[:80]}); recreating {endpoint} on {config}")
            self._recreate(endpoint, config)
            return "recreate"

    def _recreate(self, endpoint: str, config: str) -> None:
        self.port.delete_endpoint(endpoint)
        deadline = self.clock.now() + self.timeout_s
        while self.port.describe_endpoint(endpoint).status is not None:
            if self.clock.now() >= deadline:
                raise ExternalError(f"endpoint {endpoint} is still being deleted after {self.timeout_s:.0f}s",
                                    hint="check it in the SageMaker console, then run the step again")
            self.clock.sleep(self.poll_s)
        self.port.create_endpoint(endpoint, config)

    def wait(self, endpoint: str) -> tuple[EndpointState, float]:
        """Poll until a terminal status or the timeout; (last state, seconds waited)."""
        start = self.clock.now()
        seen = None
        while True:
            state = self.port.describe_endpoint(endpoint)
            if state.status != seen:
                self.progress(f"endpoint {endpoint}: {state.status or 'absent'} ({state.config})")
                seen = state.status
            if state.status is None or state.status in TERMINAL or self.clock.now() - start >= self.timeout_s:
                return state, self.clock.now() - start
            self.heartbeat()
            self.clock.sleep(self.poll_s)

    def _settle(self, endpoint: str, target: str, report: RolloutReport) -> str | None:
        """None when the endpoint is InService on `target`; else why not."""
        state, waited = self.wait(endpoint)
        report.waited_s += waited
        reason = f" (FailureReason: {state.failure_reason})" if state.failure_reason else ""
        if state.status == "InService" and state.config == target:
            report.events.append(f"InService on {target} after {waited:.1f}s")
            return None
        if state.status == "InService":
            return f"SageMaker rolled the update back itself and serves {state.config}{reason}"
        if state.status is None:
            return "the endpoint disappeared while waiting"
        if state.status not in TERMINAL:
            return f"it is still {state.status} after {self.timeout_s:.0f}s{reason}"
        return f"it is {state.status}{reason}"

    def _rollback(self, endpoint: str, previous: str | None, target: str, problem: str,
                  report: RolloutReport) -> ExternalError:
        if previous is None or previous == target:
            report.events.append(f"no previous config to roll back to: {problem}")
            return ExternalError(f"endpoint {endpoint} on {target} is not serving: {problem}",
                                 hint="read the endpoint's CloudWatch logs (/aws/sagemaker/Endpoints/"
                                      f"{endpoint}), fix the image or spec, and run the step again",
                                 details=report.evidence())
        self.progress(f"rolling {endpoint} back to {previous}: {problem}")
        state = self.port.describe_endpoint(endpoint)
        if state.status == "InService" and state.config == previous:
            back = "none needed (SageMaker already rolled back)"
        elif state.status in (None, "Failed", "OutOfService", "UpdateRollbackFailed"):
            if state.status is None:
                self.port.create_endpoint(endpoint, previous)
            else:
                self._recreate(endpoint, previous)
            back = "recreate"
        else:
            back = self._switch(endpoint, previous)
        report.events.append(f"rolled back to {previous} by {back}")
        settled = self._settle(endpoint, previous, report)
        again = self.smoke(endpoint) if settled is None else None
        details = report.evidence()
        if settled is None and again is not None and again.ok:
            outcome = f"rolled back to {previous}, which answers its smoke invocation again"
        elif settled is None and again is not None:
            outcome = f"rolled back to {previous}, but its smoke invocation fails too: {again.message}"
        else:
            outcome = f"rolling back to {previous} did not settle: {settled}"
        details["rollback"] = outcome
        return ExternalError(f"endpoint {endpoint}: the new config {target} was rolled back because {problem}; "
                             f"{outcome}",
                             hint=f"the model and config {target} are kept for inspection; read the endpoint's "
                                  "CloudWatch logs, fix the image or spec, and run the step again",
                             details=details)
