"""The sandbox AppConfig layer honours environment alarm monitors as AWS does: an alarm in ALARM
(read from moto's CloudWatch) during DEPLOYING or BAKING rolls the deployment back, and Monitors
are validated (AlarmArn required, at most 5)."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.integration.test_appconfig_layer import (
    client,
    deploy,
    error_code,
    get_deployment,
    poll,
    session,
    strategy,
    wait_for,
    world,  # noqa: F401 - fixture
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
ROLE = "arn:aws:iam::123456789012:role/appconfig-alarms"


@pytest.fixture
def ac(appconfig_layer: str) -> Any:
    return client("appconfig", appconfig_layer)


@pytest.fixture
def ad(appconfig_layer: str) -> Any:
    return client("appconfigdata", appconfig_layer)


@pytest.fixture
def cw(moto_server: str) -> Any:
    return boto3.client("cloudwatch", endpoint_url=moto_server, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def alarm(cw: Any, name: str) -> str:
    cw.put_metric_alarm(AlarmName=name, Namespace="Cato/Gateway", MetricName="ErrorRate", Statistic="Average",
                        Period=60, EvaluationPeriods=1, Threshold=0.01, ComparisonOperator="GreaterThanThreshold",
                        TreatMissingData="notBreaching")
    return cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["AlarmArn"]


def monitored(ac: Any, w: dict, *arns: str) -> None:
    ac.update_environment(ApplicationId=w["app"], EnvironmentId=w["env"],
                          Monitors=[{"AlarmArn": a, "AlarmRoleArn": ROLE} for a in arns])


def served_target(ad: Any) -> str:
    return json.loads(poll(ad, session(ad))[0])["target"]


def rollback_event(dep: dict) -> dict:
    return next(e for e in dep["EventLog"] if e["EventType"] == "ROLLBACK_STARTED")


def test_an_alarm_in_alarm_while_baking_rolls_back_and_names_the_alarm(ac, ad, cw, world) -> None:
    arn = alarm(cw, "cato-new-stack-error-rate")
    monitored(ac, world, alarm(cw, "cato-new-stack-p99-latency"), arn)
    deploy(ac, world, strategy(ac, 0, 0), 1)
    d = deploy(ac, world, strategy(ac, 0, 1440), 2)  # ~29 s of baking
    assert d["State"] == "BAKING" and served_target(ad) == "ray"
    cw.set_alarm_state(AlarmName="cato-new-stack-error-rate", StateValue="ALARM", StateReason="errors > 1%")
    rolled = get_deployment(ac, world, 2)
    assert rolled["State"] == "ROLLED_BACK"
    ev = rollback_event(rolled)
    assert ev["TriggeredBy"] == "CLOUDWATCH_ALARM" and arn in ev["Description"], ev
    assert rolled["EventLog"][0]["EventType"] == "ROLLBACK_COMPLETED"
    assert served_target(ad) == "litellm"  # the previous configuration is served again
    assert ac.get_environment(ApplicationId=world["app"], EnvironmentId=world["env"])["State"] == "ROLLED_BACK"
    assert deploy(ac, world, strategy(ac, 0, 0), 2)["DeploymentNumber"] == 3  # no longer in flight


def test_alarms_ok_the_deployment_completes(ac, ad, cw, world) -> None:
    monitored(ac, world, alarm(cw, "cato-new-stack-error-rate"))
    deploy(ac, world, strategy(ac, 0, 0), 1)
    deploy(ac, world, strategy(ac, 10, 10), 2)  # 0.2 s + 0.2 s
    done = wait_for(lambda: get_deployment(ac, world, 2), lambda x: x["State"] != "DEPLOYING" and
                    x["State"] != "BAKING")
    assert done["State"] == "COMPLETE" and served_target(ad) == "ray"
    cw.set_alarm_state(AlarmName="cato-new-stack-error-rate", StateValue="ALARM", StateReason="after the bake")
    assert get_deployment(ac, world, 2)["State"] == "COMPLETE"  # too late: no longer monitored


def test_an_alarm_that_fired_during_the_bake_rolls_back_even_if_read_after_it(ac, ad, cw, world) -> None:
    """AWS watches all along; the layer uses the alarm's StateUpdatedTimestamp, so a deployment nobody
    read during its bake is still rolled back at the moment the alarm fired."""
    monitored(ac, world, alarm(cw, "cato-new-stack-p99-latency"))
    deploy(ac, world, strategy(ac, 0, 0), 1)
    deploy(ac, world, strategy(ac, 0, 100), 2)  # 2 s of baking
    time.sleep(0.2)
    cw.set_alarm_state(AlarmName="cato-new-stack-p99-latency", StateValue="ALARM", StateReason="p99 > 2 s")
    time.sleep(2.2)  # the bake is over before anyone asks
    rolled = get_deployment(ac, world, 2)
    assert rolled["State"] == "ROLLED_BACK", rolled["State"]
    fired_after = (rollback_event(rolled)["OccurredAt"] - rolled["StartedAt"]).total_seconds()
    assert 0.1 < fired_after < 1.9, fired_after  # when the alarm fired, inside the 2 s bake
    assert served_target(ad) == "litellm"


def test_insufficient_data_rolls_back_and_disabled_actions_are_ignored(ac, cw, world) -> None:
    quiet, muted = alarm(cw, "quiet"), alarm(cw, "muted")
    monitored(ac, world, quiet, muted)
    cw.set_alarm_state(AlarmName="muted", StateValue="ALARM", StateReason="muted")
    cw.disable_alarm_actions(AlarmNames=["muted"])  # AWS: no automatic rollback for this alarm
    long_bake = strategy(ac, 0, 1440)
    deploy(ac, world, long_bake, 1)
    assert get_deployment(ac, world, 1)["State"] == "BAKING"
    cw.set_alarm_state(AlarmName="quiet", StateValue="INSUFFICIENT_DATA", StateReason="no data")
    rolled = get_deployment(ac, world, 1)
    assert rolled["State"] == "ROLLED_BACK" and quiet in rollback_event(rolled)["Description"]


def test_an_alarm_already_firing_rolls_back_at_the_start(ac, ad, cw, world) -> None:
    monitored(ac, world, alarm(cw, "cato-new-stack-error-rate"))
    cw.set_alarm_state(AlarmName="cato-new-stack-error-rate", StateValue="ALARM", StateReason="firing")
    assert deploy(ac, world, strategy(ac, 10, 10), 1)["State"] == "DEPLOYING"  # as AWS: accepted, then
    rolled = get_deployment(ac, world, 1)  # rolled back as soon as the alarm is looked at
    assert rolled["State"] == "ROLLED_BACK"
    assert rollback_event(rolled)["OccurredAt"] == rolled["StartedAt"]
    assert poll(ad, session(ad))[0] == b""  # nothing was ever served


def test_zero_time_deployments_are_not_monitored(ac, ad, cw, world) -> None:
    """rollback --quick deploys with 0 minutes and 0 bake: a firing alarm cannot undo it."""
    monitored(ac, world, alarm(cw, "cato-new-stack-error-rate"))
    cw.set_alarm_state(AlarmName="cato-new-stack-error-rate", StateValue="ALARM", StateReason="firing")
    assert deploy(ac, world, strategy(ac, 0, 0), 1)["State"] == "COMPLETE"
    assert served_target(ad) == "litellm"


def test_a_deleted_alarm_counts_as_bad(ac, cw, world) -> None:
    arn = alarm(cw, "gone")
    monitored(ac, world, arn)
    deploy(ac, world, strategy(ac, 0, 1440), 1)
    cw.delete_alarms(AlarmNames=["gone"])
    rolled = get_deployment(ac, world, 1)
    assert rolled["State"] == "ROLLED_BACK" and "not found" in rollback_event(rolled)["Description"]


def test_monitors_are_validated_as_aws_does(appconfig_layer, ac, world) -> None:
    arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:a"
    loose = boto3.client("appconfig", endpoint_url=appconfig_layer, region_name="us-east-1",
                         aws_access_key_id="testing", aws_secret_access_key="testing",
                         config=Config(retries={"max_attempts": 1}, parameter_validation=False))
    bad = [
        ([{"AlarmArn": arn}] * 6, "at most 5"),
        ([{"AlarmRoleArn": ROLE}], "AlarmArn is required"),
        ([{"AlarmArn": ""}], "AlarmArn is required"),
        ([{"AlarmArn": "arn:aws:sns:us-east-1:123456789012:topic"}], "not a CloudWatch alarm ARN"),
        ([{"AlarmArn": arn, "AlarmRoleArn": "admin"}], "not an IAM role ARN"),
    ]
    for monitors, why in bad:
        for call in (lambda m: loose.create_environment(ApplicationId=world["app"], Name="x", Monitors=m),
                     lambda m: loose.update_environment(ApplicationId=world["app"], EnvironmentId=world["env"],
                                                        Monitors=m)):
            with pytest.raises(ClientError) as exc:
                call(monitors)
            assert error_code(exc) == "BadRequestException" and why in exc.value.response["Error"]["Message"]
    assert [e["Name"] for e in ac.list_environments(ApplicationId=world["app"])["Items"]] == ["prod"]
    five = [{"AlarmArn": f"{arn}{i}"} for i in range(5)]
    env = ac.create_environment(ApplicationId=world["app"], Name="five", Monitors=five)
    assert env["Monitors"] == five
    assert ac.get_environment(ApplicationId=world["app"], EnvironmentId=env["Id"])["Monitors"] == five
