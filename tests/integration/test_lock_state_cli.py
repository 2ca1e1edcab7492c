"""`state init`, `lock status`, `lock release --force --lease`, and where the state store may live,
through the real CLI (a subprocess), against SQLite files and a real moto server."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from cato_migrate.adapters.sqlite_store import SqliteStateStore
from cato_migrate.core.clock import SystemClock
from cato_migrate.core.lock import LeaseKeeper, lease_id
from cato_migrate.core.proc_identity import ProcessIdentity

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CATO_", "AWS_"))}
    base.update({"PYTHONPATH": str(ROOT), "CATO_ENV": "local", "CATO_WORK_DIR": str(tmp_path / ".cato-migrate"),
                 "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "COLUMNS": "200",
                 "CATO_ACTOR": "tester@h", **env})
    return subprocess.run([sys.executable, "-m", "cato_migrate", *args], cwd=tmp_path, env=base,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def test_staging_refuses_an_implicit_local_sqlite_store(tmp_path):
    r = run(tmp_path, "--env", "staging", "lock", "status")
    assert r.returncode == 2, r.stderr
    assert 'state_url = "dynamodb://TABLE?region=us-east-1"' in r.stderr
    assert not (tmp_path / ".cato-migrate" / "state.db").exists()
    chosen = run(tmp_path, "--env", "staging", "lock", "status", CATO_STATE_URL=f"sqlite://{tmp_path}/team.db")
    assert chosen.returncode == 0, chosen.stderr
    assert "free" in chosen.stdout


def test_dynamodb_table_is_made_by_state_init_only(tmp_path, moto_server):
    table = f"cato-state-{uuid.uuid4().hex[:12]}"
    env = {"CATO_STATE_URL": f"dynamodb://{table}?region=us-east-1", "CATO_DYNAMODB_ENDPOINT_URL": moto_server}
    missing = run(tmp_path, "--env", "staging", "lock", "status", **env)
    assert missing.returncode == 2
    assert f"{table} does not exist in region us-east-1" in missing.stderr and "state init" in missing.stderr

    first = run(tmp_path, "--env", "staging", "state", "init", "--output", "json", **env)
    assert first.returncode == 0, first.stderr
    out = json.loads(first.stdout)
    assert out["created"] is True and out["status"] == "ACTIVE" and out["table"] == table
    again = run(tmp_path, "--env", "staging", "state", "init", **env)
    assert again.returncode == 0 and "already existed; nothing to do" in again.stdout

    status = run(tmp_path, "--env", "staging", "lock", "status", "--output", "json", **env)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["held"] is False
    history = run(tmp_path, "--env", "staging", "history", "--output", "json", **env)
    assert [e["action"] for e in json.loads(history.stdout)["entries"]] == ["state.init"]


def test_sqlite_state_init_is_idempotent(tmp_path):
    db = tmp_path / "state" / "s.db"
    first = json.loads(run(tmp_path, "state", "init", "--output", "json", CATO_STATE_URL=str(db)).stdout)
    assert first["created"] is True and db.exists()
    second = json.loads(run(tmp_path, "state", "init", "--output", "json", CATO_STATE_URL=str(db)).stdout)
    assert second["created"] is False


def test_force_release_takes_the_lease_id_shown_by_lock_status(tmp_path):
    db = tmp_path / "state.db"
    holder = LeaseKeeper(SqliteStateStore(db), SystemClock(), env="local", actor="alice@laptop",
                         command="cato-migrate phase run 4", ttl=600,
                         identity=ProcessIdentity(host="laptop", pid=4242, start=1, boot_id="b", pid_ns=1))
    held = holder.acquire()
    holder._stop.set()  # the laptop died: no renewals, no release
    holder._thread.join(timeout=5)
    env = {"CATO_STATE_URL": str(db)}

    status = run(tmp_path, "lock", "status", **env)
    assert status.returncode == 0, status.stderr
    assert f"lease {lease_id(held)}" in status.stdout and "alice@laptop (pid 4242 on laptop)" in status.stdout
    assert "s ago by the store's clock" in status.stdout
    data = json.loads(run(tmp_path, "lock", "status", "--output", "json", **env).stdout)
    assert data["lease_id"] == lease_id(held) and data["heartbeat_age_s"] is not None

    no_id = run(tmp_path, "lock", "release", "--force", "--reason", "laptop died", **env)
    assert no_id.returncode == 2 and "--lease" in no_id.stderr
    wrong = run(tmp_path, "lock", "release", "--force", "--lease", "deadbeef", "--reason", "laptop died", **env)
    assert wrong.returncode == 2
    assert f"the lease is now {lease_id(held)}" in wrong.stderr and "not deadbeef; nothing was changed" in wrong.stderr
    assert SqliteStateStore(db).read_lock("local").token == held.token

    right = run(tmp_path, "lock", "release", "--force", "--lease", lease_id(held), "--reason", "laptop died", **env)
    assert right.returncode == 0, right.stderr
    assert SqliteStateStore(db).read_lock("local") is None
    entry = SqliteStateStore(db).audit("local")[-1]
    assert entry.action == "lock.force_release" and entry.reason == "laptop died"
    assert entry.details["previous_holder"] == "alice@laptop" and entry.details["previous_lease"] == lease_id(held)
