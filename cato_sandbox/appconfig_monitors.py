"""CloudWatch alarm monitors of the sandbox AppConfig layer, as pure functions (no I/O, no clock).

AWS AppConfig rolls a deployment back when one of its environment's ``Monitors`` alarms is in
``ALARM`` or ``INSUFFICIENT_DATA`` while the deployment is DEPLOYING or BAKING; an alarm whose
actions are disabled is ignored (AppConfig user guide, "Monitoring deployments for automatic
rollback"). The EventLog then names the alarm ARN that initiated the rollback (``TriggeredBy:
CLOUDWATCH_ALARM``).

AWS watches alarms continuously; the sandbox computes deployments lazily, so :func:`sweep` is run
by the layer before it answers a request, with the alarms read from moto's CloudWatch. It uses each
alarm's ``StateUpdatedTimestamp``: an alarm that went bad inside the deployment's window rolls it
back *at that moment*, even if nobody asked until after the bake ended. Its limit: an alarm that
went bad and back to OK between two requests is missed (AWS's own polling has a similar gap).

Choices where AWS behaviour could not be confirmed:

* a monitor whose alarm does not exist (deleted after it was attached) rolls the deployment back,
  as ``INSUFFICIENT_DATA`` does: an alarm that cannot be read never counts as OK;
* a deployment with no DEPLOYING or BAKING time (0 minutes, 0 bake) is never rolled back;
* ``AlarmArn`` must be a CloudWatch alarm ARN (AWS documents only its length).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from cato_sandbox.appconfig_model import BadRequest

MAX_MONITORS = 5  # botocore appconfig MonitorList: max 5
ROLLBACK_STATES = ("ALARM", "INSUFFICIENT_DATA")
ALARM_ARN = re.compile(r"^arn:(aws[a-z-]*):cloudwatch:([a-z0-9-]+):(\d{12}):alarm:(.+)$")
ROLE_ARN = re.compile(r"^((arn):(aws|aws-cn|aws-iso|aws-iso-[a-z]{1}|aws-us-gov|aws-eusc):(iam)::\d{12}:role[/].*)$")


@dataclass(frozen=True)
class AlarmReading:
    """One alarm as CloudWatch's DescribeAlarms shows it (``found=False``: no such alarm)."""

    arn: str
    found: bool
    state: str = "INSUFFICIENT_DATA"
    updated_wall: float | None = None  # StateUpdatedTimestamp, Unix seconds
    actions_enabled: bool = True


def validate_monitors(value: Any) -> list[dict[str, str]]:
    """The ``Monitors`` member of Create/UpdateEnvironment, checked as AWS does (BadRequest)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRequest("Monitors must be a list")
    if len(value) > MAX_MONITORS:
        raise BadRequest(f"Monitors has {len(value)} members; at most {MAX_MONITORS} are allowed")
    out = []
    for i, m in enumerate(value):
        where = f"Monitors[{i}]"
        if not isinstance(m, dict):
            raise BadRequest(f"{where} must be an object with AlarmArn")
        arn, role = m.get("AlarmArn"), m.get("AlarmRoleArn")
        if not isinstance(arn, str) or not arn:
            raise BadRequest(f"{where}.AlarmArn is required")
        if len(arn) > 2048 or not ALARM_ARN.match(arn):
            raise BadRequest(f"{where}.AlarmArn {arn!r} is not a CloudWatch alarm ARN "
                             "(arn:aws:cloudwatch:REGION:ACCOUNT:alarm:NAME)")
        if role is not None and (not isinstance(role, str) or not 20 <= len(role) <= 2048
                                 or not ROLE_ARN.match(role)):
            raise BadRequest(f"{where}.AlarmRoleArn {role!r} is not an IAM role ARN "
                             "(arn:aws:iam::ACCOUNT:role/NAME)")
        out.append({"AlarmArn": arn, **({"AlarmRoleArn": role} if role is not None else {})})
    return out


def alarm_place(arn: str) -> tuple[str, str, str]:
    """(region, account, alarm name) of a validated alarm ARN."""
    m = ALARM_ARN.match(arn)
    if m is None:
        raise ValueError(f"not a CloudWatch alarm ARN: {arn}")
    return m.group(2), m.group(3), m.group(4)


def rollback_cause(start: float, end: float, readings: list[AlarmReading],
                   to_mono: Callable[[float], float]) -> tuple[float, AlarmReading] | None:
    """When (monotonic) and by which alarm a deployment monitored over [start, end) rolls back.

    An alarm in a rollback state since before the start rolls it back at the start; one that
    went bad at or after ``end`` (the deployment had completed) does not. The earliest cause wins.
    """
    causes = []
    for r in readings:
        if r.found and (not r.actions_enabled or r.state not in ROLLBACK_STATES):
            continue
        at = max(start, to_mono(r.updated_wall) if r.updated_wall is not None else start)
        if at < end:
            causes.append((at, r))
    return min(causes, key=lambda c: c[0]) if causes else None


def describe(r: AlarmReading) -> str:
    """The rollback event's Description: AWS's names the alarm ARN that initiated the rollback."""
    if not r.found:
        return f"Rollback initiated by CloudWatch alarm {r.arn}: alarm not found"
    return f"Rollback initiated by CloudWatch alarm {r.arn} ({r.state})"
