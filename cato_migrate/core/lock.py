"""The operator lock: one mutating command per environment at a time.

A lease is renewed by a heartbeat thread while the command runs. A lease whose
expiry has passed, or whose holder is a dead process on this host, is taken over
(and that is audited). `rollback` preempts any lease (audited); the preempted
command notices at its next `ensure_held()` and stops.
"""
from __future__ import annotations

import os
import socket
import threading
import uuid
from datetime import datetime, timezone

from cato_migrate.core.state import AuditEntry, LockLease
from cato_migrate.errors import Locked, Unverified
from cato_migrate.ports import Clock, StateStore


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fmt_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


class LeaseKeeper:
    def __init__(self, store: StateStore, clock: Clock, *, env: str, actor: str, command: str,
                 ttl: float, host: str | None = None, pid: int | None = None):
        self.store, self.clock, self.env, self.actor = store, clock, env, actor
        self.command, self.ttl = command, ttl
        self.host = host or socket.gethostname()
        self.pid = pid or os.getpid()
        self.lease: LockLease | None = None
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self, *, preempt: bool = False, reason: str = "") -> LockLease:
        now = self.clock.now()
        lease = LockLease(env=self.env, token=uuid.uuid4().hex, holder=self.actor, command=self.command,
                          host=self.host, pid=self.pid, started=now, heartbeat=now, expires=now + self.ttl)
        current = self.store.read_lock(self.env)
        stale = frozenset()
        if current and current.host == self.host and not _pid_alive(current.pid):
            stale = frozenset({current.token})
        result = self.store.acquire_lock(lease, now=now, preempt=preempt, takeover_tokens=stale)
        prev = result.previous
        if not result.acquired:
            assert prev is not None
            raise Locked(
                f"the {self.env} lock is held by {prev.holder} (pid {prev.pid} on {prev.host}) "
                f"since {fmt_time(prev.started)}, running `{prev.command}`; "
                f"lease expires {fmt_time(prev.expires)} unless renewed",
                hint="wait for it to finish, or if that process is gone: "
                     "cato-migrate lock release --force --reason TEXT",
                details={"holder": prev.model_dump()})
        if prev is not None:
            why = ("preempted" if prev.token not in stale and prev.expires >= now
                   else "holder process is gone" if prev.token in stale else "lease expired")
            action = "lock.preempt" if why == "preempted" else "lock.takeover"
            self.store.append_audit(AuditEntry(
                env=self.env, at=now, actor=self.actor, action=action, target=f"lock:{self.env}",
                reason=reason or why,
                details={"previous_holder": prev.holder, "previous_command": prev.command,
                         "previous_host": prev.host, "previous_pid": prev.pid, "why": why,
                         "by_command": self.command}))
        self.lease = lease
        self._start_heartbeat()
        return lease

    def _start_heartbeat(self) -> None:
        interval = max(0.05, self.ttl / 3)

        def beat() -> None:
            while not self._stop.wait(interval):
                now = self.clock.now()
                try:
                    renewed = self.store.renew_lock(self.env, self.lease.token, now, now + self.ttl)
                except Exception:  # a store hiccup: keep trying until the lease would lapse
                    if self.clock.now() < self.lease.expires:
                        continue
                    renewed = False
                if not renewed:
                    self.lost.set()
                    return
                self.lease = self.lease.model_copy(update={"heartbeat": now, "expires": now + self.ttl})

        self._thread = threading.Thread(target=beat, name="cato-lock-heartbeat", daemon=True)
        self._thread.start()

    def ensure_held(self) -> None:
        """Raise if another command (a rollback) took the lock from us."""
        if self.lost.is_set():
            holder = self.store.read_lock(self.env)
            by = f" by {holder.holder} running `{holder.command}`" if holder else ""
            raise Unverified(f"the lock was taken over{by} while this command ran; it stopped here",
                             hint="run `cato-migrate status` to see where things stand before doing anything else")

    def fence(self, what: str = "") -> None:
        """Prove, by a read of the store, that we still hold the lease: call it immediately before
        every external write (a fencing check). A preempted command stops here, never after its write."""
        self.ensure_held()
        current = self.store.read_lock(self.env)
        if current is None or self.lease is None or current.token != self.lease.token:
            self.lost.set()
            by = f" by {current.holder} running `{current.command}`" if current else ""
            doing = f" before {what}" if what else ""
            raise Unverified(f"the lock was taken over{by} while this command ran; it stopped{doing} "
                             "and changed nothing more",
                             hint="run `cato-migrate status` to see where things stand before doing anything else")

    def release(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        if self.lease and not self.lost.is_set():
            self.store.release_lock(self.env, self.lease.token)

    def __enter__(self) -> "LeaseKeeper":
        return self

    def __exit__(self, *exc) -> None:
        self.release()
