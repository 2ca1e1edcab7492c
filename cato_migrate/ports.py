"""Ports: the small interfaces core logic talks to. One adapter per external system.

Adapters live in `cato_migrate/adapters/`, lazy-import their SDK and raise only
errors from `cato_migrate.errors`. Fakes for unit tests live under `tests/`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Literal, Protocol

from pydantic import Field

from cato_migrate.core.model import CoreModel, Record
from cato_migrate.core.state import AcquireResult, AuditEntry, JournalEntry, LockLease

# Other core modules' records, for the type checker only: the edge image ships this module with
# core/model.py and core/state.py alone, and some of these modules import this one.
if TYPE_CHECKING:
    from cato_migrate.core.cost import Answer
    from cato_migrate.core.cost_mix import MixRequest
    from cato_migrate.core.endpoint_rollout import DeployedModel, EndpointState, ModelSpec
    from cato_migrate.core.environment import EnvironmentProfile
    from cato_migrate.core.notify import OutboxRow
    from cato_migrate.core.notify_events import NotifyEvent
    from cato_migrate.core.table_specs import TableSpec, TableStatus


class Clock(Protocol):
    def now(self) -> float:
        """Wall-clock Unix time (hosts disagree on it)."""
        ...
    def monotonic(self) -> float:
        """A steady clock of this process, for measuring waits (never compared across hosts)."""
        ...
    def sleep(self, seconds: float) -> None: ...


class StateStore(Protocol):
    """Journal, audit log and lock lease. Writes to the lock are conditional."""

    def append_journal(self, entry: JournalEntry) -> JournalEntry: ...
    def journal(self, env: str, key: str | None = None) -> list[JournalEntry]: ...
    def append_audit(self, entry: AuditEntry) -> AuditEntry: ...
    def audit(self, env: str, limit: int = 100) -> list[AuditEntry]: ...
    def read_lock(self, env: str) -> LockLease | None: ...
    def acquire_lock(self, lease: LockLease, *, preempt: bool = False,
                     replace: LockLease | None = None) -> AcquireResult:
        """Write `lease` if there is no lease, or (`replace`) the lease there is still exactly that
        version (token, rvn, heartbeat), or `preempt`. No wall clock is compared. A lease that already
        carries `lease.token` counts as acquired (a retried write whose first try had succeeded)."""
        ...
    def renew_lock(self, env: str, token: str, *, rvn: str, heartbeat: float, expires: float) -> bool:
        """Set a new rvn (and heartbeat, expires) on the lease with `token`; False if it is not ours."""
        ...
    def release_lock(self, env: str, token: str | None) -> LockLease | None:
        """Release the lease with `token` (None: whatever lease is there). Returns what was removed."""
        ...
    def store_time(self) -> float:
        """The store's own clock where it has one (DynamoDB: the Date of its last response), else this
        host's: for showing a heartbeat's age to people, never for deciding."""
        ...


class FlagSpec(CoreModel):
    """What we want the traffic flag to say."""

    enabled: bool = Field(description="Whether the new orchestrator takes any traffic.")
    percentage: int = Field(ge=0, le=100, description="Share of users routed to the new orchestrator.")

    @property
    def effective_percentage(self) -> int:
        return self.percentage if self.enabled else 0


DeploymentState = Literal["NONE", "DEPLOYING", "BAKING", "COMPLETE", "ROLLED_BACK", "VALIDATING", "ROLLING_BACK", "REVERTED"]


class Deployment(Record):
    number: int = Field(description="AppConfig deployment number.")
    state: str = Field(description="AppConfig deployment state.")
    version: str = Field(description="Hosted configuration version being deployed.")
    strategy: str = Field(description="Deployment strategy id.")
    percentage_complete: float = Field(default=0.0, description="How far the rollout is.")
    started_at: float | None = Field(default=None, description="Unix time it started.")
    profile: str = Field(default="", description="Name of the configuration profile it deploys.")
    rollback_by: str = Field(default="", description="Who rolled it back (AppConfig's EventLog TriggeredBy: USER, CLOUDWATCH_ALARM, APPCONFIG, INTERNAL_ERROR); empty if not rolled back.")
    rollback_reason: str = Field(default="", description="The rollback event's description (names the alarm ARN when an alarm triggered it).")
    rollback_alarm: str = Field(default="", description="Name of the CloudWatch alarm that rolled it back, if one did.")


class FlagStatus(Record):
    """What the flag is observed to be: configured (latest deployment) vs served."""

    configured_percentage: int = Field(description="Percentage in the latest deployment's content (0 if never deployed: a missing flag means 0%).")
    served_percentage: int = Field(description="Percentage a client reads now through appconfigdata (missing or disabled = 0).")
    served_version: str | None = Field(default=None, description="Hosted version a client is served.")
    deployment_state: str = Field(description="State of the latest deployment, or NONE.")
    deployment: Deployment | None = Field(default=None, description="The latest deployment.")


class TrafficFlag(Protocol):
    """The `use_new_orchestrator` feature flag (AWS AppConfig in production)."""

    def ensure_setup(self) -> None: ...
    def ensure_monitors(self) -> dict[str, Any]:
        """Attach the configured CloudWatch alarms that exist as the environment's monitors; never
        raises: {"attached": [names], "missing": [names], "problem": str | None}."""
        ...
    def create_version(self, spec: FlagSpec, description: str) -> str: ...
    def start_deployment(self, version: str, strategy: str, description: str) -> Deployment: ...
    def get_deployment(self, number: int) -> Deployment: ...
    def latest_deployment(self) -> Deployment | None: ...
    def stop_deployment(self, number: int) -> Deployment:
        """Stop an in-flight deployment (AWS needs AllowRevert for any state but DEPLOYING)."""
        ...
    def blocking_deployment(self) -> Deployment | None:
        """The in-flight deployment of ANY profile in the environment (AWS allows one at a time)."""
        ...
    def describe_setup(self) -> dict[str, Any]:
        """What exists: application, environment, profile, strategies, alarm monitors (for doctor)."""
        ...
    def ensure_strategy(self, name: str, deployment_minutes: float, bake_minutes: float,
                        growth_factor: float) -> str: ...
    def read_served(self) -> tuple[FlagSpec | None, str | None]:
        """Read the flag as a client sees it: (spec or None when absent, served version)."""
        ...
    def configured(self, deployment: Deployment) -> FlagSpec: ...


# --- workloads (Kubernetes in production; local processes on the sandbox) ----------------------

WorkloadKind = Literal["Deployment", "RayService"]


class WorkloadStatus(Record):
    """What a workload is observed to be. Missing status fields read as 0, never as ready."""

    name: str = Field(description="Workload name (e.g. litellm, cato-orchestrator).")
    namespace: str = Field(description="Namespace (Kubernetes) or 'local' on the sandbox.")
    kind: str = Field(description="Deployment, RayService, or the local process kind.")
    exists: bool = Field(description="Whether the workload exists at all.")
    desired: int = Field(default=0, ge=0, description="Replicas asked for (spec).")
    ready: int = Field(default=0, ge=0, description="Replicas ready to serve (status).")
    detail: str = Field(default="", description="Human-readable state, e.g. 'RayService Running'.")

    @property
    def is_ready(self) -> bool:
        return self.exists and self.ready >= self.desired


class Workloads(Protocol):
    """Deploy, scale, wait for and delete the two stacks' workloads."""

    def apply(self, manifest_path: str, namespace: str) -> list[str]:
        """Server-side apply every document in the manifest; returns 'Kind/name' applied."""
        ...
    def install_chart(self, release: str, chart: str, namespace: str, version: str = "",
                      values: dict[str, Any] | None = None) -> dict[str, Any]:
        """helm upgrade --install (idempotent); returns what helm reported."""
        ...
    def chart_status(self, release: str, namespace: str) -> dict[str, Any] | None: ...
    def status(self, name: str, namespace: str) -> WorkloadStatus: ...
    def scale(self, name: str, namespace: str, replicas: int) -> WorkloadStatus:
        """Set desired replicas (scale subresource); does not wait."""
        ...
    def wait_ready(self, name: str, namespace: str, timeout_s: float) -> WorkloadStatus:
        """Wait until ready == desired (0 desired: until nothing runs); ExternalError on timeout."""
        ...
    def delete(self, name: str, namespace: str) -> bool:
        """Delete the workload; False if it was already gone."""
        ...


