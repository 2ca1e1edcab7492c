"""Settings: `cato-migrate.toml` in the working directory, overridden by `CATO_*` variables.

The toml may hold per-environment overrides under `[environments.<env>]`.
"""
from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cato_migrate.errors import BadInput

Env = Literal["local", "staging", "production"]
CONFIG_FILE = "cato-migrate.toml"
# The runbook's measurable rollback triggers on the new stack, as CloudWatch alarms (sandbox/alarms.py).
DEFAULT_ALARM_NAMES = ("cato-new-stack-error-rate", "cato-new-stack-p99-latency")
_ROLE_ARN = r"^$|^arn:(aws|aws-cn|aws-iso|aws-iso-[a-z]|aws-us-gov|aws-eusc):iam::\d{12}:role/.+$"


ENV_PREFIX = "CATO_"


def env_values(environ: Any = None) -> dict[str, str]:
    """Each setting's CATO_<NAME> variable (the name case-insensitive), as the raw string."""
    environ = os.environ if environ is None else environ
    fields = Settings.model_fields
    return {k[len(ENV_PREFIX):].lower(): v for k, v in environ.items()
            if k[:len(ENV_PREFIX)].upper() == ENV_PREFIX and k[len(ENV_PREFIX):].lower() in fields}


class Settings(BaseModel):
    """Built from keyword arguments over CATO_* variables over defaults (what pydantic-settings'
    BaseSettings did, without its import cost: ~100 ms on every command; see bench/startup.py)."""

    # allow_inf_nan=False: `CATO_LOCK_TTL_SECONDS=inf` is a typo to report, not a lease that never ends.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, validate_default=True)

    def __init__(self, **values: Any) -> None:
        super().__init__(**{**env_values(), **values})

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
    replica_regions: list[str] = Field(default_factory=lambda: ["us-west-2"], description="Regions that hold global-table replicas of the memory tables (besides `region`); as a variable: `us-west-2,eu-west-1` or a JSON list.")
    tables_endpoint_url: str = Field(default="", description="DynamoDB endpoint override for the memory tables (local: the sandbox's DynamoDB layer).")
    opensearch_endpoint_url: str = Field(default="", description="OpenSearch Serverless control-plane endpoint override (local: the sandbox's moto).")
    appconfig_application: str = Field(default="cato", description="AppConfig application name.")
    appconfig_environment: str = Field(default="", description="AppConfig environment name; default: the --env name.")
    appconfig_profile: str = Field(default="orchestration", description="AppConfig feature-flag profile name.")
    appconfig_alarm_names: list[str] = Field(default_factory=lambda: list(DEFAULT_ALARM_NAMES), max_length=5, description="CloudWatch alarms (names, in `region`) attached to the AppConfig environment as monitors: AppConfig rolls a deployment back when one is in ALARM while it deploys or bakes. Your infrastructure creates them (on the sandbox, `sandbox up` does); `canary set` attaches those that exist and `doctor` reports missing ones. As a variable: comma-separated; empty: no monitors.")
    appconfig_alarm_role_arn: str = Field(default="", pattern=_ROLE_ARN, description="IAM role AppConfig assumes to read the monitors' alarms (needs cloudwatch:DescribeAlarms), sent as each monitor's AlarmRoleArn; empty: none sent.")
    cloudwatch_endpoint_url: str = Field(default="", description="CloudWatch endpoint override, used to find the monitors' alarms (local: the sandbox's moto server).")
    flag_name: str = Field(default="use_new_orchestrator", description="Feature flag key.")
    canary_strategy: str = Field(default="cato-canary", description="Deployment strategy for raising/lowering traffic.")
    canary_deploy_minutes: float = Field(default=2.0, ge=0, description="Canary strategy deployment duration.")
    canary_bake_minutes: float = Field(default=1.0, ge=0, description="Canary strategy final bake time.")
    canary_growth_percent: float = Field(default=20.0, gt=0, le=100, description="Canary strategy growth per step.")
    rollback_strategy: str = Field(default="cato-rollback-zero-bake", description="Zero-bake strategy used by rollback --quick.")
    aws_max_attempts: int = Field(default=5, ge=1, le=10, description="AWS calls (AppConfig): attempts per call, the first included, in botocore's standard retry mode (throttling, 5xx, timeouts).")
    aws_read_timeout_seconds: float = Field(default=30.0, gt=0, le=300, description="AWS calls (AppConfig): seconds to wait for an answer before the attempt counts as failed.")
    deployment_timeout_seconds: float = Field(default=3600.0, gt=0, description="How long canary set waits for a deployment.")
    lock_ttl_seconds: float = Field(default=60.0, ge=10, le=3600, description="Lock lease length in seconds (10 s to 1 h); the holder renews it while running.")
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
    prometheus_url: str = Field(default="", description="Prometheus server base URL (http[s]://host:port) whose HTTP API `canary watch`/`canary analyze` query for per-stack figures (local: the sandbox's prometheus); unset: the gateway's /metrics is scraped directly.")
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
    legacy_min_ready: int = Field(default=1, ge=0, description="rollback --quick refuses (unless --force) when the legacy LiteLLM stack has fewer ready replicas than this.")
    redis_url: str = Field(default="", description="Session Redis/ElastiCache URL that `doctor` checks (local: the sandbox's redis).")
    notify_slack_url: str = Field(default="", description="Slack-compatible incoming-webhook URL for notifications (prefer notify_slack_url_file; never journaled).")
    notify_slack_url_file: Path | None = Field(default=None, description="File holding the Slack webhook URL (a mounted secret).")
    notify_webhook_url: str = Field(default="", description="Generic JSON webhook URL for notifications (prefer notify_webhook_url_file; never journaled).")
    notify_webhook_url_file: Path | None = Field(default=None, description="File holding the generic JSON webhook URL (a mounted secret).")
    notify_timeout_seconds: float = Field(default=3.0, gt=0, le=60, description="Timeout of one notification delivery attempt.")
    pricing_file: Path | None = Field(default=None, description="Prices per tier for `cost measure|status` (schema: orchestrator/pricing.py); default: the project's config/pricing.yaml.")
    cost_daily_budget_usd: float | None = Field(default=None, gt=0, description="Daily spend budget of the new stack in USD (> 0; unset: no budget). `cost status` and `doctor` warn, and the notifier sends budget.exceeded, when today's spend is over it.")
    drain_quiet_seconds: float = Field(default=5.0, ge=0, description="Full rollback: the orchestrator must see no new requests for this long before it is scaled to 0.")

    @field_validator("prometheus_url")
    @classmethod
    def _prometheus_base_url(cls, value: str) -> str:
        """A base URL the HTTP API hangs off (`<url>/api/v1/query`); a typo must not read as "no Prometheus"."""
        from urllib.parse import urlparse

        text = value.strip()
        if not text:
            return ""
        u = urlparse(text)
        if u.scheme not in ("http", "https") or not u.hostname or u.query or u.fragment:
            raise ValueError("must be an http:// or https:// base URL such as http://prometheus:9090 "
                             "(no query string)")
        try:
            _ = u.port  # urlparse checks the port only when it is read
        except ValueError:
            raise ValueError("has a port that is not a number from 0 to 65535") from None
        return text.rstrip("/")

    @field_validator("replica_regions", "appconfig_alarm_names", mode="before")
    @classmethod
    def _regions_list(cls, value: Any) -> Any:
        """`us-west-2,eu-west-1` (what people type) or a JSON list; anything else is left to the type check."""
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("["):
            try:
                return json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not a JSON list ({exc.msg}); write us-west-2,eu-west-1 or [\"us-west-2\"]") from None
        return [part.strip() for part in text.split(",") if part.strip()]

    @property
    def appconfig_env_name(self) -> str:
        return self.appconfig_environment or self.env

    @property
    def state_location(self) -> str:
        return self.state_url or str(self.work_dir / "state.db")


