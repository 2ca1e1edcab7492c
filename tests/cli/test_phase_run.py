"""phase run: journaled, resumable after kill -9, verified."""
from __future__ import annotations

import json
import signal
import sqlite3
import time


def journal_events(db: str, key: str) -> list[str]:
    try:
        con = sqlite3.connect(db)
        rows = con.execute("SELECT body FROM journal WHERE key=? ORDER BY seq", (key,)).fetchall()
        con.close()
    except sqlite3.Error:
        return []
    return [json.loads(b)["event"] for (b,) in rows]


def test_kill_9_mid_phase_run_then_rerun_resumes(cli):
    db = cli.env["CATO_STATE_URL"]
    assert cli.run("attest", "p4.w13.alert-oncall", "--by", "alice").returncode == 0
    proc = cli.popen("phase", "run", "4", "--week", "13", "--force", "--reason", "kill drill")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "started" not in journal_events(db, "p4.w13.canary-10"):
        time.sleep(0.05)
    time.sleep(0.5)  # inside the deployment wait
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert journal_events(db, "p4.w13.canary-10")[-1] == "started"
    # the dead holder's lock does not block the re-run
    r = cli.run("phase", "run", "4", "--week", "13", "--force", "--reason", "resume", "--output", "json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [s["outcome"] for s in out["steps"]] == ["skipped", "done"] or \
           [s["outcome"] for s in out["steps"]] == ["skipped", "resumed"]
    assert journal_events(db, "p4.w13.canary-10")[-1] == "finished"
    assert cli.json("canary", "status")["served_percentage"] == 10
    actions = [e["action"] for e in cli.json("history")["entries"]]
    assert "lock.takeover" in actions


def test_dry_run_changes_nothing(cli):
    r = cli.run("phase", "run", "4", "--dry-run", "--output", "json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["dry_run"] and out["steps"][1]["outcome"] == "planned"
    assert cli.json("canary", "status")["deployment_state"] == "NONE"
    assert cli.json("history")["entries"] == []


def test_status_and_validate_json(cli):
    st = cli.json("status")
    assert st["phase"] == 1 and st["next"]["step"] == "p1.w1.announce-kickoff"
    r = cli.run("validate", "4", "--output", "json")
    assert r.returncode == 1
    out = json.loads(r.stdout)
    statuses = {c["id"]: c["status"] for c in out["phases"][0]["criteria"]}
    assert statuses["p4.exit.full-traffic"] == "fail"
    assert statuses["p4.exit.no-litellm-deps"] == "fail"  # LiteLLM's manifest, config and process are all still there
    deps = next(c for c in out["phases"][0]["criteria"] if c["id"] == "p4.exit.no-litellm-deps")
    assert "k8s/litellm/deployment.yaml" in deps["message"] or "config/litellm.yaml" in deps["message"]
    assert statuses["p4.exit.team-trained"] == "waiting"
