"""adapters/http.py: httpx's and urllib's failures, planted, leave as ExternalError; an HTTP status
is an error only at or above the caller's line; no proxy from the environment unless asked."""
from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest

from cato_migrate.adapters import http
from cato_migrate.errors import ExternalError


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the stdlib's name)
        status = int(self.path.strip("/") or 200)
        body = f"status {status}".encode()
        self.send_response(status)
        self.send_header("x-cato-stack", "new")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    srv = HTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()


def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


# -- httpx -------------------------------------------------------------------------------------

def test_client_ignores_the_environment_and_keeps_the_timeout(monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    c = http.client("http://example.invalid/", timeout=3.5, headers={"Authorization": "Bearer t"})
    assert c.base_url == "http://example.invalid" and c.timeout.read == 3.5
    assert c.headers["authorization"] == "Bearer t" and c.trust_env is False


@pytest.mark.parametrize("planted", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"),
                                     httpx.RemoteProtocolError("garbled")])
def test_transport_failures_are_external_errors(planted):
    with pytest.raises(ExternalError) as exc:
        with http.transport_errors("orchestrator at http://x", hint="install it", then="nothing was journaled"):
            raise planted
    assert exc.value.message == (f"orchestrator at http://x unreachable: {type(planted).__name__}: {planted}; "
                                 "nothing was journaled")
    assert exc.value.hint == "install it" and exc.value.__cause__ is planted


def test_transport_errors_says_what_a_failure_means_where_asked():
    with pytest.raises(ExternalError, match=r"^LiteLLM at http://x is not running: ConnectError: refused; nothing"):
        with http.transport_errors("LiteLLM at http://x", failed="is not running", then="nothing was measured"):
            raise httpx.ConnectError("refused")


def test_transport_errors_lets_other_exceptions_through():
    with pytest.raises(KeyError):
        with http.transport_errors("x"):
            raise KeyError("k")


def test_a_real_httpx_call_to_nothing_is_unreachable():
    with pytest.raises(ExternalError, match="unreachable: ConnectError"):
        with http.transport_errors("dead"), http.client(dead_url(), timeout=2) as c:
            c.get("/")


def test_answered_draws_the_line_where_asked():
    ok, bad = httpx.Response(404, text="nope"), httpx.Response(503, text="down" * 200)
    with pytest.raises(ExternalError) as exc:
        http.answered(bad, "stack GET /health", hint="h", then="nothing was measured")
    assert exc.value.message.startswith("stack GET /health answered HTTP 503: downdown")
    assert exc.value.message.endswith("; nothing was measured") and len(exc.value.message) < 360
    assert http.answered(ok, "x", above=500) is ok
    with pytest.raises(ExternalError) as exc:
        http.answered(ok, "x", body=False)
    assert exc.value.message == "x answered HTTP 404"


# -- urllib ------------------------------------------------------------------------------------

def test_open_url_returns_every_status_with_headers(server, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # would fail if the environment's proxy were used
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    for status in (200, 404, 500):
        a = http.open_url(f"{server}/{status}", timeout=5, what="t")
        assert (a.status_code, a.text, a.headers.get("X-Cato-Stack")) == (status, f"status {status}", "new")
    with pytest.raises(ExternalError, match="t answered HTTP 500$"):
        http.answered(http.open_url(f"{server}/500", timeout=5, what="t"), "t", body=False)


def test_open_url_unreachable_and_malformed_are_external_errors():
    with pytest.raises(ExternalError) as exc:
        http.open_url(dead_url() + "/metrics", timeout=2, what="gateway metrics", hint="sandbox up")
    assert "gateway metrics unreachable:" in exc.value.message and exc.value.hint == "sandbox up"
    assert exc.value.__cause__ is not None
    with pytest.raises(ExternalError, match="unreachable"):
        http.open_url("not a url", timeout=2, what="x")


def test_a_secret_url_never_leaves_in_the_message_or_the_cause():
    secret = dead_url() + "/hooks/T000/B000/very-secret"
    with pytest.raises(ExternalError) as exc:
        http.open_url(secret, timeout=2, what="https://hooks…/cret", secret=secret, proxy=True)
    assert "very-secret" not in exc.value.message and exc.value.__cause__ is None
    assert exc.value.__suppress_context__
    with pytest.raises(ExternalError) as exc:
        http.open_url("nope://" + "very-secret", timeout=2, what="redacted", secret="nope://very-secret")
    assert "very-secret" not in exc.value.message


def test_importing_the_seam_imports_no_httpx():
    code = ("import sys; from cato_migrate.adapters import http, orchestrator_http, cost_http, gateway_metrics, "
            "prometheus_metrics, notifiers, dynamodb_replication_admin; sys.exit(1 if 'httpx' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
