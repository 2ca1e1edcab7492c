"""Tests only: the sandbox DynamoDB layer in a thread in front of a (reset) moto server, and a
minimal context for running steps and checks against it."""
from __future__ import annotations

import threading
import time
import urllib.request
from types import SimpleNamespace

import pytest

from cato_migrate.settings import Settings
from cato_migrate.wiring import Services


def wait_for(fn, timeout=5.0):
    """Poll `fn` until it is true (True) or `timeout` s pass (False): replication is asynchronous."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fn():
            return True
        time.sleep(0.01)
    return False


def reset_moto(moto_url: str) -> None:
    req = urllib.request.Request(moto_url + "/moto-api/reset", method="POST", data=b"")
    with urllib.request.urlopen(req, timeout=10):
        pass


@pytest.fixture
def dynamodb_layer(moto_server, monkeypatch):
    """The layer's base URL; replication lag 20 ms."""
    from cato_sandbox.dynamodb_layer import make_server

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    reset_moto(moto_server)
    server = make_server("127.0.0.1", 0, moto_server, lag_ms=20)
    thread = threading.Thread(target=server.serve_forever, name="dynamodb-layer", daemon=True)
    thread.start()
    try:
        yield server.url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class RealClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def context(tmp_path, **settings) -> SimpleNamespace:
    """What steps and checks read from a RunContext: settings, services, clock, progress."""
    s = Settings(work_dir=tmp_path / ".cato-migrate", **settings)
    return SimpleNamespace(settings=s, services=Services(s), clock=RealClock(), progress=lambda m: None,
                           env=s.env)
