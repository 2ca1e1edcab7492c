"""Ports: the small interfaces core logic talks to. One adapter per external system.

Adapters live in `cato_migrate/adapters/`, lazy-import their SDK and raise only
errors from `cato_migrate.errors`. Fakes for unit tests live under `tests/`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import Field

from cato_migrate.core.model import CoreModel, Record
from cato_migrate.core.state import AcquireResult, AuditEntry, JournalEntry, LockLease

# Other core modules' records, for the type checker only: the edge image ships this module with
# core/model.py and core/state.py alone, and some of these modules import this one.
if TYPE_CHECKING:
    from cato_migrate.backend_ports import (CallerIdentity, ContainerRegistry, FaultInjector, MemoryTables,
                                            ModelEndpoints, OrchestratorClient, ReplicationControl,
                                            VectorCollections)
    from cato_migrate.core.environment import EnvironmentProfile
    from cato_migrate.core.notify import OutboxRow
    from cato_migrate.core.notify_events import NotifyEvent


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


# --- the notification outbox --------------------------------------------------------------------

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
