"""One sandbox process: start it on a free port with its environment, wait until it is healthy
(or report its log's last lines), and stop recorded ones safely (pid and start time must still
match, see procs.py). The manager decides which and when; this module only does it."""
from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from cato_migrate.errors import ExternalError
from cato_sandbox import procs
from cato_sandbox.components import Component, LaunchContext

if TYPE_CHECKING:
    from cato_sandbox.manager import SandboxSettings

_PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # the directory holding cato_migrate/ and cato_sandbox/


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def stop_records(records: list[dict], timeout: float) -> tuple[list[str], list[dict], list[dict]]:
    """Stop recorded processes in reverse order: (stopped names, skipped, failed records)."""
    stopped: list[str] = []
    skipped: list[dict] = []
    failed: list[dict] = []
    for rec in reversed(records):
        name, pid = rec.get("name", "?"), int(rec.get("pid") or 0)
        try:
            outcome = procs.stop_process(pid, int(rec.get("pgid") or 0),
                                         rec.get("start_time"), timeout=timeout)
        except OSError as exc:
            failed.append({**rec, "error": str(exc)})
            continue
        if outcome == "stopped":
            stopped.append(name)
        elif outcome == "recycled":
            skipped.append({"name": name, "reason": f"pid {pid} now belongs to another process "
                            "(start time differs); left alone"})
        else:
            skipped.append({"name": name, "reason": f"not running (pid {pid} is gone)"})
    return stopped, skipped, failed


def child_env(comp: Component, ctx: LaunchContext) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_PACKAGE_ROOT), env.get("PYTHONPATH"))
                                        if p)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(comp.env)
    if comp.env_for is not None:
        env.update(comp.env_for(ctx))
    return env


def start_one(comp: Component, settings: "SandboxSettings", state_dir: Path,
               urls: dict[str, str]) -> dict:
    port = procs.free_port()
    ctx = LaunchContext(port=port, settings=settings, urls=dict(urls), state_dir=state_dir)
    argv = [str(a) for a in comp.argv(ctx)]
    log = state_dir / "logs" / f"{comp.name}.log"
    try:
        proc = procs.spawn(argv, log, env=child_env(comp, ctx), cwd=str(state_dir))
    except OSError as exc:
        raise ExternalError(f"sandbox component {comp.name!r} could not be started: {exc}",
                            hint=f"command: {' '.join(argv)}",
                            details={"component": comp.name}) from exc
    start_time = procs.proc_start_time(proc.pid)
    return {"name": comp.name, "url": comp.url(port), "port": port, "pid": proc.pid,
            "pgid": proc.pid, "start_time": start_time, "argv": argv, "log": str(log),
            "started_at": utc_now()}


def wait_healthy(comp: Component, rec: dict, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        code = procs.child_exit_code(rec["pid"])
        if code is not None or not procs.pid_alive(rec["pid"]):
            problem = (f"exited with code {code}" if code is not None else "exited")
            break
        try:
            if comp.health(rec["url"], rec["port"]):
                return
        except Exception:
            pass
        if time.monotonic() >= deadline:
            problem = f"was not healthy after {timeout:g} s"
            break
        time.sleep(0.1)
    tail = procs.tail(Path(rec["log"])) or "(log is empty)"
    raise ExternalError(
        f"sandbox component {comp.name!r} {problem} before becoming healthy; everything this "
        f"`sandbox up` started has been stopped.\nLast lines of {rec['log']}:\n{tail}",
        hint=f"read {rec['log']}, fix the cause, then run `cato-migrate sandbox up` again",
        details={"component": comp.name, "log": rec["log"]})
