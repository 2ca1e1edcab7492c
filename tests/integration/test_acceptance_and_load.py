"""Weeks 4 and 12 (acceptance suites, load test) and the p99 / error-rate checks, end to end.

Real parts: the orchestrator's Serve app (FastAPI routes, auth, SSE, /metrics) over loopback
HTTP (tests/orch_http.py: uvicorn instead of Ray), the real core, the model simulator,
redis-server and moto; the CLI's own Services, OrchestratorHttp, engine and SQLite journal.
Each check and suite passes on a healthy stack and FAILS with the fault it guards against.
"""
from __future__ import annotations

import pytest

from cato_migrate.acceptance import run_suite
from cato_migrate.adapters.orchestrator_http import OrchestratorHttp
from cato_migrate.adapters.sqlite_store import SqliteStateStore
from cato_migrate.core.engine import evaluate_criterion, run_phase
from cato_migrate.errors import BadInput, ExternalError, Unverified
from cato_sandbox.manager import SandboxSettings, load_sandbox_state, sandbox_down, sandbox_up
from cato_migrate.settings import Settings
from cato_migrate.wiring import make_context
from cato_sandbox.orchestrator_config import sandbox_config
from orchestrator.ports import ModelTier, RoutingDecision
from tests.orch_http import ServeAppServer

TOKEN = "test-admin-token"
KEY = "sk-test-client-key"  # the client key the probes and load tests send


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    settings = SandboxSettings(state_dir=tmp_path_factory.mktemp("accept") / ".cato-migrate",
                               components=["moto", "redis", "simulator"])
    sandbox_up(settings)
    yield settings.state_dir, load_sandbox_state(settings.state_dir)
    sandbox_down(settings)


@pytest.fixture(scope="module")
def aws_env():
    mp = pytest.MonkeyPatch()
    mp.setenv("AWS_ACCESS_KEY_ID", "testing")
    mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    yield
    mp.undo()


def _serve(sandbox, **overrides):
    from orchestrator.identity import key_hash

    keys = [{"principal": "tests", "sha256": key_hash(KEY)}]
    return ServeAppServer(sandbox_config(sandbox[1], admin_token=TOKEN, api_keys=keys, **overrides))


@pytest.fixture(scope="module")
def healthy(sandbox, aws_env):
    with _serve(sandbox) as srv:
        yield srv


@pytest.fixture
def simulator(sandbox):
    sim = OrchestratorHttp(next(c["url"] for c in sandbox[1]["components"] if c["name"] == "simulator"))
    yield sim
    sim._http.post("/admin/reset")


def _slow_down(sim, ms: float) -> None:
    assert sim._http.put("/admin/config", json={"tiers": {"*": {"ttft_ms": ms}}}).status_code == 200


def _fail_all(sim) -> None:
    assert sim._http.put("/admin/config", json={"tiers": {"*": {"error_rate": 1.0}}}).status_code == 200


def _ctx(sandbox, tmp_path, url: str = ""):
    settings = Settings(env="local", work_dir=sandbox[0], orchestrator_url=url, orchestrator_admin_token=TOKEN,
                        orchestrator_api_key=KEY,
                        actor="tester@host")
    return make_context(settings, store=SqliteStateStore(tmp_path / "state.db"))


def _criterion(ctx, crit_id: str, **params):
    crit = next(c for p in ctx.runbook.phases for c in p.exit_criteria if c.id == crit_id)
    return crit.model_copy(update={"params": {**crit.params, **params}}) if params else crit


# --- integration_tests (weeks 4 and 12) -------------------------------------------------------

# These suites found a real defect, since fixed in orchestrator/context_scope.py: "Where do I
# live?" was treated as a generic how-to, so its answer went to the GLOBAL cache scope.


@pytest.mark.parametrize("phase,step", [(1, "p1.w4.integration-tests"), (3, "p3.w12.memory-tests")])
def test_suites_pass_on_a_healthy_stack_and_journal_each_case(healthy, sandbox, tmp_path, phase, step):
    ctx = _ctx(sandbox, tmp_path, healthy.url)
    [out] = run_phase(ctx, ctx.runbook.phase(phase), step_id=step)
    assert out.outcome == "done", out.message
    cases = out.evidence["cases"]
    assert out.evidence["passed"] == out.evidence["total"] == len(cases) >= 6
    assert all(c["ok"] and c["message"] for c in cases)
    finished = [e for e in ctx.store.journal("local", step) if e.event == "finished"]
    assert finished and len(finished[-1].evidence["cases"]) == len(cases)


