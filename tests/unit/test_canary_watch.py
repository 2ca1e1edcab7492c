"""The watch's triggers per stack, its verdict, and the rollback decision across evaluations (pure)."""
from __future__ import annotations

import math

import pytest

from cato_migrate.core.canary_measure import read_stacks
from cato_migrate.core.canary_watch import StackReading, WatchState, evaluate, step
from cato_migrate.core.loader import load_runbook
from cato_migrate.ports import LATENCY_BUCKETS_S
from tests.fake_metrics import UNREADABLE, FakeMetrics, steady, window_of

RB = load_runbook()
SPEC = RB.meta.canary_analysis
TRIGGERS = RB.meta.rollback.triggers
MIN = SPEC.min_requests


def _eval(new, legacy):
    src = FakeMetrics(new=new, legacy=legacy)
    return evaluate(TRIGGERS, read_stacks(src, SPEC.window_seconds), MIN)


def _states(ev, stack):
    return {r.trigger: r.state for r in ev.on(stack)}


def test_the_fake_is_shaped_as_the_port_says():
    w = window_of("new", [0.07, 0.3, 0.3, 1.2, 40.0], errors=1)
    bounds = [b for b, _ in w.latency_buckets]
    assert bounds == [*LATENCY_BUCKETS_S, math.inf]
    counts = [c for _, c in w.latency_buckets]
    assert counts == sorted(counts) and counts[-1] == w.requests == 5
    assert w.error_rate == 0.2 and w.p50_ms == pytest.approx(250 + 250 * (2.5 - 1) / 2)  # rank 2.5 of 5, 1 below 0.25 s, 3 by 0.5 s


def test_healthy_stacks_are_clear_and_healthy():
    ev = _eval(steady("new", 500), steady("legacy", 5000))
    assert ev.verdict == "healthy"
    assert set(_states(ev, "new").values()) == {"clear"} and set(_states(ev, "legacy").values()) == {"clear"}


def test_errors_on_new_fire_and_breach():
    ev = _eval(steady("new", 500, errors=100), steady("legacy", 5000))
    assert ev.verdict == "breach" and ev.fired_on_new == ["error-rate"]
    msg = next(r.message for r in ev.on("new") if r.trigger == "error-rate")
    assert "20.00%" in msg and "500 requests" in msg


def test_slow_p99_on_new_fires():
    lat = [0.3] * 490 + [4.0] * 10  # 2% of requests at 4 s: p99 in (3, 5] s
    ev = _eval(window_of("new", lat), steady("legacy", 5000))
    assert _states(ev, "new")["latency-p99"] == "fired" and ev.verdict == "breach"


def test_a_legacy_breach_is_shown_but_never_a_breach_verdict():
    ev = _eval(steady("new", 500), steady("legacy", 5000, errors=1000))
    assert _states(ev, "legacy")["error-rate"] == "fired"
    assert ev.verdict == "healthy" and ev.fired_on_new == []


def test_no_traffic_is_waiting_never_clear():
    ev = _eval(window_of("new", []), window_of("legacy", []))
    assert ev.verdict == "waiting"
    assert set(_states(ev, "new").values()) == {"waiting"}
    few = _eval(steady("new", MIN - 1), steady("legacy", 5000))
    assert few.verdict == "waiting" and "fewer than" in few.on("new")[0].message


def test_an_unreadable_source_is_unmeasured_never_clear():
    ev = _eval(UNREADABLE, UNREADABLE)
    assert ev.verdict == "unmeasured"
    assert set(_states(ev, "new").values()) == {"unmeasured"}
    assert "refused the connection" in ev.on("new")[0].message


def test_a_missing_figure_is_unmeasured():
    ev = _eval(steady("new", 500, complaints=None), steady("legacy", 5000))
    assert _states(ev, "new")["user-complaints"] == "unmeasured" and ev.verdict == "unmeasured"
    # a stack whose readings could not be read at all
    ev = evaluate(TRIGGERS, {"legacy": StackReading(stack="legacy", window=steady("legacy", 500))}, MIN)
    assert ev.verdict == "unmeasured"


def test_complaints_fire_above_threshold_and_above_legacy():
    # 2 per 1k on new (threshold 1/1k), legacy 0.2 per 1k: fired
    ev = _eval(steady("new", 1000, complaints=2), steady("legacy", 10000, complaints=2))
    assert _states(ev, "new")["user-complaints"] == "fired"
    # the same rate on legacy: not the new stack's doing
    ev = _eval(steady("new", 1000, complaints=2), steady("legacy", 10000, complaints=30))
    assert _states(ev, "new")["user-complaints"] == "clear"
    # legacy without traffic (100%): the threshold alone decides
    ev = _eval(steady("new", 1000, complaints=2), window_of("legacy", []))
    assert _states(ev, "new")["user-complaints"] == "fired"


def _run(evals):
    state = WatchState()
    for ev in evals:
        state = step(state, ev, SPEC)
    return state


def test_rollback_after_n_consecutive_breaches_on_new():
    n = SPEC.consecutive_breaches
    breach = _eval(steady("new", 500, errors=100), steady("legacy", 5000))
    assert _run([breach] * (n - 1)).decision == "continue"
    state = _run([breach] * n)
    assert state.decision == "rollback" and state.breaches["error-rate"] == n
    assert "Error rate > 1%" in state.reason and "20.00%" in state.reason and f"{n} consecutive" in state.reason


def test_a_clear_evaluation_resets_but_waiting_or_unmeasured_does_not_forgive():
    n = SPEC.consecutive_breaches
    breach = _eval(steady("new", 500, errors=100), steady("legacy", 5000))
    clear = _eval(steady("new", 500), steady("legacy", 5000))
    waiting = _eval(window_of("new", []), window_of("legacy", []))
    unmeasured = _eval(UNREADABLE, UNREADABLE)
    assert _run([breach] * (n - 1) + [clear] + [breach] * (n - 1)).decision == "continue"
    assert _run([breach] * (n - 1) + [waiting, unmeasured] + [breach]).decision == "rollback"


def test_legacy_breaches_never_roll_back():
    legacy_bad = _eval(steady("new", 500), steady("legacy", 5000, errors=1000))
    assert _run([legacy_bad] * 10).decision == "continue"


def test_no_traffic_waits_every_interval_and_never_rolls_back():
    waiting = _eval(window_of("new", []), window_of("legacy", []))
    state = _run([waiting] * 20)
    assert state.decision == "continue" and state.evaluations == 20


def test_unmeasured_policy_hold_and_rollback():
    unmeasured = _eval(UNREADABLE, UNREADABLE)
    assert _run([unmeasured] * 50).decision == "continue"  # hold: never a rollback, never clear
    spec = SPEC.model_copy(update={"unmeasured_policy": "rollback"})
    state = WatchState()
    for i in range(spec.unmeasured_intervals):
        state = step(state, unmeasured, spec)
        assert state.decision == ("rollback" if i == spec.unmeasured_intervals - 1 else "continue")
    assert "unmeasured in" in state.reason
