"""A FaultInjector (backend_ports.py) over the orchestrator's admin fault switch (orchestrator/faults.py).

Works on any environment the orchestrator runs in: while the switch is on, the orchestrator fails
the tier's calls itself (a counted "server" error), so its breaker opens and traffic falls back
exactly as in a real outage, and no real backend is touched. Every switch is bounded (`seconds`),
so a probe that dies before `clear()` leaves the tier failing for at most that long."""
from __future__ import annotations

from typing import Any, Protocol

# Long enough for the breaker probe's few requests (each fails at once at the switch), short
# enough that a lost clear() costs little.
PROBE_SECONDS = 60.0


class FaultSwitchApi(Protocol):
    """The part of the orchestrator's admin API this adapter needs (OrchestratorHttp has it)."""

    def set_fault(self, tier: str, seconds: float, error_rate: float = 1.0) -> dict[str, Any]: ...
    def clear_faults(self, tier: str | None = None) -> dict[str, Any]: ...


class OrchestratorFaults:
    def __init__(self, api: FaultSwitchApi, seconds: float = PROBE_SECONDS):
        self.api, self.seconds = api, seconds

    def fail_tier(self, tier: str, error_rate: float) -> None:
        self.api.set_fault(tier, self.seconds, error_rate)

    def clear(self) -> None:
        self.api.clear_faults()
