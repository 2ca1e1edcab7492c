"""`cato-migrate sandbox traffic` and `sandbox fault` against a real sandbox: moto, the AppConfig
layer, redis, the model simulator, the real LiteLLM proxy and the gateway as sandbox processes,
and the real orchestrator (its Serve app over loopback HTTP, no Ray: tests/orch_http.py) as the
new stack behind the gateway. The flag at 50% splits the drill's users between the stacks; a
fault planted on one stack shows in that stack's answers and counters only."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from cato_migrate.adapters.gateway_metrics import parse_samples
from cato_sandbox.components import LITELLM_VENV
from cato_sandbox.manager import SandboxSettings, load_sandbox_state, sandbox_down, sandbox_up, write_state

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not (LITELLM_VENV / "bin" / "litellm").exists(),
                       reason=f"the LiteLLM proxy is not installed in {LITELLM_VENV}: run `make setup`"),
]
ROOT = Path(__file__).resolve().parents[2]
APPCONFIG_ENV = "drilltest"
NEW = "orchestrator-http"  # the gateway's new stack (CATO_GATEWAY_NEW_COMPONENT): the Serve app without Ray
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Drill:
    def __init__(self, workdir: Path, urls: dict[str, str]):
        self.workdir, self.urls = workdir, urls
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("CATO_", "AWS_"))}
        self.env.update({"PYTHONPATH": str(ROOT), "CATO_ENV": "local", "CATO_WORK_DIR": str(workdir),
                         "COLUMNS": "200"})

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "cato_migrate", *args], cwd=self.workdir.parent,
                              env=self.env, capture_output=True, text=True, timeout=120)

    def json(self, *args: str) -> dict:
        r = self.cli(*args, "--output", "json")
        assert r.returncode == 0, r.stderr + r.stdout
        return json.loads(r.stdout)

    def route_faults(self) -> dict:
        with _OPENER.open(self.urls["simulator"] + "/admin/config", timeout=5) as r:
            return json.loads(r.read())["route_faults"]

    def gateway_errors(self) -> dict[tuple[str, str], float]:
        with _OPENER.open(self.urls["gateway"] + "/metrics", timeout=5) as r:
            text = r.read().decode()
        return {(lbl["stack"], lbl["class"]): v for n, lbl, v in parse_samples(text) if n == "cato_gateway_errors_total"}

    def set_flag(self, percentage: int) -> None:
        from cato_migrate.adapters.appconfig import AppConfigFlag
        from cato_migrate.ports import FlagSpec

        f = AppConfigFlag(application="cato", environment=APPCONFIG_ENV, profile="orchestration",
                          flag="use_new_orchestrator", region="us-east-1", endpoint_url=self.urls["appconfig"])
        f.ensure_setup()
        d = f.start_deployment(f.create_version(FlagSpec(enabled=True, percentage=percentage), "t"),
                               f.ensure_strategy("zero-bake", 0, 0, 100), "t")
        deadline = time.monotonic() + 30
        while f.get_deployment(d.number).state != "COMPLETE":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        while True:
            with _OPENER.open(self.urls["gateway"] + "/healthz", timeout=5) as r:
                if json.loads(r.read())["percentage"] == percentage:
                    return
            assert time.monotonic() < deadline
            time.sleep(0.1)


@pytest.fixture(scope="module")
def drill(tmp_path_factory):
    from cato_sandbox.orchestrator_config import sandbox_config
    from orchestrator.identity import key_hash
    from tests.orch_http import ServeAppServer

    workdir = tmp_path_factory.mktemp("drill") / ".cato-migrate"
    sbs = SandboxSettings(state_dir=workdir, components=["moto", "appconfig", "redis", "simulator", "litellm", "gateway"])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CATO_GATEWAY_NEW_COMPONENT", NEW)
        mp.setenv("CATO_APPCONFIG_ENVIRONMENT", APPCONFIG_ENV)
        mp.setenv("AWS_ACCESS_KEY_ID", "sandbox")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "sandbox")
        t0 = time.monotonic()
        sandbox_up(sbs)
        try:
            state = load_sandbox_state(workdir)
            key = (workdir / "litellm.key").read_text().strip()
            config = sandbox_config(state, admin_token="t",
                                                    api_keys=[{"principal": "drill", "sha256": key_hash(key)}])
            with ServeAppServer(config) as srv:
                # recorded without a pid: the gateway finds it by name; removed before `down`
                write_state(workdir, {**state, "components": [*state["components"], {"name": NEW, "url": srv.url}]})
                urls = {c["name"]: c["url"] for c in state["components"]}
                d = Drill(workdir, urls)
                d.set_flag(50)
                print(f"\ndrill sandbox + orchestrator ready in {time.monotonic() - t0:.1f} s")
                yield d
                write_state(workdir, state)
        finally:
            sandbox_down(sbs)


def test_bad_fault_input_is_exit_2_and_changes_nothing(drill):
    for args in (["--stack", "blue", "--error-rate", "0.1"], ["--stack", "new", "--error-rate", "1.5"],
                 ["--stack", "legacy", "--latency-ms", "-5"], ["--stack", "new"]):
        r = drill.cli("sandbox", "fault", *args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
    assert drill.route_faults() == {}


def test_errors_planted_on_the_new_stack_fail_only_the_new_stacks_users(drill):
    planted = drill.json("sandbox", "fault", "--stack", "new", "--error-rate", "0.5")
    assert set(planted["route_faults"]) == set(planted["routes"]["new"])
    assert any(r.startswith("bedrock/") for r in planted["routes"]["new"])
    assert planted["routes"]["legacy"] and not set(planted["routes"]["legacy"]) & set(planted["routes"]["new"])
    before = drill.gateway_errors()
    t0 = time.monotonic()
    out = drill.json("sandbox", "traffic", "--users", "40", "--rps", "15", "--for", "4s")
    print(f"traffic: {json.dumps(out['stacks'])} in {time.monotonic() - t0:.1f}s")
    legacy, new = out["stacks"]["legacy"], out["stacks"]["new"]
    assert out["sent"] == 60 and out["unrouted"] == 0
    assert legacy["requests"] >= 15 and new["requests"] >= 15  # 50%: both stacks serve the drill's users
    assert legacy["users"] + new["users"] == 40  # sticky: each user on one stack only
    assert legacy["errors"] == 0
    assert new["errors"] / new["requests"] >= 0.3
    after = drill.gateway_errors()
    assert sum(after[("legacy", c)] - before[("legacy", c)] for c in ("upstream_5xx", "unreachable", "unavailable")) == 0
    assert after[("new", "upstream_5xx")] - before[("new", "upstream_5xx")] == new["errors"]

    cleared = drill.json("sandbox", "fault", "--clear")
    assert cleared["route_faults"] == {} and drill.route_faults() == {}


def test_latency_planted_on_the_legacy_stack_slows_only_legacy(drill):
    drill.json("sandbox", "fault", "--stack", "legacy", "--latency-ms", "400")
    try:
        r = drill.cli("sandbox", "traffic", "--users", "20", "--rps", "10", "--for", "2s")
        assert r.returncode == 0, r.stderr
        assert "legacy" in r.stdout and "p99 ms" in r.stdout
        out = drill.json("sandbox", "traffic", "--users", "20", "--rps", "10", "--for", "2s")
        legacy, new = out["stacks"]["legacy"], out["stacks"]["new"]
        assert legacy["errors"] == 0 and legacy["p50_ms"] >= 400
        assert new["p50_ms"] < 400
    finally:
        drill.json("sandbox", "fault", "--clear")
