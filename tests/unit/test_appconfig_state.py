"""The sandbox AppConfig deployment state machine, with a fake clock (no I/O)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cato_sandbox.appconfig_state import (
    PREDEFINED_STRATEGIES,
    AppConfigState,
    BadRequest,
    Conflict,
    NotFound,
    evaluate_feature_flags,
    session_bucket,
)

MINUTE = 1.0  # one strategy-minute = one fake second


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def st(clock: FakeClock) -> AppConfigState:
    s = AppConfigState(minute_seconds=MINUTE, clock=clock, wall_clock=lambda: 1_700_000_000.0)
    s.note_application("app1234", "cato")
    s.note_profile("app1234", "prof123", "routing", "AWS.Freeform")
    return s


@pytest.fixture
def env(st: AppConfigState) -> str:
    return st.create_environment("app1234", {"Name": "prod"})["Id"]


def strat(st: AppConfigState, duration: int, bake: int, growth: float = 100.0,
          growth_type: str = "LINEAR") -> str:
    return st.create_deployment_strategy({
        "Name": "s", "DeploymentDurationInMinutes": duration, "FinalBakeTimeInMinutes": bake,
        "GrowthFactor": growth, "GrowthType": growth_type})["Id"]


def deploy(st: AppConfigState, env: str, strategy: str, version: int,
           profile_type: str = "AWS.Freeform", content: bytes | None = None) -> dict[str, Any]:
    body = content if content is not None else json.dumps({"v": version}).encode()
    return st.start_deployment("app1234", env, strategy, "prof123", str(version), body,
                               "application/json", description="d", profile_name="routing",
                               profile_type=profile_type)


def fetch(st: AppConfigState, token: str) -> tuple[bytes, dict[str, Any]]:
    out = st.get_latest(token)
    return out["Configuration"], out


def test_predefined_strategies_real_values(st: AppConfigState) -> None:
    ids = [s["Id"] for s in st.list_deployment_strategies()["Items"]]
    assert ids[:4] == [s["Name"] for s in PREDEFINED_STRATEGIES]
    canary = st.get_deployment_strategy("AppConfig.Canary10Percent20Minutes")
    assert (canary["DeploymentDurationInMinutes"], canary["FinalBakeTimeInMinutes"],
            canary["GrowthFactor"], canary["GrowthType"]) == (20, 10, 10.0, "EXPONENTIAL")
    lin = st.get_deployment_strategy("AppConfig.Linear20PercentEvery6Minutes")
    assert (lin["DeploymentDurationInMinutes"], lin["FinalBakeTimeInMinutes"]) == (30, 30)
    with pytest.raises(BadRequest):
        st.delete_deployment_strategy("AppConfig.AllAtOnce")


def test_strategy_crud_and_validation(st: AppConfigState) -> None:
    sid = strat(st, 5, 2, 25)
    assert len(sid) == 7 and st.get_deployment_strategy(sid)["GrowthFactor"] == 25.0
    assert st.update_deployment_strategy(sid, {"FinalBakeTimeInMinutes": 9})[
        "FinalBakeTimeInMinutes"] == 9
    st.delete_deployment_strategy(sid)
    with pytest.raises(NotFound):
        st.get_deployment_strategy(sid)
    with pytest.raises(BadRequest):
        strat(st, 2000, 0)
    with pytest.raises(BadRequest):
        strat(st, 1, 0, growth=0.5)


def test_timeline_deploying_baking_complete(st: AppConfigState, env: str, clock: FakeClock) -> None:
    d = deploy(st, env, strat(st, 10, 5), 1)
    assert (d["State"], d["DeploymentNumber"]) == ("DEPLOYING", 1)
    assert st.get_environment("app1234", env)["State"] == "DEPLOYING"
    clock.advance(9.9)
    assert st.get_deployment("app1234", env, 1)["State"] == "DEPLOYING"
    clock.advance(0.1)
    got = st.get_deployment("app1234", env, 1)
    assert (got["State"], got["PercentageComplete"]) == ("BAKING", 100.0)
    assert st.get_environment("app1234", env)["State"] == "DEPLOYING"
    clock.advance(5)
    got = st.get_deployment("app1234", env, 1)
    assert got["State"] == "COMPLETE" and "CompletedAt" in got
    assert st.get_environment("app1234", env)["State"] == "READY_FOR_DEPLOYMENT"
    types = [e["EventType"] for e in got["EventLog"]]
    assert types[0] == "DEPLOYMENT_COMPLETED" and types[-1] == "DEPLOYMENT_STARTED"
    assert "BAKE_TIME_STARTED" in types
    assert got["StartedAt"].endswith("Z") and got["EventLog"][0]["OccurredAt"].endswith("Z")


def test_zero_duration_zero_bake_is_complete_at_once(st: AppConfigState, env: str) -> None:
    d = deploy(st, env, strat(st, 0, 0), 1)
    assert (d["State"], d["PercentageComplete"]) == ("COMPLETE", 100.0)


def test_all_at_once_bakes(st: AppConfigState, env: str) -> None:
    assert deploy(st, env, "AppConfig.AllAtOnce", 1)["State"] == "BAKING"


@pytest.mark.parametrize(("growth", "gtype", "expected"), [
    (20.0, "LINEAR", [20, 40, 60, 80, 100]),
    (10.0, "EXPONENTIAL", [10, 20, 40, 80, 100]),
    (50.0, "LINEAR", [50, 100]),
])
def test_percentage_steps(st: AppConfigState, env: str, clock: FakeClock, growth: float,
                          gtype: str, expected: list[int]) -> None:
    duration = 10 * len(expected)
    deploy(st, env, strat(st, duration, 0, growth, gtype), 1)
    seen = []
    for _ in expected:
        seen.append(st.get_deployment("app1234", env, 1)["PercentageComplete"])
        clock.advance(10)
    assert seen == [float(p) for p in expected]
    assert st.get_deployment("app1234", env, 1)["State"] == "COMPLETE"


def test_one_deployment_in_flight_per_environment(st: AppConfigState, env: str,
                                                   clock: FakeClock) -> None:
    deploy(st, env, strat(st, 0, 10), 1)
    with pytest.raises(Conflict):
        deploy(st, env, "AppConfig.AllAtOnce", 2)
    other = st.create_environment("app1234", {"Name": "staging"})["Id"]
    assert deploy(st, other, "AppConfig.AllAtOnce", 2)["DeploymentNumber"] == 1
    with pytest.raises(Conflict):
        st.delete_environment("app1234", env)
    clock.advance(10)
    assert deploy(st, env, strat(st, 0, 0), 2)["DeploymentNumber"] == 2
    items = st.list_deployments("app1234", env)["Items"]
    assert [i["DeploymentNumber"] for i in items] == [2, 1] and items[0]["Type"] == "USER"


def test_stop_rolls_back_and_previous_is_served(st: AppConfigState, env: str,
                                                 clock: FakeClock) -> None:
    deploy(st, env, strat(st, 0, 0), 1)
    token = st.start_session("app1234", "prod", "prof123")
    body, out = fetch(st, token)
    assert json.loads(body) == {"v": 1} and out["VersionLabel"] == "1"
    deploy(st, env, strat(st, 0, 30), 2)  # BAKING
    body, out = fetch(st, out["NextPollConfigurationToken"])
    assert json.loads(body) == {"v": 2}
    clock.advance(3)
    with pytest.raises(BadRequest, match="without Allow-Revert"):  # as AWS: BAKING needs AllowRevert
        st.stop_deployment("app1234", env, 2)
    stopped = st.stop_deployment("app1234", env, 2, allow_revert=True)
    assert stopped["State"] == "ROLLED_BACK"
    assert [e["EventType"] for e in stopped["EventLog"]][:2] == ["ROLLBACK_COMPLETED",
                                                                 "ROLLBACK_STARTED"]
    assert st.get_environment("app1234", env)["State"] == "ROLLED_BACK"
    clock.advance(100)  # stays rolled back
    assert st.get_deployment("app1234", env, 2)["State"] == "ROLLED_BACK"
    body, out = fetch(st, out["NextPollConfigurationToken"])
    assert json.loads(body) == {"v": 1} and out["VersionLabel"] == "1"
    with pytest.raises(BadRequest):
        st.stop_deployment("app1234", env, 1)  # COMPLETE
    with pytest.raises(BadRequest):
        st.stop_deployment("app1234", env, 2)  # already rolled back
    with pytest.raises(NotFound):
        st.stop_deployment("app1234", env, 9)


def test_revert_complete_deployment(st: AppConfigState, env: str) -> None:
    fast = strat(st, 0, 0)
    deploy(st, env, fast, 1)
    deploy(st, env, fast, 2)
    assert st.stop_deployment("app1234", env, 2, allow_revert=True)["State"] == "REVERTED"
    assert st.get_environment("app1234", env)["State"] == "REVERTED"
    token = st.start_session("app1234", env, "prof123")
    assert json.loads(fetch(st, token)[0]) == {"v": 1}


def test_sessions_poll_semantics(st: AppConfigState, env: str, clock: FakeClock) -> None:
    token = st.start_session("app1234", "prod", "prof123")
    body, out = fetch(st, token)  # nothing deployed yet
    assert body == b"" and out["ContentType"] == "application/octet-stream"
    assert out["NextPollIntervalInSeconds"] == 60
    fast = strat(st, 0, 0)
    deploy(st, env, fast, 1)
    body, out = fetch(st, out["NextPollConfigurationToken"])
    assert json.loads(body) == {"v": 1}
    body, out = fetch(st, out["NextPollConfigurationToken"])
    assert body == b"" and out["VersionLabel"] is None and out["ContentType"] == "application/json"
    deploy(st, env, fast, 2)
    body, out = fetch(st, out["NextPollConfigurationToken"])
    assert json.loads(body) == {"v": 2}
    with pytest.raises(BadRequest) as exc:
        fetch(st, token)  # used up
    assert exc.value.extra["Details"]["InvalidParameters"]["ConfigurationToken"]["Problem"] == \
        "Expired"
    with pytest.raises(BadRequest):
        fetch(st, "garbage")


def test_minimum_poll_interval_is_compressed(st: AppConfigState, env: str, clock: FakeClock) -> None:
    token = st.start_session("app1234", env, "prof123", min_poll=60)  # 60 s -> 1 fake second
    out = st.get_latest(token)
    assert out["NextPollIntervalInSeconds"] == 60
    with pytest.raises(BadRequest):
        st.get_latest(out["NextPollConfigurationToken"])
    clock.advance(1.0)
    st.get_latest(out["NextPollConfigurationToken"])  # the token was not consumed by the error
    with pytest.raises(BadRequest):
        st.start_session("app1234", env, "prof123", min_poll=5)


def test_unknown_environment_for_session(st: AppConfigState) -> None:
    with pytest.raises(NotFound) as exc:
        st.start_session("app1234", "nope", "prof123")
    assert exc.value.extra["ResourceType"] == "Environment"


def test_percentage_rollout_is_deterministic_per_session(st: AppConfigState, env: str,
                                                         clock: FakeClock) -> None:
    deploy(st, env, strat(st, 0, 0), 1)
    deploy(st, env, strat(st, 100, 0, growth=25.0), 2)  # 25 % for the first 25 s
    sessions = []
    for _ in range(200):
        token = st.start_session("app1234", env, "prof123")
        sid = st.tokens[token]
        sessions.append(sid)
        got = json.loads(fetch(st, token)[0])["v"]
        assert got == (2 if session_bucket(sid) < 25.0 else 1)
    share = sum(session_bucket(s) < 25.0 for s in sessions) / len(sessions)
    assert 0.1 < share < 0.4
    assert all(st.served(env, "prof123", s) is st.served(env, "prof123", s) for s in sessions)
    clock.advance(100)
    assert all(st.served(env, "prof123", s).version == "2" for s in sessions)


def test_feature_flags_evaluated_form(st: AppConfigState, env: str) -> None:
    hosted = {"flags": {"use_new_orchestrator": {"name": "use_new_orchestrator"},
                        "kill_switch": {"name": "kill_switch"}},
              "values": {"use_new_orchestrator": {"enabled": True, "percentage": 10}},
              "version": "1"}
    deploy(st, env, strat(st, 0, 0), 1, profile_type="AWS.AppConfig.FeatureFlags",
           content=json.dumps(hosted).encode())
    body, out = fetch(st, st.start_session("app1234", env, "prof123"))
    assert json.loads(body) == {"use_new_orchestrator": {"enabled": True, "percentage": 10},
                                "kill_switch": {"enabled": False}}
    assert out["ContentType"] == "application/json"
    assert evaluate_feature_flags(b"not json") == b"not json"
    assert evaluate_feature_flags(b'{"values":{"a":{"enabled":true}}}') == b'{"a":{"enabled":true}}'


def test_environment_crud_and_pagination(st: AppConfigState, env: str) -> None:
    for name in ("a", "b", "c"):
        st.create_environment("app1234", {"Name": name})
    page = st.list_environments("app1234", max_results=2)
    assert len(page["Items"]) == 2 and page["NextToken"]
    rest = st.list_environments("app1234", max_results=2, next_token=page["NextToken"])
    assert len(rest["Items"]) == 2 and "NextToken" not in rest
    assert st.list_environments("other00")["Items"] == []
    assert st.update_environment("app1234", env, {"Description": "x"})["Description"] == "x"
    with pytest.raises(NotFound):
        st.get_environment("other00", env)  # wrong application
    st.delete_environment("app1234", env)
    with pytest.raises(NotFound):
        st.get_environment("app1234", env)
    with pytest.raises(BadRequest):
        st.create_environment("app1234", {})


def test_name_resolution(st: AppConfigState) -> None:
    assert st.resolve_application("cato") == "app1234"
    assert st.resolve_application("app1234") == "app1234"
    assert st.resolve_profile("app1234", "routing") == "prof123"
    assert st.resolve_profile("app1234", "unknown") == "unknown"
    st.forget_application("app1234")
    assert st.resolve_application("cato") == "cato"


def test_list_applications(st: AppConfigState) -> None:
    st.note_application("app5678", "other", "None")
    st.note_application("app5678", None, "desc")  # a later answer without a name keeps it
    assert st.list_applications()["Items"] == [
        {"Id": "app1234", "Name": "cato"}, {"Id": "app5678", "Name": "other", "Description": "desc"}]
    assert st.resolve_application("other") == "app5678"
    st.forget_application("app5678")
    assert [a["Id"] for a in st.list_applications()["Items"]] == ["app1234"]
