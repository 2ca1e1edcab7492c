"""The AppConfig sandbox layer in front of a real moto server, driven by unchanged boto3."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any, Callable

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

FLAGS_DOC = {
    "flags": {"use_new_orchestrator": {"name": "use_new_orchestrator",
                                       "attributes": {"percentage": {"constraints": {"type": "number"}}}}},
    "values": {"use_new_orchestrator": {"enabled": True, "percentage": 10}},
    "version": "1",
}


def client(service: str, url: str) -> Any:
    return boto3.client(service, endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(retries={"max_attempts": 1}))


def wait_for(fn: Callable[[], Any], pred: Callable[[Any], bool], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if pred(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met before deadline; last value: {value!r}")
        time.sleep(0.01)


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


@pytest.fixture
def ac(appconfig_layer: str) -> Any:
    return client("appconfig", appconfig_layer)


@pytest.fixture
def ad(appconfig_layer: str) -> Any:
    return client("appconfigdata", appconfig_layer)


@pytest.fixture
def world(ac: Any) -> dict[str, Any]:
    """An application with a freeform profile (v1, v2), a feature-flag profile and an env."""
    app = ac.create_application(Name="cato")
    prof = ac.create_configuration_profile(ApplicationId=app["Id"], Name="routing",
                                           LocationUri="hosted", Type="AWS.Freeform")
    versions = [ac.create_hosted_configuration_version(
        ApplicationId=app["Id"], ConfigurationProfileId=prof["Id"],
        Content=json.dumps({"target": t}).encode(), ContentType="application/json",
    )["VersionNumber"] for t in ("litellm", "ray")]
    flags = ac.create_configuration_profile(ApplicationId=app["Id"], Name="flags",
                                            LocationUri="hosted", Type="AWS.AppConfig.FeatureFlags")
    ac.create_hosted_configuration_version(
        ApplicationId=app["Id"], ConfigurationProfileId=flags["Id"],
        Content=json.dumps(FLAGS_DOC).encode(), ContentType="application/json")
    env = ac.create_environment(ApplicationId=app["Id"], Name="prod")
    return {"app": app["Id"], "profile": prof["Id"], "flags": flags["Id"], "env": env["Id"],
            "versions": versions}


def strategy(ac: Any, duration: int, bake: int, growth: float = 100.0,
             growth_type: str = "LINEAR") -> str:
    return ac.create_deployment_strategy(
        Name=f"s-{duration}-{bake}-{growth}", DeploymentDurationInMinutes=duration,
        FinalBakeTimeInMinutes=bake, GrowthFactor=growth, GrowthType=growth_type,
        ReplicateTo="NONE")["Id"]


def deploy(ac: Any, w: dict[str, Any], strategy_id: str, version: Any, profile: str = "profile") -> dict:
    return ac.start_deployment(ApplicationId=w["app"], EnvironmentId=w["env"],
                               DeploymentStrategyId=strategy_id, ConfigurationProfileId=w[profile],
                               ConfigurationVersion=str(version), Description="test")


def get_deployment(ac: Any, w: dict[str, Any], number: int) -> dict:
    return ac.get_deployment(ApplicationId=w["app"], EnvironmentId=w["env"], DeploymentNumber=number)


def session(ad: Any, app: str = "cato", env: str = "prod", profile: str = "routing") -> str:
    return ad.start_configuration_session(
        ApplicationIdentifier=app, EnvironmentIdentifier=env,
        ConfigurationProfileIdentifier=profile)["InitialConfigurationToken"]


def poll(ad: Any, token: str) -> tuple[bytes, dict, str]:
    r = ad.get_latest_configuration(ConfigurationToken=token)
    return r["Configuration"].read(), r, r["NextPollConfigurationToken"]


def test_healthz(appconfig_layer: str) -> None:
    with urllib.request.urlopen(appconfig_layer + "/healthz", timeout=5) as r:
        assert r.status == 200 and json.loads(r.read()) == {"ok": True}


def test_forwards_unknown_routes_to_moto(ac: Any, world: dict[str, Any]) -> None:
    assert ac.get_application(ApplicationId=world["app"])["Name"] == "cato"
    hv = ac.get_hosted_configuration_version(ApplicationId=world["app"],
                                             ConfigurationProfileId=world["profile"], VersionNumber=2)
    assert json.loads(hv["Content"].read()) == {"target": "ray"}
    assert hv["ContentType"] == "application/json"
    with pytest.raises(ClientError) as exc:
        ac.get_application(ApplicationId="nope123")
    assert error_code(exc) == "ResourceNotFoundException"


def test_environments(ac: Any, world: dict[str, Any]) -> None:
    env = ac.get_environment(ApplicationId=world["app"], EnvironmentId=world["env"])
    assert env["Name"] == "prod" and env["State"] == "READY_FOR_DEPLOYMENT"
    assert len(env["Id"]) == 7 and env["Id"].isalnum() and env["Id"] == env["Id"].lower()
    ac.create_environment(ApplicationId=world["app"], Name="staging", Description="s")
    assert {e["Name"] for e in ac.list_environments(ApplicationId=world["app"])["Items"]} == \
        {"prod", "staging"}
    page = ac.list_environments(ApplicationId=world["app"], MaxResults=1)
    assert len(page["Items"]) == 1 and page["NextToken"]
    updated = ac.update_environment(ApplicationId=world["app"], EnvironmentId=world["env"],
                                    Description="production")
    assert updated["Description"] == "production"
    ac.delete_environment(ApplicationId=world["app"], EnvironmentId=world["env"])
    with pytest.raises(ClientError) as exc:
        ac.get_environment(ApplicationId=world["app"], EnvironmentId=world["env"])
    assert error_code(exc) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as exc:
        ac.create_environment(ApplicationId="zzzz999", Name="x")
    assert error_code(exc) == "ResourceNotFoundException"


def test_strategies(ac: Any) -> None:
    items = {s["Id"]: s for s in ac.list_deployment_strategies()["Items"]}
    assert items["AppConfig.AllAtOnce"]["DeploymentDurationInMinutes"] == 0
    assert items["AppConfig.AllAtOnce"]["FinalBakeTimeInMinutes"] == 10
    assert items["AppConfig.Canary10Percent20Minutes"]["GrowthType"] == "EXPONENTIAL"
    assert items["AppConfig.Linear20PercentEvery6Minutes"]["GrowthFactor"] == 20.0
    assert "AppConfig.Linear50PercentEvery30Seconds" in items
    sid = strategy(ac, 5, 1, 25)
    got = ac.get_deployment_strategy(DeploymentStrategyId=sid)
    assert got["DeploymentDurationInMinutes"] == 5 and got["GrowthFactor"] == 25.0
    assert ac.get_deployment_strategy(DeploymentStrategyId="AppConfig.AllAtOnce")["Name"] == \
        "AppConfig.AllAtOnce"
    ac.delete_deployment_strategy(DeploymentStrategyId=sid)
    with pytest.raises(ClientError) as exc:
        ac.get_deployment_strategy(DeploymentStrategyId=sid)
    assert error_code(exc) == "ResourceNotFoundException"


def test_deployment_progresses_and_serves_content(ac: Any, ad: Any, world: dict[str, Any]) -> None:
    sid = strategy(ac, duration=25, bake=25)  # 0.5 s deploying, 0.5 s baking
    d = deploy(ac, world, sid, world["versions"][0])
    assert d["DeploymentNumber"] == 1 and d["State"] == "DEPLOYING"
    assert d["ConfigurationName"] == "routing" and d["EventLog"][-1]["EventType"] == "DEPLOYMENT_STARTED"
    assert ac.get_environment(ApplicationId=world["app"], EnvironmentId=world["env"])["State"] == \
        "DEPLOYING"
    seen = [d["State"]]
    final = wait_for(lambda: get_deployment(ac, world, 1), lambda x: (
        seen.append(x["State"]) or x["State"] == "COMPLETE"))
    assert "BAKING" in seen
    order = {"DEPLOYING": 0, "BAKING": 1, "COMPLETE": 2}
    assert [order[s] for s in seen] == sorted(order[s] for s in seen)
    assert final["PercentageComplete"] == 100.0 and final["CompletedAt"] >= final["StartedAt"]
    events = [e["EventType"] for e in final["EventLog"]]
    assert {"DEPLOYMENT_STARTED", "BAKE_TIME_STARTED", "DEPLOYMENT_COMPLETED"} <= set(events)
    assert events[0] == "DEPLOYMENT_COMPLETED"  # most recent first
    body, resp, _ = poll(ad, session(ad))
    assert json.loads(body) == {"target": "litellm"}
    assert resp["ContentType"] == "application/json" and resp["VersionLabel"] == "1"
    listed = ac.list_deployments(ApplicationId=world["app"], EnvironmentId=world["env"])["Items"]
    assert [x["DeploymentNumber"] for x in listed] == [1] and listed[0]["State"] == "COMPLETE"


def test_zero_duration_strategy_completes_immediately(ac: Any, world: dict[str, Any]) -> None:
    d = deploy(ac, world, strategy(ac, 0, 0), 1)
    assert d["State"] == "COMPLETE" and d["PercentageComplete"] == 100.0
    d2 = deploy(ac, world, strategy(ac, 0, 0), 2)
    assert d2["DeploymentNumber"] == 2
    items = ac.list_deployments(ApplicationId=world["app"], EnvironmentId=world["env"])["Items"]
    assert [x["DeploymentNumber"] for x in items] == [2, 1]


def test_unchanged_poll_is_empty_and_changes_are_seen(ac: Any, ad: Any, world: dict[str, Any]) -> None:
    fast = strategy(ac, 0, 0)
    deploy(ac, world, fast, 1)
    body, _, token = poll(ad, session(ad))
    assert json.loads(body) == {"target": "litellm"}
    body, resp, token = poll(ad, token)
    assert body == b"" and "VersionLabel" not in resp
    deploy(ac, world, fast, 2)
    body, resp, token = poll(ad, token)
    assert json.loads(body) == {"target": "ray"} and resp["VersionLabel"] == "2"
    with pytest.raises(ClientError) as exc:
        ad.get_latest_configuration(ConfigurationToken="not-a-token")
    assert error_code(exc) == "BadRequestException"


def test_used_token_is_rejected(ac: Any, ad: Any, world: dict[str, Any]) -> None:
    deploy(ac, world, strategy(ac, 0, 0), 1)
    token = session(ad)
    poll(ad, token)
    with pytest.raises(ClientError) as exc:
        poll(ad, token)
    assert error_code(exc) == "BadRequestException"


def test_feature_flags_served_evaluated(ac: Any, ad: Any, world: dict[str, Any]) -> None:
    deploy(ac, world, "AppConfig.AllAtOnce", 1, profile="flags")  # bakes 10 min = 0.2 s
    # by ids as well as by names
    body, resp, _ = poll(ad, session(ad, world["app"], world["env"], world["flags"]))
    assert json.loads(body) == {"use_new_orchestrator": {"enabled": True, "percentage": 10}}
    assert resp["ContentType"] == "application/json"
    body, _, _ = poll(ad, session(ad, profile="flags"))
    assert json.loads(body) == {"use_new_orchestrator": {"enabled": True, "percentage": 10}}


def test_nothing_deployed_serves_empty(ad: Any, world: dict[str, Any]) -> None:
    body, resp, _ = poll(ad, session(ad))
    assert body == b"" and resp["ContentType"] == "application/octet-stream"


def test_session_for_unknown_resources(ad: Any, world: dict[str, Any]) -> None:
    for kwargs in ({"app": "nope"}, {"env": "nope"}, {"profile": "nope"}):
        with pytest.raises(ClientError) as exc:
            session(ad, **kwargs)
        assert error_code(exc) == "ResourceNotFoundException"


def test_conflict_and_rollback_while_baking(ac: Any, ad: Any, world: dict[str, Any]) -> None:
    deploy(ac, world, strategy(ac, 0, 0), 1)
    token = session(ad)
    body, _, token = poll(ad, token)
    assert json.loads(body) == {"target": "litellm"}

    long_bake = strategy(ac, 0, 1440)  # ~29 s of baking
    d = deploy(ac, world, long_bake, 2)
    assert d["State"] == "BAKING" and d["DeploymentNumber"] == 2
    body, _, token = poll(ad, token)
    assert json.loads(body) == {"target": "ray"}  # during BAKING everyone gets the new one

    with pytest.raises(ClientError) as exc:
        deploy(ac, world, long_bake, 1)
    assert error_code(exc) == "ConflictException"

    with pytest.raises(ClientError) as exc:  # as AWS: only DEPLOYING stops without AllowRevert
        ac.stop_deployment(ApplicationId=world["app"], EnvironmentId=world["env"], DeploymentNumber=2)
    assert error_code(exc) == "BadRequestException"
    stopped = ac.stop_deployment(ApplicationId=world["app"], EnvironmentId=world["env"],
                                 DeploymentNumber=2, AllowRevert=True)
    assert stopped["State"] == "ROLLED_BACK"
    assert stopped["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert stopped["EventLog"][0]["EventType"] in ("ROLLBACK_COMPLETED", "ROLLBACK_STARTED")
    assert get_deployment(ac, world, 2)["State"] == "ROLLED_BACK"
    assert ac.get_environment(ApplicationId=world["app"], EnvironmentId=world["env"])["State"] == \
        "ROLLED_BACK"
    body, resp, token = poll(ad, token)
    assert json.loads(body) == {"target": "litellm"} and resp["VersionLabel"] == "1"
    body, _, _ = poll(ad, session(ad))  # a new session too
    assert json.loads(body) == {"target": "litellm"}

    with pytest.raises(ClientError) as exc:  # stopping a COMPLETE deployment
        ac.stop_deployment(ApplicationId=world["app"], EnvironmentId=world["env"],
                           DeploymentNumber=1)
    assert error_code(exc) == "BadRequestException"
    assert deploy(ac, world, strategy(ac, 0, 0), 2)["DeploymentNumber"] == 3  # not in flight now


def test_percentage_rollout_splits_sessions(ac: Any, ad: Any, world: dict[str, Any]) -> None:
    deploy(ac, world, strategy(ac, 0, 0), 1)
    half = strategy(ac, duration=1440, bake=0, growth=50.0)  # 50 % for ~14 s
    d = deploy(ac, world, half, 2)
    assert d["State"] == "DEPLOYING" and d["PercentageComplete"] == 50.0
    tokens = [session(ad) for _ in range(40)]
    first = [poll(ad, t) for t in tokens]
    targets = [json.loads(b)["target"] for b, _, _ in first]
    assert set(targets) == {"litellm", "ray"}
    # sticky: a session's next poll is unchanged, hence empty
    assert all(poll(ad, nt)[0] == b"" for _, _, nt in first)


def test_start_deployment_validation(ac: Any, world: dict[str, Any]) -> None:
    for kwargs, code in (({"version": 99}, "ResourceNotFoundException"),
                         ({"strategy_id": "nope123"}, "ResourceNotFoundException")):
        with pytest.raises(ClientError) as exc:
            deploy(ac, world, kwargs.get("strategy_id", "AppConfig.AllAtOnce"),
                   kwargs.get("version", 1))
        assert error_code(exc) == code
    with pytest.raises(ClientError) as exc:
        ac.start_deployment(ApplicationId=world["app"], EnvironmentId=world["env"],
                            DeploymentStrategyId="AppConfig.AllAtOnce",
                            ConfigurationProfileId="nope123", ConfigurationVersion="1")
    assert error_code(exc) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as exc:
        get_deployment(ac, world, 7)
    assert error_code(exc) == "ResourceNotFoundException"


def test_allow_revert_on_complete_deployment(ac: Any, ad: Any, world: dict[str, Any]) -> None:
    fast = strategy(ac, 0, 0)
    deploy(ac, world, fast, 1)
    deploy(ac, world, fast, 2)
    reverted = ac.stop_deployment(ApplicationId=world["app"], EnvironmentId=world["env"],
                                  DeploymentNumber=2, AllowRevert=True)
    assert reverted["State"] == "REVERTED"
    body, _, _ = poll(ad, session(ad))
    assert json.loads(body) == {"target": "litellm"}


def test_list_applications_from_learnt_names(ac: Any, world: dict[str, Any], moto_server: str) -> None:
    other = ac.create_application(Name="other", Description="second")
    items = {a["Name"]: a for a in ac.list_applications()["Items"]}
    assert items["cato"]["Id"] == world["app"] and items["other"]["Description"] == "second"
    ac.delete_application(ApplicationId=other["Id"])
    assert [a["Name"] for a in ac.list_applications()["Items"]] == ["cato"]
    page = ac.list_applications(MaxResults=1)
    assert len(page["Items"]) == 1 and "NextToken" not in page
