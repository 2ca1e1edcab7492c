"""doctor and the live status / hand-over through the real CLI, against one small sandbox
(moto, the AppConfig layer, redis, the DynamoDB layer): what it does not run must read as down."""
from __future__ import annotations

import http.server
import json
import threading

import pytest

from tests.cli.conftest import Cli, cli_env


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    from cato_sandbox.manager import SandboxSettings, sandbox_down, sandbox_up

    work = tmp_path_factory.mktemp("doctor")
    settings = SandboxSettings(state_dir=work / ".cato-migrate", minute_seconds=1.0,
                               components=["moto", "appconfig", "redis", "dynamodb"])
    sandbox_up(settings)
    try:
        yield Cli(work, cli_env(work, CATO_STATE_URL=str(work / "state.db"), CATO_APPCONFIG_ENVIRONMENT="doctor"))
    finally:
        sandbox_down(settings)


def doctor(cli, *args: str) -> tuple[int, dict]:
    r = cli.run("doctor", *args, "--output", "json", timeout=60)
    return r.returncode, json.loads(r.stdout)


def test_doctor_reads_what_runs_and_fails_what_does_not(cli):
    rc, out = doctor(cli)
    st = {c["id"]: c for c in out["checks"]}
    assert rc == 1 and not out["ok"]
    assert st["identity"]["status"] == "pass" and "arn:aws" in st["identity"]["message"]
    assert st["redis"]["status"] in ("pass", "warn")  # the sandbox's redis has no maxmemory: warn
    assert st["redis"]["evidence"]["redis"]["source"].startswith("redis://127.0.0.1:")
    assert "used_memory" in st["redis"]["evidence"]["redis"]["read"]
    assert st["dynamodb"]["status"] == "fail" and "cato-semantic-memory MISSING" in st["dynamodb"]["message"]
    assert st["sagemaker"]["status"] == "fail"  # no endpoint deployed (and no model simulator in this sandbox)
    assert st["appconfig"]["status"] == "fail" and "missing: application" in st["appconfig"]["message"]
    for down in ("kubernetes", "ray_serve", "legacy_ready"):  # no Ray head, orchestrator or LiteLLM here
        assert st[down]["status"] == "fail", st[down]
    assert set(out["failed"]) >= {"dynamodb", "sagemaker", "legacy_ready", "ray_serve"}
    r = cli.run("doctor", "--for", "rollback", timeout=60)
    assert r.returncode == 1 and "legacy_ready:" in r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) <= 24 and any(x.startswith("fail    legacy_ready") for x in lines)


def test_status_is_live_then_shows_the_hold_and_the_handoff(cli):
    r = cli.run("canary", "set", "10", "--force", "--reason", "drill [red]x[/red]")
    assert r.returncode == 0, r.stderr
    st = cli.json("status")
    assert st["served"]["source"] == "live" and st["served"]["served_percentage"] == 10
    r = cli.run("rollback", "--quick", "--force", "--reason", "drill")
    assert r.returncode == 0, r.stderr
    st = cli.json("status")
    assert st["served"]["served_percentage"] == 0 and st["hold"]["by_command"]
    r = cli.run("status")
    assert "canary resume --reason TEXT" in r.stdout
    r = cli.run("status", "--handoff")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) <= 40 and "\x1b[" not in r.stdout
    text = r.stdout
    assert "Served: live: served 0%" in text and "HOLD: rolled back by" in text
    assert "Overrides: 2" in text and "drill [red]x[/red]" in text  # the raise and the forced rollback; verbatim
    assert "Observed (gateway): not measured" in text and "rollback --quick   (budget 300 s" in text
    h = cli.json("status", "--handoff")
    assert h["served"]["served_percentage"] == 0 and h["text"].count("\n") < 40
    rc, out = doctor(cli, "--for", "raise")
    assert rc == 1 and next(c for c in out["checks"] if c["id"] == "hold")["status"] == "fail"


def test_status_labels_the_journal_value_when_the_live_read_fails(cli):
    # An endpoint that answers 403, not as AppConfig: the read fails at once (4xx is not retried).
    class Refuse(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(403)
            self.end_headers()

        do_POST = do_GET

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        broken = Cli(cli.workdir, {**cli.env, "CATO_APPCONFIG_ENDPOINT_URL": f"http://127.0.0.1:{srv.server_address[1]}"})
        st = broken.json("status")
    finally:
        srv.shutdown()
        srv.server_close()
    assert st["served"]["source"] == "journal" and st["live_error"]
    assert "last verified" in st["served"]["label"] and "live read failed" in st["served"]["label"]
