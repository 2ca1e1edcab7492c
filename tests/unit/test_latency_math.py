"""Nearest-rank percentiles and run summaries (pure)."""
import pytest

from cato_migrate.acceptance.load import query_for
from cato_migrate.core.latency import Sample, percentile, summarise
from cato_migrate.core.runbook import Threshold
from cato_migrate.steps.load_test import judge


def test_percentile_is_nearest_rank_and_order_free():
    values = list(range(100, 0, -1))  # 1..100, reversed
    assert percentile(values, 50) == 50 and percentile(values, 99) == 99 and percentile(values, 100) == 100
    assert percentile([7.0], 99) == 7.0
    # with fewer than 100 samples p99 is the slowest one: a sample that really happened
    assert percentile([1, 2, 3, 400], 99) == 400 and percentile([1, 2, 3, 400], 50) == 2


@pytest.mark.parametrize("bad", [0, -1, 101])
def test_percentile_rejects_bad_p_and_no_values(bad):
    with pytest.raises(ValueError):
        percentile([1.0], bad)
    with pytest.raises(ValueError):
        percentile([], 50)


def test_summary_counts_errors_beside_latency_not_inside_it():
    samples = [Sample(0.1, True)] * 8 + [Sample(0.001, False, "http_502"), Sample(5.0, False, "timeout")]
    s = summarise(samples, wall_s=2.0)
    assert (s.requests, s.ok, s.errors, s.error_rate) == (10, 8, 2, 0.2)
    assert s.p50_ms == s.p99_ms == 100.0  # the fast 502 does not flatter p99, the timeout is counted as an error
    assert s.error_kinds == {"http_502": 1, "timeout": 1} and s.throughput_rps == 4.0


def test_summary_with_no_success_has_no_percentiles():
    s = summarise([Sample(0.01, False, "connection")] * 3, wall_s=0.1)
    assert s.p99_ms is None and s.error_rate == 1.0 and s.throughput_rps == 0.0
    assert summarise([], 0.0).error_rate == 0.0


def test_queries_are_unique_except_the_repeat_share():
    qs = [query_for(i, "t", 0.0) for i in range(50)]
    assert len(set(qs)) == 50
    qs = [query_for(i, "t", 0.2) for i in range(100)]
    repeats = len(qs) - len(set(qs))
    assert repeats == 20
    resent = [(i, q) for i, q in enumerate(qs) if not q.endswith(f"#{i})")]
    assert len(resent) == 20 and all(q in qs[:i] for i, q in resent)  # each repeat was really sent before


def _limits():
    return {"error_rate": Threshold(metric="error_rate", op=">", value=0.01),
            "p99_latency_ms": Threshold(metric="p99_latency_ms", op=">", value=2000)}


def test_load_judgement_fires_on_each_trigger_and_on_no_success():
    fast = summarise([Sample(0.05, True)] * 200, 1.0)
    assert judge(fast, _limits()) == []
    slow = summarise([Sample(0.05, True)] * 197 + [Sample(2.5, True)] * 3, 1.0)
    assert [f.split()[0] for f in judge(slow, _limits())] == ["p99_latency_ms"]
    flaky = summarise([Sample(0.05, True)] * 97 + [Sample(0.05, False, "http_502")] * 3, 1.0)
    assert [f.split()[0] for f in judge(flaky, _limits())] == ["error_rate"]
    dead = summarise([Sample(0.01, False, "connection")] * 5, 1.0)
    assert judge(dead, _limits())[0].startswith("error_rate 1 > 0.01") and "no request succeeded" in judge(dead, _limits())[1]
