"""The drills' pure parts: the traffic summary, input checks, the route-fault plan, and the
simulator's per-route fault decision."""
from __future__ import annotations

import pytest

from cato_migrate.core.drill import (DrillSample, parse_duration, percentile, plan_route_faults, summarize,
                                     validate_fault, validate_traffic)
from cato_migrate.errors import BadInput
from cato_sandbox import sim_config


def _s(stack, status, ms, user="u"):
    return DrillSample(user=user, stack=stack, status=status, latency_ms=ms)


def test_percentile_is_nearest_rank():
    assert percentile([], 50) is None
    assert percentile([5.0], 99) == 5.0
    values = [float(i) for i in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (50.0, 99.0, 100.0)
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0


def test_summary_per_stack_from_the_stack_header():
    samples = ([_s("legacy", 200, 10.0 + i, user=f"u{i % 3}") for i in range(100)]
               + [_s("new", 500, 900.0, "a"), _s("new", 200, 100.0, "b"), _s("new", 503, 5.0, "a")]
               + [_s(None, None, 30000.0), _s("new", 429, 50.0, "c")])
    out = summarize(samples)
    leg, new = out.stacks["legacy"], out.stacks["new"]
    assert (leg.requests, leg.errors, leg.users, leg.p50_ms, leg.p99_ms) == (100, 0, 3, 59.0, 108.0)
    assert (new.requests, new.errors, new.users) == (4, 2, 3)  # a 4xx is the client's, not an error
    assert (new.p50_ms, new.p99_ms) == (50.0, 900.0)
    assert new.error_rate == 0.5
    assert out.sent == 105 and out.unrouted == 1
    assert out.statuses == {"200": 101, "429": 1, "500": 1, "503": 1, "none": 1}


def test_a_stack_with_no_traffic_is_unmeasured_not_zero():
    out = summarize([_s("legacy", 200, 1.0)])
    assert (out.stacks["new"].requests, out.stacks["new"].p99_ms, out.stacks["new"].error_rate) == (0, None, None)


@pytest.mark.parametrize("text,seconds", [("30", 30.0), ("30s", 30.0), ("1.5m", 90.0), ("500ms", 0.5), ("1h", 3600.0)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "-3s", "3d", "1e3"])
def test_bad_durations(text):
    with pytest.raises(BadInput):
        parse_duration(text)


def test_traffic_bounds():
    assert validate_traffic(10, 5, 2.0) == 10
    assert validate_traffic(1, 0.1, 1.0) == 1
    for args in [(0, 1, 1), (1, 0, 1), (1, float("nan"), 1), (1, 1, 0), (1, 1000, 1000)]:
        with pytest.raises(BadInput):
            validate_traffic(*args)


@pytest.mark.parametrize("stack,rate,lat,clear,msg", [
    ("new", 1.5, None, False, "between 0 and 1"), ("new", -0.1, None, False, "between 0 and 1"),
    ("legacy", None, -5.0, False, "0 or more"), ("blue", 0.1, None, False, "new or legacy"),
    (None, 0.1, None, False, "--stack"), ("new", None, None, False, "say what to plant"),
    (None, 0.1, None, True, "--clear takes no"),
])
def test_bad_fault_input(stack, rate, lat, clear, msg):
    with pytest.raises(BadInput, match=msg):
        validate_fault(stack, rate, lat, clear)


def test_good_fault_input():
    validate_fault("new", 0.2, None, False)
    validate_fault("legacy", None, 2500.0, False)
    validate_fault(None, None, None, True)
    validate_fault("new", None, None, True)


SELECTORS = {"legacy": ["openai/anthropic.claude-3-haiku"], "new": ["bedrock/haiku", "openai/cato-shadow-self"]}


def test_fault_plan_touches_one_stack_only():
    planted = plan_route_faults({}, SELECTORS, "new", 0.2, None, False)
    assert planted == {"bedrock/haiku": {"error_rate": 0.2, "latency_ms": 0.0},
                       "openai/cato-shadow-self": {"error_rate": 0.2, "latency_ms": 0.0}}
    both = plan_route_faults(planted, SELECTORS, "legacy", None, 300.0, False)
    assert both["openai/anthropic.claude-3-haiku"] == {"error_rate": 0.0, "latency_ms": 300.0}
    assert {k: v for k, v in both.items() if k != "openai/anthropic.claude-3-haiku"} == planted
    assert plan_route_faults(both, SELECTORS, "new", None, None, True) == {
        "openai/anthropic.claude-3-haiku": {"error_rate": 0.0, "latency_ms": 300.0}}
    assert plan_route_faults(both, SELECTORS, None, None, None, True) == {}
    with pytest.raises(BadInput, match="share simulator routes"):
        plan_route_faults({}, {"legacy": ["openai/x"], "new": ["openai/x"]}, "new", 0.1, None, False)


def test_simulator_route_fault_matches_api_and_model_and_fails_alike_on_every_route():
    cfg = sim_config.merge(sim_config.default_config(), {"route_faults": {
        "bedrock": {"error_rate": 0.3}, "openai/cato-shadow-*": {"error_rate": 0.3, "latency_ms": 40}}})
    prompts = [f"question {i}" for i in range(2000)]
    on_bedrock = [sim_config.route_fault(cfg, "bedrock", "anthropic.claude", p)[0] for p in prompts]
    on_vllm = [sim_config.route_fault(cfg, "openai", "cato-shadow-self", p)[0] for p in prompts]
    assert on_bedrock == on_vllm  # a request that falls back to another tier fails there too
    assert 0.26 < sum(on_bedrock) / len(prompts) < 0.34
    assert sim_config.route_fault(cfg, "openai", "cato-shadow-self", "x")[1] == 40
    assert sim_config.route_fault(cfg, "openai", "anthropic.claude", "question 1") == (False, 0.0)  # the legacy route
    assert sim_config.route_fault(cfg, "sagemaker", "cato-shadow-self", "question 1") == (False, 0.0)


@pytest.mark.parametrize("bad", [{"grpc": {}}, {"bedrock": {"error_rate": 2}}, {"bedrock": {"latency_ms": -1}},
                                 {"bedrock": {"oops": 1}}, []])
def test_simulator_refuses_bad_route_faults(bad):
    with pytest.raises(sim_config.ConfigError):
        sim_config.merge(sim_config.default_config(), {"route_faults": bad})
