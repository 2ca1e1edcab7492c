"""The operator lock: one mutating command per environment at a time.

Record-version-number leases (the model of AWS's DynamoDB lock client). Every write of the lease
(acquire, renew) sets a fresh random `rvn`; the holder renews every ttl/3. A contender never takes
a lease over on a wall-clock reading (hosts' clocks disagree): it notes the rvn it found and
watches it, on its own monotonic clock, for the lease duration the holder declared. If the rvn
changed meanwhile the holder is alive: Locked. If it did not, the contender takes over with a
write conditional on that very rvn (so two contenders cannot both win).

The wall clock only lets a contender give up early: a lease whose heartbeat looks recent is
reported Locked at once instead of being watched (a skewed reading can delay a takeover, never
cause one).

A holder that is provably dead (same host, boot and pid namespace; its pid gone or reused; see
`proc_identity`) is taken over at once. `rollback` preempts any lease at once. Both are audited.
The preempted command notices at its next `fence()`/`ensure_held()` and stops.
"""
from __future__ import annotations

import threading
import uuid
from datetime import datetime, timezone
from typing import Callable

from cato_migrate.core import proc_identity
from cato_migrate.core.proc_identity import ProcessIdentity
from cato_migrate.core.state import AuditEntry, LockLease
from cato_migrate.errors import BadInput, Locked, Unverified
from cato_migrate.ports import Clock, StateStore

LEASE_ID_CHARS = 8  # how much of a lease's token `lock status` shows and `lock release --lease` takes


def fmt_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def lease_id(lease: LockLease) -> str:
    return lease.token[:LEASE_ID_CHARS]


def describe_holder(lease: LockLease) -> str:
    return f"{lease.holder} (pid {lease.pid} on {lease.host})"


