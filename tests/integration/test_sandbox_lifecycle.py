"""Real `sandbox up/status/down` with a real moto server and a real redis-server.

Each test uses its own state directory (tmp_path) and leaves no process behind: the `sandbox`
fixture stops whatever a test left recorded, and the tests check every pid is gone.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

try:  # the package may not be installed in the venv yet: import it from the checkout
    import cato_migrate  # noqa: F401
except ImportError:  # pragma: no cover
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from cato_migrate.errors import ExternalError
from cato_sandbox import procs
from cato_sandbox.components import REGISTRY, Component
from cato_sandbox.health import http_answers, http_status
from cato_sandbox.manager import (SandboxSettings, load_sandbox_state, sandbox_down,
                                          sandbox_status, sandbox_up, write_state)

REPO = Path(__file__).resolve().parents[2]
HAVE_REDIS = __import__("shutil").which("redis-server") is not None
HAVE_APPCONFIG = (REPO / "cato_migrate" / "sandbox" / "appconfig_layer.py").exists()

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not HAVE_REDIS, reason="redis-server is not installed "
                       "(apt-get install -y redis-server, or make setup)"),
]


def _web(name="web", deps=()):
    """A trivial extra component, registered the way later components will be."""
    return Component(
        name=name, description="stdlib http.server (test component)",
        argv=lambda ctx: [ctx.python, "-m", "http.server", "--bind", "127.0.0.1", str(ctx.port)],
        health=http_answers("/"), depends_on=tuple(deps))


def _pids_with_marker(marker: str) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in cmd and procs.pid_alive(int(entry)):
                out.append(int(entry))
    return out


def _wait_gone(pids, timeout=10.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        for p in pids:
            procs.reap(p)
        alive = [p for p in pids if procs.pid_alive(p)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.05)


@pytest.fixture
def sandbox(tmp_path):
    """Settings on a fresh state dir; afterwards, stop anything still recorded there."""
    settings = SandboxSettings(state_dir=tmp_path / "sb", health_timeout_s=30)
    yield settings
    state = load_sandbox_state(settings.state_dir)
    if state:
        for rec in state["components"]:
            procs.stop_process(rec["pid"], rec["pgid"], rec["start_time"], timeout=2)


def test_up_status_idempotent_up_down(sandbox):
    registry = list(REGISTRY) + [_web()]
    settings = sandbox.model_copy(update={"components": ["moto", "redis", "web"]})

    up = sandbox_up(settings, registry=registry)
    assert up["up"] is True and up["already_up"] is False
    assert [c["name"] for c in up["components"]] == ["moto", "redis", "web"]
    assert all(c["healthy"] for c in up["components"])

    state = load_sandbox_state(settings.state_dir)
    assert state["complete"] is True and state["version"] == 1
    for rec in state["components"]:
        assert rec["url"].endswith(f"127.0.0.1:{rec['port']}")
        assert rec["pgid"] == rec["pid"] == os.getpgid(rec["pid"])  # own process group
        assert procs.proc_start_time(rec["pid"]) == rec["start_time"]
        assert Path(rec["log"]).is_file() and rec["argv"]
    by = {r["name"]: r for r in state["components"]}
    assert by["redis"]["url"].startswith("redis://")
    assert http_status(by["moto"]["url"] + "/moto-api/") == 200

    import redis  # the real client against the real server
    r = redis.Redis.from_url(by["redis"]["url"])
    assert r.ping() is True
    r.close()

    status = sandbox_status(settings, registry=registry)
    assert status["up"] is True and status["state_file"].endswith("sandbox.json")
    assert {c["name"]: c["pid"] for c in status["components"]} == {
        n: r["pid"] for n, r in by.items()}

    again = sandbox_up(settings, registry=registry)
    assert again["already_up"] is True and again["up"] is True
    assert [c["pid"] for c in again["components"]] == [r["pid"] for r in state["components"]]

    down = sandbox_down(settings)
    assert down["stopped"] == ["web", "redis", "moto"] and down["skipped"] == []
    assert _wait_gone([r["pid"] for r in state["components"]], timeout=1) == []
    assert not Path(down["state_file"]).exists()
    assert sandbox_status(settings)["up"] is False

    noop = sandbox_down(settings)
    assert noop["stopped"] == [] and "nothing to stop" in noop["message"]


@pytest.mark.skipif(not HAVE_APPCONFIG, reason="cato_sandbox/appconfig_layer.py is not "
                    "in this checkout yet; the appconfig component cannot be started")
def test_appconfig_layer_starts_after_moto_and_points_at_it(sandbox):
    settings = sandbox.model_copy(update={"components": ["appconfig"], "minute_seconds": 0.1})
    up = sandbox_up(settings)
    try:
        assert [c["name"] for c in up["components"]] == ["moto", "appconfig"]
        assert up["up"] is True
        state = load_sandbox_state(settings.state_dir)
        moto, appconfig = state["components"]
        argv = appconfig["argv"]
        assert argv[argv.index("--moto-url") + 1] == moto["url"]
        assert argv[argv.index("--minute-seconds") + 1] == "0.1"
        assert http_status(appconfig["url"] + "/healthz") == 200
    finally:
        down = sandbox_down(settings)
    assert down["stopped"] == ["appconfig", "moto"]
    assert _wait_gone([moto["pid"], appconfig["pid"]], timeout=1) == []


def test_up_restarts_a_partly_dead_sandbox(sandbox):
    settings = sandbox.model_copy(update={"components": ["moto", "redis"]})
    first = sandbox_up(settings)
    old = {c["name"]: c["pid"] for c in first["components"]}
    os.killpg(old["redis"], signal.SIGKILL)
    assert _wait_gone([old["redis"]]) == []

    status = sandbox_status(settings)
    assert status["up"] is False
    assert {c["name"]: c["healthy"] for c in status["components"]} == {"moto": True,
                                                                         "redis": False}

    second = sandbox_up(settings)
    assert second["already_up"] is False and second["up"] is True
    assert "redis is not running" in second["message"]
    new = {c["name"]: c["pid"] for c in second["components"]}
    assert new["moto"] != old["moto"] and new["redis"] != old["redis"]
    assert _wait_gone([old["moto"]], timeout=1) == []  # the old moto was stopped, not leaked

    down = sandbox_down(settings)
    assert down["stopped"] == ["redis", "moto"]
    assert _wait_gone(list(new.values()), timeout=1) == []


def test_component_that_exits_stops_everything_and_reports_its_log(sandbox):
    seen_state = {}

    def broken_argv(ctx):
        # Called once moto is up: the state file must already record it.
        seen_state.update(load_sandbox_state(ctx.state_dir))
        return [ctx.python, "-c", "import sys; print('boom-7781: port in use?'); sys.exit(3)"]

    broken = Component(name="broken", description="exits at once", argv=broken_argv,
                       health=lambda url, port: False, depends_on=("moto",))
    registry = list(REGISTRY) + [broken]
    settings = sandbox.model_copy(update={"components": ["broken"]})
    with pytest.raises(ExternalError) as exc:
        sandbox_up(settings, registry=registry)
    msg = exc.value.message
    assert "'broken'" in msg and "exited with code 3" in msg and "boom-7781" in msg
    assert exc.value.details["component"] == "broken"

    assert [c["name"] for c in seen_state["components"]] == ["moto"]
    moto_pid = seen_state["components"][0]["pid"]
    assert _wait_gone([moto_pid], timeout=1) == []
    assert load_sandbox_state(settings.state_dir) is None


def test_component_that_never_gets_healthy_times_out(sandbox):
    marker = "cato-never-healthy-5521"
    hung = Component(name="hung", description="never healthy",
                     argv=lambda ctx: [ctx.python, "-c", "import time; time.sleep(120)", marker],
                     health=lambda url, port: False)
    settings = sandbox.model_copy(update={"components": ["hung"], "health_timeout_s": 0.5})
    with pytest.raises(ExternalError, match="'hung' was not healthy after 0.5 s"):
        sandbox_up(settings, registry=[hung])
    assert _pids_with_marker(marker) == []
    assert load_sandbox_state(settings.state_dir) is None


def test_down_never_kills_a_process_it_did_not_start(sandbox):
    foreign = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        real_start = procs.proc_start_time(foreign.pid)
        state_dir = Path(sandbox.state_dir)
        state_dir.mkdir(parents=True)
        write_state(state_dir, {
            "version": 1, "complete": True, "minute_seconds": 1.0, "components": [{
                "name": "moto", "url": "http://127.0.0.1:1", "port": 1, "pid": foreign.pid,
                "pgid": foreign.pid, "start_time": real_start - 1, "argv": ["moto_server"],
                "log": str(state_dir / "logs" / "moto.log")}]})

        status = sandbox_status(sandbox)
        assert status["up"] is False and status["components"][0]["healthy"] is False

        down = sandbox_down(sandbox)
        assert down["stopped"] == []
        assert down["skipped"][0]["name"] == "moto"
        assert "another process" in down["skipped"][0]["reason"]
        time.sleep(0.3)
        assert foreign.poll() is None and procs.pid_alive(foreign.pid)
        assert load_sandbox_state(state_dir) is None

        # `up` over such a record replaces it without touching the foreign process either.
        write_state(state_dir, {
            "version": 1, "complete": True, "minute_seconds": 1.0, "components": [{
                "name": "redis", "url": "redis://127.0.0.1:1", "port": 1, "pid": foreign.pid,
                "pgid": foreign.pid, "start_time": real_start + 7, "argv": ["redis-server"],
                "log": "/dev/null"}]})
        settings = sandbox.model_copy(update={"components": ["redis"]})
        up = sandbox_up(settings)
        assert up["up"] is True and up["already_up"] is False
        assert foreign.poll() is None and procs.pid_alive(foreign.pid)
        down = sandbox_down(settings)
        assert down["stopped"] == ["redis"]
        assert _wait_gone([up["components"][0]["pid"]], timeout=1) == []
        assert foreign.poll() is None
    finally:
        foreign.kill()
        foreign.wait()


SCRIPT = """
import sys
sys.path.insert(0, {repo!r})
from cato_sandbox.components import REGISTRY, Component
from cato_sandbox.manager import SandboxSettings, sandbox_up
slow = Component(name="slow", description="", depends_on=("moto",),
                 argv=lambda ctx: [ctx.python, "-c", "import time; time.sleep(120)", {marker!r}],
                 health=lambda url, port: False)
