"""core/histogram.py: PromQL's histogram_quantile, pure, with its edge cases."""
from __future__ import annotations

import math

import pytest

from cato_migrate.core.histogram import normalize_buckets, quantile, quantile_ms

INF = math.inf


def test_interpolates_inside_the_bucket_like_promql():
    # 100 requests: 50 at or under 0.1 s, 100 at or under 0.5 s
    b = [(0.1, 50), (0.5, 100), (INF, 100)]
    assert quantile(0.5, b) == pytest.approx(0.1)            # rank 50: the top of the first bucket
    assert quantile(0.25, b) == pytest.approx(0.05)          # first bucket starts at 0
    assert quantile(0.99, b) == pytest.approx(0.1 + 0.4 * 49 / 50)
    assert quantile_ms(0.99, b) == pytest.approx(492.0)


def test_empty_histogram_is_not_measured():
    assert quantile(0.99, []) is None
    assert quantile(0.99, [(0.1, 0), (INF, 0)]) is None       # no requests in the window


def test_all_in_the_inf_bucket_answers_the_largest_finite_bound():
    # A lower bound: "at least 30 s" still breaches a 2 s trigger.
    b = [(2.0, 0), (30.0, 0), (INF, 40)]
    assert quantile(0.5, b) == 30.0 and quantile(0.99, b) == 30.0


def test_one_bucket_cannot_give_a_quantile():
    assert quantile(0.5, [(INF, 10)]) is None                 # only +Inf: PromQL says NaN
    assert quantile(0.5, [(1.0, 10)]) is None                 # no +Inf: not a histogram


def test_one_finite_bucket_plus_inf():
    assert quantile(0.5, [(1.0, 10), (INF, 10)]) == pytest.approx(0.5)


def test_empty_buckets_between_are_skipped():
    b = [(0.1, 0), (0.5, 0), (2.5, 10), (INF, 10)]
    assert quantile(0.5, b) == pytest.approx(0.5 + 2.0 * 0.5)


def test_q_outside_0_1_is_a_programming_error():
    with pytest.raises(ValueError):
        quantile(1.5, [(1.0, 1), (INF, 1)])


def test_normalize_rounds_sorts_sums_and_makes_monotonic():
    # extrapolated increases, out of order, one bucket a little below the one under it
    got = normalize_buckets([(INF, 10.4), (0.5, 9.6), (0.1, 4.2), (0.25, 3.9), (0.1, 0.6)])
    assert got == [(0.1, 5), (0.25, 5), (0.5, 10), (INF, 10)]
    assert normalize_buckets([]) == []
    assert normalize_buckets([(1.0, float("nan")), (INF, -3.0)]) == [(1.0, 0), (INF, 0)]