class StackTraffic(Record):
    """What the gateway observes: requests in flight and served, per stack."""

    in_flight_legacy: int = Field(ge=0, description="Requests in flight to LiteLLM.")
    in_flight_new: int = Field(ge=0, description="Requests in flight to the orchestrator.")
    served_legacy: int = Field(ge=0, description="Requests served by LiteLLM (counter).")
    served_new: int = Field(ge=0, description="Requests served by the orchestrator (counter).")
    errors_legacy: int = Field(default=0, ge=0, description="Failed requests to LiteLLM (counter).")
    errors_new: int = Field(default=0, ge=0, description="Failed requests to the orchestrator (counter).")


class GatewayMetrics(Protocol):
    """The gateway in front of both stacks (Prometheus text exposition at /metrics)."""

    def traffic(self) -> StackTraffic: ...
    def probe(self, user: str, model: str = "claude-3-haiku") -> tuple[str, int]:
        """Send one real request as `user`: (the stack that served it: legacy|new, HTTP status)."""
        ...


# -- canary analysis: per-stack measurements over a window (issue 10) ------------------------
# The gateway's series (cato_migrate/edge/gateway_stats.py), which every MetricsSource reads:
#   cato_gateway_requests_total{stack,outcome="ok|error"}                 counter
#   cato_gateway_errors_total{stack,class="upstream_5xx|unreachable|unavailable"}  counter
#   cato_gateway_request_duration_seconds_bucket{stack,le} / _sum / _count   histogram
#   cato_gateway_complaints_total{stack}                                   counter
#   cato_gateway_in_flight{stack}, cato_gateway_flag_percentage           gauges
Stack = Literal["legacy", "new"]
STACK_NAMES: tuple[Stack, ...] = ("legacy", "new")
LATENCY_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0, 10.0, 30.0)