def test_memory_suite_fails_when_context_is_dropped(sandbox, aws_env, tmp_path):
    with _serve(sandbox, history_turns=0) as srv:
        result = run_suite("memory", OrchestratorHttp(srv.url, TOKEN, api_key=KEY))
        ctx = _ctx(sandbox, tmp_path, srv.url)
        with pytest.raises(Unverified) as err:
            run_phase(ctx, ctx.runbook.phase(3), step_id="p3.w12.memory-tests")
    assert {"recall_across_turns", "latest_statement_wins", "streamed_turn_remembered"} <= set(result.failed)
    assert "sessionless_keeps_nothing" not in result.failed  # the planted fault is context, not leaks
    assert "recall_across_turns" in err.value.message


class AlwaysHaiku:
    def decide(self, query, domain):
        return RoutingDecision(ModelTier.BEDROCK_HAIKU, (ModelTier.BEDROCK_SONNET,), "planted: always haiku")


def test_orchestration_suite_reports_the_one_case_that_fails(sandbox, aws_env):
    with _serve(sandbox) as srv:
        srv.orch.router = AlwaysHaiku()
        result = run_suite("orchestration", OrchestratorHttp(srv.url, TOKEN, api_key=KEY))
    assert result.failed == ["routing"] and not result.ok
    assert "routed as expected" in next(c.message for c in result.cases if c.name == "routing")


def test_a_suite_against_no_orchestrator(sandbox, tmp_path):
    ctx = _ctx(sandbox, tmp_path)  # no URL and no orchestrator in the sandbox
    with pytest.raises(BadInput, match="no orchestrator"):
        run_phase(ctx, ctx.runbook.phase(1), step_id="p1.w4.integration-tests")
    gone = _ctx(sandbox, tmp_path, "http://127.0.0.1:9")
    with pytest.raises(ExternalError, match="unreachable"):
        run_phase(gone, gone.runbook.phase(1), step_id="p1.w4.integration-tests")
    dead = run_suite("orchestration", OrchestratorHttp("http://127.0.0.1:9", TOKEN, timeout=2, api_key=KEY))
    assert not dead.ok and len(dead.failed) == len(dead.cases)
    assert "unreachable" in dead.cases[0].message


# --- load_test (week 4) ----------------------------------------------------------------------

def _load_ctx(sandbox, tmp_path, url, **params):
    """The week-4 step as the runbook has it, scaled down to what a shared 2-core test box holds."""
    ctx = _ctx(sandbox, tmp_path, url)
    step_params = ctx.runbook.find_step("p1.w4.load-test")[2].params
    for figures in ("sandbox", "ramp", "min_sustained"):  # the ramp has tests of its own (test_load_regression.py)
        step_params.pop(figures, None)
    step_params.update(params)
    return ctx


def test_load_test_records_figures_and_fails_on_the_error_trigger(healthy, sandbox, simulator, tmp_path):
    OrchestratorHttp(healthy.url, TOKEN, api_key=KEY).reset_breakers()
    ctx = _load_ctx(sandbox, tmp_path, healthy.url, requests=60, concurrency=4, repeat_share=0.2)
    [out] = run_phase(ctx, ctx.runbook.phase(1), step_id="p1.w4.load-test")
    ev = out.evidence
    assert out.outcome == "done", out.message
    assert ev["requests"] == 60 and ev["errors"] == 0 and ev["triggers_fired"] == []
    assert 0 < ev["p50_ms"] <= ev["p95_ms"] <= ev["p99_ms"] and ev["throughput_rps"] > 0
    assert ev["cached"] > 0  # the repeat share reached the cache; the unique rest missed it
    print(f"\nload test on the in-process Serve app: {ev['throughput_rps']} rps, p50 {ev['p50_ms']} ms, "
          f"p99 {ev['p99_ms']} ms, {ev['cached']} cached of {ev['ok']}")

    _fail_all(simulator)  # every tier fails: the orchestrator answers 503/502
    ctx2 = _load_ctx(sandbox, tmp_path / "second", healthy.url, requests=20, concurrency=4)
    with pytest.raises(Unverified, match="error_rate") as err:
        run_phase(ctx2, ctx2.runbook.phase(1), step_id="p1.w4.load-test")
    assert err.value.details["triggers_fired"]


# --- latency_p99 and error_rate checks ---------------------------------------------------------