sandbox_up(SandboxSettings(state_dir={state_dir!r}, components=["slow"], health_timeout_s=120),
           registry=list(REGISTRY) + [slow])
"""


def test_down_cleans_up_after_an_up_that_was_killed_midway(sandbox, tmp_path):
    marker = "cato-killed-midway-9157"
    state_dir = str(sandbox.state_dir)
    script = tmp_path / "up.py"
    script.write_text(SCRIPT.format(repo=str(REPO), marker=marker, state_dir=state_dir))
    up = subprocess.Popen([sys.executable, str(script)])
    try:
        deadline = time.monotonic() + 30
        names = []
        while time.monotonic() < deadline and names != ["moto", "slow"]:
            time.sleep(0.1)
            try:
                names = [c["name"] for c in (load_sandbox_state(state_dir) or {})
                         .get("components", [])]
            except Exception:
                names = []
        assert names == ["moto", "slow"], "the up process never recorded both components"
    finally:
        up.kill()  # the operator's `up` dies: no cleanup of its own runs
        up.wait()

    state = json.loads((Path(state_dir) / "sandbox.json").read_text())
    assert state["complete"] is False
    pids = [c["pid"] for c in state["components"]]
    assert all(procs.pid_alive(p) for p in pids)

    down = sandbox_down(sandbox)
    assert down["stopped"] == ["slow", "moto"]
    assert _wait_gone(pids, timeout=1) == []
    assert _pids_with_marker(marker) == []
    assert load_sandbox_state(state_dir) is None
