"""The shapes `cato-migrate doctor` judges (pure data): a probe's Reading, what the runbook
expects, what the journal and the lock say, and each check's result."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

STATUSES = ("pass", "warn", "unknown", "fail")


@dataclass(frozen=True)
class Reading:
    """What one probe read (`value`) and where from (`source`); or `error` (it did not answer as it
    should) or `unconfigured` (nothing to read here: why)."""

    source: str
    value: Any = None
    error: str = ""
    unconfigured: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and not self.unconfigured


@dataclass(frozen=True)
class CheckResult:
    id: str
    title: str
    status: str  # pass | warn | unknown | fail
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Expectations:
    """What the runbook and settings expect to find (pure input to the checks)."""

    env: str
    endpoints: tuple[str, ...] = ()
    tables: dict[str, tuple[str, ...]] = field(default_factory=dict)  # table -> replica regions
    strategies: tuple[str, ...] = ()
    alarms: tuple[str, ...] = ()  # CloudWatch alarms the AppConfig environment must monitor
    legacy_min_ready: int = 1
    legacy: str = "litellm"
    orchestrator: str = "cato-orchestrator"


@dataclass(frozen=True)
class Facts:
    """What the journal and the lock say (read once, no I/O here)."""

    last_traffic: dict[str, Any] | None = None     # {"value", "verified", "at", "by"}: the journal's last outcome
    pending_intent: dict[str, Any] | None = None   # a traffic change started but never finished/failed
    hold: dict[str, Any] | None = None             # the rollback hold in force
    lock: dict[str, Any] | None = None             # the lease, with "expired"
