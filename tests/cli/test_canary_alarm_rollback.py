"""`canary set` on a sandbox whose AppConfig environment monitors the trigger alarms: AppConfig (the
sandbox layer) rolls the deployment back when an alarm fires while it bakes, and the real CLI says
so plainly, naming the alarm, with exit 1; the flag serves 0% again.

Only moto and the AppConfig layer run (plus the trigger alarms `sandbox up` creates in moto).
"""
from __future__ import annotations

import json
import time

import boto3
import pytest

from tests.cli.conftest import Cli, cli_env

pytestmark = pytest.mark.timeout(120)
ALARM = "cato-new-stack-error-rate"


@pytest.fixture(scope="module")
def light_sandbox(tmp_path_factory):
    """moto + the AppConfig layer, 1 strategy-minute = 0.1 s, and the trigger alarms as `sandbox up` seeds them."""
    from cato_sandbox.alarms import seed_for_sandbox
    from cato_sandbox.manager import SandboxSettings, sandbox_down, sandbox_up

    workdir = tmp_path_factory.mktemp("alarms")
    settings = SandboxSettings(state_dir=workdir / ".cato-migrate", minute_seconds=0.1, components=["appconfig"])
    status = sandbox_up(settings)
    try:
        seeded = seed_for_sandbox(status, "us-east-1")
        assert seeded["created"] == [ALARM, "cato-new-stack-p99-latency"], seeded
        assert seed_for_sandbox(status, "us-east-1")["created"] == []  # idempotent, planted states kept
        urls = {c["name"]: c["url"] for c in status["components"]}
        yield workdir, urls
    finally:
        sandbox_down(settings)


@pytest.fixture
def sandbox_cli(light_sandbox, tmp_path):
    workdir, urls = light_sandbox
    env_name = f"a{abs(hash(tmp_path)) % 10**8}"
    cli = Cli(workdir, cli_env(workdir, CATO_STATE_URL=str(tmp_path / "state.db"),
                               CATO_APPCONFIG_ENVIRONMENT=env_name, CATO_CANARY_DEPLOY_MINUTES="0"))
    aws = {"region_name": "us-east-1", "aws_access_key_id": "sandbox", "aws_secret_access_key": "sandbox"}
    cw = boto3.client("cloudwatch", endpoint_url=urls["moto"], **aws)
    ac = boto3.client("appconfig", endpoint_url=urls["appconfig"], **aws)
    cw.set_alarm_state(AlarmName=ALARM, StateValue="OK", StateReason="test start")
    yield cli, cw, ac, env_name
    cw.set_alarm_state(AlarmName=ALARM, StateValue="OK", StateReason="test end")


def _env(ac, name: str) -> tuple[str, str]:
    app = next(a["Id"] for a in ac.list_applications()["Items"] if a["Name"] == "cato")
    return app, next(e["Id"] for e in ac.list_environments(ApplicationId=app)["Items"] if e["Name"] == name)


def _wait_baking(ac, env_name: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            app, env = _env(ac, env_name)
            if any(d["State"] == "BAKING" for d in ac.list_deployments(ApplicationId=app, EnvironmentId=env)["Items"]):
                return
        except StopIteration:
            pass
        time.sleep(0.05)
    raise AssertionError("the deployment never reached BAKING")


def test_an_alarm_firing_during_the_bake_rolls_back_and_canary_set_exits_1_naming_it(sandbox_cli):
    cli, cw, ac, env_name = sandbox_cli
    cli.env.update(CATO_CANARY_STRATEGY="alarm-long-bake", CATO_CANARY_BAKE_MINUTES="300")  # 30 s of baking
    t0 = time.monotonic()
    proc = cli.popen("canary", "set", "10", "--force", "--reason", "alarm drill")
    _wait_baking(ac, env_name)
    cw.set_alarm_state(AlarmName=ALARM, StateValue="ALARM", StateReason="error rate > 1% on the new stack")
    out, err = proc.communicate(timeout=60)
    took = time.monotonic() - t0
    flat = " ".join(err.split())
    assert proc.returncode == 1, out + err
    assert f"CloudWatch alarm {ALARM} fired" in flat and "served 0% again" in flat, flat
    assert "Traceback" not in err and took < 30, took
    status = cli.json("canary", "status")
    assert status["served_percentage"] == 0 and status["deployment_state"] == "ROLLED_BACK"
    assert status["deployment"]["rollback_alarm"] == ALARM
    app, env = _env(ac, env_name)
    monitors = [m["AlarmArn"].rsplit(":", 1)[-1] for m in ac.get_environment(ApplicationId=app,
                                                                               EnvironmentId=env)["Monitors"]]
    assert monitors == [ALARM, "cato-new-stack-p99-latency"]
    print("\n" + json.dumps({"alarm": ALARM, "exit": proc.returncode, "seconds_to_exit": round(took, 1),
                             "stderr": flat[:300]}))


def test_alarms_ok_canary_set_completes(sandbox_cli):
    cli, cw, ac, env_name = sandbox_cli
    cli.env.update(CATO_CANARY_STRATEGY="alarm-short-bake", CATO_CANARY_BAKE_MINUTES="5")  # 0.5 s of baking
    r = cli.run("canary", "set", "10", "--force", "--reason", "alarms ok", timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert cli.json("canary", "status")["served_percentage"] == 10
