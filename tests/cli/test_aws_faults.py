"""AWS trouble at the sandbox's AppConfig layer (throttling, 5xx, timeouts planted through
`/_cato/faults`): the real CLI retries what is transient, and otherwise exits 4 with where the flag
stands read live and printed, never a traceback; the journal keeps the intent, and the next
command reconciles it.

Each test prints one JSON line of figures (run with `-s` to see them), e.g.
{"fault": "throttle", "operation": "StartDeployment", "retries_seen": 2, "exit": 0, ...}.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from cato_migrate.adapters.sqlite_store import SqliteStateStore
from cato_migrate.core.traffic import TRAFFIC_KEY
from tests import aws_faults

# A strategy of its own with no deployment or bake time: these tests are about the AWS calls.
FAST = {"CATO_CANARY_STRATEGY": "cato-faults-fast", "CATO_CANARY_DEPLOY_MINUTES": "0",
        "CATO_CANARY_BAKE_MINUTES": "0"}


@pytest.fixture
def layer(cli):
    """The sandbox's AppConfig layer URL; no fault before or after the test, counters from zero."""
    cli.env.update(FAST)
    with aws_faults.cleared(aws_faults.sandbox_layer_url(Path(cli.env["CATO_WORK_DIR"]))) as url:
        yield url


def _store(cli) -> SqliteStateStore:
    return SqliteStateStore(Path(cli.env["CATO_STATE_URL"]))


def _flat(text: str) -> str:
    return " ".join(text.split())  # rich wraps long messages


def _figures(**fig) -> None:
    print("\n" + json.dumps(fig))


def _run(cli, *args: str):
    t0 = time.monotonic()
    r = cli.run(*args, timeout=90)
    return r, round(time.monotonic() - t0, 1)


def test_transient_throttling_of_start_deployment_is_retried(cli, layer):
    aws_faults.plant(layer, "StartDeployment", "throttle", count=2)
    r, took = _run(cli, "canary", "set", "10", "--force", "--reason", "throttled")
    assert r.returncode == 0, r.stdout + r.stderr
    rep = aws_faults.report(layer)
    assert rep["injected"] == {"StartDeployment": {"throttle": 2}}
    assert rep["seen"]["StartDeployment"] == 3  # two throttled attempts, then the one that went through
    assert cli.json("canary", "status")["served_percentage"] == 10
    _figures(fault="throttle", operation="StartDeployment", planted=2, retries_seen=rep["seen"]["StartDeployment"] - 1,
             exit=r.returncode, seconds=took)


def test_persistent_5xx_exits_4_with_the_flag_state_and_the_next_command_reconciles(cli, layer):
    cli.env["CATO_AWS_MAX_ATTEMPTS"] = "3"
    store = _store(cli)
    aws_faults.plant(layer, "StartDeployment", "5xx")
    r, took = _run(cli, "canary", "set", "10", "--force", "--reason", "5xx drill")
    err = _flat(r.stderr)
    assert r.returncode == 4, r.stdout + r.stderr
    assert "start_deployment failed after retries: InternalServerException" in err, err
    assert "the flag now: serves 0%" in err and "Traceback" not in r.stderr, err
    rep = aws_faults.report(layer)
    assert rep["seen"]["StartDeployment"] == 3 and rep["injected"] == {"StartDeployment": {"5xx": 3}}
    intent = store.journal("local", TRAFFIC_KEY)[-1]  # intent before effect: recorded, not closed
    assert intent.event == "started" and intent.inputs["target"] == 10
    assert [e.action for e in store.audit("local")][-1] == "canary.set"
    assert cli.json("status")["pending_traffic_intent"]["target"] == 10

    aws_faults.clear(layer)
    again = cli.run("canary", "set", "10", "--force", "--reason", "after the 5xx", timeout=90)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "never started a deployment" in _flat(again.stderr)
    journal = store.journal("local", TRAFFIC_KEY)  # the intent, closed by the next run, then its own change
    assert [e.event for e in journal] == ["started", "failed", "started", "finished"], journal
    assert journal[1].evidence["reconciled"] is True and journal[1].run_id != intent.run_id
    assert next(e for e in store.audit("local") if e.action == "traffic.reconciled").details["outcome"] == \
        "never started"
    assert cli.json("canary", "status")["served_percentage"] == 10
    _figures(fault="5xx", operation="StartDeployment", planted=-1, attempts_seen=rep["seen"]["StartDeployment"],
             exit=r.returncode, seconds=took, after_clear_exit=again.returncode, stderr=err[:300])


def test_timeouts_of_get_deployment_exit_4_in_bounded_time(cli, layer):
    cli.env.update(CATO_AWS_READ_TIMEOUT_SECONDS="1", CATO_AWS_MAX_ATTEMPTS="2")
    # both attempts of the first GetDeployment time out; the flag is read afterwards
    aws_faults.plant(layer, "GetDeployment", "timeout", count=2, delay_seconds=3)
    r, took = _run(cli, "canary", "set", "10", "--force", "--reason", "timeout drill")
    err = _flat(r.stderr)
    assert r.returncode == 4, r.stdout + r.stderr
    assert "get_deployment" in err and "timed out: no answer within 1 s" in err, err
    assert "the flag now: serves" in err and "Traceback" not in r.stderr, err
    assert took < 30, took
    rep = aws_faults.report(layer)
    assert rep["injected"] == {"GetDeployment": {"timeout": 2}}
    assert _store(cli).journal("local", TRAFFIC_KEY)[-1].event == "started"
    _figures(fault="timeout", operation="GetDeployment", planted=2, read_timeout_s=1, max_attempts=2,
             timeouts_seen=rep["injected"]["GetDeployment"]["timeout"], exit=r.returncode, seconds=took,
             stderr=err[:300])


def test_quick_rollback_under_persistent_throttling_exits_4_with_the_flag_state(cli, layer):
    assert cli.run("canary", "set", "10", "--force", "--reason", "setup", timeout=90).returncode == 0
    aws_faults.clear(layer)  # count from here
    cli.env["CATO_AWS_MAX_ATTEMPTS"] = "3"
    aws_faults.plant(layer, "StartDeployment", "throttle")
    r, took = _run(cli, "rollback", "--quick")
    err = _flat(r.stderr)
    assert r.returncode == 4, r.stdout + r.stderr
    assert "start_deployment failed after retries: ThrottlingException" in err, err
    assert "the flag now: serves 10%" in err and "Traceback" not in r.stderr, err
    rep = aws_faults.report(layer)
    assert rep["injected"] == {"StartDeployment": {"throttle": 3}} and rep["seen"]["StartDeployment"] == 3
    intent = _store(cli).journal("local", TRAFFIC_KEY)[-1]
    assert intent.event == "started" and intent.inputs == {**intent.inputs, "target": 0, "rollback": "quick"}
    _figures(fault="throttle", operation="StartDeployment", planted=-1, command="rollback --quick",
             attempts_seen=rep["seen"]["StartDeployment"], exit=r.returncode, seconds=took, stderr=err[:300])