class StackWindow(Record):
    """One stack's traffic over a window, as a metrics source measured it. None = not measured."""

    stack: Stack = Field(description="Which stack.")
    window_seconds: float = Field(gt=0, description="Length of the window the figures cover.")
    requests: int | None = Field(default=None, ge=0, description="Requests completed in the window (ok + error).")
    errors: int | None = Field(default=None, ge=0, description="Requests the stack failed in the window (5xx, unreachable, unavailable).")
    p50_ms: float | None = Field(default=None, ge=0, description="Median latency in the window, from the histogram.")
    p99_ms: float | None = Field(default=None, ge=0, description="99th percentile latency in the window, from the histogram.")
    latency_buckets: list[tuple[float, int]] = Field(
        default_factory=list,
        description="(upper bound in seconds, requests in the window at or under it), cumulative, +Inf last as float('inf').")
    complaints: int | None = Field(default=None, ge=0, description="User complaints recorded in the window.")
    cache_hit_rate: float | None = Field(default=None, ge=0, le=1, description="Semantic cache hits / lookups in the window (new stack only).")
    source: str = Field(description="Where the figures come from (e.g. 'prometheus http://127.0.0.1:9090').")

    @property
    def error_rate(self) -> float | None:
        return None if not self.requests or self.errors is None else self.errors / self.requests


class MetricsSource(Protocol):
    """Per-stack figures over a trailing window (Prometheus' HTTP API; a gateway scrape as fallback).

    Raises ExternalError when the source cannot be read; a stack with no traffic has requests=0.
    """

    def window(self, stack: str, seconds: float) -> StackWindow: ...
    def describe(self) -> str:
        """One line for the operator: which source, where."""
        ...


# --- the orchestrator's public API and the simulator's fault knob (acceptance probes) -----------

class OrchestratorApi(Protocol):
    def health(self) -> dict[str, Any]: ...
    def chat(self, query: str, *, session_id: str | None = None, domain: str = "general") -> dict[str, Any]:
        """An OpenAI chat.completion dict with a `cato` object."""
        ...
    def breakers(self) -> dict[str, Any]: ...
    def reset_breakers(self) -> None: ...


class FaultInjector(Protocol):
    def fail_tier(self, tier: str, error_rate: float) -> None: ...
    def clear(self) -> None: ...


