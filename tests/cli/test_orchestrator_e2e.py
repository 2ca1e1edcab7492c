"""The orchestrator on a real local Ray cluster, installed and checked by the CLI."""
from __future__ import annotations

import json
import os
import signal
import time

import httpx
import pytest

from tests.cli.conftest import orchestrator_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with orchestrator_stack(tmp_path_factory.mktemp("orch-e2e"), CATO_DRAIN_QUIET_SECONDS="2",
                            CATO_LEGACY_REPLICAS="1") as stack:
        yield stack


def components(cli) -> dict:
    return {c["name"]: c for c in cli.json("sandbox", "status")["components"]}


def test_sandbox_status_lists_the_orchestrator(stack):
    cli, url = stack
    comps = components(cli)
    assert comps["orchestrator"]["url"] == url and comps["orchestrator"]["healthy"]
    assert comps["ray"]["healthy"]
    again = cli.run("orchestrator", "install", "--output", "json", timeout=120)
    assert again.returncode == 0 and json.loads(again.stdout)["already_up"] is True


def _key(cli) -> dict[str, str]:
    """The sandbox's client key (litellm.key): the orchestrator takes the key clients use with LiteLLM."""
    return {"Authorization": "Bearer " + (cli.workdir / ".cato-migrate" / "litellm.key").read_text().strip()}


def test_openai_api_metrics_and_admin(stack):
    cli, url = stack
    auth = _key(cli)
    body = {"model": "cato", "messages": [{"role": "user", "content": "What is 2+2?"}]}
    assert httpx.post(url + "/v1/chat/completions", json=body, timeout=60, trust_env=False).status_code == 401
    r = httpx.post(url + "/v1/chat/completions", json=body, headers={"x-session-id": "e2e-1", **auth}, timeout=60,
                   trust_env=False)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["object"] == "chat.completion" and data["model"] == "bedrock_haiku"
    assert data["cato"]["session_id"] == "e2e-1" and "route_reason" in data["cato"]
    with httpx.stream("POST", url + "/v1/chat/completions", json={**body, "stream": True}, timeout=60,
                      headers=auth, trust_env=False) as s:
        lines = [ln for ln in s.iter_lines() if ln.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    text = "".join(json.loads(ln[6:])["choices"][0]["delta"].get("content", "") for ln in lines[:-1])
    assert text == data["choices"][0]["message"]["content"]  # the cached answer, streamed
    fresh = {"model": "cato", "stream": True, "messages": [{"role": "user", "content": "What is 7 times 6?"}]}
    with httpx.stream("POST", url + "/v1/chat/completions", json=fresh, timeout=60, headers=auth,
                      trust_env=False) as s:
        chunks = [json.loads(ln[6:]) for ln in s.iter_lines() if ln.startswith("data: ") and ln != "data: [DONE]"]
    assert chunks[0]["cato"]["cached"] is False and chunks[0]["model"] == "bedrock_haiku"
    deltas = [c["choices"][0]["delta"].get("content", "") for c in chunks[1:]]
    assert len([d for d in deltas if d]) > 1 and "42" in "".join(deltas)  # token by token from the model
    bad = httpx.post(url + "/v1/chat/completions", json={"messages": []}, headers=auth, timeout=30, trust_env=False)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "messages"
    metrics = httpx.get(url + "/metrics", timeout=30, trust_env=False).text
    assert "cato_requests_total" in metrics and "cato_breaker_state" in metrics
    assert httpx.get(url + "/admin/breakers", timeout=30, trust_env=False).status_code == 401


def test_the_openai_sdk_on_ray_sends_the_conversation_and_gets_usage(stack):
    import openai

    cli, url = stack
    client = openai.OpenAI(base_url=url + "/v1", api_key=_key(cli)["Authorization"][7:], max_retries=0, timeout=60)
    r = client.chat.completions.create(model="claude-3-haiku", messages=[
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "My name is Alice."}, {"role": "assistant", "content": "Nice to meet you, Alice."},
        {"role": "user", "content": [{"type": "text", "text": "What is my name?"}]}])
    assert r.choices[0].message.content == "Your name is Alice." and r.model == "claude-3-haiku"
    assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens == 4
    assert "claude-3-5-sonnet" in {m.id for m in client.models.list()}
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])


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


# --- phases 1 and 3 on the real stack, then the full rollback drill (last: it stops the orchestrator)


def test_phase_1_runs_and_validates_on_the_sandbox(stack):
    cli, _ = stack
    assert cli.run("attest", "p1.w1.announce-kickoff", "--by", "lead").returncode == 0
    r = cli.run("phase", "run", "1", "--output", "json", timeout=500)
    assert r.returncode == 0, r.stdout + r.stderr
    steps = {s["id"]: s for s in json.loads(r.stdout)["steps"]}
    assert steps["p1.w3.deploy-orchestrator"]["outcome"] == "done"  # the RayService -> the running Serve app
    assert steps["p1.w4.load-test"]["evidence"]["p99_ms"] > 0
    r = cli.run("validate", "1", "--output", "json", timeout=300)
    assert r.returncode == 0, r.stdout


def test_phase_3_memory_checks_reach_the_serve_apps_admin_api(stack):
    cli, _ = stack
    r = cli.run("phase", "run", "3", "--output", "json", timeout=500)
    assert r.returncode == 0, r.stdout + r.stderr
    r = cli.run("validate", "3", "--output", "json", timeout=300)
    assert r.returncode == 0, r.stdout
    crit = {c["id"]: c for c in json.loads(r.stdout)["phases"][0]["criteria"]}
    assert crit["p3.exit.dax-sub-ms"]["measured"] < 1.0
    assert crit["p3.exit.dynamodb-replicating"]["measured"] > 0  # lag in ms, write -> other region


def _ask(gateway: str, user: str) -> httpx.Response:
    body = {"model": "claude-3-haiku", "user": user, "messages": [{"role": "user", "content": "What is 2+2?"}]}
    return httpx.post(gateway + "/v1/chat/completions", json=body, timeout=60, trust_env=False)


def test_full_rollback_from_50_percent_returns_legacy_to_serving(stack):
    from cato_migrate.core.bucketing import pick_stack

    cli, _ = stack
    for pct in ("10", "50"):
        r = cli.run("canary", "set", pct, "--force", "--reason", "drill", timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
    gateway = components(cli)["gateway"]["url"]
    user = next(f"drill-user-{i}" for i in range(100) if pick_stack(f"drill-user-{i}", 50) == "new")
    deadline = time.monotonic() + 10
    while _ask(gateway, user).headers.get("x-cato-stack") != "new" and time.monotonic() < deadline:
        time.sleep(0.5)  # the gateway re-reads the flag every 0.5 s
    assert _ask(gateway, user).headers["x-cato-stack"] == "new"

    r = cli.run("rollback", "--full", "--reason", "drill", "--output", "json", timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    result = json.loads(r.stdout)
    assert [s["stage"] for s in result["stages"]] == ["legacy-up", "flag-zero", "drain", "orchestrator-down"]
    assert result["within_budget"]
    print("full rollback stages (s):", {s["stage"]: s["seconds"] for s in result["stages"]})
    assert cli.json("canary", "status")["served_percentage"] == 0
    comps = components(cli)
    assert "orchestrator" not in comps or not comps["orchestrator"]["healthy"]
    answer = _ask(gateway, user)  # the same user, now on the legacy stack, answered by LiteLLM
    assert answer.status_code == 200 and answer.headers["x-cato-stack"] == "legacy", answer.text
    history = cli.json("history")
    assert any(e["action"] == "rollback.full" for e in history["entries"])
