"""The sandbox gateway as a real process: the flag read through the real AppConfig layer (on a
real moto server), two stub stacks over HTTP, counters read back through GatewayScrape.

Also GatewayScrape's parsing and error mapping.
"""
from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from cato_migrate.adapters.gateway_metrics import GatewayScrape, parse_samples, traffic_from_text
from cato_migrate.core.bucketing import on_new_stack
from cato_migrate.errors import ExternalError
from tests.integration.conftest import free_port, wait_http, stop_process

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# --- GatewayScrape: parsing and errors ---------------------------------------------------------

SAMPLE = """# HELP cato_gateway_in_flight x
# TYPE cato_gateway_in_flight gauge
cato_gateway_in_flight{stack="legacy"} 3
cato_gateway_in_flight{stack="new"} 0
cato_gateway_requests_total{stack="legacy",outcome="ok"} 120
cato_gateway_requests_total{outcome="error",stack="legacy"} 2 1700000000000
cato_gateway_requests_total{stack="new",outcome="ok"} 7.0
other_metric{path="/a \\"quoted\\""} 1
"""


def test_scrape_text_maps_to_stack_traffic():
    t = traffic_from_text(SAMPLE)
    assert (t.in_flight_legacy, t.in_flight_new, t.served_legacy, t.served_new) == (3, 0, 120, 7)
    assert (t.errors_legacy, t.errors_new) == (2, 0)  # absent counter = never incremented
    assert ("other_metric", {"path": '/a "quoted"'}, 1.0) in parse_samples(SAMPLE)


def test_a_scrape_without_in_flight_gauges_is_an_error_not_zero():
    # "drained" must never be concluded from a scrape that says nothing
    with pytest.raises(ExternalError, match="no cato_gateway_in_flight series for stack"):
        traffic_from_text('cato_gateway_in_flight{stack="legacy"} 0\n')
    with pytest.raises(ExternalError):
        traffic_from_text("up 1\n")


def test_scrape_http_errors_are_external_errors():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        with pytest.raises(ExternalError, match="answered HTTP 404"):
            GatewayScrape(f"http://127.0.0.1:{srv.server_port}").traffic()
    finally:
        srv.shutdown()
        srv.server_close()
    with pytest.raises(ExternalError, match="unreachable") as exc:
        GatewayScrape(f"http://127.0.0.1:{free_port()}/metrics").traffic()
    assert "sandbox up" in exc.value.hint