def test_p99_check_passes_on_a_fast_backend_and_fails_above_500ms(healthy, sandbox, simulator, tmp_path):
    OrchestratorHttp(healthy.url, TOKEN, api_key=KEY).reset_breakers()  # earlier tests' planted faults opened them
    ctx = _ctx(sandbox, tmp_path, healthy.url)
    fast = evaluate_criterion(ctx, _criterion(ctx, "p1.exit.p99-latency"))
    assert fast.status == "pass", fast.message
    # The runbook's sandbox figures: 1,000 requests (a p99 with 10 slower than it), 10 in flight.
    assert fast.evidence["n"] == 1000 and fast.evidence["concurrency"] == 10
    assert fast.measured == fast.evidence["p99_ms"] < 500
    print(f"\np99 check on the in-process Serve app: p50 {fast.evidence['p50_ms']} ms, p99 {fast.measured} ms, "
          f"{fast.evidence['throughput_rps']} rps")
    assert "model simulator" in fast.evidence["what"] and "/v1/chat/completions" in fast.evidence["what"]

    _slow_down(simulator, 600)
    slow = evaluate_criterion(ctx, _criterion(ctx, "p1.exit.p99-latency", sandbox={"requests": 8, "min_ok": 8}))
    assert slow.status == "fail" and slow.measured >= 600, slow.message
    assert "does not meet p99_latency_ms < 500" in slow.message


def test_p99_check_waits_without_an_orchestrator_or_enough_answers(sandbox, simulator, tmp_path):
    ctx = _ctx(sandbox, tmp_path)
    none = evaluate_criterion(ctx, _criterion(ctx, "p1.exit.p99-latency"))
    assert none.status == "waiting" and "no orchestrator" in none.message
    dead = _ctx(sandbox, tmp_path, "http://127.0.0.1:9")
    out = evaluate_criterion(dead, _criterion(dead, "p1.exit.p99-latency", sandbox={"requests": 5}))
    assert out.status == "waiting" and "only 0 of 5 requests succeeded" in out.message
    assert out.measured is None and out.evidence["error_kinds"]


def test_error_rate_check_measures_the_error_ratio(healthy, sandbox, simulator, tmp_path):
    from cato_migrate.core.runbook import CriterionSpec

    OrchestratorHttp(healthy.url, TOKEN, api_key=KEY).reset_breakers()
    ctx = _ctx(sandbox, tmp_path, healthy.url)
    crit = CriterionSpec(id="p4.exit.error-rate", title="error rate under 1%", check="error_rate",
                         params={"requests": 10}, threshold={"metric": "error_rate", "op": "<", "value": 0.01})
    ok = evaluate_criterion(ctx, crit, record=False)
    assert ok.status == "pass" and ok.measured == 0.0
    _fail_all(simulator)
    bad = evaluate_criterion(ctx, crit, record=False)
    assert bad.status == "fail" and bad.measured == 1.0 and bad.evidence["errors"] == 10


# --- the rollback triggers, measured before traffic is raised --------------------------------

def test_rollback_triggers_clear_on_a_healthy_stack_and_fire_when_every_tier_fails(healthy, sandbox, simulator, tmp_path):
    from cato_migrate.core.triggers import trigger_statuses

    OrchestratorHttp(healthy.url, TOKEN, api_key=KEY).reset_breakers()
    ctx = _ctx(sandbox, tmp_path, healthy.url)
    ok = {t.id: t.status for t in trigger_statuses(ctx)}
    assert ok == {"error-rate": "clear", "latency-p99": "clear", "user-complaints": "not_monitored"}
    _fail_all(simulator)  # planted: every backend fails
    bad = {t.id: t for t in trigger_statuses(ctx)}
    assert bad["error-rate"].status == "fired" and bad["error-rate"].measured == 1.0
    assert bad["latency-p99"].status == "unmeasured"  # no successful request to time: never "clear"
    OrchestratorHttp(healthy.url, TOKEN, api_key=KEY).reset_breakers()


def test_rollback_triggers_without_an_orchestrator_are_unmeasured(sandbox, tmp_path):
    from cato_migrate.core.triggers import trigger_problems

    problems, statuses = trigger_problems(_ctx(sandbox, tmp_path, ""))
    assert {s.status for s in statuses if s.id != "user-complaints"} == {"unmeasured"}
    assert len(problems) == 2 and all("could not be measured" in p for p in problems)