class MemoryApi(Protocol):
    """The orchestrator's memory, through its API (chat + /admin/memory/*)."""

    def chat(self, query: str, *, session_id: str | None = None, domain: str = "general") -> dict[str, Any]: ...
    def add_episode(self, episode: dict[str, Any]) -> dict[str, Any]: ...
    def search_episodes(self, query: str, *, k: int = 5, user_id: str | None = None) -> dict[str, Any]: ...
    def consolidate(self, *, session_id: str | None = None, interaction: dict[str, Any] | None = None,
                    domain: str = "general", principal: str | None = None) -> dict[str, Any]: ...
    def facts(self, domain: str) -> dict[str, Any]: ...
    def delete_fact(self, domain: str, fact_id: str) -> None: ...
    def read_latency(self, n: int = 200) -> dict[str, Any]: ...


class OrchestratorClient(OrchestratorApi, MemoryApi, Protocol):
    """All of the orchestrator's API a command uses: the probes' and the acceptance suite's."""

    def metrics_text(self) -> str: ...
    def chat_stream(self, query: str, *, session_id: str | None = None, domain: str = "general") -> dict[str, Any]:
        """A streamed completion: the parsed SSE chunks, the content deltas and whether [DONE] came."""
        ...
    def status_without_token(self, path: str = "/admin/breakers") -> int:
        """The HTTP status of an admin call made with no credentials (the admin API must refuse it)."""
        ...
    def set_fault(self, tier: str, seconds: float, error_rate: float = 1.0) -> dict[str, Any]:
        """The admin fault switch: fail one tier's calls for `seconds` (the breaker probe off the sandbox)."""
        ...
    def clear_faults(self, tier: str | None = None) -> dict[str, Any]: ...


# --- model endpoints (SageMaker) and the container registry (ECR) -------------------------------

class ModelEndpoints(Protocol):
    """SageMaker's control plane and runtime, as the rollout and the checks need them."""

    def describe_endpoint(self, name: str) -> EndpointState: ...
    def model_exists(self, name: str) -> bool: ...
    def config_exists(self, name: str) -> bool: ...
    def create_model(self, name: str, spec: ModelSpec) -> None: ...
    def create_endpoint_config(self, name: str, model: str, spec: ModelSpec) -> None: ...
    def create_endpoint(self, name: str, config: str) -> None: ...
    def update_endpoint(self, name: str, config: str) -> None:
        """Switch in place; raises UpdateUnsupported (core.endpoint_rollout) where the service cannot."""
        ...
    def delete_endpoint(self, name: str) -> None: ...
    def deployed_model(self, name: str) -> DeployedModel | None: ...
    def invoke(self, name: str, body: dict[str, Any]) -> tuple[Any, float]:
        """(parsed JSON answer, latency in ms) through the runtime API."""
        ...


class ImageRecord(Record):
    repository: str = Field(description="Repository name.")
    uri: str = Field(description="Repository URI (registry/name).")
    tag: str = Field(description="Tag looked up.")
    digest: str = Field(description="Image manifest digest, sha256:...")
    manifest: str | None = Field(default=None, description="The manifest, when it was fetched.")

    @property
    def pinned(self) -> str:
        """The image by digest: what a SageMaker model should run, so a re-tag cannot change it."""
        return f"{self.uri}@{self.digest}"


class ContainerRegistry(Protocol):
    def repository_uri(self, name: str, *, create: bool = False) -> str | None: ...
    def image(self, repository: str, tag: str, *, with_manifest: bool = False) -> ImageRecord | None: ...
    def put_manifest(self, repository: str, tag: str, manifest: str, digest: str, media_type: str) -> str:
        """Register a manifest under `tag` (moving the tag if it pointed elsewhere); its digest."""
        ...
    def login_password(self) -> tuple[str, str, str]:
        """(user, password, registry URL) for `docker login`."""
        ...


# --- the memory stores: DynamoDB global tables, OpenSearch Serverless ---------------------------

class MemoryTables(Protocol):
    """DynamoDB tables in a home region and its replicas (`region` None: the home region)."""

    def describe(self, table: str, region: str | None = None) -> TableStatus: ...
    def create(self, spec: TableSpec, region: str | None = None) -> bool:
        """Create the table (on demand, streams on); False if it already existed."""
        ...
    def enable_stream(self, spec: TableSpec, region: str | None = None) -> None: ...
    def enable_pitr(self, table: str, region: str | None = None) -> None: ...
    def enable_ttl(self, table: str, attribute: str, region: str | None = None) -> None: ...
    def add_replica(self, table: str, replica_region: str, region: str | None = None) -> None: ...
    def wait(self, table: str, ready: Callable[[TableStatus], bool], timeout_s: float,
             region: str | None = None, what: str = "ACTIVE") -> TableStatus: ...
    def put_item(self, table: str, item: dict[str, Any], region: str | None = None) -> None: ...
    def get_item(self, table: str, key: dict[str, Any], region: str | None = None,
                 consistent: bool = True) -> dict[str, Any] | None: ...
    def delete_item(self, table: str, key: dict[str, Any], region: str | None = None) -> None: ...
    def key_names(self, table: str, region: str | None = None) -> list[str]: ...


