"""Who holds a lease, in terms that survive pid reuse, reboots and containers.

A lease records host, pid, the process's start time, the kernel boot id and the pid namespace.
A holder is *provably* gone only when all of these say so from where the contender stands:
same host, same boot, same pid namespace, and that pid is not running (or is running but
started at another time: the pid was reused). Anything else (another host, another container
on the same kernel, a record without these fields, a non-Linux host) cannot be judged from
here: the contender waits for the lease to lapse instead.
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cato_migrate.core.state import LockLease

PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessIdentity:
    host: str
    pid: int
    start: int = 0     # clock ticks since boot (/proc/PID/stat field 22); 0 unknown
    boot_id: str = ""  # /proc/sys/kernel/random/boot_id; "" unknown
    pid_ns: int = 0    # inode of /proc/self/ns/pid; 0 unknown


def boot_id() -> str:
    try:
        return (PROC / "sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def pid_namespace() -> int:
    try:
        return os.stat(PROC / "self/ns/pid").st_ino
    except OSError:
        return 0


def start_time(pid: int) -> int:
    """Field 22 of /proc/PID/stat; 0 when the process is gone or /proc is not there."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
        # comm (field 2) may hold spaces and parentheses: the fields after it follow the last ')'.
        return int(text.rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return 0


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:
        return False
    return True


def current(*, host: str | None = None, pid: int | None = None) -> ProcessIdentity:
    pid = pid or os.getpid()
    return ProcessIdentity(host=host or socket.gethostname(), pid=pid, start=start_time(pid),
                           boot_id=boot_id(), pid_ns=pid_namespace())


def why_gone(holder: LockLease, me: ProcessIdentity) -> str | None:
    """Why the holder is provably gone, or None when that cannot be told from here."""
    if holder.host != me.host or not holder.boot_id or holder.boot_id != me.boot_id:
        return None
    if not holder.pid_ns or holder.pid_ns != me.pid_ns:
        return None
    if not pid_alive(holder.pid):
        return f"holder process is gone (pid {holder.pid} is not running on {holder.host})"
    if holder.proc_start and start_time(holder.pid) not in (0, holder.proc_start):
        return f"holder process is gone (pid {holder.pid} on {holder.host} is now another process)"
    return None
