"""Week 4's load test at a stated concurrency, the ramp, the no-regression check against the
real LiteLLM proxy, and the runbook's own `locust` command against the sandbox's gateway.

Real parts: moto, the AppConfig layer, redis, the model simulator, the LiteLLM proxy
(.venv-litellm) and the gateway as sandbox processes; the orchestrator's Serve app over
loopback HTTP (tests/orch_http.py). Planted fault: `SlowProxy`, a reverse proxy that holds
every request for a fixed time before forwarding it, in front of the orchestrator (or of
LiteLLM, as a "new stack" that is the legacy one made slower). Slowing the model simulator
instead would slow both stacks alike, which is not a regression.
"""
from __future__ import annotations

import asyncio
import csv
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cato_migrate.acceptance.load import LoadPlan, Target, compare, ramp
from cato_migrate.adapters.sqlite_store import SqliteStateStore
from cato_migrate.core.engine import evaluate_criterion, run_phase
from cato_migrate.errors import Unverified
from cato_sandbox.components import LITELLM_VENV
from cato_sandbox.manager import SandboxSettings, load_sandbox_state, sandbox_down, sandbox_up
from cato_migrate.settings import Settings
from cato_migrate.wiring import make_context
from cato_sandbox.orchestrator_config import sandbox_config
from tests.orch_http import ServeAppServer

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not (LITELLM_VENV / "bin" / "litellm").exists(),
                       reason=f"the LiteLLM proxy is not installed in {LITELLM_VENV}: run `make setup`"),
]
ROOT = Path(__file__).resolve().parents[2]
TOKEN = "test-admin-token"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    state_dir = tmp_path_factory.mktemp("loadreg") / ".cato-migrate"
    settings = SandboxSettings(state_dir=state_dir,
                               components=["moto", "appconfig", "redis", "simulator", "litellm", "gateway"])
    sandbox_up(settings)
    try:
        state = load_sandbox_state(state_dir)
        urls = {c["name"]: c["url"] for c in state["components"]}
        yield state_dir, state, urls, (state_dir / "litellm.key").read_text().strip()
    finally:
        sandbox_down(settings)


@pytest.fixture(scope="module")
def orchestrator(sandbox):
    from orchestrator.identity import key_hash

    mp = pytest.MonkeyPatch()
    mp.setenv("AWS_ACCESS_KEY_ID", "testing")
    mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    keys = [{"principal": "tests", "sha256": key_hash(sandbox[3])}]  # the sandbox key, as on the sandbox
    with ServeAppServer(sandbox_config(sandbox[1], admin_token=TOKEN, api_keys=keys)) as srv:
        yield srv
    mp.undo()


class SlowProxy:
    """Planted fault: forwards every request to `upstream` after holding it `delay_s`."""

    def __init__(self, upstream: str, delay_s: float):
        self.upstream, self.delay_s, self.url = upstream.rstrip("/"), delay_s, ""

    def __enter__(self) -> "SlowProxy":
        ready = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(ready),), daemon=True)
        self._thread.start()
        assert ready.wait(10)
        return self

    async def _serve(self, ready: threading.Event) -> None:
        import aiohttp
        from aiohttp import web

        session = aiohttp.ClientSession(trust_env=False)

        async def forward(request: web.Request) -> web.Response:
            await asyncio.sleep(self.delay_s)
            headers = {k: v for k, v in request.headers.items() if k.lower() in ("authorization", "content-type",
                                                                               "x-session-id")}
            async with session.request(request.method, self.upstream + request.path_qs, headers=headers,
                                       data=await request.read()) as r:
                return web.Response(status=r.status, body=await r.read(), content_type=r.content_type)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", forward)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
        self._stop = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        ready.set()
        await self._stop.wait()
        await session.close()
        await runner.cleanup()

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


def _ctx(sandbox, tmp_path, orchestrator_url: str, legacy_url: str = ""):
    settings = Settings(env="local", work_dir=sandbox[0], orchestrator_url=orchestrator_url, legacy_url=legacy_url,
                        orchestrator_admin_token=TOKEN, actor="tester@host")
    return make_context(settings, store=SqliteStateStore(tmp_path / "state.db"))


