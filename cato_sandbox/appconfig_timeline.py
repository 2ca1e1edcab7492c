"""Deployment timeline maths for the sandbox AppConfig state, as pure functions of time.

Nothing here reads a clock: callers pass ``now`` (a monotonic reading) and ``minute_seconds``
(how many real seconds one strategy-minute lasts; time is compressed in the sandbox).

Deployment timeline (computed lazily from the clock on every read):
``DEPLOYING`` for ``DeploymentDurationInMinutes``, then ``BAKING`` for
``FinalBakeTimeInMinutes``, then ``COMPLETE``; ``StopDeployment`` turns a DEPLOYING/BAKING one
into ``ROLLED_BACK`` (or a COMPLETE one into ``REVERTED`` when ``Allow-Revert`` is true), and so
does an environment's alarm monitor in ALARM (:mod:`cato_sandbox.appconfig_monitors`).
PercentageComplete grows in AWS's steps: LINEAR adds ``GrowthFactor`` % per step, EXPONENTIAL
serves ``G*2^k`` %, steps evenly spread over the deployment duration, the first at start.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

from cato_sandbox.appconfig_model import Deployment


def iso(wall_offset: float, mono: float) -> str:
    """A monotonic reading as AWS's ISO-8601 UTC timestamp (``wall = wall_offset + mono``)."""
    dt = datetime.fromtimestamp(wall_offset + mono, tz=timezone.utc)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def times(d: Deployment, minute_seconds: float) -> tuple[float, float]:
    """(deploying, baking) durations of a deployment in real seconds."""
    dep = d.strategy["DeploymentDurationInMinutes"] * minute_seconds
    bake = d.strategy.get("FinalBakeTimeInMinutes", 0) * minute_seconds
    return dep, bake


def steps(d: Deployment, minute_seconds: float) -> list[tuple[float, float]]:
    """(offset from start, percentage) of each roll-out step while DEPLOYING."""
    g = float(d.strategy["GrowthFactor"])
    if d.strategy.get("GrowthType") == "EXPONENTIAL":
        n = (math.ceil(math.log2(100.0 / g)) if g < 100 else 0) + 1
        pcts = [min(100.0, g * 2 ** k) for k in range(n)]
    else:
        n = math.ceil(100.0 / g)
        pcts = [min(100.0, g * (k + 1)) for k in range(n)]
    dep, _ = times(d, minute_seconds)
    return [(dep * k / n, p) for k, p in enumerate(pcts)]


def percentage(d: Deployment, at: float, minute_seconds: float) -> float:
    """PercentageComplete of a deployment at monotonic time ``at``."""
    dep, _ = times(d, minute_seconds)
    if at - d.started >= dep:
        return 100.0
    return max([p for off, p in steps(d, minute_seconds) if off <= at - d.started] or [0.0])


def state_of(d: Deployment, now: float, minute_seconds: float) -> tuple[str, float]:
    """(State, PercentageComplete) of a deployment at monotonic time ``now``."""
    if d.stopped is not None:
        return d.end_state or "ROLLED_BACK", percentage(d, d.stopped, minute_seconds)
    dep, bake = times(d, minute_seconds)
    elapsed = now - d.started
    if elapsed < dep:
        return "DEPLOYING", percentage(d, now, minute_seconds)
    return ("BAKING" if elapsed < dep + bake else "COMPLETE"), 100.0


def events(d: Deployment, now: float, minute_seconds: float,
           wall_offset: float) -> list[dict[str, Any]]:
    """The deployment's EventLog up to ``now`` (or until it was stopped), newest first."""
    dep, bake = times(d, minute_seconds)
    until = d.stopped if d.stopped is not None else now
    ev = [(d.started, "DEPLOYMENT_STARTED", "USER", "Deployment started")]
    ev += [(d.started + off, "PERCENTAGE_UPDATED", "APPCONFIG",
            f"Configuration deployed to {p:.2f}% of clients")
           for off, p in steps(d, minute_seconds) if off < dep]
    ev.append((d.started + dep, "BAKE_TIME_STARTED", "APPCONFIG", "Deployment bake time started"))
    ev.append((d.started + dep + bake, "DEPLOYMENT_COMPLETED", "APPCONFIG", "Deployment completed"))
    ev = [e for e in ev if e[0] <= until]
    if d.stopped is not None and d.end_state == "ROLLED_BACK":
        ev.append((d.stopped, "ROLLBACK_STARTED", d.rolled_back_by,
                   d.rollback_description or "Rollback initiated by user"))
        ev.append((d.stopped, "ROLLBACK_COMPLETED", "APPCONFIG", "Rollback completed"))
    elif d.stopped is not None:
        ev.append((d.stopped, "REVERT_COMPLETED", "USER", "Deployment reverted by user"))
    order = sorted(range(len(ev)), key=lambda i: (ev[i][0], i), reverse=True)  # newest first
    return [{"EventType": t, "TriggeredBy": by, "Description": desc,
             "OccurredAt": iso(wall_offset, at)}
            for at, t, by, desc in (ev[i] for i in order)]