class ReplicationControl(Protocol):
    """The sandbox DynamoDB layer's replication knob (pausing it is the planted fault)."""

    def stats(self) -> dict[str, Any]: ...
    def pause(self) -> dict[str, Any]: ...
    def resume(self) -> dict[str, Any]: ...
    def set_lag(self, lag_ms: float) -> dict[str, Any]: ...


class VectorCollections(Protocol):
    """OpenSearch Serverless: collections and their security and access policies."""

    def get_security_policy(self, name: str, type: str) -> dict[str, Any] | None: ...
    def create_security_policy(self, name: str, type: str, policy: Any, description: str = "") -> dict[str, Any]: ...
    def create_access_policy(self, name: str, policy: Any, description: str = "") -> dict[str, Any]: ...
    def get_access_policy(self, name: str) -> dict[str, Any] | None: ...
    def collection(self, name: str) -> dict[str, Any] | None:
        """The collection's details (id, status, endpoint), or None."""
        ...
    def create_collection(self, name: str, type: str, description: str = "") -> dict[str, Any]: ...
    def wait_active(self, name: str, timeout_s: float) -> dict[str, Any]: ...


class CallerIdentity(Protocol):
    """Who the AWS credentials are (STS GetCallerIdentity)."""

    endpoint_url: str | None

    def read(self) -> dict[str, Any]: ...


# --- the cost comparison's stacks and the notification outbox -----------------------------------

class ChatStack(Protocol):
    def check(self) -> None: ...
    def send(self, req: MixRequest) -> Answer: ...


class Enqueuer(Protocol):
    def enqueue(self, events: list[NotifyEvent], channels: list[str]) -> int: ...
    def cancel(self, env: str, kind: str) -> int: ...


class Outbox(Enqueuer, Protocol):
    def claim(self, env: str, channel: str, now: float, lease_seconds: float, token: str) -> OutboxRow | None: ...
    def mark_delivered(self, row_id: int, token: str, now: float) -> bool: ...
    def mark_retry(self, row_id: int, token: str, *, attempts: int, next_at: float, error: str,
                   give_up: bool, now: float) -> bool: ...
    def channels_due(self, env: str, now: float) -> list[str]: ...
    def counts(self, env: str, now: float) -> dict[str, Any]: ...


# --- what a command hands out: one adapter per port, built on first use ------------------------

class Services(Protocol):
    """Adapters, built on first use so read-only paths never import an SDK they do not need
    (cato_migrate/wiring.py's Services is the one implementation; tests pass fakes)."""

    def traffic_flag(self) -> TrafficFlag: ...
    def workloads(self) -> Workloads: ...
    def gateway_metrics(self) -> GatewayMetrics | None:
        """None where no gateway URL is known."""
        ...
    def metrics_source(self) -> MetricsSource | None:
        """None where nothing can measure the stacks; one instance per Services."""
        ...
    def orchestrator_api(self) -> OrchestratorClient: ...
    def fault_injector(self) -> FaultInjector: ...
    def model_endpoints(self) -> ModelEndpoints: ...
    def container_registry(self) -> ContainerRegistry: ...
    def tables(self) -> MemoryTables: ...
    def replication_admin(self) -> ReplicationControl: ...
    def opensearch_collections(self) -> VectorCollections: ...
    def identity(self) -> CallerIdentity: ...
    def redis_url(self) -> str | None: ...
    def spend_sources(self) -> tuple[str | None, str | None, str]:
        """Where today's spend is read: (Prometheus URL, orchestrator URL, what to do when neither is known)."""
        ...
    def environment(self) -> EnvironmentProfile:
        """What differs in this environment (core/environment.py): steps and checks ask it."""
        ...
