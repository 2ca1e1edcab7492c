"""Canary analysis drills on a real sandbox (issue 10): moto, the AppConfig layer, redis, the model
simulator, the real LiteLLM proxy, the gateway and a real Prometheus as sandbox processes, and the
real orchestrator (its Serve app over loopback HTTP, no Ray: tests/orch_http.py) as the new stack.

`sandbox traffic` sends sticky users through the gateway while `sandbox fault` plants errors or
latency on one stack; `canary watch --auto-rollback` reads Prometheus and must bring the served
flag to 0 when, and only when, the NEW stack breaches. The runbook's canary_analysis is compressed
for the drill (a copy of runbook/ with an 8 s window): the same code reads the shipped 300 s one.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from cato_sandbox.components import LITELLM_VENV
from cato_sandbox.manager import (SandboxSettings, load_sandbox_state, sandbox_add, sandbox_down, sandbox_up,
                                         write_state)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not (LITELLM_VENV / "bin" / "litellm").exists(),
                       reason=f"the LiteLLM proxy is not installed in {LITELLM_VENV}: run `make setup`"),
    pytest.mark.skipif(shutil.which("prometheus") is None, reason="prometheus is not installed: run `make setup`"),
]
ROOT = Path(__file__).resolve().parents[2]
NEW = "orchestrator-http"  # the gateway's new stack: the Serve app without Ray
DRILL_ANALYSIS = {"window_seconds": 8, "interval_seconds": 1, "min_requests": 12, "consecutive_breaches": 2,
                  "unmeasured_policy": "hold", "unmeasured_intervals": 5}


def _compressed_runbook(dest: Path) -> Path:
    shutil.copytree(ROOT / "runbook", dest)
    doc = yaml.safe_load((dest / "runbook.yaml").read_text())
    doc["canary_analysis"].update(DRILL_ANALYSIS)
    doc["canary_analysis"]["analysis"].update({"window_seconds": 10, "min_requests": {"latency": 40, "error_rate": 40}})
    (dest / "runbook.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return dest


class Drill:
    def __init__(self, root: Path, workdir: Path, state: dict):
        self.root, self.workdir, self.state = root, workdir, state
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("CATO_", "AWS_"))}
        self.env.update({"PYTHONPATH": str(ROOT), "CATO_ENV": "local", "CATO_WORK_DIR": str(workdir),
                         "CATO_APPCONFIG_ENVIRONMENT": "canarydrill", "CATO_STATE_URL": str(root / "state.db"),
                         "CATO_RUNBOOK_DIR": str(_compressed_runbook(root / "runbook")),
                         "CATO_LOCK_TTL_SECONDS": "10", "COLUMNS": "200"})

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "cato_migrate", *args]

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv(*args), cwd=self.root, env=self.env, capture_output=True, text=True,
                              timeout=timeout)

    def json(self, *args: str) -> dict:
        r = self.cli(*args, "--output", "json")
        assert r.returncode == 0, r.stderr + r.stdout
        return json.loads(r.stdout)

    def served(self) -> int:
        return self.json("canary", "status")["served_percentage"]

    def traffic(self, seconds: int, rps: int = 30, users: int = 300) -> subprocess.Popen:
        return subprocess.Popen(self.argv("sandbox", "traffic", "--users", str(users), "--rps", str(rps),
                                          "--for", f"{seconds}s"),
                                cwd=self.root, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def watch(self, seconds: int, *extra: str) -> tuple[int, list[dict], str]:
        r = self.cli("canary", "watch", "--for", f"{seconds}s", "--output", "json", *extra, timeout=seconds + 90)
        lines = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
        return r.returncode, lines, r.stderr

    def reset_breakers(self) -> None:
        """A drill's planted errors open the new stack's breakers (as they should); the next drill starts closed."""
        req = urllib.request.Request(self.new_url + "/admin/breakers/reset", data=b"{}", method="POST",
                                     headers={"Authorization": "Bearer t", "Content-Type": "application/json"})
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(req, timeout=10) as r:
            assert r.status == 200

    def set_canary(self, pct: int) -> None:
        r = self.cli("canary", "set", str(pct), "--force", "--reason",
                     "drill: the trigger probe targets the Ray orchestrator, which this drill serves without Ray")
        assert r.returncode == 0, r.stderr + r.stdout
        gw = next(c["url"] for c in load_sandbox_state(self.workdir)["components"] if c["name"] == "gateway")
        deadline = time.monotonic() + 15
        while True:  # served at AppConfig; the gateway applies it at its next poll
            with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(gw + "/healthz", timeout=5) as h:
                if json.loads(h.read())["percentage"] == pct:
                    return
            assert time.monotonic() < deadline, f"the gateway never applied {pct}%"
            time.sleep(0.1)


@pytest.fixture(scope="module")
def drill(tmp_path_factory):
    from cato_sandbox.orchestrator_config import sandbox_config
    from orchestrator.identity import key_hash
    from tests.orch_http import ServeAppServer

    root = tmp_path_factory.mktemp("canarydrill")
    workdir = root / ".cato-migrate"
    sbs = SandboxSettings(state_dir=workdir, minute_seconds=0.05,
                          components=["moto", "appconfig", "redis", "simulator", "litellm", "gateway", "prometheus"])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CATO_GATEWAY_NEW_COMPONENT", NEW)
        mp.setenv("CATO_APPCONFIG_ENVIRONMENT", "canarydrill")
        mp.setenv("AWS_ACCESS_KEY_ID", "sandbox")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "sandbox")
        sandbox_up(sbs)
        try:
            state = load_sandbox_state(workdir)
            key = (workdir / "litellm.key").read_text().strip()
            config = sandbox_config(state, admin_token="t",
                                                    api_keys=[{"principal": "drill", "sha256": key_hash(key)}])
            with ServeAppServer(config) as srv:
                write_state(workdir, {**state, "components": [*state["components"], {"name": NEW, "url": srv.url}]})
                d = Drill(root, workdir, state)
                d.new_url = srv.url
                assert d.cli("attest", "p4.w13.alert-oncall", "--by", "drill").returncode == 0
                yield d
                write_state(workdir, state)
        finally:
            sandbox_down(sbs)


@pytest.fixture
def at_ten(drill):
    """The flag at 10% and no fault planted; afterwards: faults cleared, any hold resumed, flag 0."""
    drill.set_canary(10)
    yield drill
    drill.json("sandbox", "fault", "--clear")
    drill.reset_breakers()
    time.sleep(DRILL_ANALYSIS["window_seconds"] + 1)  # this drill's requests leave the window before the next
    drill.cli("canary", "resume", "--reason", "drill over")
    if drill.served() != 0:
        assert drill.cli("rollback", "--quick", "--reason", "drill teardown").returncode == 0
        drill.cli("canary", "resume", "--reason", "drill over")


def _rollback_drill(d: Drill, *fault: str) -> dict:
    traffic = d.traffic(75)
    try:
        time.sleep(3)
        planted_at = time.monotonic()
        d.json("sandbox", "fault", *fault)
        code, lines, err = d.watch(60, "--auto-rollback")
        took = time.monotonic() - planted_at
    finally:
        traffic.kill()  # its figures are not needed: the gateway and Prometheus count
        traffic.wait(30)
    assert code == 1, (err, lines[-3:])
    assert lines[-1].get("rolled_back"), (err, lines[-1])
    breaches = [ln for ln in lines if ln["verdict"] == "breach"]
    assert len(breaches) >= DRILL_ANALYSIS["consecutive_breaches"]
    assert d.served() == 0
    print(f"\n{' '.join(fault)}: fault planted -> served 0 in {took:.1f} s "
          f"({len(lines)} evaluations, {len(breaches)} breached)")
    return lines[-1]


def test_the_same_faults_on_legacy_never_roll_back(at_ten):
    traffic = at_ten.traffic(40)
    try:
        time.sleep(3)
        at_ten.json("sandbox", "fault", "--stack", "legacy", "--error-rate", "0.2")
        code, lines, _ = at_ten.watch(15, "--auto-rollback")
    finally:
        traffic.kill()  # its figures are not needed: the gateway and Prometheus count
        traffic.wait(30)
    assert not any(ln.get("rolled_back") for ln in lines), [ln["reason"] for ln in lines]
    assert any(t["stack"] == "legacy" and t["state"] == "fired" for ln in lines for t in ln["triggers"])
    assert at_ten.served() == 10
    assert code in (0, 6), lines[-1]  # clear, or not proven at the very end; never a rollback


def test_no_traffic_is_waiting_every_interval_never_clear(at_ten):
    code, lines, _ = at_ten.watch(4, "--auto-rollback")
    assert code == 6 and lines
    assert all(ln["verdict"] == "waiting" for ln in lines), [ln["verdict"] for ln in lines]
    assert at_ten.served() == 10


def test_errors_on_the_new_stack_roll_back_by_themselves(at_ten):
    last = _rollback_drill(at_ten, "--stack", "new", "--error-rate", "0.2")
    assert "error" in last["reason"].lower()
    history = at_ten.cli("history", "--output", "json")
    assert history.returncode == 0 and "canary.watch.rollback" in history.stdout
    assert at_ten.cli("canary", "set", "10").returncode == 1  # held until `canary resume`


def test_slow_answers_on_the_new_stack_roll_back_by_themselves(at_ten):
    last = _rollback_drill(at_ten, "--stack", "new", "--latency-ms", "2500")
    assert "p99" in last["reason"].lower()


def _chat(d: Drill, user: str, text: str) -> tuple[str, str]:
    """(stack, answer) for one turn sent through the gateway as the client sends it: the new turn only."""
    gw = next(c["url"] for c in load_sandbox_state(d.workdir)["components"] if c["name"] == "gateway")
    body = {"model": "claude-3-haiku", "user": user, "messages": [{"role": "user", "content": text}]}
    req = urllib.request.Request(gw + "/v1/chat/completions", data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(req, timeout=60) as r:
        return r.headers["x-cato-stack"], json.loads(r.read())["choices"][0]["message"]["content"]


def _dual_writes(d: Drill) -> dict[str, float]:
    from cato_migrate.adapters.gateway_metrics import parse_samples

    gw = next(c["url"] for c in load_sandbox_state(d.workdir)["components"] if c["name"] == "gateway")
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(gw + "/metrics", timeout=5) as r:
        return {lbl["result"]: v for n, lbl, v in parse_samples(r.read().decode()) if n == "cato_gateway_dual_write_total"}


def test_a_user_moved_by_the_raise_keeps_the_conversation_legacy_served(drill):
    from cato_migrate.core.bucketing import pick_stack

    user = next(f"alice-{i}" for i in range(1000) if pick_stack(f"alice-{i}", 50) == "legacy")
    drill.set_canary(50)
    try:
        stack, _ = _chat(drill, user, "My name is Alice.")
        assert stack == "legacy"
        deadline = time.monotonic() + 20
        while _dual_writes(drill).get("stored", 0) < 1:  # written off the request's path: wait for it
            assert time.monotonic() < deadline, (_dual_writes(drill), drill.json("canary", "status")["dual_write"])
            time.sleep(0.2)
        dw = drill.json("canary", "status")["dual_write"]
        assert dw["active"] is True and dw["stored"] >= 1 and dw["served"] >= dw["stored"], dw
        drill.set_canary(100)
        stack, answer = _chat(drill, user, "What is my name?")
        assert stack == "new"
        assert "Alice" in answer, answer
    finally:
        drill.cli("rollback", "--quick", "--reason", "drill teardown")
        drill.cli("canary", "resume", "--reason", "drill over")


def test_analysis_passes_a_new_stack_faster_than_legacy_and_fails_a_slowed_one(drill):
    """Two different stacks are never identical: the as-is verdict is reported, not assumed. With
    300 ms planted on legacy the new stack is the faster one (pass); planted on new, it fails."""
    drill.set_canary(50)
    traffic = drill.traffic(75, rps=30)
    runs = {}
    try:
        for name, fault in (("as is", None), ("legacy slowed by 300 ms", "legacy"), ("new slowed by 300 ms", "new")):
            drill.json("sandbox", "fault", "--clear")
            if fault:
                drill.json("sandbox", "fault", "--stack", fault, "--latency-ms", "300")
            time.sleep(11)  # a full window under this condition
            runs[name] = drill.cli("canary", "analyze", "--output", "json")
    finally:
        traffic.kill()  # its figures are not needed: the gateway and Prometheus count
        traffic.wait(30)
        drill.json("sandbox", "fault", "--clear")
        drill.cli("rollback", "--quick", "--reason", "drill teardown")
        drill.cli("canary", "resume", "--reason", "drill over")
    docs = {name: json.loads(r.stdout) for name, r in runs.items()}
    for name, doc in docs.items():
        p50 = {k: v.get("p50_ms") for k, v in doc["stacks"].items()}
        print(f"\nanalysis, {name}: {doc['verdict']}; p50 ms {p50}; " + "; ".join(
            f"{m['metric']} {m['verdict']} n={m['n_new']}/{m['n_legacy']} effect={m['effect']} p={m['p_value']}"
            for m in doc["metrics"]))
    assert docs["as is"]["verdict"] in ("pass", "marginal", "fail")  # measured: never waiting at 30 rps
    assert docs["legacy slowed by 300 ms"]["verdict"] == "pass" and runs["legacy slowed by 300 ms"].returncode == 0
    assert docs["new slowed by 300 ms"]["verdict"] == "fail" and runs["new slowed by 300 ms"].returncode == 1


def test_prometheus_stopped_is_unmeasured_and_held(at_ten):
    prom = next(c for c in load_sandbox_state(at_ten.workdir)["components"] if c["name"] == "prometheus")
    os.kill(prom["pid"], signal.SIGKILL)
    try:
        code, lines, _ = at_ten.watch(3, "--auto-rollback")
        assert code == 6 and lines
        assert all(ln["verdict"] == "unmeasured" for ln in lines), [ln["verdict"] for ln in lines]
        assert at_ten.served() == 10  # the policy is hold: no rollback on a blind spot, and never "clear"
    finally:  # the module's other drills read Prometheus: whatever order they run in, it is back
        sandbox_add(SandboxSettings(state_dir=at_ten.workdir, minute_seconds=0.05), "prometheus")
