"""The on-call flows end to end: real CLI processes, real moto, the AppConfig layer over HTTP."""
from __future__ import annotations

import json
import time

import pytest


def wait_state(cli, want: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = cli.json("canary", "status")
        if st["deployment_state"] == want:
            return st
        time.sleep(0.1)
    raise AssertionError(f"deployment never reached {want}: {st}")


def test_drill_set_10_then_quick_rollback(cli):
    r = cli.run("canary", "set", "10", "--force", "--reason", "drill")
    assert r.returncode == 0, r.stderr
    st = cli.json("canary", "status")
    assert st["served_percentage"] == 10 and st["configured_percentage"] == 10
    assert st["deployment_state"] == "COMPLETE"
    r = cli.run("rollback", "--quick", "--output", "json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["within_budget"] and out["status"]["served_percentage"] == 0
    st = cli.json("canary", "status")
    assert st["served_percentage"] == 0 and isinstance(st["served_percentage"], int)
    actions = [e["action"] for e in cli.json("history")["entries"]]
    assert "canary.set" in actions and "rollback.quick" in actions


@pytest.mark.parametrize("bad", ["150", "-5", "10.5", "abc", ""])
def test_bad_canary_values_exit_2_and_change_nothing(cli, bad):
    r = cli.run("canary", "set", bad, "--force", "--reason", "x")
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "nothing was changed" in r.stderr or "No such option" in r.stderr
    st = cli.json("canary", "status")
    assert st["configured_percentage"] == 0 and st["deployment_state"] == "NONE"
    assert cli.json("history")["entries"] == []


def test_raising_without_passed_phases_is_refused(cli):
    r = cli.run("canary", "set", "10")
    assert r.returncode == 1
    assert "phase 1's exit criteria have not all passed" in r.stderr
    assert cli.json("canary", "status")["deployment_state"] == "NONE"


def test_force_needs_a_reason(cli):
    r = cli.run("canary", "set", "10", "--force")
    assert r.returncode == 2 and "--reason" in r.stderr


def test_two_mutating_commands_one_exits_3(cli):
    first = cli.popen("canary", "set", "10", "--force", "--reason", "slow canary")
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            lock = cli.json("lock", "status")
            if lock["held"]:
                break
            time.sleep(0.05)
        second = cli.run("attest", "p4.w13.alert-oncall", "--by", "bob")
        assert second.returncode == 3, second.stderr
        assert "canary set 10" in second.stderr and "held by" in second.stderr
    finally:
        assert first.wait(60) == 0, first.stderr.read()


def test_quick_rollback_while_canary_is_baking(cli):
    # a strategy with a 20-"minute" (20 s) bake, so the rollback lands mid-bake
    cli.env.update(CATO_CANARY_STRATEGY="cato-canary-long-bake", CATO_CANARY_BAKE_MINUTES="20")
    assert cli.run("canary", "set", "10", "--force", "--reason", "setup").returncode == 0
    canary = cli.popen("canary", "set", "50", "--force", "--reason", "to bake")
    try:
        wait_state(cli, "BAKING")
        r = cli.run("rollback", "--quick", "--output", "json")
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        assert out["stopped_deployments"], out
        assert out["status"]["served_percentage"] == 0
    finally:
        code = canary.wait(60)
    # the preempted canary must not report success
    assert code == 5, canary.stderr.read()
    assert cli.json("canary", "status")["served_percentage"] == 0
    actions = [e["action"] for e in cli.json("history")["entries"]]
    assert "lock.preempt" in actions


def test_drill_with_the_dynamodb_state_store(cli):
    cli.env["CATO_STATE_URL"] = "dynamodb://cato-migrate-state-cli?region=us-east-1"
    assert cli.run("state", "init").returncode == 0  # a state table is never created on use
    assert cli.run("canary", "set", "10", "--force", "--reason", "drill").returncode == 0
    r = cli.run("rollback", "--quick")
    assert r.returncode == 0, r.stderr
    actions = [e["action"] for e in cli.json("history")["entries"]]
    assert actions[-2:] == ["canary.set", "rollback.quick"]
    assert cli.json("lock", "status")["held"] is False


def test_a_rollback_holds_raises_until_canary_resume(cli):
    assert cli.run("canary", "set", "10", "--force", "--reason", "setup").returncode == 0
    plan = cli.json("rollback", "--quick", "--dry-run")
    assert plan["dry_run"] and plan["served_percentage"] == 10
    assert cli.json("canary", "status")["served_percentage"] == 10  # the dry run changed nothing
    assert cli.run("rollback", "--quick", "--reason", "error rate [/] 3%").returncode == 0
    r = cli.run("canary", "set", "10", "--force", "--reason", "try anyway")
    assert r.returncode == 1 and "canary resume" in r.stderr, r.stderr
    assert cli.json("canary", "status")["hold"]["reason"] == "error rate [/] 3%"
    r = cli.run("canary", "resume")
    assert r.returncode == 2 and "--reason" in r.stderr
    assert cli.run("canary", "resume", "--reason", "fixed").returncode == 0
    assert cli.json("canary", "status")["hold"] is None
    plan = cli.json("canary", "set", "10", "--force", "--reason", "again", "--dry-run")
    assert plan["dry_run"] and cli.json("canary", "status")["served_percentage"] == 0
    assert cli.run("canary", "set", "10", "--force", "--reason", "again").returncode == 0
    actions = [e["action"] for e in cli.json("history")["entries"]]
    assert "canary.resume" in actions
