"""`canary set/status/resume` and `rollback`, in process on fakes (flag, workloads, clock) and a SQLite store."""
from __future__ import annotations

import pytest

from tests.cli_inprocess.conftest import refused


def test_canary_status_reads_served_and_configured(cli, world):
    world.serve(10)
    r = cli("canary", "status", "--output", "json")
    assert r.code == 0, r.err
    data = r.json()
    assert data["served_percentage"] == 10 and data["configured_percentage"] == 10 and data["hold"] is None
    assert data["dual_write"]["served"] is None and "CATO_GATEWAY_URL" in data["dual_write"]["why"]
    assert "served     10%" in cli("canary", "status").out


def test_canary_set_dry_run_changes_nothing(cli, world):
    before, systems = cli.snapshot(), world.systems()
    r = cli("canary", "set", "10", "--force", "--reason", "drill", "--dry-run", "--output", "json")
    assert r.code == 0, r.err
    assert r.json()["dry_run"] is True and r.json()["would"]
    assert cli.snapshot() == before and world.systems() == systems


def test_canary_set_forced_deploys_verifies_and_audits(cli, world):
    r = cli("canary", "set", "10", "--force", "--reason", "drill", "--output", "json")
    assert r.code == 0, r.err
    assert any(c.startswith("start_deployment") for c in world.flag.calls)
    assert cli("canary", "status", "--output", "json").json()["served_percentage"] == 10
    assert "drill" in {e.reason for e in cli.store.audit("local")}
    assert cli.store.read_lock("local") is None


@pytest.mark.parametrize("argv, says", [
    (["150", "--force", "--reason", "x"], ["0 to 100", "nothing was changed"]),
    (["10.5"], ["'10.5'"]),
    (["[bold]10"], ["'[bold]10'"]),
    (["10", "--force"], ["--reason"]),
    ([], ["Missing argument"]),
])
def test_canary_set_bad_input_is_exit_2_and_changes_nothing(cli, world, argv, says):
    before, systems = cli.snapshot(), world.systems()
    refused(cli("canary", "set", *argv), 2, *says)
    assert cli.snapshot() == before and world.systems() == systems


def test_rollback_quick_holds_raises_until_resumed(cli, world):
    world.serve(10)
    plan = cli("rollback", "--quick", "--dry-run", "--output", "json")
    assert plan.code == 0 and plan.json()["dry_run"] is True, plan.err
    r = cli("rollback", "--quick", "--reason", "error rate 3%", "--output", "json")
    assert r.code == 0, r.err
    assert cli("canary", "status", "--output", "json").json()["served_percentage"] == 0
    before, systems = cli.snapshot(), world.systems()
    refused(cli("canary", "set", "10"), 1, "refusing to raise traffic")
    assert cli.snapshot()["journal"] == before["journal"] and world.systems() == systems
    refused(cli("canary", "resume"), 2, "--reason")
    resumed = cli("canary", "resume", "--reason", "root cause fixed", "--output", "json")
    assert resumed.code == 0 and resumed.json()["changed"] is True, resumed.err


def test_rollback_full_dry_run_lists_its_stages(cli, world):
    r = cli("rollback", "--full", "--dry-run", "--output", "json")
    assert r.code == 0, r.err
    assert r.json()["dry_run"] is True and len(r.json()["stages"]) >= 3


@pytest.mark.parametrize("argv, says", [
    ([], ["--quick", "--full"]),
    (["--quick", "--full"], ["--quick", "--full"]),
    (["--full", "--force", "--reason", "x"], ["--force goes with --quick"]),
    (["--quick", "--force"], ["--reason"]),
    (["--fast"], ["No such option"]),
])
def test_rollback_bad_input_is_exit_2_and_changes_nothing(cli, world, argv, says):
    world.serve(10)
    before, systems = cli.snapshot(), world.systems()
    refused(cli("rollback", *argv), 2, *says)
    assert cli.snapshot() == before and world.systems() == systems
