"""Settings: `cato-migrate.toml` in the working directory, overridden by `CATO_*` variables.

The toml may hold per-environment overrides under `[environments.<env>]`.
"""
from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from cato_migrate.errors import BadInput

Env = Literal["local", "staging", "production"]
CONFIG_FILE = "cato-migrate.toml"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CATO_", extra="forbid")

    env: Env = Field(default="local", description="Environment: local (sandbox), staging, production.")
    output: Literal["table", "json"] = Field(default="table", description="Output format.")
    yes: bool = Field(default=False, description="Answer yes to confirmations (production).")
    actor: str = Field(default="", description="Who is running commands; default user@host.")
    work_dir: Path = Field(default=Path(".cato-migrate"), description="Local state directory (sandbox state, SQLite journal).")
    state_url: str = Field(default="", description="State store: a SQLite path, or dynamodb://TABLE?region=R. Default: <work_dir>/state.db.")
    runbook_dir: Path | None = Field(default=None, description="Runbook data directory; default: the runbook/ shipped with the project.")
    region: str = Field(default="us-east-1", description="AWS region.")
    appconfig_endpoint_url: str = Field(default="", description="AppConfig endpoint override (local: the sandbox's).")
    appconfigdata_endpoint_url: str = Field(default="", description="AppConfig data endpoint override (local: the sandbox's).")
    dynamodb_endpoint_url: str = Field(default="", description="DynamoDB endpoint override for the state store.")
    replica_regions: list[str] = Field(default_factory=lambda: ["us-west-2"], description="Regions that hold global-table replicas of the memory tables (besides `region`).")
    tables_endpoint_url: str = Field(default="", description="DynamoDB endpoint override for the memory tables (local: the sandbox's DynamoDB layer).")
    opensearch_endpoint_url: str = Field(default="", description="OpenSearch Serverless control-plane endpoint override (local: the sandbox's moto).")
    appconfig_application: str = Field(default="cato", description="AppConfig application name.")
    appconfig_environment: str = Field(default="", description="AppConfig environment name; default: the --env name.")
    appconfig_profile: str = Field(default="orchestration", description="AppConfig feature-flag profile name.")
    flag_name: str = Field(default="use_new_orchestrator", description="Feature flag key.")
    canary_strategy: str = Field(default="cato-canary", description="Deployment strategy for raising/lowering traffic.")
    canary_deploy_minutes: float = Field(default=2.0, ge=0, description="Canary strategy deployment duration.")
    canary_bake_minutes: float = Field(default=1.0, ge=0, description="Canary strategy final bake time.")
    canary_growth_percent: float = Field(default=20.0, gt=0, le=100, description="Canary strategy growth per step.")
    rollback_strategy: str = Field(default="cato-rollback-zero-bake", description="Zero-bake strategy used by rollback --quick.")
    deployment_timeout_seconds: float = Field(default=3600.0, gt=0, description="How long canary set waits for a deployment.")
    lock_ttl_seconds: float = Field(default=60.0, gt=0, description="Lock lease length; the holder renews it while running.")
    orchestrator_url: str = Field(default="", description="Orchestrator base URL (local: the sandbox's).")
    orchestrator_admin_token: str = Field(default="", description="Bearer token for the orchestrator's /admin API.")
    orchestrator_api_key: str = Field(default="", description="Client API key the probes send to the orchestrator's "
                                                                "OpenAI API (local: the sandbox's litellm.key).")
    sandbox_minute_seconds: float = Field(default=1.0, gt=0, description="Sandbox: real seconds per AppConfig strategy minute.")
    sandbox_ingress: Literal["proxy", "haproxy"] = Field(
        default="haproxy", description="Sandbox: Ray Serve ingress for the orchestrator (haproxy = Ray 2.60's "
                                       "high-throughput ingress, as production ships; proxy = Ray's Python proxy, "
                                       "the fallback; see the README).")
    kubeconfig: str = Field(default="", description="Kubeconfig path for staging/production (default: the client's usual lookup).")
    kube_context: str = Field(default="", description="Kubeconfig context to use (default: current context).")
    helm_binary: str = Field(default="", description="Pinned helm binary (default: <venv>/bin/helm installed by make setup).")
    workload_namespace: str = Field(default="cato", description="Namespace of both stacks' workloads.")
    legacy_workload: str = Field(default="litellm", description="The legacy LiteLLM Deployment's name.")
    orchestrator_workload: str = Field(default="cato-orchestrator", description="The orchestrator RayService's name.")
    legacy_url: str = Field(default="", description="The legacy LiteLLM proxy's base URL, measured by the no-regression check (local: the sandbox's litellm; it takes the same client key as the orchestrator).")
    gateway_url: str = Field(default="", description="Gateway metrics base URL (local: the sandbox's gateway).")
    sagemaker_endpoint_url: str = Field(default="", description="SageMaker control-plane endpoint override (local: the sandbox's moto server).")
    sagemaker_runtime_endpoint_url: str = Field(default="", description="SageMaker runtime endpoint override (local: the sandbox's model simulator).")
    sagemaker_execution_role_arn: str = Field(default="", description="IAM role SageMaker models run as (required outside local).")
    sagemaker_update_fallback: Literal["auto", "none", "recreate"] = Field(default="auto", description="When UpdateEndpoint is unavailable: none = stop; recreate = delete and create the endpoint (down until InService); auto = recreate on local only.")
    sagemaker_poll_seconds: float = Field(default=15.0, gt=0, description="How often to poll an endpoint's status while it deploys.")
    sagemaker_wait_timeout_seconds: float = Field(default=1800.0, gt=0, description="Longest wait for an endpoint to reach InService.")
    ecr_endpoint_url: str = Field(default="", description="ECR endpoint override (local: the sandbox's moto server).")
    deploy_root: Path | None = Field(default=None, description="Root of the deployment files (k8s/, config/, dependency files) that decommission archives and the Phase 4 check scans; local default: <work_dir>/deploy.")
    legacy_replicas: int = Field(default=2, ge=1, description="Replicas a full rollback scales LiteLLM back up to (at least; never lowers it).")
    rollout_timeout_seconds: float = Field(default=600.0, gt=0, description="How long to wait for a workload to become ready (or to stop).")
    drain_timeout_seconds: float = Field(default=300.0, gt=0, description="Full rollback: longest wait for in-flight requests to the orchestrator to drain.")
    drain_quiet_seconds: float = Field(default=5.0, ge=0, description="Full rollback: the orchestrator must see no new requests for this long before it is scaled to 0.")

    @property
    def appconfig_env_name(self) -> str:
        return self.appconfig_environment or self.env

    @property
    def state_location(self) -> str:
        return self.state_url or str(self.work_dir / "state.db")


def load_settings(cwd: Path | None = None, **overrides) -> Settings:
    """Defaults < toml (top level, then [environments.<env>]) < CATO_* < explicit overrides."""
    cwd = cwd or Path.cwd()
    file_values: dict = {}
    path = cwd / CONFIG_FILE
    if path.exists():
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise BadInput(f"{path}: not valid TOML: {exc}") from exc
        envs = data.pop("environments", {})
        file_values.update(data)
        env = overrides.get("env") or os.environ.get("CATO_ENV") or data.get("env") or "local"
        file_values.update(envs.get(env, {}))
    explicit = {k: v for k, v in overrides.items() if v is not None}
    env_vars = {k[5:].lower() for k in os.environ if k.startswith("CATO_")}
    merged = {k: v for k, v in file_values.items() if k not in env_vars}
    merged.update(explicit)
    try:
        return Settings(**merged)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        raise BadInput(f"invalid settings ({CONFIG_FILE} or CATO_* variables): {problems}") from exc
