"""Deploy a model to a SageMaker real-time endpoint: blue/green, smoke-tested, rolled back on failure.

The image is resolved in ECR to its digest, so a rebuilt image under the same tag is a new spec
(and a new model + endpoint config); the rollout itself is `core.endpoint_rollout`. verify() =
the endpoint is InService on this spec's config AND a smoke invocation answers (for Shadow
Self: text plus hidden states of the configured size, judged exactly as the exit check does).
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from cato_migrate.core.environment import EnvironmentProfile
from cato_migrate.core.kinds import StepKind, Verification, register_step
from cato_migrate.core.model import CoreModel
from cato_migrate.errors import BadInput, ExternalError

NLI_SMOKE = {"premise": "The user lives in Paris and works at a bakery.", "hypothesis": "The user lives in Paris."}


class SandboxOverrides(CoreModel):
    instance_type: str | None = Field(default=None, description="Instance type on --env local (moto 5.2.5 rejects ml.g5/ml.g6 types).")
    environment: dict[str, str] = Field(default_factory=dict, description="Environment merged over `environment` on --env local (e.g. the simulator's hidden size).")


class SageMakerModelParams(CoreModel):
    model: Literal["shadow-self", "nli"] = Field(description="Which model: decides the smoke invocation.")
    endpoint: str = Field(pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,53}$", description="Endpoint name callers invoke.")
    image: str = Field(description="ECR repository name of the image (built by a container_image step).")
    tag: str = Field(default="v1", description="Image tag; resolved to its digest when deploying.")
    instance_type: str = Field(description="SageMaker instance type.")
    instance_count: int = Field(default=1, ge=1, description="Instances behind the endpoint.")
    environment: dict[str, str] = Field(default_factory=dict, description="Container environment (e.g. HIDDEN_STATE_SIZE).")
    sandbox: SandboxOverrides = Field(default_factory=SandboxOverrides, description="What differs on --env local, and why.")


def _settings_for(params: SageMakerModelParams, profile: EnvironmentProfile) -> tuple[str, dict[str, str]]:
    if not profile.sandbox_overrides:
        return params.instance_type, dict(params.environment)
    return params.sandbox.instance_type or params.instance_type, {**params.environment, **params.sandbox.environment}


def fallback_for(settings, profile: EnvironmentProfile) -> str:
    mode = settings.sagemaker_update_fallback
    return profile.sagemaker_fallback if mode == "auto" else mode


def build_spec(params: SageMakerModelParams, ctx):
    """The desired ModelSpec: the image pinned by digest (I/O: reads ECR)."""
    from cato_migrate.core.endpoint_rollout import ModelSpec

    s, profile = ctx.settings, ctx.services.environment()
    role = s.sagemaker_execution_role_arn or profile.default_sagemaker_role
    if not role:
        raise BadInput("no SageMaker execution role is configured; nothing was changed",
                       hint="set sagemaker_execution_role_arn in cato-migrate.toml or CATO_SAGEMAKER_EXECUTION_ROLE_ARN")
    image = ctx.services.container_registry().image(params.image, params.tag)
    if image is None:
        raise BadInput(f"image {params.image}:{params.tag} is not in ECR; nothing was changed",
                       hint="run the container_image step that builds it first (cato-migrate phase run 1)")
    instance_type, environment = _settings_for(params, profile)
    return ModelSpec(endpoint=params.endpoint, image=image.pinned, instance_type=instance_type,
                     instance_count=params.instance_count, environment=environment, execution_role_arn=role)


def smoke_for(params: SageMakerModelParams, port, environment: dict[str, str]):
    from cato_migrate.checks.nli_accuracy import answer_label
    from cato_migrate.checks.sagemaker_hidden_states import expected_size, judge_shadow_answer, shadow_request
    from cato_migrate.core.endpoint_rollout import Smoke

    def smoke(endpoint: str) -> Smoke:
        body = shadow_request("Hello, Cato!") if params.model == "shadow-self" else NLI_SMOKE
        try:
            answer, ms = port.invoke(endpoint, body)
        except ExternalError as exc:
            return Smoke(False, exc.message)
        if params.model == "nli":
            label = answer_label(answer)
            return Smoke(label is not None, f"label {label}" if label else f"no NLI label in {str(answer)[:120]}",
                         {"latency_ms": round(ms, 1), "label": label})
        size, _ = expected_size(None, environment)
        if size is None:
            return Smoke(False, "HIDDEN_STATE_SIZE is not set in the model's environment")
        problems, evidence = judge_shadow_answer(answer, size)
        return Smoke(not problems, "; ".join(problems) or f"text and {size} hidden-state values",
                     {**evidence, "latency_ms": round(ms, 1)})

    return smoke


def make_rollout(params: SageMakerModelParams, ctx, environment: dict[str, str]):
    from cato_migrate.core.endpoint_rollout import Rollout

    s, profile = ctx.settings, ctx.services.environment()
    port = ctx.services.model_endpoints()
    return Rollout(port=port, clock=ctx.clock, smoke=smoke_for(params, port, environment),
                   fallback=fallback_for(s, profile), timeout_s=s.sagemaker_wait_timeout_seconds,
                   poll_s=profile.poll_seconds(s.sagemaker_poll_seconds),
                   progress=ctx.progress, heartbeat=ctx.ensure_held)


@register_step
class SageMakerModel(StepKind):
    name = "sagemaker_model"
    Params = SageMakerModelParams

    def plan(self, step, params, ctx) -> str:
        profile = ctx.services.environment()
        instance_type, environment = _settings_for(params, profile)
        fallback = fallback_for(ctx.settings, profile)
        local = f" ({profile.model_stand_ins})" if profile.model_stand_ins else ""
        smoke = ("text + hidden states of size HIDDEN_STATE_SIZE=" + environment.get("HIDDEN_STATE_SIZE", "?")
                 if params.model == "shadow-self" else "a valid entailment/neutral/contradiction label")
        return (f"deploy {params.model} to endpoint {params.endpoint}{local}: pin ECR image {params.image}:{params.tag} "
                f"to its digest; model + endpoint config {params.endpoint}-<spec hash> "
                f"({params.instance_count} x {instance_type}); endpoint absent -> create it; same spec -> nothing; "
                f"another config -> blue/green switch by UpdateEndpoint"
                + (", falling back to delete + create (down until InService)" if fallback == "recreate" else
                   ", no fallback") +
                f"; wait for InService; smoke: {smoke}; on failure roll back to the previous config")

    def apply(self, step, params, ctx) -> dict:
        spec = build_spec(params, ctx)
        report = make_rollout(params, ctx, spec.environment).run(spec)
        ctx.audit("sagemaker.deploy", params.endpoint, ctx.reason, kind=report.plan.kind, config=report.plan.target,
                  previous=report.plan.previous, image=spec.image, switched_by=report.switched_by)
        return {**report.evidence(), "image": spec.image, "instance_type": spec.instance_type}

    def verify(self, step, params, ctx) -> Verification:
        from cato_migrate.core.endpoint_rollout import version_name

        spec = build_spec(params, ctx)
        port = ctx.services.model_endpoints()
        state = port.describe_endpoint(params.endpoint)
        target = version_name(spec)
        evidence = {"endpoint": params.endpoint, "status": state.status, "config": state.config, "expected_config": target}
        if state.status != "InService" or state.config != target:
            return Verification(False, f"endpoint {params.endpoint} is {state.status or 'absent'} on "
                                f"{state.config} (expected InService on {target})", evidence)
        smoke = smoke_for(params, port, spec.environment)(params.endpoint)
        evidence["smoke"] = {"ok": smoke.ok, "message": smoke.message, **smoke.evidence}
        if not smoke.ok:
            return Verification(False, f"endpoint {params.endpoint} is InService but its smoke invocation "
                                f"failed: {smoke.message}", evidence)
        return Verification(True, f"endpoint {params.endpoint} InService on {target}; smoke: {smoke.message}", evidence)
