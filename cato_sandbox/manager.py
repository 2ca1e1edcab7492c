"""`cato-migrate sandbox up|down|status`: start, record, check and stop the local sandbox.

The record is `<state_dir>/sandbox.json` (typed and written by cato_sandbox.state), written atomically
after each component starts, so an `up` that dies halfway leaves a file that `down` can clean up from. Each process is recorded with
its pid, process group and /proc start time; `down` signals a pid only while that start time
still matches (see procs.py), so it never stops a process it did not start.

State file (version 1):

    {"version": 1, "complete": true, "started_at": "2026-...Z", "state_dir": "/abs/path",
     "minute_seconds": 1.0,
     "components": [{"name": "moto", "url": "http://127.0.0.1:40123", "port": 40123,
                     "pid": 4242, "pgid": 4242, "start_time": 123456,
                     "argv": [...], "log": "/abs/path/logs/moto.log", "started_at": "..."}]}

`complete` is false while `up` is still starting components.
"""
from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Literal

from pydantic import BaseModel, ConfigDict, Field

from cato_migrate.errors import BadInput, ExternalError, Locked
from cato_sandbox import procs
from cato_sandbox.state import STATE_FILE, STATE_VERSION, as_record, read_state, read_workloads, remove_state
from cato_sandbox.state import write_state as write_sandbox_state
from cato_sandbox.components import REGISTRY, Component, order_components
from cato_sandbox.health import tcp_open
from cato_sandbox.launch import start_one, stop_records, utc_now, wait_healthy

__all__ = ["SandboxSettings", "sandbox_up", "sandbox_down", "sandbox_status",
           "load_sandbox_state", "state_file_path"]



class SandboxSettings(BaseModel):
    """What `sandbox up|down|status` need to know."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    state_dir: Path = Field(Path(".cato-migrate"),
                            description="where sandbox.json and logs/ live (relative to CWD)")
    minute_seconds: float = Field(1.0, gt=0, description="wall seconds per simulated minute "
                                  "(AppConfig bake times and the like)")
    health_timeout_s: float = Field(30.0, gt=0, description="how long each component may "
                                    "take to become healthy")
    stop_timeout_s: float = Field(5.0, gt=0, description="SIGTERM grace before SIGKILL")
    components: list[str] | None = Field(None, description="start only these components (and "
                                         "their dependencies); default: all registered")
    ingress: Literal["proxy", "haproxy"] = Field(
        "haproxy", description="Ray Serve's ingress for the orchestrator: Ray 2.60's HAProxy ingress, as the "
                               "RayService manifest ships it (kept on loopback: see components.ingress_env), or "
                               "Ray's Python proxy, the fallback")


def _state_dir(state_dir: str | os.PathLike) -> Path:
    return Path(state_dir).expanduser().resolve()


def state_file_path(state_dir: str | os.PathLike) -> Path:
    return _state_dir(state_dir) / STATE_FILE


# --- the state file (cato_sandbox.state reads and writes it) ----------------------------------

def load_sandbox_state(state_dir: str | os.PathLike) -> dict | None:
    """The recorded sandbox as the plain dict the manager works on, or None if nothing is recorded."""
    state = read_state(state_dir)
    return None if state is None else as_record(state)


def write_state(state_dir: Path, state: dict) -> None:
    """Validate and write the record atomically; Prometheus' targets follow it."""
    write_sandbox_state(state_dir, state)
    from cato_sandbox.prometheus_server import write_targets

    write_targets(state_dir, state)  # Prometheus' file_sd follows components as they come and go