def _criterion(ctx, crit_id: str, **params):
    crit = next(c for p in ctx.runbook.phases for c in p.exit_criteria if c.id == crit_id)
    return crit.model_copy(update={"params": {**crit.params, **params}})


# --- ramp ------------------------------------------------------------------------------------

def test_ramp_finds_the_highest_concurrency_under_target_on_both_stacks(sandbox, orchestrator):
    _, _, urls, key = sandbox
    new = ramp(orchestrator.url, [2, 8], requests_per_level=100, min_ok=100, target_p99_ms=1500, api_key=key)
    old = ramp(urls["litellm"], [2, 8], requests_per_level=100, min_ok=100, target_p99_ms=1500, api_key=key,
               model="claude-3-haiku")
    print(f"\nramp: orchestrator {[(s.concurrency, s.summary.p99_ms) for s in new.steps]}, "
          f"litellm {[(s.concurrency, s.summary.p99_ms) for s in old.steps]}")
    assert new.sustained == 8 and old.sustained == 8, (new.as_evidence(), old.as_evidence())
    # Planted: every request to the orchestrator held 250 ms. The ramp's target sits between.
    with SlowProxy(orchestrator.url, 0.25) as slow:
        slowed = ramp(slow.url, [2, 8], requests_per_level=40, min_ok=40, target_p99_ms=200, api_key=key)
    assert slowed.sustained is None and len(slowed.steps) == 1  # stops at the first level it misses
    assert "p99" in slowed.steps[0].why and slowed.steps[0].summary.p99_ms >= 250


def test_week4_load_test_ramp_fails_below_the_required_concurrency(sandbox, orchestrator, tmp_path):
    key = sandbox[3]
    with SlowProxy(orchestrator.url, 0.3) as slow:
        ctx = _ctx(sandbox, tmp_path, slow.url)
        params = ctx.runbook.find_step("p1.w4.load-test")[2].params
        params["sandbox"] = {"concurrency": 4, "requests": 40, "ramp": [2, 4], "ramp_requests": 20, "min_sustained": 2}
        params["ramp_target_p99_ms"] = 250
        with pytest.raises(Unverified, match="below the required 2") as err:
            run_phase(ctx, ctx.runbook.phase(1), step_id="p1.w4.load-test")
    ramp_ev = err.value.details["ramp"]
    assert ramp_ev["sustained_concurrency"] is None and ramp_ev["levels"][0]["p99_ms"] >= 300
    assert key  # the sandbox key was sent (the orchestrator refuses requests without it)


# --- no_regression ----------------------------------------------------------------------------

def test_compare_sends_the_same_plan_to_both_stacks_interleaved(sandbox, orchestrator):
    _, _, urls, key = sandbox
    seen: list[str] = []
    out = compare([Target("new", orchestrator.url, key), Target("legacy", urls["litellm"], key)],
                  LoadPlan(requests=30, concurrency=3, model="claude-3-haiku"), rounds=3, progress=seen.append)
    assert [m.split(" at ")[1].split(" ")[0] for m in seen] == ["new", "legacy", "legacy", "new", "new", "legacy"]
    assert out["new"].requests == out["legacy"].requests == 30 and out["new"].errors == out["legacy"].errors == 0


def test_no_regression_passes_on_equal_stacks_and_fails_on_a_slowed_one(sandbox, tmp_path):
    litellm = sandbox[2]["litellm"]
    ctx = _ctx(sandbox, tmp_path, litellm, litellm)  # the legacy stack against itself: no regression
    load = {"sandbox": {"requests": 150, "concurrency": 5, "rounds": 2, "min_ok": 150}}
    same = evaluate_criterion(ctx, _criterion(ctx, "p2.exit.no-regression-vs-litellm", **load), record=False)
    print(f"\nno_regression litellm vs itself: {same.message}")
    # A stack against itself differs only by noise: on a quiet CI box its p99 ratio was seen at
    # 1.107, just over the 1.10 bound, so the verdict itself is not asserted here (a flaky test);
    # that the ratio stays near 1 is, and the planted 200 ms below must land far beyond it.
    assert same.status in ("pass", "fail") and 0.6 < same.measured < 1.5, same.message
    assert same.evidence["new"]["ok"] == same.evidence["legacy"]["ok"] == 150

    small = {"sandbox": {"requests": 60, "concurrency": 5, "rounds": 2, "min_ok": 60}}
    with SlowProxy(litellm, 0.2) as slow:  # planted: the "new" stack is the same one, 200 ms slower
        slowed = _ctx(sandbox, tmp_path, slow.url, litellm)
        bad = evaluate_criterion(slowed, _criterion(slowed, "p2.exit.no-regression-vs-litellm", **small), record=False)
    assert bad.status == "fail" and bad.measured > 2.0, bad.message
    assert "REGRESSION" in bad.message and "throughput" in bad.message


