"""The Prometheus adapter on canned /api/v1/query answers (no server), and the runbook's PromQL."""
from __future__ import annotations

import math

import pytest

from cato_migrate.adapters.prometheus_metrics import PrometheusMetrics, answer_result, buckets_of, scalar_of
from cato_migrate.core.loader import load_runbook
from cato_migrate.core.runbook import MetricsQueries, promql_duration
from cato_migrate.errors import BadInput, ExternalError

INF = math.inf
T = 1700000000.0


def vector(*samples):
    return {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": labels, "value": [T, value]} for labels, value in samples]}}


def scalar(value):
    return {"status": "success", "data": {"resultType": "scalar", "result": [T, value]}}


QUERIES = load_runbook(None).meta.metrics


class Canned(PrometheusMetrics):
    """The adapter with its one HTTP call answered from a dict keyed by query text."""

    def __init__(self, answers, queries=QUERIES):
        super().__init__("http://127.0.0.1:9", queries)
        self.answers = answers
        self.asked = []

    def _get(self, query, at=None):
        self.asked.append((query, at))
        if query == "time()":
            return scalar(str(T))
        for key, answer in self.answers.items():
            if key in query:
                return answer
        return vector()


def test_scalar_of_vectors_scalars_and_empty():
    assert scalar_of(vector(({}, "12.6")), "q") == 12.6
    assert scalar_of(vector(({"a": "1"}, "1"), ({"a": "2"}, "2.5")), "q") == 3.5
    assert scalar_of(vector(), "q") is None                     # no series yet
    assert scalar_of(vector(({}, "NaN")), "q") is None          # 0/0: nothing measured
    assert scalar_of(scalar("4"), "q") == 4.0


@pytest.mark.parametrize("answer, says", [
    ({"status": "error", "errorType": "bad_data", "error": "parse error at char 5"}, "parse error"),
    ({"status": "error", "errorType": "timeout", "error": "query timed out"}, "timed out"),
    ({"status": "success"}, "without data"),
    ({"status": "success", "data": {"resultType": "matrix", "result": []}}, "matrix"),
    ({"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": "x"}]}}, "not [time, value]"),
    ([], "not a query result"),
])
def test_error_answers_are_external_errors(answer, says):
    with pytest.raises(ExternalError) as exc:
        scalar_of(answer, "sum(x)")
    assert says in exc.value.message


def test_bad_promql_hint_points_at_the_runbook():
    with pytest.raises(ExternalError) as exc:
        answer_result({"status": "error", "errorType": "bad_data", "error": "x"}, "q")
    assert "runbook.yaml" in exc.value.hint


def test_buckets_of_rounds_sorts_and_needs_le():
    got = buckets_of(vector(({"le": "+Inf"}, "100.4"), ({"le": "0.5"}, "60.2"), ({"le": "0.1"}, "10.7")), "q")
    assert got == [(0.1, 11), (0.5, 60), (INF, 100)]
    assert buckets_of(vector(), "q") == []
    with pytest.raises(ExternalError, match="le"):
        buckets_of(vector(({"stack": "new"}, "1")), "q")


def test_window_from_canned_answers():
    src = Canned({
        'outcome="error"': vector(({}, "3.4")),
        "cato_gateway_requests_total": vector(({}, "212.7")),
        "_bucket": vector(({"le": "0.25"}, "100.2"), ({"le": "0.5"}, "180"), ({"le": "2.5"}, "211.9"),
                          ({"le": "+Inf"}, "212.7")),
        "complaints": vector(({}, "0.9")),
        'result="hit"': vector(({}, "30")),
        "cato_cache_lookups_total": vector(({}, "120")),
    })
    w = src.window("new", 300)
    assert (w.requests, w.errors, w.complaints) == (213, 3, 1)
    assert w.window_seconds == 300 and w.source == "prometheus http://127.0.0.1:9"
    assert w.latency_buckets == [(0.25, 100), (0.5, 180), (2.5, 212), (INF, 213)]
    assert w.p50_ms == pytest.approx(250 + 250 * (106.5 - 100) / 80, abs=0.1)
    assert w.p99_ms == pytest.approx(1000 * (0.5 + 2.0 * (0.99 * 213 - 180) / 32), abs=0.1)  # in (0.5, 2.5]
    assert w.cache_hit_rate == pytest.approx(0.25)
    # every figure at the one instant Prometheus said it was, over the asked window
    assert {at for q, at in src.asked if q != "time()"} == {T}
    assert all("[300s]" in q for q, _ in src.asked if q != "time()")
    assert any('stack="new"' in q for q, _ in src.asked)


def test_a_stack_with_no_series_yet_has_zero_requests_and_unmeasured_latency():
    w = Canned({}).window("legacy", 60)
    assert (w.requests, w.errors) == (0, 0)
    assert w.p50_ms is None and w.p99_ms is None and w.latency_buckets == []
    assert w.complaints is None                       # no complaints series: not measured, not "0"
    assert w.cache_hit_rate is None and w.error_rate is None


def test_rounding_never_gives_more_errors_than_requests():
    w = Canned({'outcome="error"': vector(({}, "2.6")), "cato_gateway_requests_total": vector(({}, "2.4"))}).window("new", 60)
    assert (w.requests, w.errors) == (2, 2)


def test_no_cache_lookups_is_no_hit_rate_and_legacy_has_none():
    src = Canned({"cato_cache_lookups_total": vector(({}, "0"))})
    assert src.window("new", 60).cache_hit_rate is None
    src = Canned({"cato_cache_lookups_total": vector(({}, "10")), 'result="hit"': vector(({}, "4"))})
    assert src.window("legacy", 60).cache_hit_rate is None
    assert not any("cache" in q for q, _ in src.asked)


def test_unknown_stack_is_bad_input():
    with pytest.raises(BadInput):
        Canned({}).window("green", 60)


# -- the runbook's metrics: section ------------------------------------------------------------

def test_runbook_templates_render_per_stack_and_window():
    assert QUERIES is not None
    q = QUERIES.render("errors", "new", 120)
    assert q == 'sum(increase(cato_gateway_requests_total{stack="new",outcome="error"}[120s]))'
    assert "[1500ms]" in QUERIES.render("requests", "legacy", 1.5)
    assert promql_duration(300) == "300s" and promql_duration(0.25) == "250ms"
    with pytest.raises(ValueError):
        promql_duration(0)


@pytest.mark.parametrize("field, template, says", [
    ("requests", "sum(increase(cato_gateway_requests_total[{window}]))", "{stack}"),
    ("errors", 'sum(increase(x{stack="{stack}"}[5m]))', "{window}"),
    ("complaints", 'sum(increase(x{stack="{stack}"}[{windw}]))', "unknown placeholder"),
])
def test_bad_templates_are_refused(field, template, says):
    data = QUERIES.model_dump()
    data[field] = template
    with pytest.raises(ValueError, match=r"metrics\." + field) as exc:
        MetricsQueries(**data)
    assert says in str(exc.value)