class _NotFound(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(404)
        self.end_headers()

    def log_message(self, *a):
        pass


# --- stub stacks --------------------------------------------------------------------------------

class Stack:
    """An OpenAI-ish stub: answers with its name; holds requests whose content is 'hold'."""

    def __init__(self, name: str):
        self.name, self.release = name, threading.Event()
        self.seen: list[dict] = []
        stack = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 1 << 16  # one write per answer (headers + body): no Nagle/delayed-ACK stalls

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                stack.seen.append({"auth": self.headers.get("Authorization"), "body": body})
                if body["messages"][0]["content"] == "hold":
                    stack.release.wait(30)
                if body.get("stream"):
                    chunks = [f'data: {{"stack": "{stack.name}", "i": {i}}}\n\n' for i in range(3)]
                    payload = ("".join(chunks) + "data: [DONE]\n\n").encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                else:
                    payload = json.dumps({"stack": stack.name, "choices": [
                        {"message": {"role": "assistant", "content": f"from {stack.name}"}}]}).encode()
                    self.send_response(500 if body["messages"][0]["content"] == "boom" else 200)
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def _write_state(state_dir: Path, urls: dict[str, str]) -> None:
    comps = [{"name": n, "url": u, "port": int(u.rsplit(":", 1)[1])} for n, u in urls.items()]
    tmp = state_dir / "sandbox.json.tmp"
    tmp.write_text(json.dumps({"version": 1, "complete": True, "components": comps}))
    os.replace(tmp, state_dir / "sandbox.json")


class Gateway:
    def __init__(self, url: str, state_dir: Path):
        self.url, self.state_dir = url, state_dir

    def chat(self, user: str | None = None, content: str = "hi", *, stream: bool = False,
             session: str | None = None) -> tuple[int, str | None, bytes]:
        body = {"model": "claude-3-haiku", "messages": [{"role": "user", "content": content}]}
        if user:
            body["user"] = user
        if stream:
            body["stream"] = True
        headers = {"Content-Type": "application/json", **({"x-session-id": session} if session else {})}
        req = urllib.request.Request(self.url + "/v1/chat/completions", data=json.dumps(body).encode(),
                                     headers=headers, method="POST")
        try:
            with _OPENER.open(req, timeout=30) as r:
                return r.status, r.headers.get("x-cato-stack"), r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("x-cato-stack"), e.read()

    def percentage(self) -> int:
        with _OPENER.open(self.url + "/healthz", timeout=5) as r:
            return json.loads(r.read())["percentage"]

    def wait_percentage(self, pct: int, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while self.percentage() != pct:
            assert time.monotonic() < deadline, f"gateway never saw {pct}% (has {self.percentage()}%)"
            time.sleep(0.1)

    def traffic(self):
        return GatewayScrape(self.url).traffic()


@pytest.fixture
def stacks():
    legacy, new = Stack("legacy"), Stack("new")
    yield legacy, new
    legacy.close()
    new.close()


@pytest.fixture
def flag(appconfig_layer, monkeypatch):
    """The real AppConfig adapter on the sandbox layer; deploy(spec) waits for COMPLETE."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    from cato_migrate.adapters.appconfig import AppConfigFlag
    from cato_migrate.ports import FlagSpec

    f = AppConfigFlag(application="cato", environment="gwtest", profile="orchestration",
                      flag="use_new_orchestrator", region="us-east-1", endpoint_url=appconfig_layer)

    def deploy(percentage: int, enabled: bool = True) -> None:
        f.ensure_setup()
        strategy = f.ensure_strategy("zero-bake", 0, 0, 100)
        version = f.create_version(FlagSpec(enabled=enabled, percentage=percentage), "test")
        d = f.start_deployment(version, strategy, "test")
        deadline = time.monotonic() + 15
        while f.get_deployment(d.number).state != "COMPLETE":
            assert time.monotonic() < deadline
            time.sleep(0.05)

    deploy.url = appconfig_layer
    return deploy


@pytest.fixture
def gateway(tmp_path, stacks, flag):
    legacy, new = stacks
    state_dir = tmp_path / "sb"
    state_dir.mkdir()
    _write_state(state_dir, {"litellm": legacy.url, "orchestrator": new.url})
    (state_dir / "litellm.key").write_text("sk-legacy-key\n")
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("CATO_GATEWAY_NEW_COMPONENT", None)
    proc = subprocess.Popen([sys.executable, "-m", "cato_sandbox.gateway", "--port", str(port),
                             "--state-dir", str(state_dir), "--appconfig-url", flag.url,
                             "--environment", "gwtest", "--poll-interval", "0.1"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/healthz", proc=proc)
        yield Gateway(url, state_dir)
    finally:
        stop_process(proc)


USERS = [f"user-{i}" for i in range(200)]


def test_missing_flag_sends_everyone_to_legacy_with_its_key(gateway, stacks):
    legacy, new = stacks
    assert gateway.percentage() == 0
    for u in USERS[:20]:
        status, stack, body = gateway.chat(u)
        assert (status, stack) == (200, "legacy") and json.loads(body)["stack"] == "legacy"
    assert new.seen == []
    assert {s["auth"] for s in legacy.seen} == {"Bearer sk-legacy-key"}  # the client's is not used
    t = gateway.traffic()
    assert (t.served_legacy, t.served_new, t.errors_legacy, t.errors_new) == (20, 0, 0, 0)


def test_the_split_follows_the_flag_and_is_sticky(gateway, flag, stacks):
    legacy, new = stacks
    flag(10)
    gateway.wait_percentage(10)
    at10 = {u for u in USERS if gateway.chat(u)[1] == "new"}
    assert at10 == {u for u in USERS if on_new_stack(u, 10)}  # the gateway uses the core bucketing
    assert {u for u in USERS[:30] if gateway.chat(u)[1] == "new"} == at10 & set(USERS[:30])  # sticky
    flag(50)
    gateway.wait_percentage(50)
    at50 = {u for u in USERS if gateway.chat(u)[1] == "new"}
    assert at10 <= at50 and 70 <= len(at50) <= 130  # nobody moved back; about half
    # the orchestrator accepts the key clients use with LiteLLM: the same key reaches both stacks
    assert {s["auth"] for s in new.seen} == {"Bearer sk-legacy-key"}
    # no `user`: the x-session-id header is the key
    sid = next(u for u in USERS if on_new_stack(u, 50))
    assert gateway.chat(None, session=sid)[1] == "new"
    flag(50, enabled=False)  # disabled = 0%
    gateway.wait_percentage(0)
    assert {gateway.chat(u)[1] for u in USERS[:40]} == {"legacy"}
    flag(100)
    gateway.wait_percentage(100)
    assert {gateway.chat(u)[1] for u in USERS[:40]} == {"new"}


def test_no_silent_failover_when_the_chosen_stack_is_down(gateway, flag, stacks):
    legacy, new = stacks
    flag(100)
    gateway.wait_percentage(100)
    _write_state(gateway.state_dir, {"litellm": legacy.url})  # the orchestrator is not installed
    status, stack, body = gateway.chat("u1")
    assert (status, stack) == (503, "new") and b"not running" in body
    _write_state(gateway.state_dir, {"litellm": legacy.url, "orchestrator": f"http://127.0.0.1:{free_port()}"})
    status, stack, body = gateway.chat("u1")
    assert (status, stack) == (502, "new") and b"failed" in body
    assert legacy.seen == []  # never sent to the other stack
    _write_state(gateway.state_dir, {"litellm": legacy.url, "orchestrator": new.url})  # back (re-read)
    assert gateway.chat("u1")[:2] == (200, "new")
    assert gateway.chat("u1", content="boom")[:2] == (500, "new")  # a 5xx is passed on and counted
    t = gateway.traffic()
    assert (t.errors_new, t.served_new, t.errors_legacy, t.served_legacy) == (3, 1, 0, 0)


def test_in_flight_is_counted_per_stack_and_drains(gateway, stacks):
    legacy, _ = stacks
    results: list[int] = []
    threads = [threading.Thread(target=lambda i=i: results.append(gateway.chat(f"h{i}", "hold")[0]))
               for i in range(4)]
    for th in threads:
        th.start()
    deadline = time.monotonic() + 10
    while gateway.traffic().in_flight_legacy < 4:
        assert time.monotonic() < deadline, gateway.traffic()
        time.sleep(0.05)
    t = gateway.traffic()
    assert (t.in_flight_legacy, t.in_flight_new, t.served_legacy) == (4, 0, 0)
    legacy.release.set()
    for th in threads:
        th.join(10)
    assert results == [200] * 4
    t = gateway.traffic()
    assert (t.in_flight_legacy, t.served_legacy) == (0, 4)


def test_streams_are_relayed(gateway):
    status, stack, body = gateway.chat("u1", stream=True)
    assert (status, stack) == (200, "legacy")
    events = [line for line in body.decode().split("\n\n") if line]
    assert events[-1] == "data: [DONE]" and len(events) == 4


def test_metrics_exposition_has_every_series(gateway):
    with _OPENER.open(gateway.url + "/metrics", timeout=5) as r:
        text = r.read().decode()
    names = {(n, tuple(sorted(lbl.items()))) for n, lbl, _ in parse_samples(text)}
    for stack in ("legacy", "new"):
        assert ("cato_gateway_in_flight", (("stack", stack),)) in names
        for outcome in ("ok", "error"):
            assert ("cato_gateway_requests_total", (("outcome", outcome), ("stack", stack))) in names
    assert any(n == "cato_gateway_flag_percentage" for n, _ in names)
