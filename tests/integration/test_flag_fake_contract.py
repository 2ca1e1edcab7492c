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
    slow = flag.ensure_strategy("contract-slow", 30, 0, 100)
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
