"""The production AppConfig adapter attaches the configured CloudWatch alarms as the environment's
monitors (moto's CloudWatch + the sandbox AppConfig layer), and reads an alarm rollback back."""
from __future__ import annotations

import boto3
import pytest

from cato_migrate.adapters.appconfig import AppConfigFlag
from cato_migrate.ports import FlagSpec

ROLE = "arn:aws:iam::123456789012:role/appconfig-alarms"


@pytest.fixture
def cw(moto_server, appconfig_layer, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = boto3.client("cloudwatch", endpoint_url=moto_server, region_name="us-east-1")
    for name in ("errors", "p99"):
        client.put_metric_alarm(AlarmName=name, Namespace="Cato/Gateway", MetricName=name, Statistic="Average",
                                Period=60, EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold")
    return client


def make_flag(layer: str, moto: str | None, names=("errors", "p99"), role: str = "") -> AppConfigFlag:
    return AppConfigFlag(application="cato", environment="local", profile="orchestration", flag="use_new_orchestrator",
                         region="us-east-1", endpoint_url=layer, alarm_names=names, alarm_role_arn=role,
                         cloudwatch_endpoint_url=moto, max_attempts=1, read_timeout=2)


def monitors(flag: AppConfigFlag) -> list[dict]:
    ac = boto3.client("appconfig", region_name="us-east-1", endpoint_url=flag.endpoint_url)
    return ac.get_environment(ApplicationId=flag._ids["app"], EnvironmentId=flag._ids["env"])["Monitors"]


def test_existing_alarms_are_attached_missing_ones_reported(cw, appconfig_layer, moto_server):
    flag = make_flag(appconfig_layer, moto_server, names=("errors", "p99", "complaints"), role=ROLE)
    flag.ensure_setup()
    assert monitors(flag) == []  # ensure_setup alone (rollback --quick's) never touches CloudWatch
    got = flag.ensure_monitors()
    assert got == {"attached": ["errors", "p99"], "missing": ["complaints"], "problem": None}
    arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:"
    assert monitors(flag) == [{"AlarmArn": arn + "errors", "AlarmRoleArn": ROLE},
                              {"AlarmArn": arn + "p99", "AlarmRoleArn": ROLE}]
    setup = flag.describe_setup()
    assert setup["monitors"] == [arn + "errors", arn + "p99"]
    assert setup["alarms"]["complaints"] is None and setup["alarms"]["errors"]["state"] == "OK"


def test_monitors_someone_else_attached_stay_and_a_second_run_changes_nothing(cw, appconfig_layer, moto_server):
    flag = make_flag(appconfig_layer, moto_server, names=("errors",))
    flag.ensure_setup()
    theirs = {"AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:their-own"}
    ac = boto3.client("appconfig", region_name="us-east-1", endpoint_url=appconfig_layer)
    ac.update_environment(ApplicationId=flag._ids["app"], EnvironmentId=flag._ids["env"], Monitors=[theirs])
    flag.ensure_monitors()
    ours = {"AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:errors"}
    assert monitors(flag) == [theirs, ours]
    make_flag(appconfig_layer, moto_server, names=("errors",)).ensure_monitors()
    assert monitors(flag) == [theirs, ours]


def test_cloudwatch_unreachable_is_reported_not_raised(appconfig_layer, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    flag = make_flag(appconfig_layer, "http://127.0.0.1:9")  # nothing listens there
    got = flag.ensure_monitors()
    assert got["attached"] == [] and "CloudWatch describe_alarms" in got["problem"], got
    flag.ensure_setup()
    assert monitors(flag) == []


def test_an_alarm_rollback_is_read_back_with_the_alarm_name(cw, appconfig_layer, moto_server):
    flag = make_flag(appconfig_layer, moto_server)
    flag.ensure_monitors()
    baking = flag.ensure_strategy("bake-long", 0, 1440, 100)
    dep = flag.start_deployment(flag.create_version(FlagSpec(enabled=True, percentage=10), "t"), baking, "t")
    assert dep.rollback_by == "" and dep.state == "BAKING"
    cw.set_alarm_state(AlarmName="p99", StateValue="ALARM", StateReason="p99 > 2 s")
    rolled = flag.get_deployment(dep.number)
    assert (rolled.state, rolled.rollback_by, rolled.rollback_alarm) == ("ROLLED_BACK", "CLOUDWATCH_ALARM", "p99")
    assert "arn:aws:cloudwatch:us-east-1:123456789012:alarm:p99" in rolled.rollback_reason
    cw.set_alarm_state(AlarmName="p99", StateValue="OK", StateReason="fine")
    stopped = flag.start_deployment(flag.create_version(FlagSpec(enabled=True, percentage=10), "t"),
                                    flag.ensure_strategy("slow", 1440, 0, 100), "t")
    by_user = flag.stop_deployment(stopped.number)
    assert (by_user.state, by_user.rollback_by, by_user.rollback_alarm) == ("ROLLED_BACK", "USER", "")
