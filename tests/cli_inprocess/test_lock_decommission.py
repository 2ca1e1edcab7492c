"""`lock status`, `lock release` and `decommission` (dry run, refusals, the scale to 0), in process."""
from __future__ import annotations

import time

import pytest

from cato_migrate.core.lock import lease_id
from cato_migrate.core.state import LockLease
from tests.cli_inprocess.conftest import ATTEST_STEP, refused


@pytest.fixture
def held(cli) -> LockLease:
    """Someone else holds the lock (a live heartbeat), running a command line with markup in it."""
    now = time.time()
    lease = LockLease(env="local", token="3f9c1a2b-held-by-mallory", holder="mallory@elsewhere",
                      command="cato-migrate canary set 10 --reason '[/]'", host="elsewhere", pid=4242,
                      started=now, heartbeat=now, expires=now + 3600, ttl=3600)
    assert cli.store.acquire_lock(lease, preempt=True).acquired
    return lease


def test_lock_status_free(cli):
    r = cli("lock", "status", "--output", "json")
    assert r.code == 0, r.err
    assert r.json()["held"] is False and r.json()["lease"] is None
    assert "lock for local: free" in cli("lock", "status").out


def test_lock_status_held_shows_the_lease_literally(cli, held):
    r = cli("lock", "status", "--output", "json")
    assert r.code == 0, r.err
    data = r.json()
    assert data["held"] and data["lease_id"] == lease_id(held) and data["lease"]["holder"] == "mallory@elsewhere"
    assert data["renewals_missed"] is False and data["lease_seconds"] == 3600
    table = cli("lock", "status")
    assert "--reason '[/]'" in table.out and f"--lease {lease_id(held)}" in table.out


def test_a_mutating_verb_under_someone_elses_lock_is_exit_3(cli, held):
    before = cli.snapshot()
    refused(cli("attest", ATTEST_STEP, "--by", "bob"), 3, "mallory@elsewhere")
    assert cli.snapshot() == before


def test_lock_release_breaks_the_named_lease_and_audits_it(cli, held):
    r = cli("lock", "release", "--force", "--lease", lease_id(held), "--reason", "laptop died", "--output", "json")
    assert r.code == 0, r.err
    assert r.json()["released"] is True and r.json()["previous"]["holder"] == "mallory@elsewhere"
    assert cli.store.read_lock("local") is None
    audit = [e for e in cli.store.audit("local") if e.action == "lock.force_release"]
    assert len(audit) == 1 and audit[0].reason == "laptop died"
    assert audit[0].details["previous_lease"] == lease_id(held)


def test_lock_release_when_free_changes_nothing(cli):
    before = cli.snapshot()
    r = cli("lock", "release", "--force", "--lease", "abcdef12", "--reason", "x")
    assert r.code == 0, r.err
    assert "already free; nothing was changed" in r.out
    assert cli.snapshot() == before


@pytest.mark.parametrize("argv, says", [
    (["--force", "--lease", "ffffffff", "--reason", "x"], ["the lease is now", "nothing was changed"]),  # not this one
    (["--force", "--lease", "3f9", "--reason", "x"], ["too short"]),
    (["--force", "--reason", "x"], ["--lease"]),
    (["--force", "--lease", "3f9c1a2b"], ["--reason"]),
    ([], ["--force"]),
])
def test_lock_release_bad_input_is_exit_2_and_keeps_the_lock(cli, held, argv, says):
    before = cli.snapshot()
    refused(cli("lock", "release", *argv), 2, *says)
    assert cli.snapshot() == before and cli.store.read_lock("local").token == held.token


def test_decommission_dry_run_says_it_would_refuse_below_100_and_changes_nothing(cli, world):
    world.serve(10)
    before, systems = cli.snapshot(), world.systems()
    r = cli("decommission", "--dry-run", "--output", "json")
    assert r.code == 0, r.err
    plan = r.json()
    assert plan["dry_run"] is True and plan["served_percentage"] == 10
    assert plan["would"][0].startswith("REFUSE unless --force")
    assert cli.snapshot() == before and world.systems() == systems
    table = cli("decommission", "--dry-run")
    assert "dry run" in table.out and "nothing was changed" in table.out


def test_decommission_below_100_is_refused_exit_1_nothing_scaled(cli, world):
    world.serve(10)
    before, systems = cli.snapshot(), world.systems()
    refused(cli("decommission"), 1, "refusing to scale LiteLLM to 0", "nothing was changed")
    assert cli.snapshot()["journal"] == before["journal"] and cli.snapshot()["lock"] is None
    assert world.systems() == systems


def test_decommission_at_100_scales_legacy_to_zero_then_delete_waits_for_monitoring(cli, world):
    world.serve(100)
    r = cli("decommission", "--output", "json")
    assert r.code == 0, r.err
    assert r.json()["changed"] is True and r.json()["previous_replicas"] == 2
    assert world.workloads.items["litellm"]["desired"] == 0
    before = cli.snapshot()
    refused(cli("decommission", "--delete"), 1, "monitoring period ends", "nothing was changed")
    assert "litellm" in world.workloads.items
    assert cli.snapshot()["journal"] == before["journal"]


@pytest.mark.parametrize("argv, says", [
    (["--force"], ["--reason"]),
    (["--delete", "--force", "--reason", " "], ["--reason"]),
    (["--now"], ["No such option"]),
])
def test_decommission_bad_input_is_exit_2_and_changes_nothing(cli, world, argv, says):
    world.serve(100)
    before, systems = cli.snapshot(), world.systems()
    refused(cli("decommission", *argv), 2, *says)
    assert cli.snapshot() == before and world.systems() == systems
