"""The orchestrator's admin fault switch (orchestrator/faults.py): bounded in time, one tier only,
judged input, and through the real core: the tier's calls fail before its backend is called, the
breaker opens on them and traffic falls back, as in an outage."""
from __future__ import annotations

import asyncio

import pytest

from orchestrator.api_errors import ApiError
from orchestrator.breaker import BreakerBoard
from orchestrator.core import CatoOrchestrator
from orchestrator.faults import MAX_SECONDS, FaultSwitch, parse_clear, parse_fault
from orchestrator.ports import BackendError, ModelTier
from tests.fakes_orch import FakeBackend, FakeWorking

SONNET, HAIKU = ModelTier.BEDROCK_SONNET, ModelTier.BEDROCK_HAIKU
COMPLEX = "Explain the implications of quantum computing on cryptography"


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_a_switch_fails_its_tier_only_and_expires_on_its_own():
    clock = Clock()
    switch = FaultSwitch(clock=clock)
    state = switch.fail(SONNET, 30)
    assert state["faults"]["bedrock_sonnet"] == {"error_rate": 1.0, "remaining_s": 30.0}
    with pytest.raises(BackendError) as err:
        switch.check(SONNET)
    assert err.value.kind == "server" and err.value.counts_for_breaker and err.value.status == 503
    assert "admin fault switch" in str(err.value)
    switch.check(HAIKU)  # other tiers untouched
    clock.t += 30
    switch.check(SONNET)  # expired: nobody had to clear it
    assert switch.snapshot()["faults"] == {}


def test_clear_ends_one_tier_or_all():
    switch = FaultSwitch()
    switch.fail(SONNET, 60)
    switch.fail(HAIKU, 60)
    assert set(switch.clear(SONNET)["faults"]) == {"bedrock_haiku"}
    assert switch.clear()["faults"] == {}
    switch.check(SONNET)
    switch.check(HAIKU)


def test_an_error_rate_fails_that_share_of_calls():
    coins = iter([0.1, 0.9, 0.2, 0.7])
    switch = FaultSwitch(coin=lambda: next(coins))
    switch.fail(SONNET, 60, error_rate=0.5)
    outcomes = []
    for _ in range(4):
        try:
            switch.check(SONNET)
            outcomes.append("ok")
        except BackendError:
            outcomes.append("failed")
    assert outcomes == ["failed", "ok", "failed", "ok"]


@pytest.mark.parametrize("seconds", [0, -1, MAX_SECONDS + 1])
def test_the_switch_itself_refuses_an_unbounded_or_empty_duration(seconds):
    with pytest.raises(ValueError):
        FaultSwitch().fail(SONNET, seconds)


def test_parse_fault_reads_a_good_body():
    assert parse_fault({"tier": "bedrock_sonnet", "seconds": 45}) == (SONNET, 45.0, 1.0)
    assert parse_fault({"tier": "bedrock_haiku", "seconds": 1.5, "error_rate": 0.25}) == (HAIKU, 1.5, 0.25)
    assert parse_clear({}) is None and parse_clear({"tier": "shadow_self"}) == ModelTier.SHADOW_SELF


@pytest.mark.parametrize("body, param", [
    ({"seconds": 10}, "tier"),
    ({"tier": "gpt-4o", "seconds": 10}, "tier"),
    ({"tier": "bedrock_sonnet"}, "seconds"),
    ({"tier": "bedrock_sonnet", "seconds": "10"}, "seconds"),
    ({"tier": "bedrock_sonnet", "seconds": True}, "seconds"),
    ({"tier": "bedrock_sonnet", "seconds": 0}, "seconds"),
    ({"tier": "bedrock_sonnet", "seconds": MAX_SECONDS + 1}, "seconds"),
    ({"tier": "bedrock_sonnet", "seconds": 10, "error_rate": 0}, "error_rate"),
    ({"tier": "bedrock_sonnet", "seconds": 10, "error_rate": 1.5}, "error_rate"),
    ({"tier": "bedrock_sonnet", "seconds": 10, "forever": True}, "forever"),
])
def test_parse_fault_refuses_bad_input_with_a_400_naming_the_field(body, param):
    with pytest.raises(ApiError) as err:
        parse_fault(body)
    assert err.value.status == 400 and err.value.param == param
    assert err.value.body()["error"]["type"] == "invalid_request_error"


def test_through_the_core_the_breaker_opens_and_traffic_falls_back_without_calling_the_backend():
    backends = {t: FakeBackend(t) for t in ModelTier}
    orch = CatoOrchestrator(None, backends=backends, working=FakeWorking())
    orch.faults.fail(SONNET, 60)
    served = [asyncio.run(orch.route_query(f"{COMPLEX} ({i})")) for i in range(5)]
    assert all(r["model"] == "bedrock_haiku" and r["fallback_from"] == "bedrock_sonnet" for r in served)
    assert backends[SONNET].calls == []  # the switch answered; the real backend was never called
    assert orch.circuit_breakers[SONNET].state == "open"  # opened by counted failures, as in an outage
    orch.faults.clear()
    orch.circuit_breakers = BreakerBoard(list(ModelTier))  # what POST /admin/breakers/reset does
    assert asyncio.run(orch.route_query(COMPLEX + " (after)"))["model"] == "bedrock_sonnet"


def test_streaming_falls_back_before_the_first_token_too():
    backends = {t: FakeBackend(t) for t in ModelTier}
    orch = CatoOrchestrator(None, backends=backends, working=FakeWorking())
    orch.faults.fail(SONNET, 60)

    async def first_event():
        async for ev in orch.stream_query(COMPLEX + " (stream)"):
            return ev

    start = asyncio.run(first_event())
    assert start["model"] == "bedrock_haiku" and start["fallback_from"] == "bedrock_sonnet"
