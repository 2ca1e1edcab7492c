"""MetricsSource over Prometheus' HTTP API (`GET /api/v1/query`): PromQL from the runbook data.

Each figure is one instant query (the templates in runbook.yaml's `metrics:` section), all
evaluated at the same instant, Prometheus' own "now" read first with `time()` so that a skewed
local clock cannot shift the window. Prometheus extrapolates `increase()` to the window's edges,
so counts come back fractional; they are rounded to whole requests.

    requests, errors, complaints   one number each; an empty answer (no series yet, or fewer
                                   than two samples in the window) is 0 requests / 0 errors,
                                   but complaints None (a source with no complaints series has
                                   not measured complaints)
    latency_buckets                one sample per `le`; p50/p99 from core.histogram, as PromQL's
                                   histogram_quantile computes them
    cache_hits / cache_lookups     new stack only; no lookups in the window: None

Errors: Prometheus unreachable, an HTTP error, an `"status": "error"` answer (bad PromQL, a query
timeout) or an answer of the wrong shape is an ExternalError with a hint. Plain HTTP(S) with stdlib
urllib (adapters/http.open_url), no proxy (Prometheus is addressed directly) and no authentication: a Prometheus behind an
auth proxy needs that added here.
"""
from __future__ import annotations

import json
import math

from cato_migrate.adapters import http
from cato_migrate.core.histogram import normalize_buckets, quantile_ms
from cato_migrate.core.runbook import MetricsQueries
from cato_migrate.errors import BadInput, ExternalError
from cato_migrate.ports import STACK_NAMES, StackWindow

__all__ = ["PrometheusMetrics", "answer_result", "scalar_of", "buckets_of"]

_HINT = ("check that Prometheus answers at {url} (prometheus_url / CATO_PROMETHEUS_URL); on --env local "
         "`cato-migrate sandbox status` shows the sandbox's prometheus, `cato-migrate sandbox up` starts it")


def answer_result(answer: object, query: str) -> tuple[str, object]:
    """(resultType, result) of a /api/v1/query answer; ExternalError for an error answer or a bad shape."""
    if not isinstance(answer, dict):
        raise ExternalError(f"Prometheus answered {query!r} with something that is not a query result")
    if answer.get("status") != "success":
        kind = answer.get("errorType", "error")
        raise ExternalError(f"Prometheus refused {query!r}: {kind}: {answer.get('error', 'no reason given')}",
                            hint="check the PromQL in runbook.yaml's `metrics:` section (e.g. in the Prometheus UI)"
                            if kind == "bad_data" else "see Prometheus' log; a timeout may need a shorter window")
    data = answer.get("data")
    if not isinstance(data, dict) or "resultType" not in data or "result" not in data:
        raise ExternalError(f"Prometheus answered {query!r} without data.resultType/result")
    return data["resultType"], data["result"]


def _number(pair: object, query: str) -> float:
    try:
        value = float(pair[1])  # [timestamp, "value"]
    except (TypeError, ValueError, IndexError, KeyError):
        raise ExternalError(f"Prometheus answered {query!r} with a sample that is not [time, value]: {pair!r}") from None
    return value


def scalar_of(answer: object, query: str) -> float | None:
    """One number from an instant query: a scalar, or the sum of a vector; None for an empty vector
    (no series yet). NaN (0/0) is None as well: nothing was measured."""
    kind, result = answer_result(answer, query)
    if kind == "scalar":
        value = _number(result, query)
    elif kind == "vector":
        if not isinstance(result, list):
            raise ExternalError(f"Prometheus answered {query!r} with a vector that is not a list")
        if not result:
            return None
        value = sum(_number(s.get("value") if isinstance(s, dict) else None, query) for s in result)
    else:
        raise ExternalError(f"Prometheus answered {query!r} with a {kind}; the query must give one number",
                            hint="runbook.yaml `metrics:` templates are instant queries (sum(increase(...[{window}])))")
    return None if math.isnan(value) else value


