import asyncio

import pytest

from orchestrator.core import CatoOrchestrator, NoTierAvailable
from orchestrator.ports import BackendError, ModelTier
from tests.fakes_orch import ExactCache, FakeBackend, FakeWorking


def make(fail=None, cache=None):
    fail = fail or {}
    backends = {t: FakeBackend(t, fail.get(t)) for t in ModelTier}
    return CatoOrchestrator(None, backends=backends, working=FakeWorking(), cache=cache), backends


def run(coro):
    return asyncio.run(coro)


def test_runbook_routing_examples():
    orch, _ = make()
    assert orch._determine_routing("What is 2+2?", "general").primary_model == ModelTier.BEDROCK_HAIKU
    d = orch._determine_routing("Explain the implications of quantum computing on cryptography", "general")
    assert d.primary_model == ModelTier.BEDROCK_SONNET and d.reason


def test_context_reaches_the_model_only_within_the_session():
    orch, backends = make()
    run(orch.route_query("My name is Alice", session_id="s1"))
    r = run(orch.route_query("What is my name?", session_id="s1"))
    assert "Alice" in r["response"]
    r2 = run(orch.route_query("What is my name?", session_id="s2"))
    assert "Alice" not in r2["response"]


def test_counted_failure_falls_back_and_is_reported():
    orch, _ = make(fail={ModelTier.BEDROCK_SONNET: "server"})
    r = run(orch.route_query("Explain the implications of quantum computing on cryptography"))
    assert r["model"] == "bedrock_haiku" and r["fallback_from"] == "bedrock_sonnet"


def test_content_filter_is_not_retried_on_another_tier():
    orch, backends = make(fail={ModelTier.BEDROCK_HAIKU: "content_filter"})
    with pytest.raises(BackendError):
        run(orch.route_query("What is 2+2?"))
    assert backends[ModelTier.BEDROCK_SONNET].calls == []
    assert orch.circuit_breakers[ModelTier.BEDROCK_HAIKU].can_execute()


def test_open_breaker_sends_traffic_down_the_fallback_order():
    orch, backends = make()
    for _ in range(5):
        orch.circuit_breakers[ModelTier.BEDROCK_SONNET].record_failure()
    assert not orch.circuit_breakers[ModelTier.BEDROCK_SONNET].can_execute()
    r = run(orch.route_query("Explain the implications of quantum computing on cryptography", "test"))
    assert r["model"] == "bedrock_haiku" and backends[ModelTier.BEDROCK_SONNET].calls == []


def test_every_tier_down_is_a_clear_error():
    orch, _ = make(fail={t: "timeout" for t in ModelTier})
    with pytest.raises(NoTierAvailable) as e:
        run(orch.route_query("What is 2+2?"))
    assert "timeout" in str(e.value)


def test_context_dependent_answers_never_cross_users():
    cache = ExactCache()
    orch, _ = make(cache=cache)
    run(orch.route_query("My name is Alice", session_id="a", user_id="alice"))
    first = run(orch.route_query("What is my name?", session_id="a", user_id="alice"))
    assert not first["cached"]
    other = run(orch.route_query("What is my name?", session_id="b", user_id="bob"))
    assert not other["cached"] and "Alice" not in other["response"]
    assert "What is my name?" not in cache.scopes.get("global", {})


def test_context_free_answers_are_shared():
    cache = ExactCache()
    orch, _ = make(cache=cache)
    run(orch.route_query("What is Python?", session_id="a"))
    again = run(orch.route_query("What is Python?", session_id="b"))
    assert again["cached"]


async def _collect(agen):
    return [ev async for ev in agen]


def test_stream_yields_start_deltas_end_and_remembers():
    orch, _ = make(cache=ExactCache())
    events = run(_collect(orch.stream_query("My name is Alice", session_id="s")))
    assert events[0]["type"] == "start" and events[-1]["type"] == "end"
    text = "".join(e["text"] for e in events if e["type"] == "delta")
    assert text == events[-1]["result"]["response"]
    later = run(_collect(orch.stream_query("What is my name?", session_id="s")))
    assert "Alice" in "".join(e["text"] for e in later if e["type"] == "delta")


def test_stream_falls_back_before_the_first_token():
    orch, _ = make(fail={ModelTier.BEDROCK_SONNET: "throttling"})
    events = run(_collect(orch.stream_query("Explain the implications of quantum computing on cryptography")))
    assert events[0]["model"] == "bedrock_haiku" and events[0]["fallback_from"] == "bedrock_sonnet"


def test_stream_serves_a_cache_hit():
    orch, _ = make(cache=ExactCache())
    run(orch.route_query("What is Python?"))
    events = run(_collect(orch.stream_query("What is Python?")))
    assert events[0]["cached"] is True and events[-1]["result"]["cached"] is True
