"""LocalWorkloads on a real sandbox: moto + AppConfig layer + model simulator + the real LiteLLM
proxy + the gateway, in a tmp work dir. Ray is not started: the model simulator's OpenAI API
stands in for the new stack behind the gateway (CATO_GATEWAY_NEW_COMPONENT, test-only).

The tests run in file order on one sandbox and leave LiteLLM as they found it until the last.
"""
from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import pytest

from cato_migrate.adapters.gateway_metrics import GatewayScrape
from cato_sandbox.workloads import LocalWorkloads
from cato_migrate.errors import NotFound
from cato_sandbox.components import LITELLM_VENV
from cato_sandbox.manager import SandboxSettings, load_sandbox_state, sandbox_down, sandbox_up
from cato_migrate.settings import Settings

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not (LITELLM_VENV / "bin" / "litellm").exists(),
                       reason=f"the LiteLLM proxy is not installed in {LITELLM_VENV}: run `make setup`"),
]
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
APPCONFIG_ENV = "lwtest"
NS = "cato"


class Sandbox:
    def __init__(self, workdir):
        self.settings = Settings(work_dir=workdir, appconfig_environment=APPCONFIG_ENV)
        self.workloads = LocalWorkloads(self.settings)

    def url(self, name: str) -> str | None:
        state = load_sandbox_state(self.settings.work_dir) or {"components": []}
        return next((c["url"] for c in state["components"] if c["name"] == name), None)

    def chat(self, user: str, content: str = "What is 2+2?") -> tuple[int, str | None, dict]:
        body = {"model": "claude-3-haiku", "user": user, "messages": [{"role": "user", "content": content}]}
        req = urllib.request.Request(self.url("gateway") + "/v1/chat/completions",
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        try:
            with _OPENER.open(req, timeout=60) as r:
                return r.status, r.headers.get("x-cato-stack"), json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("x-cato-stack"), json.loads(e.read() or b"{}")

    def traffic(self):
        return GatewayScrape(self.url("gateway")).traffic()

    def simulator(self, method: str, path: str, body: dict | None = None) -> dict:
        req = urllib.request.Request(self.url("simulator") + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
        with _OPENER.open(req, timeout=10) as r:
            return json.loads(r.read() or b"{}")

    def set_flag(self, percentage: int) -> None:
        from cato_migrate.adapters.appconfig import AppConfigFlag
        from cato_migrate.ports import FlagSpec

        f = AppConfigFlag(application="cato", environment=APPCONFIG_ENV, profile="orchestration",
                          flag="use_new_orchestrator", region="us-east-1", endpoint_url=self.url("appconfig"))
        f.ensure_setup()
        strategy = f.ensure_strategy("zero-bake", 0, 0, 100)
        d = f.start_deployment(f.create_version(FlagSpec(enabled=True, percentage=percentage), "t"),
                               strategy, "t")
        deadline = time.monotonic() + 20
        while f.get_deployment(d.number).state != "COMPLETE":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        while True:  # the gateway polls about every 0.5 s
            with _OPENER.open(self.url("gateway") + "/healthz", timeout=5) as r:
                if json.loads(r.read())["percentage"] == percentage:
                    return
            assert time.monotonic() < deadline + 10
            time.sleep(0.1)


@pytest.fixture(scope="module")
def sb(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("lw") / ".cato-migrate"
    sbs = SandboxSettings(state_dir=workdir, minute_seconds=0.05,
                          components=["moto", "appconfig", "simulator", "litellm", "gateway"])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CATO_GATEWAY_NEW_COMPONENT", "simulator")  # test-only stand-in for Ray + orchestrator
        mp.setenv("CATO_APPCONFIG_ENVIRONMENT", APPCONFIG_ENV)  # the flag the gateway follows
        mp.setenv("AWS_ACCESS_KEY_ID", "sandbox")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "sandbox")
        t0 = time.monotonic()
        sandbox_up(sbs)
        print(f"sandbox up with litellm + gateway: {time.monotonic() - t0:.1f} s")
        try:
            yield Sandbox(workdir)
        finally:
            sandbox_down(sbs)


def test_litellm_is_a_ready_workload_and_serves_everyone_at_flag_zero(sb):
    st = sb.workloads.status("litellm", NS)
    assert (st.exists, st.kind, st.desired, st.ready, st.is_ready) == (True, "Deployment", 1, 1, True)
    orch = sb.workloads.status("cato-orchestrator", NS)
    assert (orch.exists, orch.kind) == (False, "RayService")  # not installed; Ray not started here
    with pytest.raises(NotFound, match="does not exist"):  # a missing workload is never "ready" (crash drill)
        sb.workloads.wait_ready("cato-orchestrator", NS, 1)
    before = sb.traffic()
    for i in range(5):
        status, stack, body = sb.chat(f"user-{i}")
        assert (status, stack) == (200, "legacy")
        assert body["choices"][0]["message"]["content"] == "The answer is 4."  # via LiteLLM
    after = sb.traffic()
    assert after.served_legacy - before.served_legacy == 5 and after.served_new == before.served_new


def test_gateway_counts_requests_in_flight_to_the_real_legacy_stack(sb):
    sb.simulator("PUT", "/admin/config", {"tiers": {"*": {"ttft_ms": 1500}}})
    try:
        codes: list[int] = []
        threads = [threading.Thread(target=lambda i=i: codes.append(sb.chat(f"slow-{i}")[0]))
                   for i in range(3)]
        for t in threads:
            t.start()
        seen, deadline = 0, time.monotonic() + 10
        while seen < 3 and time.monotonic() < deadline:
            seen = max(seen, sb.traffic().in_flight_legacy)
            time.sleep(0.05)
        assert seen == 3
        for t in threads:
            t.join(30)
        assert codes == [200, 200, 200]
        assert sb.traffic().in_flight_legacy == 0  # drained
    finally:
        sb.simulator("POST", "/admin/reset")


def test_the_flag_moves_users_to_the_new_stack(sb):
    sb.set_flag(100)
    try:
        status, stack, body = sb.chat("user-1")
        assert (status, stack) == (200, "new")
        assert body["choices"][0]["message"]["content"]
    finally:
        sb.set_flag(0)
    assert sb.chat("user-1")[1] == "legacy"


def test_scale_legacy_to_zero_then_back_with_waits(sb):
    w = sb.workloads
    down = w.scale("litellm", NS, 0)
    assert (down.desired, down.ready) == (0, 0) and sb.url("litellm") is None
    assert w.wait_ready("litellm", NS, 10).ready == 0
    errors_before = sb.traffic().errors_legacy
    status, stack, body = sb.chat("user-1")
    assert (status, stack) == (503, "legacy")  # no silent failover to the new stack
    assert "not running" in body["error"]["message"]
    assert sb.traffic().errors_legacy == errors_before + 1

    t0 = time.monotonic()
    w.scale("litellm", NS, 2)
    st = w.wait_ready("litellm", NS, 120)
    print(f"litellm scaled 0 -> 2 and ready in {time.monotonic() - t0:.1f} s")
    assert (st.desired, st.ready, st.is_ready) == (2, 2, True) and "1 local process" in st.detail
    status, stack, body = sb.chat("user-1")  # the gateway finds LiteLLM on its new port
    assert (status, stack) == (200, "legacy") and body["choices"][0]["message"]["content"]


def test_delete_stops_it_and_scaling_a_deleted_workload_is_not_found(sb):
    w = sb.workloads
    assert w.delete("litellm", NS) is True
    assert sb.url("litellm") is None
    assert w.status("litellm", NS).exists is False
    assert w.delete("litellm", NS) is False
    with pytest.raises(NotFound, match="does not exist"):
        w.wait_ready("litellm", NS, 1)
    with pytest.raises(NotFound, match="was deleted") as exc:
        w.scale("litellm", NS, 1)
    assert "apply its manifest" in exc.value.hint


def test_sandbox_up_after_a_decommission_keeps_the_sandbox_and_litellm_stays_gone(sb):
    before = load_sandbox_state(sb.settings.work_dir)
    sbs = SandboxSettings(state_dir=sb.settings.work_dir, minute_seconds=0.05,
                          components=["moto", "appconfig", "simulator", "litellm", "gateway"])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CATO_GATEWAY_NEW_COMPONENT", "simulator")
        mp.setenv("CATO_APPCONFIG_ENVIRONMENT", APPCONFIG_ENV)
        out = sandbox_up(sbs)
    assert out["already_up"] is True  # not restarted: moto's state (the flag, the journal's world) survives
    assert load_sandbox_state(sb.settings.work_dir)["started_at"] == before["started_at"]
    assert sb.url("litellm") is None
