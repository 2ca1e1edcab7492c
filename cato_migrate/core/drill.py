"""The sandbox drills' pure parts: what `sandbox traffic` reports and what `sandbox fault` plants.

`summarize` turns the observed requests (stack from the `x-cato-stack` header, HTTP status,
latency) into per-stack counts and nearest-rank percentiles. `plan_route_faults` computes the
model simulator's new `route_faults` for a fault planted on (or cleared from) one stack, keeping
the other stack's. No I/O, no clock.
"""
from __future__ import annotations

import math
import re
from typing import Any

from pydantic import Field

from cato_migrate.core.model import CoreModel
from cato_migrate.errors import BadInput

__all__ = ["DrillSample", "StackServed", "TrafficSummary", "parse_duration", "percentile",
           "plan_route_faults", "summarize", "validate_fault", "validate_traffic", "drill_user"]

STACKS = ("legacy", "new")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds from '90', '90s', '1.5m', '500ms', '1h'; BadInput otherwise."""
    m = _DURATION.match(str(text))
    if not m:
        raise BadInput(f"{text!r} is not a duration", hint="write it as 30s, 2m, 500ms or 1h")
    return float(m.group(1)) * _UNIT_S[m.group(2) or "s"]


def drill_user(i: int) -> str:
    return f"drill-user-{i}"


class DrillSample(CoreModel):
    """One request the drill sent."""

    user: str = Field(description="The sticky user id sent as `user`.")
    stack: str | None = Field(description="x-cato-stack of the answer; None if the gateway did not answer.")
    status: int | None = Field(description="HTTP status; None if no answer arrived (connection failed, timed out).")
    latency_ms: float = Field(ge=0, description="From sending to the end of the answer (or the failure).")


class StackServed(CoreModel):
    """What one stack served during the drill."""

    stack: str = Field(description="legacy or new.")
    requests: int = Field(ge=0, description="Answers carrying this stack's x-cato-stack header.")
    errors: int = Field(ge=0, description="Of those, answers with status >= 500 (the gateway's error count).")
    users: int = Field(ge=0, description="Distinct users this stack served.")
    p50_ms: float | None = Field(description="Median latency (nearest rank); None with no requests.")
    p99_ms: float | None = Field(description="99th percentile latency (nearest rank); None with no requests.")

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None


class TrafficSummary(CoreModel):
    sent: int = Field(ge=0, description="Requests sent.")
    unrouted: int = Field(ge=0, description="Requests with no stack header: the gateway itself did not answer.")
    stacks: dict[str, StackServed] = Field(description="Per stack (both always present).")
    statuses: dict[str, int] = Field(description="HTTP status -> count ('none' for no answer).")


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of `values`; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summarize(samples: list[DrillSample]) -> TrafficSummary:
    stacks = {}
    for s in STACKS:
        mine = [x for x in samples if x.stack == s]
        lat = [x.latency_ms for x in mine]
        p50, p99 = percentile(lat, 50), percentile(lat, 99)
        stacks[s] = StackServed(stack=s, requests=len(mine),
                                errors=sum(1 for x in mine if x.status is None or x.status >= 500),
                                users=len({x.user for x in mine}),
                                p50_ms=None if p50 is None else round(p50, 1),
                                p99_ms=None if p99 is None else round(p99, 1))
    statuses: dict[str, int] = {}
    for x in samples:
        key = "none" if x.status is None else str(x.status)
        statuses[key] = statuses.get(key, 0) + 1
    return TrafficSummary(sent=len(samples), unrouted=sum(1 for x in samples if x.stack not in STACKS),
                          stacks=stacks, statuses=dict(sorted(statuses.items())))


def validate_traffic(users: int, rps: float, seconds: float, max_requests: int = 100_000) -> int:
    """The number of requests the drill will send; BadInput for values that make no sense."""
    if users < 1:
        raise BadInput(f"--users must be at least 1, got {users}")
    if not (rps > 0 and math.isfinite(rps)):
        raise BadInput(f"--rps must be a positive number, got {rps}")
    if not (seconds > 0 and math.isfinite(seconds)):
        raise BadInput(f"--for must be a positive duration, got {seconds}s")
    total = max(1, math.floor(rps * seconds))
    if total > max_requests:
        raise BadInput(f"--rps x --for is {total} requests, more than the drill sends ({max_requests})",
                       hint="lower --rps or --for")
    return total


def validate_fault(stack: str | None, error_rate: float | None, latency_ms: float | None, clear: bool) -> None:
    """BadInput (nothing planted) unless the options name one stack and a fault in range, or --clear."""
    if stack is not None and stack not in STACKS:
        raise BadInput(f"--stack must be new or legacy, got {stack!r}")
    if clear:
        if error_rate is not None or latency_ms is not None:
            raise BadInput("--clear takes no --error-rate or --latency-ms; nothing was changed")
        return
    if stack is None:
        raise BadInput("name the stack to fault: --stack new|legacy (or --clear)")
    if error_rate is None and latency_ms is None:
        raise BadInput("say what to plant: --error-rate F and/or --latency-ms MS (or --clear)")
    if error_rate is not None and not (0.0 <= error_rate <= 1.0):
        raise BadInput(f"--error-rate must be between 0 and 1, got {error_rate}; nothing was changed")
    if latency_ms is not None and not (0.0 <= latency_ms and math.isfinite(latency_ms)):
        raise BadInput(f"--latency-ms must be 0 or more, got {latency_ms}; nothing was changed")


def plan_route_faults(current: dict[str, dict[str, Any]], selectors: dict[str, list[str]], stack: str | None,
                      error_rate: float | None, latency_ms: float | None, clear: bool) -> dict[str, dict[str, Any]]:
    """The simulator's new route_faults: the named stack's routes replaced (or removed with
    `clear`; `clear` without a stack removes every route fault); other routes are kept."""
    overlap = set(selectors.get("legacy", [])) & set(selectors.get("new", []))
    if overlap:
        raise BadInput(f"the stacks share simulator routes {sorted(overlap)}: a fault cannot be "
                       "planted on one stack only")
    if clear and stack is None:
        return {}
    mine = set(selectors[stack])  # type: ignore[index]
    out = {k: dict(v) for k, v in current.items() if k not in mine}
    if not clear:
        fault = {"error_rate": float(error_rate or 0.0), "latency_ms": float(latency_ms or 0.0)}
        out.update({sel: dict(fault) for sel in selectors[stack]})  # type: ignore[index]
    return out
