"""The admin fault switch: one tier's backend calls fail, for a bounded time, on any environment.

The breaker exit criterion must watch the breaker open under failures and traffic fall back to the
other tier. The sandbox can fail a tier at its model simulator; staging and production have no such
knob, and nothing may touch real backends to fake an outage. While a tier's switch is on, the
orchestrator answers that tier's calls itself with a counted BackendError ("server", 503) instead of
calling the backend, so the breaker, the fallback, the metrics and the client's answer run exactly
as in a real outage of that tier; other tiers are untouched.

Bounded: every switch expires (at most MAX_SECONDS), so a probe that dies before clearing it
cannot leave a tier down. Per process, like the breakers: with several Serve replicas, each
replica has its own switch (POST /admin/faults reaches the replica that serves it).

    POST /admin/faults        {"tier": "bedrock_sonnet", "seconds": 60, "error_rate": 1.0}
    GET  /admin/faults        the switches that are on, with the seconds left
    POST /admin/faults/clear  {} clears all; {"tier": "bedrock_sonnet"} clears one
"""
from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from orchestrator.api_errors import bad_request
from orchestrator.ports import BackendError, ModelTier

MAX_SECONDS = 600.0
_FIELDS = {"tier", "seconds", "error_rate"}


@dataclass(frozen=True)
class TierFault:
    tier: ModelTier
    error_rate: float
    until: float


class FaultSwitch:
    """The switches that are on, by tier; the clock and the coin are injected for tests."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, coin: Callable[[], float] = random.random):
        self._clock, self._coin = clock, coin
        self._lock = threading.Lock()
        self._faults: dict[ModelTier, TierFault] = {}

    def fail(self, tier: ModelTier, seconds: float, error_rate: float = 1.0) -> dict[str, Any]:
        """Fail `error_rate` of `tier`'s calls for `seconds` (replaces that tier's earlier switch)."""
        if not 0 < seconds <= MAX_SECONDS or not 0 < error_rate <= 1:
            raise ValueError(f"0 < seconds <= {MAX_SECONDS:g} and 0 < error_rate <= 1 are required")
        with self._lock:
            self._faults[tier] = TierFault(tier, error_rate, self._clock() + seconds)
        return self.snapshot()

    def clear(self, tier: ModelTier | None = None) -> dict[str, Any]:
        with self._lock:
            if tier is None:
                self._faults.clear()
            else:
                self._faults.pop(tier, None)
        return self.snapshot()

    def _active(self, tier: ModelTier) -> TierFault | None:
        if not self._faults:  # every backend call passes here: no lock while no switch is on
            return None
        with self._lock:
            fault = self._faults.get(tier)
            if fault is not None and self._clock() >= fault.until:
                del self._faults[tier]  # expired: the bound holds even if nobody clears it
                return None
            return fault

    def check(self, tier: ModelTier) -> None:
        """Raise the planted failure for a call to `tier`, if its switch is on (and the coin says so)."""
        fault = self._active(tier)
        if fault is not None and (fault.error_rate >= 1 or self._coin() < fault.error_rate):
            raise BackendError("server", f"{tier.value}: failed by the admin fault switch (POST /admin/faults)",
                               tier=tier, status=503)

    def snapshot(self) -> dict[str, Any]:
        now = self._clock()
        with self._lock:
            faults = list(self._faults.values())
        return {"faults": {f.tier.value: {"error_rate": f.error_rate, "remaining_s": round(f.until - now, 3)}
                           for f in faults if f.until > now},
                "max_seconds": MAX_SECONDS}


def _tier(value: Any) -> ModelTier:
    try:
        return ModelTier(value)
    except ValueError:
        known = ", ".join(t.value for t in ModelTier)
        raise bad_request(f"unknown tier {str(value)[:60]!r}; one of {known}", "tier") from None


def _number(body: dict[str, Any], name: str, default: float | None, low: float, high: float) -> float:
    value = body.get(name, default)
    if value is None:
        raise bad_request(f"{name} is required (seconds the switch stays on, at most {MAX_SECONDS:g})", name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low < value <= high:
        raise bad_request(f"{name} must be a number in ({low:g}, {high:g}]", name)
    return float(value)


def parse_fault(body: dict[str, Any]) -> tuple[ModelTier, float, float]:
    """(tier, seconds, error_rate) from a POST /admin/faults body; ApiError 400 when it is wrong."""
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise bad_request(f"unknown field {unknown[0]!r}; the fields are tier, seconds, error_rate", unknown[0],
                          code="unknown_parameter")
    if "tier" not in body:
        raise bad_request("tier is required", "tier")
    return (_tier(body["tier"]), _number(body, "seconds", None, 0, MAX_SECONDS),
            _number(body, "error_rate", 1.0, 0, 1))


def parse_clear(body: dict[str, Any]) -> ModelTier | None:
    """The tier a POST /admin/faults/clear names, or None (all)."""
    unknown = sorted(set(body) - {"tier"})
    if unknown:
        raise bad_request(f"unknown field {unknown[0]!r}; the only field is tier", unknown[0], code="unknown_parameter")
    return None if body.get("tier") is None else _tier(body["tier"])