def test_no_regression_of_the_orchestrator_and_its_slowed_copy(sandbox, orchestrator, tmp_path):
    litellm = sandbox[2]["litellm"]
    load = {"sandbox": {"requests": 150, "concurrency": 5, "rounds": 2, "min_ok": 150}}
    ctx = _ctx(sandbox, tmp_path, orchestrator.url, litellm)
    real = evaluate_criterion(ctx, _criterion(ctx, "p2.exit.no-regression-vs-litellm", **load), record=False)
    # Measured, not asserted: in this test the orchestrator shares the test process (and its
    # GIL) with the load driver, which handicaps it against the LiteLLM process.
    print(f"\nno_regression orchestrator (in-process) vs LiteLLM: {real.status}: {real.message}")
    assert real.status in ("pass", "fail") and real.evidence["new"]["ok"] == 150
    small = {"sandbox": {"requests": 60, "concurrency": 5, "rounds": 2, "min_ok": 60}}
    with SlowProxy(orchestrator.url, 0.4) as slow:  # planted: the orchestrator 400 ms slower
        slowed = _ctx(sandbox, tmp_path, slow.url, litellm)
        bad = evaluate_criterion(slowed, _criterion(slowed, "p2.exit.no-regression-vs-litellm", **small), record=False)
    assert bad.status == "fail" and "REGRESSION" in bad.message, bad.message


def test_no_regression_waits_without_legacy_or_enough_samples(sandbox, orchestrator, tmp_path):
    ctx = _ctx(sandbox, tmp_path, orchestrator.url, "http://127.0.0.1:9")  # legacy not running
    out = evaluate_criterion(ctx, _criterion(ctx, "p2.exit.no-regression-vs-litellm",
                                             sandbox={"requests": 10, "concurrency": 2, "min_ok": 10}), record=False)
    assert out.status == "waiting" and "legacy 0 of 10" in out.message and out.measured is None
    staging = Settings(env="staging", orchestrator_url=orchestrator.url, actor="t@h")
    ctx2 = make_context(staging, store=SqliteStateStore(tmp_path / "s2.db"))
    out2 = evaluate_criterion(ctx2, _criterion(ctx2, "p2.exit.no-regression-vs-litellm"), record=False)
    assert out2.status == "waiting" and "legacy_url" in out2.message


# --- the runbook's own week-4 command ---------------------------------------------------------

def test_the_runbooks_locust_command_runs_against_the_sandbox_gateway(sandbox, tmp_path):
    locust = shutil.which("locust", path=str(Path(sys.executable).parent))
    if locust is None:
        pytest.skip("locust is not installed: pip install -e '.[test]'")
    gateway = sandbox[2]["gateway"]  # no flag deployed: every user goes to LiteLLM, with the key the gateway adds
    t0 = time.monotonic()
    proc = subprocess.run([locust, "-f", str(ROOT / "tests/load/locustfile.py"), f"--host={gateway}",
                           "--headless", "-u", "8", "-r", "8", "-t", "5s", "--csv", str(tmp_path / "run"),
                           "--only-summary"], capture_output=True, text=True, timeout=90, cwd=ROOT)
    rows = {r["Name"]: r for r in csv.DictReader((tmp_path / "run_stats.csv").open())}
    total = rows["Aggregated"]
    print(f"\nlocust via the gateway in {time.monotonic() - t0:.1f}s: {total['Request Count']} requests, "
          f"{total['Failure Count']} failures, p99 {total['99%']} ms")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert int(total["Request Count"]) >= 20 and int(total["Failure Count"]) == 0
    assert {"chat: conversation turn", "chat: popular question"} <= set(rows)