class LeaseKeeper:
    # Bounds on the lease this process declares. Unit tests lower _min_ttl (a subclass) to stay fast.
    _min_ttl = 10.0
    _max_ttl = 3600.0

    def __init__(self, store: StateStore, clock: Clock, *, env: str, actor: str, command: str,
                 ttl: float, host: str | None = None, pid: int | None = None,
                 identity: ProcessIdentity | None = None, progress: Callable[[str], None] | None = None):
        if not self._min_ttl <= ttl <= self._max_ttl:
            raise BadInput(f"the lock's lease must be {self._min_ttl:g} s to {self._max_ttl:g} s long, "
                           f"not {ttl:g} s; nothing was changed",
                           hint="set lock_ttl_seconds (CATO_LOCK_TTL_SECONDS) between 10 and 3600")
        self.store, self.clock, self.env, self.actor = store, clock, env, actor
        self.command, self.ttl = command, ttl
        self.me = identity or proc_identity.current(host=host, pid=pid)
        self.progress = progress or (lambda message: None)
        self.lease: LockLease | None = None
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._valid_until = 0.0  # monotonic: past it, a contender may have taken over unseen

    # ---- acquiring -----------------------------------------------------------------------

    def _fresh(self) -> LockLease:
        now = self.clock.now()
        me = self.me
        return LockLease(env=self.env, token=uuid.uuid4().hex, holder=self.actor, command=self.command,
                         host=me.host, pid=me.pid, started=now, heartbeat=now, expires=now + self.ttl,
                         rvn=uuid.uuid4().hex, ttl=self.ttl, boot_id=me.boot_id, pid_ns=me.pid_ns,
                         proc_start=me.start)

    def acquire(self, *, preempt: bool = False, reason: str = "", wait: bool = True) -> LockLease:
        """Take the lock. `preempt` takes it at once (rollback). A holder that renews, or whose last
        renewal looks recent, means Locked; `wait` lets this call watch one that looks lapsed (or whose
        clock disagrees with ours) for its declared lease duration, and take it over if it stays still."""
        lease = self._fresh()
        if preempt:
            sent = self.clock.monotonic()
            prev = self.store.acquire_lock(lease, preempt=True).previous
            return self._won(lease, sent, prev, "preempted" if prev else "", reason)
        observed = self.store.read_lock(self.env)
        watch: tuple[LockLease, float] | None = None  # the version watched, since when (monotonic)
        while True:
            why = ""
            if observed is not None:
                why = proc_identity.why_gone(observed, self.me) or self._lapsed(observed, watch)
                if not why:
                    watch = self._watch(observed, watch, wait)
                    observed = self.store.read_lock(self.env)
                    continue
            sent = self.clock.monotonic()
            result = self.store.acquire_lock(lease, replace=observed)
            if result.acquired:
                # an ambiguous retry does not know what it replaced; we know what we watched
                return self._won(lease, sent, result.previous or observed, why, reason)
            observed = result.previous or self.store.read_lock(self.env)

    def _lapsed(self, observed: LockLease, watch: tuple[LockLease, float] | None) -> str:
        if watch is None or observed.version != watch[0].version:
            return ""
        waited = self.clock.monotonic() - watch[1]
        if waited < observed.declared_ttl:
            return ""
        return f"lease lapsed: no renewal in {waited:.1f} s (its lease is {observed.declared_ttl:g} s)"

    def _watch(self, observed: LockLease, watch: tuple[LockLease, float] | None,
               wait: bool) -> tuple[LockLease, float]:
        """Watch the lease's version for one poll; Locked as soon as the holder shows it is alive."""
        if watch is None:
            # The wall clock may only make us give up early, never take over: a heartbeat that looks
            # recent is a live holder (Locked now); one that looks old, or a clock that disagrees with
            # ours by more than a lease, is watched on our monotonic clock.
            age = self.clock.now() - observed.heartbeat
            if not wait or abs(age) < observed.declared_ttl:
                raise self._locked(observed, "")
            watch = (observed, self.clock.monotonic())
            self.progress(f"waiting up to {observed.declared_ttl:g}s for the lease of {describe_holder(observed)} "
                          f"to lapse (it is renewed every {observed.declared_ttl / 3:.3g}s while its command runs)")
        elif observed.version != watch[0].version:
            raise self._locked(observed, "it renewed its lease while this command waited, so it is alive"
                               if observed.token == watch[0].token else
                               "it took the lock while this command waited for the previous holder's lease to lapse")
        left = observed.declared_ttl - (self.clock.monotonic() - watch[1])
        self.clock.sleep(max(0.0, min(left, self._poll(observed))))
        return watch

    @staticmethod
    def _poll(seen: LockLease) -> float:
        # Often enough to see a renewal soon after it happens (renewals come every ttl/3).
        return max(0.005, min(seen.declared_ttl / 10, 2.0))

    def _locked(self, prev: LockLease, why: str) -> Locked:
        return Locked(
            f"the {self.env} lock is held by {describe_holder(prev)} since {fmt_time(prev.started)}, "
            f"running `{prev.command}`" + (f"; {why}" if why else ""),
            hint="wait for it to finish; if that process is gone, a later command takes it over once it has "
                 f"seen no renewal for {prev.declared_ttl:g} s, or now: cato-migrate lock release --force "
                 f"--lease {lease_id(prev)} --reason TEXT",
            details={"holder": prev.model_dump(), "lease_id": lease_id(prev)})

    def _won(self, lease: LockLease, sent: float, prev: LockLease | None, why: str, reason: str) -> LockLease:
        self.lease = lease
        self._valid_until = sent + self.ttl * 0.9
        if prev is not None and prev.token != lease.token and why:
            action = "lock.preempt" if why == "preempted" else "lock.takeover"
            self.store.append_audit(AuditEntry(
                env=self.env, at=self.clock.now(), actor=self.actor, action=action, target=f"lock:{self.env}",
                reason=reason or why,
                details={"previous_holder": prev.holder, "previous_command": prev.command,
                         "previous_host": prev.host, "previous_pid": prev.pid,
                         "previous_lease": lease_id(prev), "why": why, "by_command": self.command}))
        self._start_heartbeat(lease)
        return lease

    # ---- holding -------------------------------------------------------------------------

    def _start_heartbeat(self, held: LockLease) -> None:
        interval = self.ttl / 3

        def beat() -> None:
            lease = held
            while not self._stop.wait(interval):
                sent = self.clock.monotonic()
                now, rvn = self.clock.now(), uuid.uuid4().hex
                try:
                    renewed = self.store.renew_lock(self.env, lease.token, rvn=rvn, heartbeat=now,
                                                    expires=now + self.ttl)
                except Exception:  # a store hiccup: keep trying while no contender can have taken over
                    if self.clock.monotonic() < self._valid_until:
                        continue
                    renewed = False
                if not renewed:
                    self.lost.set()
                    return
                self._valid_until = sent + self.ttl * 0.9
                lease = lease.model_copy(update={"heartbeat": now, "expires": now + self.ttl, "rvn": rvn})
                self.lease = lease

        self._thread = threading.Thread(target=beat, name="cato-lock-heartbeat", daemon=True)
        self._thread.start()

    def ensure_held(self) -> None:
        """Raise if another command (a rollback) took the lock from us, or we could not renew it."""
        if not self.lost.is_set() and self.lease is not None and self.clock.monotonic() >= self._valid_until:
            self.lost.set()  # renewals failed for a whole lease: a contender may hold it now
        if self.lost.is_set():
            holder = self.store.read_lock(self.env)
            by = f" by {holder.holder} running `{holder.command}`" if holder and self._theirs(holder) else ""
            raise Unverified(f"the lock was taken over{by} while this command ran; it stopped here",
                             hint="run `cato-migrate status` to see where things stand before doing anything else")

    def _theirs(self, lease: LockLease) -> bool:
        return self.lease is None or lease.token != self.lease.token

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

    def __exit__(self, *exc: object) -> None:
        self.release()


def force_release(store: StateStore, env: str, wanted: str) -> LockLease | None:
    """Break the lease whose id (its token, or a prefix of it of at least 6 characters) is `wanted`.
    None when the lock is free. A different lease there is BadInput: nothing is changed."""
    wanted = wanted.strip()
    if len(wanted) < 6:
        raise lease_id_too_short(wanted)
    current = store.read_lock(env)
    if current is None:
        return None
    removed = store.release_lock(env, current.token) if current.token.startswith(wanted) else None
    if removed is None:
        now = store.read_lock(env)
        if now is None and current.token.startswith(wanted):
            return None  # released meanwhile by its holder
        raise not_that_lease(now, wanted)
    return removed


def lease_id_too_short(wanted: str) -> BadInput:
    return BadInput(f"--lease {wanted!r} is too short to name a lease (6 characters at least); nothing was changed",
                    hint="pass the lease id `cato-migrate lock status` shows")


def not_that_lease(now: LockLease | None, wanted: str) -> BadInput:
    is_now = f"{lease_id(now)} ({describe_holder(now)}, `{now.command}`)" if now else "free"
    return BadInput(f"the lease is now {is_now}, not {wanted}; nothing was changed",
                    hint="run `cato-migrate lock status` and check that process is really gone before "
                         "passing its lease id",
                    details={"lease": now.model_dump() if now else None})
