"""What differs between environments, as data: steps and checks read a field here and never compare
environment names.

wiring.py builds the profile for the environment in force (`Services.environment()`): `cloud()` for
staging and production, `sandbox()` for the local rehearsal, whose stand-ins (moto's control planes,
the model simulator, no docker daemon, two cores, compressed minutes) explain every value that
differs there. A new environment is a new profile in wiring, not a new branch in each step.
"""
from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from cato_migrate.core.model import CoreModel

LEGACY_URL_HINT = "set legacy_url in cato-migrate.toml or CATO_LEGACY_URL"


class EnvironmentProfile(CoreModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="The environment this profile describes (for messages only).")
    sandbox_overrides: bool = Field(default=False, description="Runbook params' `sandbox:` figures replace the ones beside them (a two-core rehearsal cannot hold a staging load).")
    register_unbuilt_images: bool = Field(default=False, description="No docker daemon: container_image registers the build context's digest as an OCI manifest instead of building, and verifies by reading that manifest back.")
    default_kms_arn: str = Field(default="", description="KMS key ARN for an encryption policy that names none (moto requires one); empty: an AWS-owned key.")
    default_kms_label: str = Field(default="", description="How a plan names default_kms_arn.")
    require_reachable_collections: bool = Field(default=True, description="An OpenSearch collection nothing can reach (no VPC endpoint, not public) is refused.")
    control_plane: str = Field(default="AWS", description="What answers the AWS control-plane calls, as the evidence names it.")
    default_sagemaker_role: str = Field(default="", description="SageMaker execution role when none is configured; empty: configuring one is required.")
    sagemaker_fallback: Literal["recreate", "none"] = Field(default="none", description="What sagemaker_update_fallback=auto means here.")
    sagemaker_poll_cap_s: float | None = Field(default=None, gt=0, description="Upper bound on the SageMaker poll interval (a simulated endpoint is ready at once).")
    model_stand_ins: str = Field(default="", description="What stands in for SageMaker, said in a deploy plan; empty: the real service.")
    model_backends: str = Field(description="What answers the orchestrator's model calls, as a latency measurement names it.")
    episodic_index: str = Field(default="", description="Which index the episodic-memory probe reaches when it is not OpenSearch; empty: as the orchestrator reports.")
    replication_path: str = Field(default="", description="What replicates the global tables; empty: AWS DynamoDB between the configured regions.")
    breaker_fault: str = Field(default="with the orchestrator's admin fault switch (POST /admin/faults, time-bounded)", description="Where the breaker probe plants its backend fault, said in a plan.")
    dax_required: bool = Field(default=True, description="A semantic-memory read path other than DAX leaves the DAX criterion waiting.")
    legacy_url: str | None = Field(default=None, description="The legacy LiteLLM proxy's base URL, when known.")
    legacy_hint: str = Field(default=LEGACY_URL_HINT, description="What to do when no legacy URL is known.")
    minute_seconds: float = Field(default=60.0, gt=0, description="Real seconds per strategy minute (soak times).")
    model_calls_cost_money: bool = Field(default=True, description="Requests reach real Bedrock and SageMaker: a verb that sends many asks first.")
    start_hint: str = Field(default="", description="What brings this environment's stacks up, for a message that finds none; empty: configure them.")

    def poll_seconds(self, configured: float) -> float:
        """The configured poll interval, within this environment's cap."""
        return configured if self.sagemaker_poll_cap_s is None else min(configured, self.sagemaker_poll_cap_s)


def cloud(env: str, *, legacy_url: str | None = None) -> EnvironmentProfile:
    """Staging and production: real AWS, real backends, every guard on."""
    return EnvironmentProfile(name=env, model_backends=f"the {env} model backends", legacy_url=legacy_url)


SANDBOX_KMS_ARN = "arn:aws:kms:us-east-1:000000000000:key/cato-sandbox-placeholder"
SANDBOX_ROLE = "arn:aws:iam::123456789012:role/cato-sagemaker-sandbox"


def sandbox(*, minute_seconds: float, legacy_url: str | None = None) -> EnvironmentProfile:
    """The local rehearsal: moto's control planes (metadata only), the model simulator behind every
    tier, no docker daemon, two cores, compressed strategy minutes."""
    return EnvironmentProfile(
        name="local", sandbox_overrides=True, register_unbuilt_images=True,
        default_kms_arn=SANDBOX_KMS_ARN, default_kms_label="sandbox placeholder KMS ARN (moto requires one)",
        require_reachable_collections=False, control_plane="moto (metadata only)",
        default_sagemaker_role=SANDBOX_ROLE, sagemaker_fallback="recreate", sagemaker_poll_cap_s=0.2,
        model_stand_ins="sandbox: control plane = moto, invocations = model simulator",
        model_backends="the sandbox's model simulator",
        episodic_index="sandbox: the orchestrator's embedded vector index (no OpenSearch runs locally)",
        replication_path="sandbox: moto regions joined by the sandbox DynamoDB layer (wire-level replication)",
        breaker_fault="at the model simulator", dax_required=False, legacy_url=legacy_url,
        legacy_hint="the sandbox's litellm is not running (`cato-migrate sandbox up`)",
        minute_seconds=float(minute_seconds), model_calls_cost_money=False,
        start_hint="run `cato-migrate sandbox up` and `cato-migrate orchestrator install`")
