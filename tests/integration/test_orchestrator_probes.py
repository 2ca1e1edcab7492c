"""Each orchestrator probe passes on a healthy core and FAILS with the fault it guards against.

Real parts: the model simulator, redis-server and moto (a sandbox), the real CatoOrchestrator
core, cache and breakers; only Ray is left out (tests/cli/test_orchestrator_e2e.py covers it)."""
from __future__ import annotations

import pytest

from cato_migrate.adapters.orchestrator_http import SimulatorFaults
from cato_migrate.core import probes
from cato_sandbox.manager import SandboxSettings, load_sandbox_state, sandbox_down, sandbox_up
from cato_sandbox.orchestrator_config import sandbox_config
from orchestrator.core import CatoOrchestrator
from orchestrator.ports import ModelTier, RoutingDecision
from tests.orch_inprocess import InProcessApi


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    settings = SandboxSettings(state_dir=tmp_path_factory.mktemp("orch") / ".cato-migrate",
                               components=["moto", "redis", "simulator"])
    sandbox_up(settings)
    yield load_sandbox_state(settings.state_dir)
    sandbox_down(settings)


@pytest.fixture
def make_api(sandbox, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    apis = []

    def make(router=None, **overrides):
        config = sandbox_config(sandbox, **overrides)
        api = InProcessApi(CatoOrchestrator(config, router=router))
        apis.append(api)
        return api

    yield make
    for a in apis:
        a.close()


@pytest.fixture
def faults(sandbox):
    sim = next(c["url"] for c in sandbox["components"] if c["name"] == "simulator")
    f = SimulatorFaults(sim)
    yield f
    f.clear()


def test_every_probe_passes_on_a_healthy_orchestrator(make_api, faults):
    api = make_api()
    for r in (probes.probe_routing(api), probes.probe_context(api), probes.probe_breaker(api, faults),
              probes.probe_cache(api)):
        assert r.ok, (r.name, r.message, r.evidence)


def test_context_probe_fails_when_context_is_dropped(make_api):
    r = probes.probe_context(make_api(history_turns=0))
    assert not r.ok and "expected it to contain" in r.message


def test_cache_probe_fails_when_the_cache_never_hits(make_api):
    r = probes.probe_cache(make_api(cache={"enabled": False}))
    assert not r.ok and r.measured == 0.0


def test_cache_probe_asks_fresh_questions_each_run(make_api):
    # Paraphrase matching broken (threshold 1.0: only the exact path can hit). With the same 40
    # sentences every run, the second run's paraphrases were exact repeats of the first's: 100%.
    api = make_api(cache={"threshold": 1.0})
    first, second = probes.probe_cache(api), probes.probe_cache(api)
    assert not first.ok and not second.ok, (first.message, second.message)
    assert second.measured < 0.2 and first.evidence["ref"] != second.evidence["ref"]


def test_breaker_probe_fails_when_the_breaker_never_opens(make_api, faults):
    r = probes.probe_breaker(make_api(breaker={"failure_threshold": 1000}), faults)
    assert not r.ok and "did NOT open" in r.message


class AlwaysHaiku:
    def decide(self, query, domain):
        return RoutingDecision(ModelTier.BEDROCK_HAIKU, (ModelTier.BEDROCK_SONNET,), "planted: always haiku")


def test_routing_probe_fails_when_routing_ignores_complexity(make_api):
    r = probes.probe_routing(make_api(router=AlwaysHaiku()))
    assert not r.ok and r.measured < 1.0


def test_runbook_week_snippets_against_the_local_stack(make_api):
    """Weeks 5-8 of the runbook, as written there, on the real core + simulator + Redis + moto."""
    import uuid

    api = make_api()
    orchestrator, run = api.orch, api._run

    decision = orchestrator._determine_routing("What is 2+2?", "general")
    assert decision.primary_model == ModelTier.BEDROCK_HAIKU
    decision = orchestrator._determine_routing("Explain the implications of quantum computing on cryptography", "general")
    assert decision.primary_model == ModelTier.BEDROCK_SONNET

    sid = "test-" + uuid.uuid4().hex[:6]
    run(orchestrator.route_query("My name is Alice", session_id=sid))
    result2 = run(orchestrator.route_query("What is my name?", session_id=sid))
    assert "Alice" in result2["response"]

    for _ in range(5):
        orchestrator.circuit_breakers[ModelTier.BEDROCK_SONNET].record_failure()
    assert not orchestrator.circuit_breakers[ModelTier.BEDROCK_SONNET].can_execute()
    result = run(orchestrator.route_query("Hello", "test"))
    assert result["model"] == "bedrock_haiku"

    # Fresh conversations: session "test" has history by now, and an answer shaped by a session's
    # history is never shared (orchestrator/cache_policy.py), so the snippet's cache lines run without it.
    result1 = run(orchestrator.route_query("What is Python?"))
    assert not result1["cached"]
    result2 = run(orchestrator.route_query("What is Python programming?"))
    assert result2["cached"]
    in_session = run(orchestrator.route_query("What is Python programming?", "test"))
    assert not in_session["cached"]


def test_runbook_week_11_consolidation_against_the_local_stack(make_api):
    """Week 11 as written: store an interaction, extract facts by prompting the model (the
    simulator), read them back by domain from DynamoDB (moto)."""
    api = make_api()
    memory, consolidation_pipeline, run = api.orch.memory, api.orch.consolidation_pipeline, api._run
    run(api.orch._start())  # tables

    interaction = {"query": "What is machine learning?",
                   "response": "Machine learning is a field of AI that learns patterns from data.",
                   "domain": "ai"}
    run(memory.storeInteraction(interaction))
    facts = run(consolidation_pipeline.extract_facts(interaction))
    assert facts and facts[0].source == interaction["id"]
    stored = run(memory.getFactsByDomain("ai"))
    assert len(stored) > 0
    assert any("Machine learning is a field of AI" in f.text for f in stored)
    episode_id, score, meta = run(memory.searchEpisodes("Tell me about machine learning"))[0]
    assert episode_id == interaction["id"] and meta["query"] == "What is machine learning?" and score > 0.5