ENVIRONMENTS: tuple[str, ...] = get_args(Env)
# CATO_* variables that other components read (the orchestrator, the sandbox's LiteLLM and gateway,
# the load test, the orchestrator's manifest); not settings of this CLI, but not typos either.
OTHER_COMPONENTS_VARS = frozenset({
    "CATO_ORCHESTRATOR_API_KEYS", "CATO_ORCHESTRATOR_CONFIG", "CATO_LEGACY_API_BASE", "CATO_LEGACY_API_KEY",
    "CATO_GATEWAY_NEW_COMPONENT", "CATO_LOAD_API_KEY", "CATO_SESSIONS_TABLE", "CATO_FACTS_TABLE",
})


def unknown_env_vars(environ: dict[str, str] | None = None) -> list[str]:
    """CATO_* names that no setting and no other component reads: most likely typos."""
    environ = os.environ if environ is None else environ
    known = {f"CATO_{name.upper()}" for name in Settings.model_fields} | OTHER_COMPONENTS_VARS
    return sorted(k for k in environ if k.startswith("CATO_") and k not in known)


def _read_toml(path: Path) -> dict:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"{path}: cannot read it: {exc.strerror or exc}",
                       hint=f"{CONFIG_FILE} must be a readable TOML file (or absent)") from exc
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise BadInput(f"{path}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x})",
                       hint="save the file as UTF-8") from exc
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{path}: not valid TOML: {exc}") from exc


