"""Sticky bucketing: stable, about uniform, monotone as the percentage rises."""
from __future__ import annotations

import subprocess
import sys

from cato_migrate.core.bucketing import BUCKETS, bucket_of, on_new_stack, pick_stack

USERS = [f"user-{i}" for i in range(20_000)]


def test_bucket_is_stable_across_calls_and_processes():
    here = [bucket_of(u) for u in USERS[:50]]
    assert here == [bucket_of(u) for u in USERS[:50]]
    code = ("from cato_migrate.core.bucketing import bucket_of; "
            "print([bucket_of(f'user-{i}') for i in range(50)])")
    # a new interpreter has a different str hash seed: the bucket must not depend on it
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "12345"})
    assert out.stdout.strip() == str(here)


def test_buckets_are_in_range_and_about_uniform():
    buckets = [bucket_of(u) for u in USERS]
    assert all(0 <= b < BUCKETS for b in buckets)
    deciles = [0] * 10
    for b in buckets:
        deciles[b * 10 // BUCKETS] += 1
    expected = len(USERS) / 10
    assert all(abs(n - expected) < 0.06 * expected for n in deciles), deciles


def test_share_on_new_stack_matches_the_percentage():
    for pct in (1, 10, 50, 90):
        share = sum(on_new_stack(u, pct) for u in USERS) / len(USERS) * 100
        assert abs(share - pct) < 1.0, (pct, share)


def test_zero_and_hundred_are_exact():
    assert not any(on_new_stack(u, 0) for u in USERS)
    assert all(on_new_stack(u, 100) for u in USERS)
    assert not any(on_new_stack(u, -5) for u in USERS[:100])  # clamped, never negative share
    assert all(on_new_stack(u, 250) for u in USERS[:100])


def test_monotone_a_user_on_the_new_stack_stays_there_as_traffic_rises():
    steps = [0, 1, 10, 25, 50, 75, 100]
    for u in USERS[:5000]:
        seen = [on_new_stack(u, p) for p in steps]
        # once True, True for every higher percentage
        assert seen == sorted(seen), (u, seen)
    at10 = {u for u in USERS if on_new_stack(u, 10)}
    at50 = {u for u in USERS if on_new_stack(u, 50)}
    assert at10 and at10 <= at50


def test_pick_stack_names():
    u = next(u for u in USERS if on_new_stack(u, 10))
    assert pick_stack(u, 10) == "new" and pick_stack(u, 0) == "legacy"
