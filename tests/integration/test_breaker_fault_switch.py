"""The orchestrator's admin fault switch over real HTTP (the Serve app's routes via uvicorn, the real
core, simulator, redis-server and moto), and the breaker exit criterion passing through it as it
does on staging and production, where no model simulator exists: wiring's Services for env
"staging" picks the switch. Planted: a switch that accepts the call and fails nothing makes the
check fail."""
from __future__ import annotations

import time
from types import SimpleNamespace

import httpx
import pytest

from cato_migrate.adapters.orchestrator_faults import OrchestratorFaults
from cato_migrate.checks.orchestrator_breaker import OrchestratorBreaker
from cato_migrate.settings import Settings
from cato_migrate.wiring import Services
from orchestrator.identity import key_hash
from tests.orch_http import serve_on_a_sandbox

pytestmark = pytest.mark.integration
KEY, TOKEN = "sk-fault-switch", "admin-fault-switch"
COMPLEX = "Explain the implications of quantum computing on cryptography"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from serve_on_a_sandbox(
        tmp_path_factory.mktemp("faults") / ".cato-migrate", admin_token=TOKEN, api_keys=[{"principal": "probe", "sha256": key_hash(KEY)}])


@pytest.fixture(autouse=True)
def no_switch_left_on(server):
    yield
    server.orch.faults.clear()


def call(srv, method: str, path: str, body=None, *, token: str | None = TOKEN, raw: bytes | None = None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    kw = {"content": raw} if raw is not None else {"json": body} if body is not None else {}
    return httpx.request(method, srv.url + path, headers=headers, timeout=60, trust_env=False, **kw)


def chat(srv, query: str) -> dict:
    r = httpx.post(srv.url + "/v1/chat/completions", trust_env=False, timeout=60,
                   headers={"Authorization": f"Bearer {KEY}"},
                   json={"model": "cato", "messages": [{"role": "user", "content": query}]})
    assert r.status_code == 200, r.text
    return r.json()


def staging_ctx(srv, tmp_path):
    """What `--env staging` builds: wiring's own Services, pointed at this orchestrator."""
    settings = Settings(env="staging", work_dir=tmp_path, orchestrator_url=srv.url,
                        orchestrator_admin_token=TOKEN, orchestrator_api_key=KEY)
    return SimpleNamespace(env="staging", services=Services(settings))


@pytest.mark.parametrize("method, path", [("GET", "/admin/faults"), ("POST", "/admin/faults"),
                                          ("POST", "/admin/faults/clear")])
@pytest.mark.parametrize("token", [None, "not-the-token"])
def test_the_switch_needs_the_admin_token(server, method, path, token):
    r = call(server, method, path, {"tier": "bedrock_sonnet", "seconds": 30}, token=token)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_admin_token"
    assert server.orch.faults.snapshot()["faults"] == {}


@pytest.mark.parametrize("body, raw, param", [
    ({"tier": "gpt-4o", "seconds": 30}, None, "tier"),
    ({"seconds": 30}, None, "tier"),
    ({"tier": "bedrock_sonnet"}, None, "seconds"),
    ({"tier": "bedrock_sonnet", "seconds": 3600}, None, "seconds"),   # unbounded: refused
    ({"tier": "bedrock_sonnet", "seconds": 30, "error_rate": 2}, None, "error_rate"),
    ({"tier": "bedrock_sonnet", "seconds": 30, "until": "cleared"}, None, "until"),
    (None, b"not json", None),
    ([{"tier": "bedrock_sonnet"}], None, None),
])
def test_bad_input_is_a_400_in_openai_shape_and_switches_nothing_on(server, body, raw, param):
    r = call(server, "POST", "/admin/faults", body, raw=raw)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["type"] == "invalid_request_error"
    assert err["param"] == param and err["message"]
    assert server.orch.faults.snapshot()["faults"] == {}
    assert call(server, "POST", "/admin/faults/clear", {"tier": "nope"}).status_code == 400


def test_a_switch_fails_its_tier_until_it_expires(server):
    r = call(server, "POST", "/admin/faults", {"tier": "bedrock_sonnet", "seconds": 1.0})
    assert r.status_code == 200 and 0 < r.json()["faults"]["bedrock_sonnet"]["remaining_s"] <= 1.0
    call(server, "POST", "/admin/breakers/reset")
    doc = chat(server, f"{COMPLEX} (switch on {time.time()})")
    assert doc["cato"]["tier"] == "bedrock_haiku" and doc["cato"]["fallback_from"] == "bedrock_sonnet"
    assert call(server, "GET", "/admin/faults").json()["faults"].keys() == {"bedrock_sonnet"}
    time.sleep(1.1)
    assert call(server, "GET", "/admin/faults").json()["faults"] == {}  # expired: nobody cleared it
    call(server, "POST", "/admin/breakers/reset")
    doc = chat(server, f"{COMPLEX} (switch expired {time.time()})")
    assert doc["cato"]["tier"] == "bedrock_sonnet" and doc["cato"]["fallback_from"] is None


def test_clear_with_no_body_ends_every_switch(server):
    for tier in ("bedrock_sonnet", "bedrock_haiku"):
        assert call(server, "POST", "/admin/faults", {"tier": tier, "seconds": 60}).status_code == 200
    assert call(server, "POST", "/admin/faults/clear", {"tier": "bedrock_haiku"}).json()["faults"].keys() == {"bedrock_sonnet"}
    assert call(server, "POST", "/admin/faults/clear").json()["faults"] == {}


def test_the_breaker_check_passes_through_the_admin_switch_on_staging(server, tmp_path):
    ctx = staging_ctx(server, tmp_path)
    assert isinstance(ctx.services.fault_injector(), OrchestratorFaults)
    r = OrchestratorBreaker().evaluate(None, None, ctx)
    assert r.status == "pass", (r.message, r.evidence)
    assert "sonnet breaker opened" in r.message and r.evidence["served"]
    assert call(server, "GET", "/admin/faults").json()["faults"] == {}  # cleared after the probe
    assert call(server, "GET", "/admin/breakers").json()["bedrock_sonnet"]["state"] == "closed"


def test_the_breaker_check_fails_when_the_switch_does_nothing(server, tmp_path, monkeypatch):
    monkeypatch.setattr(server.orch.faults, "check", lambda tier: None)  # planted: accepted, fails nothing
    r = OrchestratorBreaker().evaluate(None, None, staging_ctx(server, tmp_path))
    assert r.status == "fail" and "did NOT open" in r.message, r.message
