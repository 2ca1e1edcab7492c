"""Settings -> adapters. The one place that chooses which adapter serves which port."""
from __future__ import annotations

import getpass
import os
import socket
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from typing import TYPE_CHECKING, Callable

from cato_migrate import backend_ports, ports
from cato_migrate.core.clock import SystemClock
from cato_migrate.core.context import RunContext
from cato_migrate.core.loader import load_runbook
from cato_migrate.errors import BadInput
from cato_migrate.settings import Settings

if TYPE_CHECKING:
    from cato_migrate.adapters.gateway_metrics import GatewayScrape
    from cato_migrate.core.environment import EnvironmentProfile
    from cato_migrate.ports import StateStore


def default_actor() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in some containers
        user = os.environ.get("USER", "unknown")
    return f"{user}@{socket.gethostname()}"


def make_store(settings: Settings, *, create: bool = False) -> StateStore:
    """The state store `state_url` names. `create` (`state init`) makes a DynamoDB table; nothing
    else does, so a mistyped table name is an error, not a new empty journal and a second lock."""
    loc = settings.state_location
    if settings.env != "local" and not settings.state_url.strip():
        raise BadInput(
            f"{settings.env} needs a shared state store, and state_url is not set: a SQLite file under "
            f"{settings.work_dir} would give each directory its own journal and its own lock; nothing was changed",
            hint=f'set state_url = "dynamodb://TABLE?region={settings.region}" under [environments.{settings.env}] '
                 "in cato-migrate.toml (or CATO_STATE_URL), then run `cato-migrate state init` once; "
                 "a SQLite path (sqlite:///PATH) is accepted only when named there explicitly")
    if loc.startswith("dynamodb://"):
        from cato_migrate.adapters.dynamodb_store import DynamoStateStore

        u = urlparse(loc)
        region = parse_qs(u.query).get("region", [settings.region])[0]
        endpoint = settings.dynamodb_endpoint_url or None
        if endpoint is None and settings.env == "local":
            endpoint = sandbox_url(settings, "moto")
            if endpoint is None:
                raise BadInput("CATO_STATE_URL is a DynamoDB table but the local sandbox is not running",
                               hint="run `cato-migrate sandbox up` first")
            os.environ.setdefault("AWS_ACCESS_KEY_ID", "sandbox")
            os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "sandbox")
        if not u.netloc:
            raise BadInput(f"CATO_STATE_URL {loc!r} names no table; use dynamodb://TABLE?region=R")
        return DynamoStateStore(u.netloc, region=region, endpoint_url=endpoint, create=create)
    if "://" in loc and not loc.startswith("sqlite://"):
        raise BadInput(f"CATO_STATE_URL {loc!r} is not understood; use a file path, sqlite:///PATH or dynamodb://TABLE?region=R")
    from cato_migrate.adapters.sqlite_store import SqliteStateStore

    return SqliteStateStore(loc.removeprefix("sqlite://"))


def sandbox_url(settings: Settings, component: str) -> str | None:
    from cato_sandbox.state import read_state  # the one plug point for the rehearsal's services

    state = read_state(Path(settings.work_dir))
    return None if state is None else state.url_of(component)


def orchestrator_url(settings: Settings) -> str | None:
    """The orchestrator's base URL: the setting, else (local) the sandbox's `orchestrator`."""
    return settings.orchestrator_url or (sandbox_url(settings, "orchestrator") if settings.env == "local" else None)


def ray_url(settings: Settings) -> str | None:
    """The Ray head's address where the rehearsal runs one (local); None elsewhere."""
    return sandbox_url(settings, "ray") if settings.env == "local" else None


def orchestrator_token(settings: Settings) -> str:
    """The sandbox orchestrator's admin token (written by `orchestrator install`), else the setting."""
    if settings.orchestrator_admin_token:
        return settings.orchestrator_admin_token
    path = Path(settings.work_dir) / "orchestrator.token"
    return path.read_text().strip() if path.exists() else ""