def buckets_of(answer: object, query: str) -> list[tuple[float, int]]:
    """(le, requests) from a `sum by (le) (increase(..._bucket[W]))` answer, sorted, whole and
    non-decreasing; [] for an empty answer."""
    kind, result = answer_result(answer, query)
    if kind != "vector" or not isinstance(result, list):
        raise ExternalError(f"Prometheus answered {query!r} with a {kind}; latency_buckets must give a vector by le")
    pairs = []
    for sample in result:
        metric = sample.get("metric") if isinstance(sample, dict) else None
        if not isinstance(metric, dict) or "le" not in metric:
            raise ExternalError(f"Prometheus answered {query!r} with a sample without an `le` label",
                                hint="latency_buckets must keep `le`: sum by (le) (increase(..._bucket[{window}]))")
        try:
            le = float(metric["le"])
        except ValueError:
            raise ExternalError(f"Prometheus answered {query!r} with le={metric['le']!r}") from None
        pairs.append((le, _number(sample.get("value"), query)))
    return normalize_buckets(pairs)


class PrometheusMetrics:
    """MetricsSource: the runbook's PromQL templates against one Prometheus server."""

    def __init__(self, url: str, queries: MetricsQueries, timeout: float = 5.0):
        self.url = url.rstrip("/")
        self.queries = queries
        self.timeout = timeout

    def describe(self) -> str:
        return f"prometheus {self.url}"

    def _get(self, query: str, at: float | None = None) -> object:
        import urllib.parse

        params = {"query": query}
        if at is not None:
            params["time"] = repr(at)
        url = f"{self.url}/api/v1/query?{urllib.parse.urlencode(params)}"
        answer = http.open_url(url, timeout=self.timeout, what=f"Prometheus at {self.url}", hint=_HINT.format(url=self.url))
        if answer.status_code >= 400:
            # Prometheus answers bad PromQL with 400 and a JSON error body: show its reason.
            try:
                refusal = json.loads(answer.body)
            except ValueError:
                refusal = None
            if isinstance(refusal, dict) and refusal.get("status") == "error":
                answer_result(refusal, query)  # raises, with Prometheus' own reason
            http.answered(answer, f"Prometheus at {self.url} (to {query!r})", body=False, hint=_HINT.format(url=self.url))
        try:
            return json.loads(answer.body)
        except ValueError as exc:
            raise ExternalError(f"Prometheus at {self.url} answered {query!r} with something that is not JSON",
                                hint=_HINT.format(url=self.url)) from exc

    def instant(self, query: str) -> float | None:
        """One number from an instant PromQL query now (None: no series), e.g. `cost status`'s 24 h spend."""
        return scalar_of(self._get(query), query)

    def _scalar(self, name: str, stack: str, seconds: float, at: float) -> float | None:
        query = self.queries.render(name, stack, seconds)
        return scalar_of(self._get(query, at), query)

    def window(self, stack: str, seconds: float) -> StackWindow:
        if stack not in STACK_NAMES:
            raise BadInput(f"unknown stack {stack!r}; the stacks are {', '.join(STACK_NAMES)}")
        now = scalar_of(self._get("time()"), "time()")
        if now is None:
            raise ExternalError(f"Prometheus at {self.url} did not say what time it is (time() was empty)")
        requests_raw = self._scalar("requests", stack, seconds, now)
        requests = 0 if requests_raw is None else max(int(round(requests_raw)), 0)
        errors_raw = self._scalar("errors", stack, seconds, now)
        # Rounding two extrapolated figures separately must not give more errors than requests.
        errors = min(0 if errors_raw is None else max(int(round(errors_raw)), 0), requests)
        query = self.queries.render("latency_buckets", stack, seconds)
        buckets = buckets_of(self._get(query, now), query)
        measured = bool(buckets) and buckets[-1][1] > 0
        complaints_raw = self._scalar("complaints", stack, seconds, now)
        complaints = None if complaints_raw is None else max(int(round(complaints_raw)), 0)
        hit_rate = self._cache_hit_rate(stack, seconds, now)
        return StackWindow(stack=stack, window_seconds=seconds, requests=requests, errors=errors,
                           p50_ms=quantile_ms(0.5, buckets) if measured else None,
                           p99_ms=quantile_ms(0.99, buckets) if measured else None,
                           latency_buckets=buckets, complaints=complaints, cache_hit_rate=hit_rate,
                           source=self.describe())

    def _cache_hit_rate(self, stack: str, seconds: float, at: float) -> float | None:
        """Hits / lookups of the orchestrator's semantic cache; the legacy stack has none to measure."""
        if stack != "new":
            return None
        lookups = self._scalar("cache_lookups", stack, seconds, at)
        if lookups is None or round(lookups) <= 0:
            return None
        hits = self._scalar("cache_hits", stack, seconds, at) or 0.0
        return min(max(hits / lookups, 0.0), 1.0)
