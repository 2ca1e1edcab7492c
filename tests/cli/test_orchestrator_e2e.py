"""The orchestrator on a real local Ray cluster, installed and checked by the CLI."""
from __future__ import annotations

import json
import os
import signal
import time

import httpx
import pytest

from tests.cli.conftest import Cli, cli_env


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    work = tmp_path_factory.mktemp("orch-e2e")
    cli = Cli(work, cli_env(work, CATO_STATE_URL=str(work / "state.db")))
    r = cli.run("sandbox", "up", timeout=120)
    assert r.returncode == 0, r.stderr
    try:
        r = cli.run("orchestrator", "install", "--output", "json", timeout=400)
        assert r.returncode == 0, r.stderr
        yield cli, json.loads(r.stdout)["url"]
    finally:
        cli.run("sandbox", "down", timeout=120)


def components(cli) -> dict:
    return {c["name"]: c for c in cli.json("sandbox", "status")["components"]}


def test_sandbox_status_lists_the_orchestrator(stack):
    cli, url = stack
    comps = components(cli)
    assert comps["orchestrator"]["url"] == url and comps["orchestrator"]["healthy"]
    assert comps["ray"]["healthy"]
    again = cli.run("orchestrator", "install", "--output", "json", timeout=120)
    assert again.returncode == 0 and json.loads(again.stdout)["already_up"] is True


def test_openai_api_metrics_and_admin(stack):
    cli, url = stack
    body = {"model": "cato", "messages": [{"role": "user", "content": "What is 2+2?"}]}
    r = httpx.post(url + "/v1/chat/completions", json=body, headers={"x-session-id": "e2e-1"}, timeout=60, trust_env=False)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["object"] == "chat.completion" and data["model"] == "bedrock_haiku"
    assert data["cato"]["session_id"] == "e2e-1" and "route_reason" in data["cato"]
    with httpx.stream("POST", url + "/v1/chat/completions", json={**body, "stream": True}, timeout=60,
                      trust_env=False) as s:
        lines = [ln for ln in s.iter_lines() if ln.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    text = "".join(json.loads(ln[6:])["choices"][0]["delta"].get("content", "") for ln in lines[:-1])
    assert text == data["choices"][0]["message"]["content"]  # the cached answer, streamed
    fresh = {"model": "cato", "stream": True, "messages": [{"role": "user", "content": "What is 7 times 6?"}]}
    with httpx.stream("POST", url + "/v1/chat/completions", json=fresh, timeout=60, trust_env=False) as s:
        chunks = [json.loads(ln[6:]) for ln in s.iter_lines() if ln.startswith("data: ") and ln != "data: [DONE]"]
    assert chunks[0]["cato"]["cached"] is False and chunks[0]["model"] == "bedrock_haiku"
    deltas = [c["choices"][0]["delta"].get("content", "") for c in chunks[1:]]
    assert len([d for d in deltas if d]) > 1 and "42" in "".join(deltas)  # token by token from the model
    assert httpx.post(url + "/v1/chat/completions", json={"messages": []}, timeout=30, trust_env=False).status_code == 400
    metrics = httpx.get(url + "/metrics", timeout=30, trust_env=False).text
    assert "cato_requests_total" in metrics and "cato_breaker_state" in metrics
    assert httpx.get(url + "/admin/breakers", timeout=30, trust_env=False).status_code == 401


def test_check_and_validate_phase_2_pass(stack):
    cli, _ = stack
    r = cli.run("orchestrator", "check", "--output", "json", timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert {p["name"] for p in json.loads(r.stdout)["probes"]} == {"health", "routing", "context", "breaker", "cache"}
    r = cli.run("validate", "2", "--output", "json", timeout=300)
    assert r.returncode == 0, r.stdout
    assert cli.run("attest", "p2.w8.midpoint-update", "--by", "lead").returncode == 0
    r = cli.run("phase", "run", "2", "--output", "json", timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert all(s["outcome"] in ("done", "skipped") for s in json.loads(r.stdout)["steps"])


def _restart_orchestrator(cli) -> None:
    pid = components(cli)["orchestrator"]["pid"]
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    r = cli.run("orchestrator", "install", timeout=400)
    assert r.returncode == 0, r.stderr


def test_validate_2_fails_while_context_is_dropped(stack):
    cli, _ = stack
    overrides = cli.workdir / ".cato-migrate" / "orchestrator-overrides.json"
    overrides.write_text(json.dumps({"history_turns": 0}))
    try:
        _restart_orchestrator(cli)
        r = cli.run("validate", "2", "--output", "json", timeout=300)
        assert r.returncode == 1
        status = {c["id"]: c["status"] for c in json.loads(r.stdout)["phases"][0]["criteria"]}
        assert status["p2.exit.context-persists"] == "fail"
    finally:
        overrides.unlink()
        _restart_orchestrator(cli)
    assert cli.run("validate", "2", timeout=300).returncode == 0