def orchestrator_api_key(settings: Settings) -> str:
    """The client key the probes send: the setting, else (local) the sandbox's litellm.key."""
    if settings.orchestrator_api_key or settings.env != "local":
        return settings.orchestrator_api_key
    path = Path(settings.work_dir) / "litellm.key"
    return path.read_text().strip() if path.exists() else ""


def legacy_url(settings: Settings) -> str | None:
    """The legacy LiteLLM proxy's base URL: the setting, else (local) the sandbox's `litellm`
    component while it runs; None when neither is known (a check then waits, never passes)."""
    if settings.legacy_url:
        return settings.legacy_url.rstrip("/")
    return sandbox_url(settings, "litellm") if settings.env == "local" else None


def environment_profile(settings: Settings) -> EnvironmentProfile:
    """What differs in this environment (core/environment.py): the sandbox's stand-ins
    on local, real AWS everywhere else. Steps and checks ask it instead of naming an environment."""
    from cato_migrate.core import environment as profiles

    if settings.env == "local":
        return profiles.sandbox(minute_seconds=settings.sandbox_minute_seconds, legacy_url=legacy_url(settings))
    return profiles.cloud(settings.env, legacy_url=legacy_url(settings))


class Services:
    """Adapters for the ports, built on first use."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._flag: ports.TrafficFlag | None = None
        self._metrics_source: ports.MetricsSource | None = None

    def environment(self) -> EnvironmentProfile:
        """This environment's profile (built on each call: the sandbox's litellm may start meanwhile)."""
        return environment_profile(self.settings)

    def _endpoint(self, explicit: str, component: str) -> str | None:
        if explicit:
            return explicit
        if self.settings.env != "local":
            return None
        url = sandbox_url(self.settings, component)
        if url is None:
            raise BadInput("the local sandbox is not running (no AppConfig endpoint recorded)",
                           hint="run `cato-migrate sandbox up` first")
        return url

    def orchestrator_api(self) -> backend_ports.OrchestratorClient:
        from cato_migrate.adapters.orchestrator_http import OrchestratorHttp

        s = self.settings
        url = orchestrator_url(s)
        if not url:
            raise BadInput("no orchestrator to probe" + (" in the sandbox" if s.env == "local" else ""),
                           hint="run `cato-migrate orchestrator install --env local`" if s.env == "local"
                           else "set orchestrator_url in cato-migrate.toml or CATO_ORCHESTRATOR_URL")
        return OrchestratorHttp(url, admin_token=orchestrator_token(s), api_key=orchestrator_api_key(s))

    def fault_injector(self) -> backend_ports.FaultInjector:
        """Plants a tier's backend fault for the breaker probe. On the sandbox: at the model simulator,
        so the backend itself fails. Elsewhere: the orchestrator's admin fault switch (bounded in
        time; no real backend is touched)."""
        if self.settings.env != "local":
            from cato_migrate.adapters.orchestrator_faults import OrchestratorFaults

            return OrchestratorFaults(self.orchestrator_api())
        from cato_migrate.adapters.orchestrator_http import SimulatorFaults

        url = sandbox_url(self.settings, "simulator")
        if not url:
            raise BadInput("planting a backend fault on the sandbox needs its model simulator, which is not running",
                           hint="run `cato-migrate sandbox up` first")
        return SimulatorFaults(url)

    def model_endpoints(self) -> backend_ports.ModelEndpoints:
        """SageMaker: locally the control plane is moto and the runtime is the model simulator."""
        from cato_migrate.adapters.sagemaker_endpoints import SageMakerEndpoints

        s = self.settings
        return SageMakerEndpoints(
            region=s.region, endpoint_url=self._aws_local(s.sagemaker_endpoint_url, "moto", "moto"),
            runtime_endpoint_url=self._aws_local(s.sagemaker_runtime_endpoint_url, "simulator", "model simulator"))

    def container_registry(self) -> backend_ports.ContainerRegistry:
        from cato_migrate.adapters.container_registry import EcrRegistry

        s = self.settings
        return EcrRegistry(region=s.region, endpoint_url=self._aws_local(s.ecr_endpoint_url, "moto", "moto"))

    def _aws_local(self, explicit: str, component: str, what: str) -> str | None:
        """An endpoint override, or on the sandbox its component's URL (with sandbox credentials)."""
        if explicit or self.settings.env != "local":
            return explicit or None
        url = sandbox_url(self.settings, component)
        if url is None:
            raise BadInput(f"the local sandbox is not running (no {what} endpoint recorded)",
                           hint="run `cato-migrate sandbox up` first")
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "sandbox")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "sandbox")
        return url

    def tables(self) -> backend_ports.MemoryTables:
        """The memory tables (global tables): the sandbox's DynamoDB layer locally, which adds
        cross-region replication in front of moto."""
        from cato_migrate.adapters.dynamodb_tables import DynamoTables

        s = self.settings
        return DynamoTables(s.region, self._aws_local(s.tables_endpoint_url, "dynamodb", "DynamoDB layer"))

    def replication_admin(self) -> backend_ports.ReplicationControl:
        """The sandbox DynamoDB layer's replication knob (pause = the planted fault); local only."""
        from cato_migrate.adapters.dynamodb_replication_admin import ReplicationAdmin

        url = sandbox_url(self.settings, "dynamodb") if self.settings.env == "local" else None
        if not url:
            raise BadInput("pausing replication needs the sandbox's DynamoDB layer (local only)")
        return ReplicationAdmin(url)

    def opensearch_collections(self) -> backend_ports.VectorCollections:
        from cato_migrate.adapters.opensearch_serverless import OpenSearchCollections

        s = self.settings
        return OpenSearchCollections(s.region, self._aws_local(s.opensearch_endpoint_url, "moto", "moto"))

    def workloads(self) -> ports.Workloads:
        """Both stacks' workloads: Kubernetes in staging/production, local processes on the sandbox."""
        s = self.settings
        if s.env == "local":
            from cato_sandbox.workloads import LocalWorkloads

            return LocalWorkloads(s)
        from cato_migrate.adapters.k8s_workloads import KubernetesWorkloads

        return KubernetesWorkloads(kubeconfig=s.kubeconfig or None, context=s.kube_context or None,
                                   helm_binary=s.helm_binary or None)

    def gateway_metrics(self) -> ports.GatewayMetrics | None:
        """The gateway's per-stack traffic, or None where no gateway URL is known."""
        return self._gateway_scrape()

    def _gateway_scrape(self) -> GatewayScrape | None:
        from cato_migrate.adapters.gateway_metrics import GatewayScrape

        s = self.settings
        url = s.gateway_url or (sandbox_url(s, "gateway") if s.env == "local" else None)
        return GatewayScrape(url) if url else None

    def spend_sources(self) -> tuple[str | None, str | None, str]:
        """Where today's spend is read (adapters/cost_http.read_spend): Prometheus, else the
        orchestrator's counters; on the sandbox its own; plus what to do when neither is known."""
        s = self.settings
        local = s.env == "local"
        prom = s.prometheus_url or (sandbox_url(s, "prometheus") if local else None)
        orch = orchestrator_url(s)
        return prom, orch, "run `cato-migrate sandbox up`" if local else ""

    def metrics_source(self) -> ports.MetricsSource | None:
        """Per-stack figures over a window (MetricsSource), or None where nothing can measure them.

        Prometheus when prometheus_url is set or (local) the sandbox runs its `prometheus`; else a
        direct scrape of the gateway's /metrics; else None. One instance per Services: the
        gateway-scrape fallback differences scrapes it keeps in memory, so a new instance would
        start every window over ("waiting")."""
        if self._metrics_source is not None:
            return self._metrics_source
        s = self.settings
        url = s.prometheus_url or (sandbox_url(s, "prometheus") if s.env == "local" else None)
        if url:
            from cato_migrate.adapters.prometheus_metrics import PrometheusMetrics

            queries = load_runbook(s.runbook_dir).meta.metrics
            if queries is None:
                raise BadInput(f"Prometheus is configured ({url}) but the runbook has no `metrics:` queries",
                               hint="add the `metrics:` section to runbook.yaml (see the one shipped in runbook/)")
            source: ports.MetricsSource = PrometheusMetrics(url, queries)
        else:
            scrape = self._gateway_scrape()  # the window differences the raw series the scrape adapter reads
            if scrape is None:
                return None
            from cato_migrate.adapters.gateway_window import GatewayWindow

            source = GatewayWindow(scrape)
        self._metrics_source = source
        return source

    def traffic_flag(self) -> ports.TrafficFlag:
        if self._flag is None:
            from cato_migrate.adapters.appconfig import AppConfigFlag

            s = self.settings
            if s.env == "local":
                # The sandbox accepts any credentials; do not touch a real AWS profile.
                os.environ.setdefault("AWS_ACCESS_KEY_ID", "sandbox")
                os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "sandbox")
            url = self._endpoint(s.appconfig_endpoint_url, "appconfig")
            data_url = self._endpoint(s.appconfigdata_endpoint_url, "appconfig") if (url or s.appconfigdata_endpoint_url) else None
            # The monitors' alarms: on local, the sandbox's moto (never real AWS; none without it).
            cw = s.cloudwatch_endpoint_url or (sandbox_url(s, "moto") if s.env == "local" else None)
            self._flag = AppConfigFlag(application=s.appconfig_application, environment=s.appconfig_env_name,
                                       profile=s.appconfig_profile, flag=s.flag_name, region=s.region,
                                       endpoint_url=url, data_endpoint_url=data_url,
                                       max_attempts=s.aws_max_attempts, read_timeout=s.aws_read_timeout_seconds,
                                       alarm_names=s.appconfig_alarm_names if cw or s.env != "local" else (),
                                       alarm_role_arn=s.appconfig_alarm_role_arn, cloudwatch_endpoint_url=cw)
        return self._flag

    def redis_url(self) -> str | None:
        """The session Redis `doctor` checks: the setting, else (local) the sandbox's `redis` component."""
        s = self.settings
        return s.redis_url or (sandbox_url(s, "redis") if s.env == "local" else None)

    def identity(self) -> backend_ports.CallerIdentity:
        """The caller's AWS identity (STS); on the sandbox its moto serves STS."""
        from cato_migrate.adapters.doctor_probes import CallerIdentity

        return CallerIdentity(self.settings.region, self._aws_local("", "moto", "moto"))


