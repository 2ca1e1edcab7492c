"""Fixtures for integration tests against real local servers.

* ``moto_server`` (session): a real ``moto_server`` subprocess; yields its base URL.
* ``appconfig_layer`` (function): resets moto (``POST /moto-api/reset``) and runs
  :mod:`cato_sandbox.appconfig_layer` in a thread in front of it with
  ``minute_seconds=APPCONFIG_MINUTE_SECONDS``; yields the layer's base URL.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

# One AppConfig strategy-minute lasts 0.02 s on the test layer. A deployment a test must still find
# DEPLOYING or BAKING when it stops it or fires an alarm needs AWS's longest duration or bake (1,440
# minutes = 28.8 s here): a 10-minute one
# ends 0.2 s after it starts, which a loaded CI machine can spend between two calls (it then
# completed, and the stop reverted it instead of rolling it back).
APPCONFIG_MINUTE_SECONDS = 0.02


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout`."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_http(url: str, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server process exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"{url} not ready after {timeout}s")


def _moto_command(port: int) -> list[str]:
    exe = Path(sys.executable).parent / "moto_server"
    if exe.exists():
        return [str(exe), "-H", "127.0.0.1", "-p", str(port)]
    found = shutil.which("moto_server")
    if found:
        return [found, "-H", "127.0.0.1", "-p", str(port)]
    return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    proc = subprocess.Popen(_moto_command(port), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/moto-api/", proc=proc)
        yield url
    finally:
        stop_process(proc)


def reset_moto(moto_url: str) -> None:
    req = urllib.request.Request(moto_url + "/moto-api/reset", method="POST", data=b"")
    with urllib.request.urlopen(req, timeout=10):
        pass


@pytest.fixture
def appconfig_layer(moto_server: str) -> Iterator[str]:
    from cato_sandbox.appconfig_layer import make_server

    reset_moto(moto_server)
    server = make_server("127.0.0.1", 0, moto_server, APPCONFIG_MINUTE_SECONDS)
    thread = threading.Thread(target=server.serve_forever, name="appconfig-layer", daemon=True)
    thread.start()
    url = server.url
    try:
        wait_http(url + "/healthz")
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
