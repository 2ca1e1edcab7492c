"""The edge's exposition (every series for both stacks from the start, a cumulative histogram
that agrees with the request counters) and its complaints endpoint, in process."""
from __future__ import annotations

import asyncio
import math

import pytest

from cato_migrate.adapters.gateway_metrics import parse_samples, traffic_from_text
from cato_migrate.core.bucketing import pick_stack
from cato_migrate.edge.gateway_stats import ERROR_CLASSES, GatewayStats
from cato_migrate.ports import LATENCY_BUCKETS_S, STACK_NAMES


def _series(text: str) -> dict[tuple[str, tuple], float]:
    return {(n, tuple(sorted(lbl.items()))): v for n, lbl, v in parse_samples(text)}


def test_every_series_is_present_for_both_stacks_before_any_request():
    s = _series(GatewayStats().exposition())
    for stack in STACK_NAMES:
        assert s[("cato_gateway_in_flight", (("stack", stack),))] == 0
        for outcome in ("ok", "error"):
            assert s[("cato_gateway_requests_total", (("outcome", outcome), ("stack", stack)))] == 0
        for cls in ("upstream_5xx", "unreachable", "unavailable"):
            assert s[("cato_gateway_errors_total", (("class", cls), ("stack", stack)))] == 0
        les = [dict(k[1])["le"] for k in s if k[0] == "cato_gateway_request_duration_seconds_bucket"
               and dict(k[1])["stack"] == stack]
        assert les == [repr(float(b)) for b in LATENCY_BUCKETS_S] + ["+Inf"]
        assert s[("cato_gateway_request_duration_seconds_count", (("stack", stack),))] == 0
        assert s[("cato_gateway_request_duration_seconds_sum", (("stack", stack),))] == 0
        assert s[("cato_gateway_complaints_total", (("stack", stack),))] == 0
    assert ("cato_gateway_flag_percentage", ()) in s


def test_histogram_is_cumulative_and_counts_every_request():
    st = GatewayStats()
    for seconds, cls in [(0.01, None), (0.3, None), (0.3, "upstream_5xx"), (2.2, None), (99.0, "unreachable")]:
        st.begin("new")
        st.end("new", cls, seconds)
    st.refused("new", 0.001)
    s = _series(st.exposition())
    buckets = [(float(dict(k[1])["le"]), v) for k, v in s.items()
               if k[0] == "cato_gateway_request_duration_seconds_bucket" and dict(k[1])["stack"] == "new"]
    counts = [v for _, v in buckets]
    assert counts == sorted(counts)  # cumulative: never decreases
    at = dict(buckets)
    assert (at[0.05], at[0.25], at[0.5], at[2.0], at[2.5], at[30.0], at[math.inf]) == (2, 2, 4, 4, 5, 5, 6)
    assert s[("cato_gateway_request_duration_seconds_count", (("stack", "new"),))] == 6
    assert s[("cato_gateway_request_duration_seconds_sum", (("stack", "new"),))] == pytest.approx(101.811)
    errs = {dict(k[1])["class"]: v for k, v in s.items() if k[0] == "cato_gateway_errors_total"
            and dict(k[1])["stack"] == "new"}
    assert errs == {"upstream_5xx": 1, "unreachable": 1, "unavailable": 1}
    t = traffic_from_text(st.exposition())  # the existing reader still parses it
    assert (t.served_new, t.errors_new, t.in_flight_new, t.served_legacy) == (3, 3, 0, 0)
    assert s[("cato_gateway_request_duration_seconds_count", (("stack", "legacy"),))] == 0


def test_an_unknown_error_class_is_refused():
    st = GatewayStats()
    st.begin("new")
    with pytest.raises(ValueError):
        st.end("new", "weird", 0.0)
    assert set(ERROR_CLASSES) == {"upstream_5xx", "unreachable", "unavailable"}


# --- the complaints endpoint, on the real app in process -------------------------------------

class _Flag:
    percentage, errors = 50, 0


class _NoStacks:
    def url(self, stack):
        return None

    def component(self, stack):
        return stack

    def headers(self, stack):
        return {}


def _with_client(fn):
    from aiohttp.test_utils import TestClient, TestServer

    from cato_migrate.edge.gateway import build_app

    async def run():
        async with TestClient(TestServer(build_app(_NoStacks(), _Flag()))) as client:
            return await fn(client)
    return asyncio.run(run())


def test_complaints_are_counted_against_the_users_sticky_stack():
    users = [f"u{i}" for i in range(40)]

    async def go(client):
        for u in users:
            r = await client.post("/v1/complaints", json={"user": u, "text": "it forgot my name"})
            assert r.status == 202
            assert (await r.json()) == {"stack": pick_stack(u, 50)}
        return await (await client.get("/metrics")).text()

    s = _series(_with_client(go))
    expect = {st: sum(1 for u in users if pick_stack(u, 50) == st) for st in STACK_NAMES}
    assert {st: s[("cato_gateway_complaints_total", (("stack", st),))] for st in STACK_NAMES} == expect
    assert 0 < expect["new"] < 40


@pytest.mark.parametrize("body,param", [
    (b"not json", None), (b"[1]", None), (b'{"text": "x"}', "user"), (b'{"user": "u", "text": ""}', "text"),
    (b'{"user": 3, "text": "x"}', "user"),
])
def test_a_bad_complaint_is_a_400_in_openais_shape_and_not_counted(body, param):
    async def go(client):
        r = await client.post("/v1/complaints", data=body, headers={"Content-Type": "application/json"})
        doc = await r.json()
        return r.status, doc, await (await client.get("/metrics")).text()

    status, doc, text = _with_client(go)
    assert status == 400
    assert doc["error"]["type"] == "invalid_request_error" and doc["error"]["param"] == param
    assert doc["error"]["message"]
    assert all(v == 0 for (n, _), v in _series(text).items() if n == "cato_gateway_complaints_total")


def test_an_unavailable_stack_is_counted_with_its_class_and_duration():
    async def go(client):
        r = await client.post("/v1/chat/completions", json={"user": "x", "messages": []})
        assert r.status == 503 and r.headers["x-cato-stack"] == pick_stack("x", 50)
        return await (await client.get("/metrics")).text()

    s = _series(_with_client(go))
    st = pick_stack("x", 50)
    assert s[("cato_gateway_errors_total", (("class", "unavailable"), ("stack", st)))] == 1
    assert s[("cato_gateway_request_duration_seconds_count", (("stack", st),))] == 1