def make_context(settings: Settings, *, services: ports.Services | None = None, store: StateStore | None = None,
                 clock: ports.Clock | None = None, force: bool = False, reason: str = "",
                 progress: Callable[[str], None] | None = None) -> RunContext:
    runbook = load_runbook(settings.runbook_dir)
    ctx = RunContext(
        env=settings.env, actor=settings.actor or default_actor(), run_id=uuid.uuid4().hex[:12],
        store=store or make_store(settings), clock=clock or SystemClock(),
        services=services or Services(settings), runbook=runbook, settings=settings,
        force=force, reason=reason, progress=progress or (lambda m: None))
    from cato_migrate.adapters.outbox import notify_hook

    ctx.notify = notify_hook(ctx)  # None unless a notify URL is configured for this environment
    return ctx


PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEPLOY_SEED = ("k8s", "config", "images", "pyproject.toml")


def deploy_root(settings: Settings, *, create: bool = True) -> Path:
    """Where the deployment files live. On the sandbox: a copy of the project's, made on first use
    (never by a dry run: create=False), so decommission's archiving rehearses on the copy and never
    edits this checkout."""
    import shutil

    if settings.deploy_root is not None:
        return Path(settings.deploy_root)
    if settings.env != "local":
        return Path.cwd()
    root = Path(settings.work_dir) / "deploy"
    if create and not root.exists():
        tmp = root.with_name("deploy.partial")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for name in DEPLOY_SEED:
            src = PROJECT_ROOT / name
            if src.is_dir():
                shutil.copytree(src, tmp / name, ignore=shutil.ignore_patterns("__pycache__"))
            elif src.exists():
                shutil.copy2(src, tmp / name)
        tmp.rename(root)
    return root


if TYPE_CHECKING:
    def _services_is_the_port(s: Services) -> ports.Services:
        return s  # mypy checks wiring.Services against the Services port, method by method
