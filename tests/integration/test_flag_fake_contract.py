"""Keeps tests.fakes.FakeFlag honest: the same behaviours through the TrafficFlag port, asserted on
the fake and on the production AppConfig adapter against moto + the sandbox's AppConfig layer."""
from __future__ import annotations

import pytest

from cato_migrate.errors import Conflict
from cato_migrate.ports import FlagSpec
from tests.fakes import FakeClock, FakeFlag


@pytest.fixture(params=["fake", "appconfig"])
def flag(request, monkeypatch):
    if request.param == "fake":
        return FakeFlag(FakeClock())
    from cato_migrate.adapters.appconfig import AppConfigFlag

    url = request.getfixturevalue("appconfig_layer")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return AppConfigFlag(application="cato", environment="contract", profile="orchestration",
                         flag="use_new_orchestrator", region="us-east-1", endpoint_url=url)


def _deploy(flag, pct: int, strategy: str):
    return flag.start_deployment(flag.create_version(FlagSpec(enabled=pct > 0, percentage=pct), "contract"),
                                 strategy, "contract")


def test_nothing_deployed_reads_as_absent(flag):
    flag.ensure_setup()
    assert flag.read_served()[0] is None
    assert flag.latest_deployment() is None and flag.blocking_deployment() is None


def test_an_instant_deployment_is_served_and_names_its_profile(flag):
    flag.ensure_setup()
    instant = flag.ensure_strategy("contract-instant", 0, 0, 100)
    _deploy(flag, 10, instant)
    latest = flag.latest_deployment()
    assert latest.state == "COMPLETE" and latest.profile == "orchestration"
    assert flag.configured(latest).percentage == 10
    assert flag.read_served()[0].effective_percentage == 10
    assert flag.blocking_deployment() is None
    assert flag.describe_setup()["profile"] is True


def test_one_deployment_at_a_time_and_a_stop_reverts_what_is_served(flag):
    flag.ensure_setup()
    instant = flag.ensure_strategy("contract-instant", 0, 0, 100)
    slow = flag.ensure_strategy("contract-slow", 1440, 0, 100)
    _deploy(flag, 10, instant)
    dep = _deploy(flag, 50, slow)
    assert flag.blocking_deployment().number == dep.number
    with pytest.raises(Conflict):
        _deploy(flag, 0, instant)
    assert flag.stop_deployment(dep.number).state == "ROLLED_BACK"
    assert flag.blocking_deployment() is None
    assert flag.read_served()[0].effective_percentage == 10
    _deploy(flag, 0, instant)
    assert flag.read_served()[0].effective_percentage == 0


@pytest.fixture(params=["fake", "appconfig"])
def alarmed(request, monkeypatch):
    """(a flag whose environment monitors the alarm `contract-alarm`, now OK; a setter of its state)."""
    if request.param == "fake":
        fake = FakeFlag(FakeClock())
        fake.set_alarm("contract-alarm", "OK")
        return fake, lambda state: fake.set_alarm("contract-alarm", state)
    import boto3

    from cato_migrate.adapters.appconfig import AppConfigFlag

    url, moto = request.getfixturevalue("appconfig_layer"), request.getfixturevalue("moto_server")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    cw = boto3.client("cloudwatch", endpoint_url=moto, region_name="us-east-1")
    cw.put_metric_alarm(AlarmName="contract-alarm", Namespace="Cato/Gateway", MetricName="ErrorRate",
                        Statistic="Average", Period=60, EvaluationPeriods=1, Threshold=0.01,
                        ComparisonOperator="GreaterThanThreshold")
    flag = AppConfigFlag(application="cato", environment="contract-alarms", profile="orchestration",
                         flag="use_new_orchestrator", region="us-east-1", endpoint_url=url,
                         alarm_names=["contract-alarm"], cloudwatch_endpoint_url=moto)
    return flag, lambda state: cw.set_alarm_state(AlarmName="contract-alarm", StateValue=state, StateReason="contract")


def test_an_alarm_monitor_rolls_back_a_baking_deployment_and_names_the_alarm(alarmed):
    flag, set_alarm = alarmed
    flag.ensure_setup()
    assert flag.ensure_monitors()["attached"] == ["contract-alarm"]
    assert [m.rsplit(":", 1)[-1] for m in flag.describe_setup()["monitors"]] == ["contract-alarm"]
    _deploy(flag, 10, flag.ensure_strategy("contract-instant", 0, 0, 100))
    dep = _deploy(flag, 50, flag.ensure_strategy("contract-bake", 0, 1440, 100))
    assert flag.get_deployment(dep.number).state == "BAKING"
    set_alarm("ALARM")
    rolled = flag.get_deployment(dep.number)
    assert (rolled.state, rolled.rollback_by, rolled.rollback_alarm) == ("ROLLED_BACK", "CLOUDWATCH_ALARM",
                                                                         "contract-alarm")
    assert flag.read_served()[0].effective_percentage == 10 and flag.blocking_deployment() is None
    # a zero-time deployment (rollback --quick's strategy) is not undone by the firing alarm
    assert _deploy(flag, 0, flag.ensure_strategy("contract-instant", 0, 0, 100)).state == "COMPLETE"
    assert flag.read_served()[0].effective_percentage == 0