def _environment_sections(path: Path, envs: Any) -> dict[str, dict]:
    """[environments.<env>] tables, checked: a typo such as [environments.prod] is an error, not ignored."""
    valid = ", ".join(ENVIRONMENTS)
    if not isinstance(envs, dict):
        raise BadInput(f"{path}: `environments` must be a table of [environments.<env>] sections ({valid})")
    unknown = sorted(set(envs) - set(ENVIRONMENTS))
    if unknown:
        raise BadInput(f"{path}: unknown environment(s) under [environments]: {', '.join(unknown)}; "
                       f"valid: {valid}")
    for name, section in envs.items():
        if not isinstance(section, dict):
            raise BadInput(f"{path}: [environments.{name}] must be a table of settings, "
                           f"got {type(section).__name__}")
    return envs


def _where(key: str, path: Path, top: dict, section: dict, env: str) -> str:
    if key in os.environ or f"CATO_{key.upper()}" in os.environ:
        return f"CATO_{key.upper()}"
    if key in section:
        return f"{path} [environments.{env}] {key}"
    if key in top:
        return f"{path}: {key}"
    return key


def load_settings(cwd: Path | None = None, **overrides) -> Settings:
    """Defaults < toml (top level, then [environments.<env>]) < CATO_* < explicit overrides."""
    cwd = cwd or Path.cwd()
    path = cwd / CONFIG_FILE
    top: dict = {}
    section: dict = {}
    env = overrides.get("env") or os.environ.get("CATO_ENV") or "local"
    if path.exists() or path.is_symlink():
        data = _read_toml(path)
        envs = _environment_sections(path, data.pop("environments", {}))
        top = data
        if not (overrides.get("env") or os.environ.get("CATO_ENV")) and isinstance(data.get("env"), str):
            env = data["env"]
        section = envs.get(env, {})
    file_values = {**top, **section}
    explicit = {k: v for k, v in overrides.items() if v is not None}
    env_vars = {k[5:].lower() for k in os.environ if k.startswith("CATO_")}
    merged = {k: v for k, v in file_values.items() if k not in env_vars}
    merged.update(explicit)
    try:
        return Settings(**merged)
    except ValidationError as exc:
        problems = []
        for e in exc.errors():
            key = str(e["loc"][0]) if e["loc"] else ""
            where = _where(key, path, top, section, env) if key else "settings"
            rest = ".".join(str(p) for p in e["loc"][1:])
            got = "" if e["type"] == "extra_forbidden" else f" (got {repr(e.get('input'))[:60]})"
            msg = "unknown setting" if e["type"] == "extra_forbidden" else e["msg"].removeprefix("Value error, ")
            problems.append(f"{where}{'.' + rest if rest else ''}: {msg}{got}")
        raise BadInput("invalid settings: " + "; ".join(problems),
                       hint=f"fix {CONFIG_FILE} or the CATO_* variable named; see the README's settings list") from exc
