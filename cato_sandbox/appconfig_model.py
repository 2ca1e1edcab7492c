"""Data model of the sandbox AppConfig state: constants, AWS-style errors and plain records.

Also the small pure helpers the state machine needs: ids, pagination, feature-flag evaluation
and the stable session bucket used for percentage roll-outs.  No I/O, no clock.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import string
from dataclasses import dataclass, field
from typing import Any

IN_FLIGHT = ("DEPLOYING", "BAKING")
FEATURE_FLAGS_TYPE = "AWS.AppConfig.FeatureFlags"
DEFAULT_POLL_INTERVAL_S = 60

# Real ids/values of AWS's predefined strategies (Id == Name).
PREDEFINED_STRATEGIES: tuple[dict[str, Any], ...] = tuple(
    {"Id": n, "Name": n, "Description": d, "DeploymentDurationInMinutes": dur,
     "GrowthType": gt, "GrowthFactor": gf, "FinalBakeTimeInMinutes": bake, "ReplicateTo": "NONE"}
    for n, d, dur, gt, gf, bake in (
        ("AppConfig.AllAtOnce", "Quick", 0, "LINEAR", 100.0, 10),
        ("AppConfig.Linear50PercentEvery30Seconds", "Test/Demo", 1, "LINEAR", 50.0, 1),
        ("AppConfig.Canary10Percent20Minutes", "AWS Recommended", 20, "EXPONENTIAL", 10.0, 10),
        ("AppConfig.Linear20PercentEvery6Minutes", "AWS Recommended", 30, "LINEAR", 20.0, 30),
    )
)


class AppConfigError(Exception):
    status = 400
    code = "BadRequestException"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"Message": self.message, **self.extra}


class BadRequest(AppConfigError):
    pass


class NotFound(AppConfigError):
    status = 404
    code = "ResourceNotFoundException"


class Conflict(AppConfigError):
    status = 409
    code = "ConflictException"


def new_id(length: int = 7) -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def evaluate_feature_flags(content: bytes) -> bytes:
    """What AWS serves for an ``AWS.AppConfig.FeatureFlags`` profile: ``{flag: values[flag]}``.

    A flag declared in ``flags`` without an entry in ``values`` is served as ``{"enabled": false}``.
    Content that is not such a JSON document is returned unchanged (AWS would have rejected it
    when the hosted version was created; moto does not validate).
    """
    try:
        doc = json.loads(content)
        flags = doc.get("flags") or {}
        values = doc.get("values") or {}
        out = {name: values.get(name, {"enabled": False}) for name in (flags or values)}
    except (ValueError, AttributeError, TypeError):
        return content
    return json.dumps(out, separators=(",", ":")).encode()


def session_bucket(session_id: str) -> float:
    """Stable position of a session in [0, 100) for percentage roll-outs."""
    return int(hashlib.sha256(session_id.encode()).hexdigest()[:8], 16) % 10000 / 100.0


def paginate(items: list[Any], max_results: int | None, next_token: str | None) -> dict[str, Any]:
    try:
        start = int(next_token) if next_token else 0
    except ValueError:
        raise BadRequest("Invalid NextToken") from None
    limit = max_results or 50
    out: dict[str, Any] = {"Items": items[start:start + limit]}
    if start + limit < len(items):
        out["NextToken"] = str(start + limit)
    return out


@dataclass
class Deployment:
    app_id: str
    env_id: str
    number: int
    strategy: dict[str, Any]
    profile_id: str
    profile_name: str
    version: str
    version_label: str | None
    content: bytes           # what appconfigdata serves (evaluated for feature flags)
    content_type: str
    description: str | None
    started: float
    stopped: float | None = None
    end_state: str | None = None  # ROLLED_BACK / REVERTED once stopped
    rolled_back_by: str = "USER"  # EventLog TriggeredBy of the rollback: USER or CLOUDWATCH_ALARM
    rollback_description: str | None = None  # names the alarm ARN when an alarm rolled it back
    settled: bool = False  # its alarm window is over with no alarm: monitors need not be read again


@dataclass
class Session:
    id: str
    app_id: str
    env_id: str
    profile_id: str
    min_poll: int | None
    last_key: tuple[str, bytes] | None = None
    last_poll: float | None = None


@dataclass
class Environment:
    app_id: str
    id: str
    name: str
    description: str | None = None
    monitors: list[dict[str, str]] = field(default_factory=list)  # validated: appconfig_monitors
    deployments: list[Deployment] = field(default_factory=list)  # oldest first
