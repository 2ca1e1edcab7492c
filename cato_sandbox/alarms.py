"""The runbook's rollback triggers as CloudWatch alarms in the sandbox's moto.

In AWS these alarms belong to the infrastructure (created beside the gateway's metrics), and the
CLI only attaches existing ones to the AppConfig environment as monitors. On the sandbox,
`sandbox up` plays the infrastructure and creates them here, one per measurable trigger on the
new stack, with the runbook's thresholds (error rate > 1%, p99 > 2 s):

    cato-new-stack-error-rate    Cato/Gateway ErrorRate{Stack=new}  Average  > 0.01 (ratio)
    cato-new-stack-p99-latency   Cato/Gateway Latency{Stack=new}    p99      > 2000 ms

What is emulated: nothing publishes these metrics to moto's CloudWatch, and moto evaluates no
alarm; an alarm's state changes only when someone sets it (`aws cloudwatch set-alarm-state`, as
the tests and drills do). They are created with TreatMissingData=notBreaching, as production
alarms should be: AppConfig also rolls back on INSUFFICIENT_DATA, so a quiet hour must read OK.
"""
from __future__ import annotations

from typing import Any

from cato_migrate.settings import DEFAULT_ALARM_NAMES

NAMESPACE = "Cato/Gateway"
_TRIGGERS = {  # alarm name -> (runbook trigger id, metric, statistic field, unit)
    DEFAULT_ALARM_NAMES[0]: ("error-rate", "ErrorRate", {"Statistic": "Average"}, "None"),
    DEFAULT_ALARM_NAMES[1]: ("latency-p99", "Latency", {"ExtendedStatistic": "p99"}, "Milliseconds"),
}


def alarm_specs(runbook: Any) -> dict[str, dict[str, Any]]:
    """PutMetricAlarm arguments per alarm name, thresholds from the runbook's rollback triggers."""
    thresholds = {t.id: t.threshold for t in runbook.meta.rollback.triggers if t.threshold is not None}
    specs = {}
    for name, (trigger, metric, stat, unit) in _TRIGGERS.items():
        th = thresholds.get(trigger)
        if th is None or th.op not in (">", ">="):
            continue  # the runbook does not define this trigger as an upper bound: no alarm
        specs[name] = {
            "AlarmName": name, "Namespace": NAMESPACE, "MetricName": metric, **stat, "Unit": unit,
            "Dimensions": [{"Name": "Stack", "Value": "new"}], "Period": 60, "EvaluationPeriods": 1,
            "Threshold": float(th.value), "TreatMissingData": "notBreaching",
            "ComparisonOperator": "GreaterThanThreshold" if th.op == ">" else "GreaterThanOrEqualToThreshold",
            "AlarmDescription": f"Runbook rollback trigger {trigger} on the new stack (cato-migrate sandbox)"}
    return specs


def seed_alarms(moto_url: str, region: str, runbook: Any = None) -> dict[str, list[str]]:
    """Create the trigger alarms moto lacks; an existing one is left as it is (its planted state too).
    Returns {"created": [...], "present": [...]}."""
    import boto3

    from cato_migrate.core.loader import load_runbook

    specs = alarm_specs(runbook or load_runbook())
    cw = boto3.client("cloudwatch", endpoint_url=moto_url, region_name=region,
                      aws_access_key_id="sandbox", aws_secret_access_key="sandbox")
    present = {a["AlarmName"] for a in cw.describe_alarms(AlarmNames=list(specs)).get("MetricAlarms", [])}
    created = [n for n in specs if n not in present]
    for name in created:
        cw.put_metric_alarm(**specs[name])
    return {"created": created, "present": sorted(present)}


def seed_for_sandbox(status: dict, region: str) -> dict[str, list[str]]:
    """`sandbox up`'s part: the trigger alarms in the running sandbox's moto (none without moto)."""
    moto = next((c.get("url") for c in status.get("components", []) if c.get("name") == "moto"), None)
    if not moto:
        return {"created": [], "present": []}
    from botocore.exceptions import BotoCoreError, ClientError

    from cato_migrate.errors import ExternalError

    try:
        return seed_alarms(moto, region)
    except (BotoCoreError, ClientError) as exc:
        raise ExternalError(f"the sandbox's moto at {moto} refused the trigger alarms: {exc}",
                            hint="`cato-migrate sandbox status`; then `cato-migrate sandbox up` again") from exc
