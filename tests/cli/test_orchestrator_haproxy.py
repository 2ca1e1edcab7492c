"""The orchestrator behind Ray 2.60's high-throughput ingress (HAProxy + direct ingress, the sandbox default) on the
sandbox: installed by the CLI with CATO_SANDBOX_INGRESS=haproxy, answering the OpenAI SDK."""
from __future__ import annotations

import time

import pytest

from tests.cli.conftest import orchestrator_stack


# two requests at once on the replica, one more held by HAProxy for at most 0.5 s: what does not fit is
# HAProxy's 429 (orchestrator/ingress_limits.py)
LIMITS = {"serve": {"max_admitted": 2, "max_ongoing_requests": 8, "max_queued_requests": 1,
                    "ingress_queue_timeout_s": 0.5, "retry_after_s": 2}}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with orchestrator_stack(tmp_path_factory.mktemp("orch-haproxy"), LIMITS, CATO_SANDBOX_INGRESS="haproxy") as stack:
        yield stack


def _listening_beyond_loopback() -> list[str]:
    """HAProxy's sockets, and the replica's direct-ingress port (30000-31000), not on 127.0.0.0/8.
    (Ray's own worker gRPC ports are Ray's, in every ingress mode, and not what this test is about.)"""
    import psutil

    found = []
    for proc in psutil.process_iter(["name"]):
        try:
            conns = proc.net_connections(kind="inet")
        except (psutil.AccessDenied, psutil.NoSuchProcess):
            continue
        for c in conns:
            if c.status != psutil.CONN_LISTEN or c.laddr.ip.startswith("127."):
                continue
            if proc.info["name"] == "haproxy" or 30000 <= c.laddr.port <= 31000:
                found.append(f"{proc.info['name']} {c.laddr.ip}:{c.laddr.port}")
    return found


def test_haproxy_ingress_serves_the_openai_api_and_keeps_its_files_in_the_sandbox(stack):
    import openai

    cli, url = stack
    key = (cli.workdir / ".cato-migrate" / "litellm.key").read_text().strip()
    client = openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=60)
    r = client.chat.completions.create(model="claude-3-haiku", messages=[{"role": "user", "content": "What is 2+2?"}])
    assert r.choices[0].message.content == "The answer is 4." and r.usage.completion_tokens > 0
    from cato_sandbox.ingress import haproxy_dir

    cfg = next(haproxy_dir(cli.workdir / ".cato-migrate").rglob("haproxy.cfg")).read_text()
    assert f"bind 127.0.0.1:{url.rsplit(':', 1)[1]}" in cfg  # the client-facing frontend stays on loopback
    assert not _listening_beyond_loopback()  # stats and exporter (sandbox/ray_loopback), the replica port
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=url + "/v1", api_key="sk-wrong", max_retries=0).models.list()


def test_what_does_not_fit_on_the_replica_is_refused_by_haproxy_at_once_with_a_429(stack):
    """8 requests at once on a replica that takes 2 (+1 queued) while the model takes 3 s: the rest get a 429
    with Retry-After in OpenAI's shape before any answer, never a wait into a timeout, and from HAProxy: only 2
    reach the replica. Planted: without the limits (no CATO_HAPROXY_* on the Ray head) the config has no
    maxconn, all 8 reach the replica, and its own admission is what refuses."""
    import json as _json
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from cato_sandbox.ingress import haproxy_dir
    from cato_sandbox.state import read_state

    cli, url = stack
    state = cli.workdir / ".cato-migrate"
    cfg = next(haproxy_dir(state).rglob("haproxy.cfg")).read_text()
    assert " check maxconn 2 maxqueue 1 " in cfg and "timeout queue 500ms" in cfg
    key = (state / "litellm.key").read_text().strip()
    sim = read_state(state).urls()["simulator"] + "/admin/config"
    before = httpx.get(sim, timeout=10, trust_env=False).json()
    httpx.put(sim, json={"tiers": {"*": {"ttft_ms": 3000, "per_token_ms": 0}}}, timeout=10, trust_env=False)

    def ask(i: int):
        t0 = time.monotonic()
        r = httpx.post(url + "/v1/chat/completions", headers={"Authorization": f"Bearer {key}"}, timeout=30,
                       json={"model": "claude-3-haiku", "messages": [{"role": "user", "content": f"Question {i}?"}]},
                       trust_env=False)
        return r, time.monotonic() - t0

    try:
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(ask, range(8)))
    finally:
        httpx.put(sim, json={"tiers": before["tiers"]}, timeout=10, trust_env=False)
    ok = [t for r, t in answers if r.status_code == 200]
    refused = [(r, t) for r, t in answers if r.status_code == 429]
    assert len(ok) + len(refused) == 8 and 1 <= len(ok) <= 2 and len(refused) >= 6, [r.status_code for r, _ in answers]
    for r, took in refused:
        assert r.headers["retry-after"] == "2" and took < min(ok)   # refused before any answer came back
        error = _json.loads(r.content)["error"]
        assert error["type"] == "rate_limit_error" and error["code"] == "at_capacity"
        assert "every replica busy and its queue full" in error["message"]   # HAProxy's, not the replica's


def test_sandbox_down_stops_haproxy_within_seconds(stack):
    import subprocess

    cli, _ = stack
    t0 = time.monotonic()
    assert cli.run("sandbox", "down", timeout=120).returncode == 0
    took = time.monotonic() - t0
    from cato_sandbox.ingress import haproxy_dir

    left = subprocess.run(["pgrep", "-f", str(haproxy_dir(cli.workdir / ".cato-migrate"))], capture_output=True)
    assert left.returncode == 1, left.stdout  # no HAProxy of this sandbox left behind
    assert took < 60, took


def test_the_python_proxy_fallback_still_serves(tmp_path_factory):
    """CATO_SANDBOX_INGRESS=proxy: Ray's default Python proxy, the documented fallback."""
    import openai

    work = tmp_path_factory.mktemp("orch-proxy")
    with orchestrator_stack(work, CATO_SANDBOX_INGRESS="proxy") as (_, url):
        key = (work / ".cato-migrate" / "litellm.key").read_text().strip()
        client = openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=60)
        answer = client.chat.completions.create(model="claude-3-haiku", messages=[{"role": "user", "content": "What is 2+2?"}])
        assert answer.choices[0].message.content == "The answer is 4."
        assert not list(work.glob("**/haproxy.cfg")) and not _listening_beyond_loopback()
