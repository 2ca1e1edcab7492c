"""The production AppConfig adapter, unchanged, against moto + the sandbox layer over HTTP."""
from __future__ import annotations

import json

import boto3
import pytest

from cato_migrate.adapters.appconfig import AppConfigFlag, flag_document, parse_flag
from cato_migrate.errors import Conflict
from cato_migrate.ports import FlagSpec


@pytest.fixture
def flag(appconfig_layer, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return AppConfigFlag(application="cato", environment="local", profile="orchestration",
                         flag="use_new_orchestrator", region="us-east-1", endpoint_url=appconfig_layer)


def deploy(flag: AppConfigFlag, spec_or_doc, strategy: str) -> None:
    if isinstance(spec_or_doc, FlagSpec):
        version = flag.create_version(spec_or_doc, "test")
    else:  # a hand-written hosted document, as someone might upload with the aws cli
        flag.ensure_setup()
        c = boto3.client("appconfig", region_name="us-east-1", endpoint_url=flag.endpoint_url)
        version = str(c.create_hosted_configuration_version(
            ApplicationId=flag._ids["app"], ConfigurationProfileId=flag._ids["profile"],
            Content=json.dumps(spec_or_doc).encode(), ContentType="application/json")["VersionNumber"])
    flag.start_deployment(version, strategy, "test")


def test_nothing_deployed_reads_as_absent(flag):
    assert flag.read_served() == (None, None)
    assert flag.latest_deployment() is None
    flag.ensure_setup()
    assert flag.read_served()[0] is None


def test_set_then_served_and_configured(flag):
    flag.ensure_setup()
    s = flag.ensure_strategy("zero", 0, 0, 100)
    assert flag.ensure_strategy("zero", 0, 0, 100) == s  # found by name, not duplicated
    deploy(flag, FlagSpec(enabled=True, percentage=10), s)
    served, version = flag.read_served()
    assert served == FlagSpec(enabled=True, percentage=10) and version == "1"
    latest = flag.latest_deployment()
    assert latest.state == "COMPLETE" and flag.configured(latest).percentage == 10


def test_disabled_flag_means_zero(flag):
    flag.ensure_setup()
    s = flag.ensure_strategy("zero", 0, 0, 100)
    doc = flag_document("use_new_orchestrator", FlagSpec(enabled=True, percentage=50))
    doc["values"]["use_new_orchestrator"]["enabled"] = False
    deploy(flag, doc, s)
    served, _ = flag.read_served()
    assert served.percentage == 50 and served.effective_percentage == 0


def test_missing_flag_key_means_absent(flag):
    flag.ensure_setup()
    s = flag.ensure_strategy("zero", 0, 0, 100)
    deploy(flag, {"flags": {}, "values": {}, "version": "1"}, s)
    assert flag.read_served()[0] is None


def test_second_deployment_while_one_bakes_is_conflict(flag):
    flag.ensure_setup()
    slow = flag.ensure_strategy("slow", 1440, 10, 100)
    deploy(flag, FlagSpec(enabled=True, percentage=10), slow)
    with pytest.raises(Conflict):
        deploy(flag, FlagSpec(enabled=True, percentage=50), slow)
    stopped = flag.stop_deployment(flag.latest_deployment().number)
    assert stopped.state == "ROLLED_BACK"


def test_invalid_flag_values_are_refused_before_upload():
    with pytest.raises(Exception):
        flag_document("f", FlagSpec.model_construct(enabled=True, percentage=150))
    assert parse_flag("f", {"f": {"enabled": True, "percentage": 30}}).percentage == 30
    assert parse_flag("f", {"values": {"f": {"enabled": True, "percentage": 30}}}).percentage == 30
    assert parse_flag("f", {"other": {}}) is None


def test_unknown_deployment_number_is_an_error(flag):
    from cato_migrate.errors import NotFound

    flag.ensure_setup()
    with pytest.raises(NotFound) as e:
        flag.get_deployment(99)
    assert e.value.exit_code == 4


def test_stopping_a_baking_deployment_sends_allow_revert(flag):
    """AWS stops only a DEPLOYING deployment without AllowRevert; the sandbox refuses it as AWS does."""
    flag.ensure_setup()
    baking = flag.ensure_strategy("bake-long", 0, 1440, 100)
    deploy(flag, FlagSpec(enabled=True, percentage=10), baking)
    dep = flag.latest_deployment()
    assert dep.state == "BAKING"
    c = boto3.client("appconfig", region_name="us-east-1", endpoint_url=flag.endpoint_url)
    with pytest.raises(c.exceptions.BadRequestException):
        c.stop_deployment(ApplicationId=flag._ids["app"], EnvironmentId=flag._ids["env"], DeploymentNumber=dep.number)
    assert flag.stop_deployment(dep.number).state == "ROLLED_BACK"


def test_a_deployment_of_another_profile_blocks_and_is_seen(flag):
    """AWS allows one deployment per environment across all configuration profiles."""
    flag.ensure_setup()
    other = AppConfigFlag(application="cato", environment="local", profile="pricing", flag="discount",
                          region="us-east-1", endpoint_url=flag.endpoint_url)
    other.ensure_setup()
    # 1,440 strategy-minutes (AWS's maximum) at 10% a step: DEPLOYING for ~29 s of test time. The
    # 10-minute, 100%-growth strategy used before reached BAKING within 0.2 s, which a loaded machine
    # sometimes spent before the read below.
    slow = other.ensure_strategy("slow-other", 1440, 10, 10)
    other.start_deployment(other.create_version(FlagSpec(enabled=True, percentage=5), "pricing"), slow, "pricing")
    assert flag.latest_deployment() is None  # not ours
    blocking = flag.blocking_deployment()
    assert blocking is not None and blocking.profile == "pricing" and blocking.state == "DEPLOYING"
    with pytest.raises(Conflict):
        deploy(flag, FlagSpec(enabled=True, percentage=10), flag.ensure_strategy("zero", 0, 0, 100))


def test_describe_setup_reports_what_exists(flag):
    assert flag.describe_setup()["application"] is False
    flag.ensure_setup()
    flag.ensure_strategy("zero", 0, 0, 100)
    got = flag.describe_setup()
    assert got["application"] and got["environment"] and got["profile"] and "zero" in got["strategies"]
    assert got["monitors"] == []
