"""Crash and resume: `canary set` SIGKILLed right after StartDeployment, then the next command.

The killed process leaves its intent (journal `started`, audit `canary.set`) and a lock whose holder
is provably dead (same host, pid gone): the next mutating command takes the lock over at once
(audit `lock.takeover`, not a wait for the lease to lapse) and closes the interrupted change from
what AppConfig serves (journal `finished` with evidence.reconciled, audit `traffic.reconciled`).
bench/resilience.py runs the same drill at every step boundary of phases 1-4.
"""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from cato_migrate.adapters.sqlite_store import SqliteStateStore
from cato_migrate.core.traffic import TRAFFIC_KEY


def _kill_after_start_deployment(cli, *args: str, timeout: float = 60) -> int:
    """Run `cato-migrate *args`; SIGKILL it once it reports its deployment (StartDeployment returned)."""
    p = subprocess.Popen(cli.argv(*args), cwd=cli.workdir, env=cli.env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    watchdog = threading.Timer(timeout, p.kill)  # bounds the wait for a command that never gets there
    watchdog.start()
    seen = []
    try:
        for line in p.stderr:  # progress lines, one per print; ends when the process does
            seen.append(line)
            if "deployment #" in line:
                os.killpg(p.pid, signal.SIGKILL)
                break
    finally:
        watchdog.cancel()
        if p.poll() is None and not any("deployment #" in s for s in seen):
            os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=30)  # reaped: its pid is gone, as after a real crash
        p.stderr.close()
    assert p.returncode == -signal.SIGKILL and any("deployment #" in s for s in seen), "".join(seen)
    return p.pid


def _wait_complete(cli, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        st = cli.json("canary", "status")
        if st["deployment_state"] == "COMPLETE" or time.monotonic() > deadline:
            return st
        time.sleep(0.2)


def test_canary_set_killed_after_start_deployment_is_reconciled_and_its_lock_taken_over(cli):
    store = SqliteStateStore(Path(cli.env["CATO_STATE_URL"]))
    pid = _kill_after_start_deployment(cli, "canary", "set", "10", "--force", "--reason", "crash drill")

    # what the dead command left: its intent, its audit entry and its lock
    last = store.journal("local", TRAFFIC_KEY)[-1]
    assert last.event == "started" and last.inputs["target"] == 10
    assert [e.action for e in store.audit("local")][-1] == "canary.set"
    lease = store.read_lock("local")
    assert lease is not None and lease.pid == pid
    assert cli.json("status")["pending_traffic_intent"]["target"] == 10

    st = _wait_complete(cli)  # the deployment it started goes on without it
    assert st["deployment_state"] == "COMPLETE" and st["served_percentage"] == 10, st

    r = cli.run("canary", "set", "10", "--force", "--reason", "after the crash")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "reconciled" in r.stderr and "already serving 10%" in r.stdout

    closed = store.journal("local", TRAFFIC_KEY)[-1]
    assert closed.event == "finished" and closed.evidence["reconciled"] is True
    assert closed.evidence["served_percentage"] == 10 and closed.run_id != last.run_id
    audit = store.audit("local")
    takeover = next(e for e in audit if e.action == "lock.takeover")
    assert takeover.details["previous_pid"] == pid
    assert "holder process is gone" in takeover.details["why"]  # at once, not after the lease lapsed
    reconciled = next(e for e in audit if e.action == "traffic.reconciled")
    assert reconciled.details["outcome"] == "completed" and reconciled.details["interrupted_run"] == last.run_id
    assert store.read_lock("local") is None  # released by the command that took it over
    assert cli.json("status")["pending_traffic_intent"] is None
