"""The new-against-legacy analysis: the tests against hand-computed values, and the verdicts."""
from __future__ import annotations

import math

import pytest

from cato_migrate.core.canary_analysis import analyze, bin_counts, mann_whitney_binned, two_proportions
from cato_migrate.core.loader import load_runbook
from tests.fake_metrics import steady, window_of

SPEC = load_runbook().meta.canary_analysis.analysis


def _textbook_u(x: list[float], y: list[float]) -> tuple[float, float]:
    """Mann-Whitney from midranks of the pooled sample (the textbook route): U_x and the tie-corrected sd."""
    pooled = sorted((v, i < len(x)) for i, v in enumerate(x + y))
    ranks: dict[float, float] = {}
    i = 0
    while i < len(pooled):
        j = i
        while j < len(pooled) and pooled[j][0] == pooled[i][0]:
            j += 1
        ranks[pooled[i][0]] = (i + 1 + j) / 2  # midrank of positions i+1..j
        i = j
    n, m = len(x), len(y)
    u = sum(ranks[v] for v in x) - n * (n + 1) / 2
    big = n + m
    ties = sum(c ** 3 - c for c in (sum(1 for v, _ in pooled if v == k) for k in ranks))
    sd = math.sqrt(n * m / 12 * ((big + 1) - ties / (big * (big - 1))))
    return u, sd


def test_mann_whitney_on_bins_matches_hand_computed_values():
    # new: 3, 5, 2, 0 requests in bins 1-4; legacy: 6, 3, 1, 1 (n = 10, m = 11).
    # U_new = 3*(0 + 6/2) + 5*(6 + 3/2) + 2*(9 + 1/2) + 0 = 9 + 37.5 + 19 = 65.5; mean n m / 2 = 55;
    # ties t = 9, 8, 3, 1: sum(t^3 - t) = 720 + 504 + 24 = 1248;
    # var = 110/12 * (22 - 1248/420) = 174.4286; z = (10.5 - 0.5) / 13.2071 = 0.75717; p = 0.44895.
    t = mann_whitney_binned([3, 5, 2, 0], [6, 3, 1, 1])
    assert t.u == 65.5
    assert t.z == pytest.approx(0.757166, abs=1e-6)
    assert t.p_value == pytest.approx(0.448950, abs=1e-6)
    assert t.effect == pytest.approx(65.5 / 110) and t.rank_biserial == pytest.approx(2 * 65.5 / 110 - 1)


def test_mann_whitney_on_bins_equals_the_midrank_route():
    new, legacy = [4, 0, 7, 2, 9, 1], [10, 3, 3, 6, 0, 2]
    x = [float(i) for i, c in enumerate(new) for _ in range(c)]
    y = [float(i) for i, c in enumerate(legacy) for _ in range(c)]
    u, sd = _textbook_u(x, y)
    t = mann_whitney_binned(new, legacy)
    assert t.u == pytest.approx(u)
    mu = len(x) * len(y) / 2
    assert t.z == pytest.approx((abs(u - mu) - 0.5) / sd * (1 if u > mu else -1))


def test_two_proportion_z_test_matches_hand_computed_values():
    # 30/200 vs 20/200: pooled 50/400 = 0.125; se = sqrt(0.125 * 0.875 * (2/200)) = 0.0330719;
    # z = 0.05 / 0.0330719 = 1.51186; two-sided p = 0.130570.
    t = two_proportions(30, 200, 20, 200)
    assert t.z == pytest.approx(1.511858, abs=1e-6) and t.p_value == pytest.approx(0.130570, abs=1e-6)
    assert t.difference == pytest.approx(0.05)
    assert two_proportions(0, 500, 0, 500).p_value == 1.0  # no errors anywhere: nothing differs


def test_cumulative_buckets_become_bins_and_bad_ones_are_refused():
    assert bin_counts([(0.1, 2), (0.5, 5), (math.inf, 6)]) == ([0.1, 0.5, math.inf], [2, 3, 1])
    with pytest.raises(ValueError):
        bin_counts([(0.1, 5), (0.5, 3)])


def test_identical_stacks_pass():
    r = analyze(steady("new", 2000, 0.4, errors=4), steady("legacy", 2000, 0.4, errors=4), SPEC)
    assert r.verdict == "pass"
    lat = r.metrics[0]
    assert lat.effect == pytest.approx(0.5) and lat.p_value == pytest.approx(1.0) and lat.detail["p99_diff_ms"] == 0


def test_a_slowed_new_stack_fails():
    r = analyze(steady("new", 2000, 0.6), steady("legacy", 2000, 0.3), SPEC)
    assert r.verdict == "fail"
    lat = r.metrics[0]
    assert lat.verdict == "fail" and lat.effect > SPEC.latency_fail_effect and lat.p_value < 1e-6
    assert lat.detail["p99_diff_ms"] > 0


def test_a_faster_new_stack_is_not_held_against_it():
    assert analyze(steady("new", 2000, 0.2), steady("legacy", 2000, 0.4), SPEC).verdict == "pass"


def test_more_errors_on_new_fail_and_a_small_difference_is_marginal():
    r = analyze(steady("new", 5000, errors=100), steady("legacy", 5000, errors=5), SPEC)
    assert r.verdict == "fail" and r.metrics[1].verdict == "fail" and r.metrics[1].effect == pytest.approx(0.019)
    # +0.35 points with p < 0.01: above the marginal difference, below the failing one
    r = analyze(steady("new", 40000, errors=180), steady("legacy", 40000, errors=40), SPEC)
    assert r.metrics[1].verdict == "marginal" and r.verdict == "marginal"


def test_too_little_traffic_is_waiting_never_pass():
    r = analyze(window_of("new", []), window_of("legacy", []), SPEC)
    assert r.verdict == "waiting" and {m.verdict for m in r.metrics} == {"waiting"}
    need = SPEC.min_requests["error_rate"]
    r = analyze(steady("new", need - 1), steady("legacy", 5000), SPEC)
    assert r.verdict == "waiting" and r.metrics[1].verdict == "waiting"


def test_a_fail_outweighs_waiting():
    # latency has enough samples and fails; errors do not have their (larger) minimum yet
    n = SPEC.min_requests["latency"]
    assert n < SPEC.min_requests["error_rate"]
    r = analyze(steady("new", n, 0.8), steady("legacy", n, 0.3), SPEC)
    assert r.metrics[1].verdict == "waiting" and r.verdict == "fail"


def test_an_unreadable_or_incomplete_source_is_unmeasured():
    assert analyze(None, steady("legacy", 5000), SPEC, unreadable="new: refused").verdict == "unmeasured"
    no_hist = steady("new", 5000).model_copy(update={"latency_buckets": []})
    assert analyze(no_hist, steady("legacy", 5000), SPEC).metrics[0].verdict == "unmeasured"
    no_errors = steady("new", 5000).model_copy(update={"errors": None})
    assert analyze(no_errors, steady("legacy", 5000), SPEC).verdict == "unmeasured"
    other_bounds = steady("new", 5000).model_copy(update={"latency_buckets": [(1.0, 4000), (math.inf, 5000)]})
    assert analyze(other_bounds, steady("legacy", 5000), SPEC).metrics[0].verdict == "unmeasured"
