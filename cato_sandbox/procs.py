"""Process identity and shutdown for the sandbox: the part that must never hit the wrong process.

A pid alone does not name a process: once a process exits, the kernel may hand its pid to an
unrelated one. So every process the sandbox starts is recorded as (pid, start time), the start
time being field 22 of `/proc/<pid>/stat` (clock ticks since boot). Before signalling anything,
`same_process()` reads the start time again; a different value means the pid was recycled and
the process is left alone.

Each sandbox process is started with `start_new_session=True`, so it leads its own process group
(pgid == pid) and `killpg` also reaches what it forked. A process group id cannot be reused while
any member of the group is alive, so once the leader is verified, the group is ours.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

# Popen objects of children this Python process started, kept so they are never garbage
# collected while running (no ResourceWarning) and can be reaped after they are stopped.
_CHILDREN: dict[int, subprocess.Popen] = {}


def parse_stat(text: str) -> tuple[str, int, int]:
    """(state, pgid, start_time) from the text of /proc/<pid>/stat.

    Field 2 (comm) is in parentheses and may itself contain spaces or ')', so the fields are
    counted from the last ')'.
    """
    rest = text[text.rindex(")") + 2:].split()
    # rest[0] is field 3 (state); field N is rest[N - 3].
    return rest[0], int(rest[5 - 3]), int(rest[22 - 3])


def _read_stat(pid: int) -> tuple[str, int, int] | None:
    try:
        return parse_stat(Path(f"/proc/{pid}/stat").read_text())
    except (FileNotFoundError, ProcessLookupError, ValueError, IndexError):
        return None


def proc_start_time(pid: int) -> int | None:
    """Start time (clock ticks since boot) of a live process, or None if there is none."""
    stat = _read_stat(pid)
    if stat is None or stat[0] in ("Z", "X"):
        return None
    return stat[2]


def pid_alive(pid: int) -> bool:
    """True if the pid names a running (non-zombie) process."""
    return proc_start_time(pid) is not None


def same_process(pid: int, start_time: int | None) -> bool:
    """True only if `pid` is alive and is the very process that was recorded with `start_time`."""
    if not pid or start_time is None:
        return False
    return proc_start_time(pid) == start_time


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) pids whose process group is `pgid`."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _read_stat(int(entry))
        if stat and stat[1] == pgid and stat[0] not in ("Z", "X"):
            out.append(int(entry))
    return out


def spawn(argv: list[str], log_path: Path, env: dict[str, str] | None = None,
          cwd: str | None = None) -> subprocess.Popen:
    """Start `argv` detached in its own session, stdout+stderr to `log_path` (truncated)."""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True, env=env, cwd=cwd,
        )
    _CHILDREN[proc.pid] = proc
    return proc


def reap(pid: int) -> None:
    """Collect the exit status of a child of this process, if it is one (no zombie left)."""
    proc = _CHILDREN.get(pid)
    if proc is not None:
        if proc.poll() is not None:
            _CHILDREN.pop(pid, None)
        return
    try:
        os.waitpid(pid, os.WNOHANG)
    except (ChildProcessError, OSError):
        pass


def child_exit_code(pid: int) -> int | None:
    """Exit code of a child this process spawned, if it has exited; None if running/unknown."""
    proc = _CHILDREN.get(pid)
    return proc.poll() if proc is not None else None


def _wait_group_gone(pid: int, pgid: int, deadline: float) -> bool:
    while True:
        reap(pid)
        if not pid_alive(pid) and not group_members(pgid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def stop_process(pid: int, pgid: int, start_time: int, timeout: float = 5.0) -> str:
    """Stop a recorded process and its group, if and only if it is still the recorded process.

    Returns "stopped", "not-running" (already gone) or "recycled" (the pid now belongs to another
    process, which is left alone). Sends SIGTERM to the group, waits up to `timeout` seconds,
    then SIGKILL. Raises OSError if the group survives SIGKILL.
    """
    if not pid_alive(pid):
        reap(pid)
        return "not-running"
    if not same_process(pid, start_time):
        return "recycled"
    # Verified leader: the group is ours. Signal the group when pid leads it, else just pid.
    target_group = pgid if pgid and pgid == pid else None

    def _signal(sig: int) -> None:
        try:
            if target_group:
                os.killpg(target_group, sig)
            else:
                os.kill(pid, sig)
        except ProcessLookupError:
            pass

    _signal(signal.SIGTERM)
    group = target_group or pid
    if _wait_group_gone(pid, group, time.monotonic() + timeout):
        return "stopped"
    _signal(signal.SIGKILL)
    if _wait_group_gone(pid, group, time.monotonic() + 5.0):
        return "stopped"
    raise OSError(f"pid {pid} (process group {group}) is still alive after SIGKILL")


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS reports free on `host` right now (bind to port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def tail(path: Path, lines: int = 20) -> str:
    """The last `lines` lines of a (log) file, or '' if it cannot be read."""
    try:
        data = Path(path).read_bytes()[-16384:]
    except OSError:
        return ""
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])
