"""Keeps tests.fakes.FakeEdge honest: the same behaviours through the GatewayMetrics port, asserted
on the fake and on the production scrape adapter (GatewayScrape) against the real traffic edge
(`python -m cato_migrate.edge.gateway`), its flag served by the sandbox's AppConfig layer on moto,
two stub stacks behind it. One edge per module; each test reads counters as differences."""
from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

from cato_migrate.core.bucketing import on_new_stack
from cato_migrate.ports import FlagSpec, StackTraffic
from tests.fakes import FakeEdge
from tests.integration.conftest import APPCONFIG_MINUTE_SECONDS, free_port, wait_http, stop_process

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
USERS = [f"contract-user-{i}" for i in range(40)]
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Edge:
    """The port under test, and how this test moves the flag it follows."""

    gateway: Any
    set_percentage: Callable[[int], None]


class _Stub(http.server.BaseHTTPRequestHandler):
    """A stack: answers every chat completion 200."""

    def do_POST(self):  # noqa: N802 (the stdlib's name)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps({"choices": [{"message": {"role": "assistant", "content": "OK"}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def _serve(server) -> Any:
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def real_edge(moto_server) -> Iterator[Edge]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        yield from _real_edge(moto_server)


def _real_edge(moto_server: str) -> Iterator[Edge]:
    from cato_migrate.adapters.appconfig import AppConfigFlag
    from cato_migrate.adapters.gateway_metrics import GatewayScrape
    from cato_sandbox.appconfig_layer import make_server

    stubs = [_serve(http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Stub)) for _ in range(2)]
    layer = _serve(make_server("127.0.0.1", 0, moto_server, APPCONFIG_MINUTE_SECONDS))
    env_name = f"gwcontract-{uuid.uuid4().hex[:8]}"
    flag = AppConfigFlag(application="cato", environment=env_name, profile="orchestration",
                         flag="use_new_orchestrator", region="us-east-1", endpoint_url=layer.url)
    flag.ensure_setup()
    instant = flag.ensure_strategy("contract-instant", 0, 0, 100)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "cato_migrate.edge.gateway", "--port", str(port), "--appconfig-url", layer.url,
         "--environment", env_name, "--poll-interval", "0.05",
         "--legacy-url", f"http://127.0.0.1:{stubs[0].server_port}",
         "--new-url", f"http://127.0.0.1:{stubs[1].server_port}"],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def served_percentage() -> int:
        with _OPENER.open(url + "/healthz", timeout=5) as r:
            return json.loads(r.read())["percentage"]

    def set_percentage(pct: int) -> None:
        version = flag.create_version(FlagSpec(enabled=pct > 0, percentage=pct), "contract")
        flag.start_deployment(version, instant, "contract")
        deadline = time.monotonic() + 15
        while served_percentage() != pct:
            assert time.monotonic() < deadline, f"the edge never served {pct}%"
            time.sleep(0.05)

    try:
        wait_http(url + "/healthz", proc=proc)
        yield Edge(GatewayScrape(url), set_percentage)
    finally:
        stop_process(proc)
        for s in (*stubs, layer):
            s.shutdown()
            s.server_close()


@pytest.fixture(params=["fake", "edge"])
def edge(request) -> Edge:
    if request.param == "fake":
        fake = FakeEdge(0)
        return Edge(fake, lambda pct: setattr(fake, "percentage", pct))
    return request.getfixturevalue("real_edge")


def _delta(before: StackTraffic, after: StackTraffic) -> dict[str, int]:
    return {k: getattr(after, k) - getattr(before, k)
            for k in ("served_legacy", "served_new", "errors_legacy", "errors_new")}


def test_an_idle_edge_has_nothing_in_flight_and_counters_stand_still(edge):
    first, second = edge.gateway.traffic(), edge.gateway.traffic()
    assert (first.in_flight_legacy, first.in_flight_new) == (0, 0)
    assert first == second


@pytest.mark.parametrize("pct", [0, 30, 100])
def test_a_probe_goes_where_the_core_bucketing_says(edge, pct):
    edge.set_percentage(pct)
    for user in USERS:
        assert edge.gateway.probe(user) == ("new" if on_new_stack(user, pct) else "legacy", 200)


def test_every_probe_is_counted_once_for_the_stack_that_served_it(edge):
    edge.set_percentage(50)
    before = edge.gateway.traffic()
    stacks = [edge.gateway.probe(user)[0] for user in USERS]
    after = edge.gateway.traffic()
    assert _delta(before, after) == {"served_legacy": stacks.count("legacy"), "served_new": stacks.count("new"),
                                     "errors_legacy": 0, "errors_new": 0}
    assert 0 < stacks.count("new") < len(USERS)
    assert (after.in_flight_legacy, after.in_flight_new) == (0, 0)
