"""The Prometheus adapter against a real Prometheus server (Debian's `prometheus`, as the sandbox
runs it), scraping a tiny exposition server started here: the adapter does not depend on the
gateway. Also: the shipped alerting rules through `promtool`, and the sandbox's generated config.

Skipped with the reason when the binaries are missing (`make setup` installs them).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cato_migrate.adapters.gateway_metrics import GatewayScrape
from cato_migrate.adapters.gateway_window import GatewayWindow
from cato_migrate.adapters.prometheus_metrics import PrometheusMetrics
from cato_migrate.core.loader import load_runbook
from cato_migrate.errors import ExternalError
from cato_sandbox import prometheus_server
from cato_sandbox.procs import free_port
from tests.integration.conftest import stop_process

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus"
QUERIES = load_runbook(None).meta.metrics
BOUNDS = ("0.05", "0.1", "0.25", "0.5", "0.75", "1.0", "2.5", "+Inf")

needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None,
                                    reason="promtool is not installed (Debian's prometheus package; `make setup`)")
needs_prometheus = pytest.mark.skipif(shutil.which("prometheus") is None,
                                      reason="prometheus is not installed (`make setup` installs it with apt)")


class Exposition:
    """The contract's series for the new stack only (legacy has none yet); every scrape adds 20 ok
    and 1 failed request, all between 0.5 s and 0.75 s, and 1 cache hit per 3 misses."""

    def __init__(self):
        self.lock = threading.Lock()
        self.n = 0

    def text(self) -> str:
        with self.lock:
            self.n += 1
            n = self.n
        ok, err, cached, missed = 20 * n, n, n, 3 * n
        lines = ["# TYPE cato_gateway_requests_total counter",
                 f'cato_gateway_requests_total{{stack="new",outcome="ok"}} {ok}',
                 f'cato_gateway_requests_total{{stack="new",outcome="error"}} {err}',
                 "# TYPE cato_gateway_request_duration_seconds histogram"]
        lines += [f'cato_gateway_request_duration_seconds_bucket{{stack="new",le="{le}"}} '
                  f'{0 if le in ("0.05", "0.1", "0.25", "0.5") else ok + err}' for le in BOUNDS]
        lines += [f'cato_gateway_request_duration_seconds_count{{stack="new"}} {ok + err}',
                  f'cato_gateway_request_duration_seconds_sum{{stack="new"}} {0.6 * (ok + err)}',
                  "# TYPE cato_gateway_complaints_total counter",
                  'cato_gateway_complaints_total{stack="new"} 0',
                  "# TYPE cato_gateway_in_flight gauge",
                  'cato_gateway_in_flight{stack="new"} 0', 'cato_gateway_in_flight{stack="legacy"} 0',
                  "# TYPE cato_cache_lookups_total counter",
                  f'cato_cache_lookups_total{{result="hit"}} {cached}',
                  f'cato_cache_lookups_total{{result="miss"}} {missed}']
        return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def exposition():
    expo = Exposition()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            body = expo.text().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield expo, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _ready(url: str) -> bool:
    try:
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url + "/-/ready", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def prometheus(exposition, tmp_path_factory):
    """A real Prometheus with the sandbox's generated config, pointed at the exposition server."""
    if shutil.which("prometheus") is None:
        pytest.skip("prometheus is not installed (`make setup` installs it with apt)")
    _, target = exposition
    state_dir = tmp_path_factory.mktemp("prom")
    root = state_dir / prometheus_server.DIR_NAME
    jobs = {"fake-gateway": "fake"}
    prometheus_server.write_config(root, jobs=jobs)
    prometheus_server.write_targets(state_dir, {"components": [{"name": "fake", "url": target}]}, jobs=jobs)
    port = free_port()
    log = open(state_dir / "prometheus.log", "wb")
    proc = subprocess.Popen(prometheus_server.prometheus_argv(root, "127.0.0.1", port),
                            stdout=log, stderr=subprocess.STDOUT, cwd=state_dir)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while not _ready(url):
            assert proc.poll() is None, (state_dir / "prometheus.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "prometheus was not ready after 20 s"
            time.sleep(0.1)
        yield url
    finally:
        stop_process(proc)
        log.close()


def _until_measured(src: PrometheusMetrics, stack: str, seconds: float, timeout: float = 15.0):
    """increase() needs two samples in the window: wait for the first scrapes (1 s apart)."""
    deadline = time.monotonic() + timeout
    while True:
        w = src.window(stack, seconds)
        if w.requests and w.p99_ms is not None and w.cache_hit_rate is not None:
            return w
        assert time.monotonic() < deadline, f"no figures after {timeout} s: {w}"
        time.sleep(0.5)


@needs_prometheus
def test_figures_per_stack_from_a_real_prometheus(prometheus):
    src = PrometheusMetrics(prometheus, QUERIES)
    time.sleep(2.5)
    w = _until_measured(src, "new", 10)
    assert w.source == f"prometheus {prometheus}" and w.window_seconds == 10
    # Extrapolated counts, rounded: the shape is exact, the scale approximate.
    assert w.requests >= 21 and abs(w.errors - w.requests / 21) <= 1.5
    assert w.p50_ms == pytest.approx(625.0, abs=10)          # all requests in (0.5 s, 0.75 s]
    assert w.p99_ms == pytest.approx(747.5, abs=10)
    assert w.latency_buckets[-1][1] == pytest.approx(w.requests, abs=1)
    assert w.complaints == 0                                  # the series exists and stays at 0
    assert w.cache_hit_rate == pytest.approx(0.25, abs=0.03)
    legacy = src.window("legacy", 10)                         # no series for legacy yet
    assert (legacy.requests, legacy.errors) == (0, 0)
    assert legacy.p99_ms is None and legacy.complaints is None and legacy.cache_hit_rate is None


@needs_prometheus
def test_the_alerting_rules_are_loaded_by_the_server(prometheus):
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(prometheus + "/api/v1/rules", timeout=5) as r:
        groups = json.load(r)["data"]["groups"]
    names = {rule["name"] for g in groups for rule in g["rules"]}
    assert {"CatoCanaryErrorRateHigh", "CatoCanaryLatencyP99High", "CatoCanaryComplaintsSpike"} <= names


@needs_prometheus
def test_bad_promql_is_an_external_error_with_prometheus_reason(prometheus):
    queries = QUERIES.model_copy(update={"requests": 'sum(increase(cato_gateway_requests_total{stack="{stack}"}[{window}])'})
    with pytest.raises(ExternalError) as exc:
        PrometheusMetrics(prometheus, queries).window("new", 10)
    assert "bad_data" in exc.value.message and "runbook.yaml" in exc.value.hint


def test_prometheus_not_reachable_is_an_external_error_with_a_hint():
    port = free_port()  # nothing listens there
    with pytest.raises(ExternalError) as exc:
        PrometheusMetrics(f"http://127.0.0.1:{port}", QUERIES, timeout=2).window("new", 60)
    assert "unreachable" in exc.value.message and "sandbox" in exc.value.hint


def test_gateway_scrape_fallback_over_real_http(exposition):
    _, target = exposition
    src = GatewayWindow(GatewayScrape(target))
    assert src.window("new", 30).requests is None             # first call: waiting
    time.sleep(0.6)                                           # past the scrape reuse interval
    w = src.window("new", 30)
    assert w.requests and w.errors * 21 == w.requests         # exact: no extrapolation here
    assert w.p99_ms == pytest.approx(747.5, abs=0.1)


# -- what a Prometheus team runs on the shipped files ------------------------------------------------

@needs_promtool
def test_promtool_check_rules():
    out = subprocess.run(["promtool", "check", "rules", str(RULES / "cato-canary-rules.yml")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS: 4 rules found" in out.stdout


@needs_promtool
def test_promtool_rule_unit_tests_fire_on_planted_faults_only():
    out = subprocess.run(["promtool", "test", "rules", "cato-canary-rules.test.yml"], cwd=RULES,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


@needs_promtool
def test_promtool_rule_unit_tests_catch_a_silenced_trigger(tmp_path):
    """Plant the fault in the rules (a threshold no error rate can cross): the unit tests fail."""
    rules = (RULES / "cato-canary-rules.yml").read_text()
    assert ") > 0.01\n" in rules
    (tmp_path / "cato-canary-rules.yml").write_text(rules.replace(") > 0.01\n", ") > 1.01\n", 1))
    shutil.copy(RULES / "cato-canary-rules.test.yml", tmp_path)
    out = subprocess.run(["promtool", "test", "rules", "cato-canary-rules.test.yml"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "CatoCanaryErrorRateHigh" in out.stdout + out.stderr


@needs_promtool
def test_the_sandbox_config_passes_promtool_check_config(tmp_path):
    config = prometheus_server.write_config(tmp_path / "prometheus")
    out = subprocess.run(["promtool", "check", "config", str(config)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
