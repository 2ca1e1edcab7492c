"""Pure parts of the sandbox manager: state file, process identity, ordering, prerequisites."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

try:  # the package may not be installed in the venv yet: import it from the checkout
    import cato_migrate  # noqa: F401
except ImportError:  # pragma: no cover
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from cato_migrate.errors import BadInput
from cato_sandbox import components as comps_mod
from cato_sandbox import health
from cato_sandbox import procs
from cato_sandbox.components import (REGISTRY, Component, LaunchContext,
                                             order_components, register)
from cato_sandbox.manager import (SandboxSettings, load_sandbox_state, sandbox_down,
                                          sandbox_status, sandbox_up, write_state)


def _comp(name, deps=()):
    return Component(name=name, description=name, argv=lambda ctx: ["true"],
                     health=lambda url, port: True, depends_on=tuple(deps))


# --- state file -----------------------------------------------------------------------------

def test_state_file_round_trip_is_atomic(tmp_path):
    state = {"version": 1, "complete": True, "components": [
        {"name": "moto", "url": "http://127.0.0.1:1234", "port": 1234, "pid": 1, "pgid": 1,
         "start_time": 5, "argv": ["x"], "log": "/l"}]}
    write_state(tmp_path, state)
    assert load_sandbox_state(tmp_path) == state
    assert load_sandbox_state(str(tmp_path)) == state
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sandbox.json"]  # no temp file left


def test_missing_state_is_none(tmp_path):
    assert load_sandbox_state(tmp_path / "nowhere") is None


@pytest.mark.parametrize("text", ["{not json", "[]", '{"version": 1}'])
def test_unreadable_state_is_bad_input(tmp_path, text):
    (tmp_path / "sandbox.json").write_text(text)
    with pytest.raises(BadInput, match="unreadable"):
        load_sandbox_state(tmp_path)


def test_down_with_nothing_recorded_is_a_noop(tmp_path):
    out = sandbox_down(SandboxSettings(state_dir=tmp_path))
    assert out["stopped"] == [] and out["skipped"] == []
    assert "nothing to stop" in out["message"]
    assert not (tmp_path / "sandbox.json").exists()


def test_status_with_nothing_recorded(tmp_path):
    out = sandbox_status(SandboxSettings(state_dir=tmp_path))
    assert out == {"up": False, "state_file": str(tmp_path / "sandbox.json"), "components": []}


def test_settings_forbid_unknown_fields_and_validate():
    with pytest.raises(ValueError):
        SandboxSettings(state_dri="x")
    with pytest.raises(ValueError):
        SandboxSettings(minute_seconds=0)
    s = SandboxSettings()
    assert s.minute_seconds == 1.0 and str(s.state_dir) == ".cato-migrate"


# --- process identity -----------------------------------------------------------------------

def test_parse_stat_handles_odd_command_names():
    fields = ["S", "1", "77"] + ["0"] * 16 + ["987654"] + ["0"] * 5
    line = "4242 (we ird) (name) " + " ".join(fields)
    assert procs.parse_stat(line) == ("S", 77, 987654)


def test_start_time_identifies_this_process():
    me = os.getpid()
    st = procs.proc_start_time(me)
    assert isinstance(st, int) and st > 0
    assert procs.same_process(me, st)
    assert not procs.same_process(me, st + 1)
    assert not procs.same_process(me, None)
    assert not procs.same_process(0, st)


def test_dead_and_zombie_pids_are_not_alive():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.time() + 10
    while procs._read_stat(child.pid)[0] != "Z" and time.time() < deadline:
        time.sleep(0.02)
    assert not procs.pid_alive(child.pid)  # a zombie is not alive
    child.wait()
    assert not procs.pid_alive(child.pid)
    assert procs.proc_start_time(child.pid) is None


def test_stop_process_refuses_a_recycled_pid():
    victim = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        real = procs.proc_start_time(victim.pid)
        assert procs.stop_process(victim.pid, victim.pid, real - 1, timeout=1) == "recycled"
        assert victim.poll() is None
        assert procs.stop_process(victim.pid, victim.pid, real, timeout=5) == "stopped"
        assert victim.wait(timeout=5) is not None
        assert procs.stop_process(victim.pid, victim.pid, real, timeout=1) == "not-running"
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()


def test_free_port_is_bindable():
    import socket
    port = procs.free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


# --- registry and ordering ------------------------------------------------------------------

def test_default_registry_order_and_dependencies():
    names = [c.name for c in REGISTRY]
    assert names[:3] == ["moto", "appconfig", "redis"]
    appconfig = next(c for c in REGISTRY if c.name == "appconfig")
    assert appconfig.depends_on == ("moto",)
    # `sandbox up` starts everything but the on-demand components (Ray, the orchestrator)
    assert [c.name for c in order_components(REGISTRY)] == [c.name for c in REGISTRY if not c.on_demand]
    assert {c.name for c in REGISTRY if c.on_demand} == {"ray", "orchestrator"}
    chosen = [c.name for c in order_components(REGISTRY, ["orchestrator"])]
    assert chosen[-1] == "orchestrator" and {"ray", "simulator", "redis", "moto"} <= set(chosen)


def test_order_puts_dependencies_first_and_adds_them_to_a_subset():
    reg = [_comp("gateway", ["proxy"]), _comp("moto"), _comp("proxy", ["moto"]), _comp("redis")]
    assert [c.name for c in order_components(reg)] == ["moto", "proxy", "gateway", "redis"]
    assert [c.name for c in order_components(reg, ["gateway"])] == ["moto", "proxy", "gateway"]
    assert [c.name for c in order_components(reg, ["redis"])] == ["redis"]


def test_order_rejects_unknown_names_unknown_deps_and_cycles():
    with pytest.raises(BadInput, match="unknown sandbox component"):
        order_components([_comp("a")], ["b"])
    with pytest.raises(BadInput, match="depends on unknown"):
        order_components([_comp("a", ["zzz"])])
    with pytest.raises(BadInput, match="cycle"):
        order_components([_comp("a", ["b"]), _comp("b", ["a"])])


def test_register_rejects_duplicates():
    reg = [_comp("a")]
    register(_comp("b"), reg)
    assert [c.name for c in reg] == ["a", "b"]
    with pytest.raises(BadInput, match="already registered"):
        register(_comp("a"), reg)


def test_component_command_lines(tmp_path):
    settings = SandboxSettings(state_dir=tmp_path, minute_seconds=0.05)
    by = {c.name: c for c in REGISTRY}
    ctx = LaunchContext(port=4567, settings=settings, urls={"moto": "http://127.0.0.1:1111"},
                        state_dir=tmp_path)
    moto = by["moto"].argv(ctx)
    assert moto[-4:] == ["-H", "127.0.0.1", "-p", "4567"]
    assert by["appconfig"].argv(ctx)[1:] == [
        "-m", "cato_sandbox.appconfig_layer", "--host", "127.0.0.1", "--port", "4567",
        "--moto-url", "http://127.0.0.1:1111", "--minute-seconds", "0.05"]
    redis = by["redis"].argv(ctx)
    assert redis[1:11] == ["--port", "4567", "--bind", "127.0.0.1", "--save", "",
                           "--appendonly", "no", "--daemonize", "no"]
    assert by["redis"].url(4567) == "redis://127.0.0.1:4567"
    assert by["moto"].url(4567) == "http://127.0.0.1:4567"
    with pytest.raises(BadInput, match="has not been started"):
        by["appconfig"].argv(LaunchContext(port=1, settings=settings, urls={},
                                           state_dir=tmp_path))


def test_missing_redis_server_is_bad_input_and_starts_nothing(tmp_path, monkeypatch):
    real_which = comps_mod.shutil.which
    monkeypatch.setattr(comps_mod.shutil, "which",
                        lambda cmd, *a, **k: None if cmd == "redis-server" else real_which(cmd))
    started = []
    spy = Component(name="spy", description="", argv=lambda ctx: started.append(1) or ["true"],
                    health=lambda u, p: True)
    reg = [spy] + [c for c in REGISTRY if c.name == "redis"]
    with pytest.raises(BadInput) as exc:
        sandbox_up(SandboxSettings(state_dir=tmp_path / "sb"), registry=reg)
    assert "apt-get install -y redis-server" in exc.value.message
    assert "nothing was started" in exc.value.message
    assert started == []
    assert not (tmp_path / "sb").exists()


def test_http_health_accepts_any_answer_below_500(tmp_path):
    import http.server
    import threading

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response({"/ok": 200, "/missing": 404}.get(self.path, 503))
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{srv.server_port}"
        port = srv.server_port
        assert health.http_answers("/ok")(url, port)
        assert health.http_answers("/missing")(url, port)
        assert not health.http_answers("/broken")(url, port)
        assert not health.http_answers("/missing", ok=lambda c: c == 200)(url, port)
        assert health.tcp_open(url, port)
    finally:
        srv.shutdown()
        srv.server_close()
    assert not health.http_answers("/ok")(url, port)
    assert not health.redis_ping(url, port)


def test_state_file_is_json_with_expected_keys(tmp_path):
    write_state(tmp_path, {"version": 1, "complete": False, "components": []})
    data = json.loads((tmp_path / "sandbox.json").read_text())
    assert data["complete"] is False


def test_importing_the_manager_stays_light():
    code = ("import sys, cato_sandbox.manager; "
            "print(sorted(m for m in ('boto3', 'botocore', 'redis', 'moto', 'flask') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=os.path.dirname(os.path.dirname(os.path.dirname(
                             os.path.abspath(__file__)))))
    assert out.stdout.strip() == "[]"


def test_ingress_env_is_empty_for_the_proxy_and_isolated_for_haproxy(tmp_path):
    from cato_sandbox.ingress import ingress_env

    assert ingress_env("proxy", tmp_path) == {}
    env = ingress_env("haproxy", tmp_path)
    assert env["RAY_SERVE_ENABLE_HA_PROXY"] == "1" and env["RAY_SERVE_THROUGHPUT_OPTIMIZED"] == "1"
    assert "cato-hap-" in env["RAY_SERVE_HAPROXY_CONFIG_FILE_LOC"]  # not the shared /tmp/haproxy-serve
    assert len(env["RAY_SERVE_HAPROXY_SOCKET_PATH"]) + 57 <= 97  # HAProxy's limit, after Ray's node-id dir
    assert env["RAY_SERVE_HAPROXY_STATS_PORT"] != "8404" and env["RAY_SERVE_HAPROXY_METRICS_PORT"] != "9101"
    assert float(env["RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S"]) <= 5