@contextmanager
def _locked(state_dir: Path, wait_s: float = 120.0) -> Iterator[None]:
    """One `up`/`down` at a time per state directory (two would each lose track of processes)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(state_dir / "sandbox.lock", os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait_s
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise Locked(f"another `sandbox up/down` on {state_dir} has been running "
                                 f"for over {wait_s:.0f} s",
                                 hint="wait for it to finish, then try again") from None
                time.sleep(0.2)
        yield
    finally:
        os.close(fd)  # closing releases the lock


# --- health ---------------------------------------------------------------------------------

def _component_for(name: str, registry: list[Component]) -> Component | None:
    return next((c for c in registry if c.name == name), None)


def _healthy(rec: dict, registry: list[Component]) -> bool:
    if not procs.same_process(rec.get("pid", 0), rec.get("start_time")):
        return False
    comp = _component_for(rec["name"], registry)
    check = comp.health if comp else tcp_open
    try:
        return bool(check(rec["url"], rec["port"]))
    except Exception:
        return False


def _status_of(state: dict | None, state_dir: Path, registry: list[Component]) -> dict:
    path = str(state_dir / STATE_FILE)
    if state is None:
        return {"up": False, "state_file": path, "components": []}
    comps = [{"name": r["name"], "url": r["url"], "port": r.get("port"), "pid": r.get("pid"),
              "healthy": _healthy(r, registry)} for r in state["components"]]
    up = bool(state.get("complete")) and bool(comps) and all(c["healthy"] for c in comps)
    return {"up": up, "state_file": path, "components": comps}


def sandbox_status(settings: SandboxSettings, *, registry: list[Component] | None = None) -> dict:
    """{"up", "state_file", "components": [{"name", "url", "port", "pid", "healthy"}]}, live."""
    state_dir = _state_dir(settings.state_dir)
    reg = REGISTRY if registry is None else registry
    return _status_of(load_sandbox_state(state_dir), state_dir, reg)


# --- stopping -------------------------------------------------------------------------------

def _stop_and_forget(state_dir: Path, state: dict, timeout: float) -> dict:
    stopped, skipped, failed = stop_records(state["components"], timeout)
    if failed:
        write_state(state_dir, {**state, "complete": False,
                                "components": [{k: v for k, v in r.items() if k != "error"}
                                               for r in failed]})
        raise ExternalError(
            "could not stop sandbox component(s): "
            + "; ".join(f"{r['name']} (pid {r['pid']}): {r['error']}" for r in failed),
            hint=f"stop them by hand, then run `cato-migrate sandbox down` again; they stay "
                 f"recorded in {state_dir / STATE_FILE}",
            details={"stopped": stopped, "skipped": skipped})
    remove_state(state_dir)
    return {"stopped": stopped, "skipped": skipped}


def sandbox_down(settings: SandboxSettings) -> dict:
    """Stop exactly what `up` recorded, then remove the record.

    {"stopped": [names], "skipped": [{"name", "reason"}], "state_file", "message"}.
    """
    state_dir = _state_dir(settings.state_dir)
    path = str(state_dir / STATE_FILE)
    if load_sandbox_state(state_dir) is None:
        return {"stopped": [], "skipped": [], "state_file": path,
                "message": f"no sandbox recorded in {path}; nothing to stop"}
    with _locked(state_dir):
        state = load_sandbox_state(state_dir)
        if state is None:
            return {"stopped": [], "skipped": [], "state_file": path,
                    "message": f"no sandbox recorded in {path}; nothing to stop"}
        out = _stop_and_forget(state_dir, state, settings.stop_timeout_s)
    msg = f"stopped {len(out['stopped'])} sandbox component(s)"
    if out["skipped"]:
        msg += f", skipped {len(out['skipped'])}"
    return {**out, "state_file": path, "message": msg}


# --- starting -------------------------------------------------------------------------------

def _stopped_on_purpose(state_dir: Path, state: dict) -> set[str]:
    """Components a workload scale-to-0 or delete stopped (workloads.json): `sandbox up` must not
    bring LiteLLM back after a decommission, nor restart everything because it is gone."""
    from cato_sandbox.workloads import workload_maps

    maps = workload_maps("litellm", "cato-orchestrator")
    return {maps[name].serving if name in maps else name for name, e in read_workloads(state_dir, state).items()
            if e.deleted or not e.desired}


def _reuse_problem(state: dict, comps: list[Component], settings: SandboxSettings,
                   registry: list[Component]) -> str | None:
    """None if the recorded sandbox is the one asked for and all of it is healthy."""
    if not state.get("complete"):
        return "a previous `sandbox up` did not finish"
    on_demand = {c.name for c in registry if getattr(c, "on_demand", False)}
    stopped = _stopped_on_purpose(Path(state.get("state_dir", settings.state_dir)), state)
    recorded = [r["name"] for r in state["components"] if r["name"] not in on_demand | stopped]
    wanted = [c.name for c in comps if c.name not in stopped]
    if recorded != wanted:
        return f"recorded components {recorded} differ from the requested {wanted}"
    if state.get("minute_seconds") != settings.minute_seconds:
        return (f"minute_seconds changed ({state.get('minute_seconds')} -> "
                f"{settings.minute_seconds})")
    for rec in state["components"]:
        if not procs.same_process(rec.get("pid", 0), rec.get("start_time")):
            return f"{rec['name']} is not running"
        if not _healthy(rec, registry):
            return f"{rec['name']} is not healthy"
    return None


def sandbox_up(settings: SandboxSettings, *, registry: list[Component] | None = None) -> dict:
    """Start every registered component (or the `settings.components` subset), in order.

    Returns the status dict plus "already_up" and "message". Idempotent: a complete, healthy
    recorded sandbox is returned as is; a partly dead one is stopped and started afresh.
    """
    reg = REGISTRY if registry is None else registry
    comps = order_components(reg, settings.components)
    missing = [f"{c.name}: {msg}" for c in comps if (msg := c.prerequisite())]
    if missing:
        raise BadInput("cannot start the sandbox (nothing was started):\n  " + "\n  ".join(missing),
                       hint="install what is missing (`make setup` installs everything), "
                            "then run `cato-migrate sandbox up` again")
    state_dir = _state_dir(settings.state_dir)
    with _locked(state_dir):
        message = "sandbox started"
        existing = load_sandbox_state(state_dir)
        if existing is not None:
            reason = _reuse_problem(existing, comps, settings, reg)
            if reason is None:
                return {**_status_of(existing, state_dir, reg), "already_up": True,
                        "message": "sandbox already up"}
            _stop_and_forget(state_dir, existing, settings.stop_timeout_s)
            message = f"sandbox restarted ({reason})"
        (state_dir / "logs").mkdir(parents=True, exist_ok=True)
        state = {"version": STATE_VERSION, "complete": False, "started_at": utc_now(),
                 "state_dir": str(state_dir), "minute_seconds": settings.minute_seconds,
                 "components": []}
        write_state(state_dir, state)
        urls: dict[str, str] = {}
        try:
            for comp in comps:
                rec = start_one(comp, settings, state_dir, urls)
                state["components"].append(rec)
                write_state(state_dir, state)
                wait_healthy(comp, rec, comp.health_timeout_s or settings.health_timeout_s)
                urls[comp.name] = rec["url"]
            state["complete"] = True
            write_state(state_dir, state)
        except BaseException:
            _stop_and_forget(state_dir, state, settings.stop_timeout_s)
            raise
        return {**_status_of(state, state_dir, reg), "already_up": False, "message": message}


def sandbox_add(settings: SandboxSettings, name: str, *, registry: list[Component] | None = None) -> dict:
    """Start one more component (an on-demand one such as Ray) in the running sandbox.

    Idempotent: a recorded, healthy component is returned as it is. Its dependencies must
    already be running. On failure only this component is stopped; the rest stay up.
    """
    reg = REGISTRY if registry is None else registry
    comp = _component_for(name, reg)
    if comp is None:
        raise BadInput(f"unknown sandbox component {name!r}", hint=f"known: {', '.join(c.name for c in reg)}")
    if (msg := comp.prerequisite()):
        raise BadInput(f"cannot start {name}: {msg}", hint="`make setup` installs everything")
    state_dir = _state_dir(settings.state_dir)
    with _locked(state_dir):
        state = load_sandbox_state(state_dir)
        if state is None or not state.get("complete"):
            raise BadInput("the sandbox is not up", hint="run `cato-migrate sandbox up` first")
        existing = next((r for r in state["components"] if r["name"] == name), None)
        if existing is not None:
            if procs.same_process(existing.get("pid", 0), existing.get("start_time")) and _healthy(existing, reg):
                return {**existing, "healthy": True, "already_up": True}
            stop_records([existing], settings.stop_timeout_s)
            state["components"] = [r for r in state["components"] if r["name"] != name]
            write_state(state_dir, state)
        urls = {r["name"]: r["url"] for r in state["components"]}
        missing = [d for d in comp.depends_on if d not in urls]
        if missing:
            raise BadInput(f"{name} needs {', '.join(missing)} running in the sandbox first")
        rec = start_one(comp, settings, state_dir, urls)
        state["components"].append(rec)
        write_state(state_dir, state)
        try:
            wait_healthy(comp, rec, comp.health_timeout_s or settings.health_timeout_s)
        except BaseException:
            stop_records([rec], settings.stop_timeout_s)
            state["components"] = [r for r in state["components"] if r is not rec]
            write_state(state_dir, state)
            raise
        return {**rec, "healthy": True, "already_up": False}


def sandbox_remove(settings: SandboxSettings, name: str, *, timeout_s: float | None = None) -> dict:
    """Stop one recorded component (pid/start-time safe, like `down`) and drop it from the record.

    The rest of the sandbox stays up. Idempotent: a component that is not recorded is reported
    as such. {"name", "stopped": bool, "reason"}.
    """
    state_dir = _state_dir(settings.state_dir)
    with _locked(state_dir):
        state = load_sandbox_state(state_dir)
        rec = next((r for r in (state or {}).get("components", []) if r["name"] == name), None)
        if rec is None:
            return {"name": name, "stopped": False, "reason": "not recorded in the sandbox"}
        stopped, skipped, failed = stop_records([rec], timeout_s or settings.stop_timeout_s)
        if failed:
            raise ExternalError(f"could not stop sandbox component {name!r} (pid {rec.get('pid')}): "
                                f"{failed[0]['error']}",
                                hint=f"stop it by hand; it stays recorded in {state_dir / STATE_FILE}")
        state["components"] = [r for r in state["components"] if r["name"] != name]
        write_state(state_dir, state)
        reason = skipped[0]["reason"] if skipped else "stopped"
        return {"name": name, "stopped": bool(stopped), "reason": reason}
