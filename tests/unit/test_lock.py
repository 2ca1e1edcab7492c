import os
import subprocess
import threading
import time
import uuid

import pytest

from cato_migrate.adapters.sqlite_store import SqliteStateStore
from cato_migrate.core import proc_identity
from cato_migrate.core.lock import LeaseKeeper, force_release, lease_id
from cato_migrate.core.proc_identity import ProcessIdentity
from cato_migrate.errors import BadInput, Locked, Unverified
from tests.fakes import FakeClock


class FastKeeper(LeaseKeeper):
    _min_ttl = 0.01  # the unit-test escape: leases of a fraction of a second


class SkewedClock:
    """This host's real monotonic clock, and a wall clock `skew` seconds off."""

    def __init__(self, skew: float):
        self.skew = skew

    def now(self) -> float:
        return time.time() + self.skew

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


ME = proc_identity.current()
ELSEWHERE = ProcessIdentity(host="elsewhere", pid=4242, start=77, boot_id="b-other", pid_ns=1)


@pytest.fixture
def store(tmp_path):
    return SqliteStateStore(tmp_path / "state.db")


def keeper(store, clock, command, ttl=60, **kw):
    return LeaseKeeper(store, clock, env="local", actor="alice@h", command=command, ttl=ttl, **kw)


def crash(k: LeaseKeeper) -> None:
    """The holder stops renewing and never releases (its process died)."""
    k._stop.set()
    if k._thread:
        k._thread.join(timeout=5)


def test_ttl_is_bounded_10_s_to_1_h(store):
    for bad in (5, 3601):
        with pytest.raises(BadInput) as e:
            keeper(store, FakeClock(), "x", ttl=bad)
        assert e.value.exit_code == 2 and "10" in e.value.hint
    keeper(store, FakeClock(), "x", ttl=10)
    keeper(store, FakeClock(), "x", ttl=3600)


def test_second_holder_fails_fast_naming_the_holder(store):
    clock = FakeClock()
    a = keeper(store, clock, "cato-migrate phase run 4")
    held = a.acquire()
    said = []
    with pytest.raises(Locked) as e:  # a heartbeat that looks recent: no watching, no waiting
        keeper(store, clock, "cato-migrate canary set 10", progress=said.append).acquire()
    assert clock.monotonic() == held.started and said == []
    assert e.value.exit_code == 3
    assert "alice@h" in e.value.message and "phase run 4" in e.value.message
    assert f"--lease {lease_id(held)}" in e.value.hint
    a.release()
    assert store.read_lock("local") is None


def test_every_write_of_the_lease_sets_a_fresh_rvn_and_declares_its_ttl(store):
    a = FastKeeper(store, SkewedClock(0), env="local", actor="a@h", command="x", ttl=0.06)
    first = a.acquire()
    assert first.rvn and first.ttl == 0.06 and first.boot_id == ME.boot_id and first.pid_ns == ME.pid_ns
    assert first.proc_start == ME.start
    seen = {first.rvn}
    deadline = time.monotonic() + 5
    while len(seen) < 3 and time.monotonic() < deadline:
        seen.add(store.read_lock("local").rvn)
        time.sleep(0.005)
    assert len(seen) >= 3  # renewals came, each with its own rvn
    assert store.read_lock("local").token == first.token
    a.release()


class RenewsWhileWatched:
    """A live holder: it renews (a fresh rvn) when the contender reads the lease the 3rd time."""

    def __init__(self, inner, holder: LeaseKeeper, on_read: int = 3):
        self.inner, self.holder, self.on_read, self.reads = inner, holder, on_read, 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def read_lock(self, env):
        self.reads += 1
        if self.reads == self.on_read:
            t = self.holder.clock.now()
            assert self.inner.renew_lock(env, self.holder.lease.token, rvn=uuid.uuid4().hex, heartbeat=t, expires=t + 60)
        return self.inner.read_lock(env)


def test_a_holder_seen_renewing_while_watched_is_alive(store):
    clock = FakeClock()
    a = keeper(store, clock, "phase run 4", identity=ELSEWHERE)
    a.acquire()
    clock.t += 61  # its heartbeat looks old by our clock (a skew, say): watched, not believed
    said = []
    b = keeper(RenewsWhileWatched(store, a), clock, "canary set 10", progress=said.append)
    with pytest.raises(Locked) as e:
        b.acquire()
    assert "alive" in e.value.message
    assert said == ["waiting up to 60s for the lease of alice@h (pid 4242 on elsewhere) to lapse "
                    "(it is renewed every 20s while its command runs)"]
    assert store.read_lock("local").token == a.lease.token
    a.release()


def test_a_lease_nobody_renews_is_taken_over_after_the_holders_declared_duration(store):
    clock = FakeClock()
    old = keeper(store, clock, "old", ttl=120, identity=ELSEWHERE)
    old.acquire()
    crash(old)
    clock.t += 121
    start = clock.monotonic()
    b = keeper(store, clock, "new", ttl=10)  # its own, shorter ttl does not matter: the holder's does
    b.acquire()
    assert clock.monotonic() - start >= 120
    entry = store.audit("local")[-1]
    assert entry.action == "lock.takeover" and entry.details["why"].startswith("lease lapsed")
    assert entry.details["previous_lease"] == lease_id(old.lease)
    b.release()


def test_dead_local_holder_is_taken_over_at_once(store):
    clock = FakeClock()
    p = subprocess.Popen(["true"])
    p.wait()
    dead = ProcessIdentity(host=ME.host, pid=p.pid, start=ME.start + 1, boot_id=ME.boot_id, pid_ns=ME.pid_ns)
    keeper(store, clock, "crashed", identity=dead).acquire()
    t0 = clock.monotonic()
    b = keeper(store, clock, "new")
    b.acquire(wait=False)
    assert clock.monotonic() == t0  # no waiting
    entry = store.audit("local")[-1]
    assert entry.action == "lock.takeover" and entry.details["why"].startswith("holder process is gone")
    b.release()


def test_a_reused_pid_is_a_dead_holder(store):
    clock = FakeClock()
    reused = ProcessIdentity(host=ME.host, pid=os.getpid(), start=ME.start + 12345, boot_id=ME.boot_id,
                             pid_ns=ME.pid_ns)
    keeper(store, clock, "crashed", identity=reused).acquire()
    b = keeper(store, clock, "new")
    b.acquire(wait=False)
    assert "is now another process" in store.audit("local")[-1].details["why"]
    b.release()


@pytest.mark.parametrize("other", [
    {"pid_ns": ME.pid_ns + 1},           # another container on this kernel, same hostname
    {"boot_id": "another-boot"},         # the host rebooted (or another kernel, same hostname)
    {"boot_id": "", "pid_ns": 0},        # a record from before these fields, or no /proc
])
def test_a_holder_we_cannot_judge_is_waited_for_never_taken_over_at_once(store, other):
    clock = FakeClock()
    p = subprocess.Popen(["true"])
    p.wait()
    fields = {"host": ME.host, "pid": p.pid, "start": 0, "boot_id": ME.boot_id, "pid_ns": ME.pid_ns, **other}
    holder = keeper(store, clock, "in a container", identity=ProcessIdentity(**fields))
    holder.acquire()
    crash(holder)
    clock.t += 61
    with pytest.raises(Locked):
        keeper(store, clock, "new").acquire(wait=False)
    t0 = clock.monotonic()
    b = keeper(store, clock, "new")
    b.acquire()
    assert clock.monotonic() - t0 >= 60
    assert store.audit("local")[-1].details["why"].startswith("lease lapsed")
    b.release()


def test_preempt_is_audited_and_the_old_holder_notices(store):
    clock = FakeClock()
    a = FastKeeper(store, clock, env="local", actor="a@h", command="canary set 50", ttl=0.3)
    a.acquire()
    r = LeaseKeeper(store, clock, env="local", actor="b@h", command="rollback --quick", ttl=60)
    r.acquire(preempt=True, reason="error rate")
    entry = store.audit("local")[-1]
    assert entry.action == "lock.preempt" and entry.details["previous_command"] == "canary set 50"
    assert a.lost.wait(2)
    with pytest.raises(Unverified):
        a.ensure_held()
    with pytest.raises(Unverified):
        a.fence("the next write")
    a.release()
    assert store.read_lock("local").command == "rollback --quick"
    r.release()


def test_a_holder_that_cannot_renew_for_a_whole_lease_stops(store):
    class Unreachable:
        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def renew_lock(self, *a, **kw):
            raise OSError("store unreachable")

    a = FastKeeper(Unreachable(store), SkewedClock(0), env="local", actor="a@h", command="x", ttl=0.15)
    a.acquire()
    assert a.lost.wait(5)
    with pytest.raises(Unverified):
        a.ensure_held()
    a.release()


# ---- clock skew: wall clocks 10 minutes apart, real monotonic clocks --------------------------------

@pytest.mark.parametrize("holder_skew,contender_skew", [(-600, +600), (+600, -600)])
def test_skewed_wall_clocks_never_let_two_hold(store, holder_skew, contender_skew):
    a = FastKeeper(store, SkewedClock(holder_skew), env="local", actor="a@h", command="phase run 4",
                   ttl=0.6, identity=ELSEWHERE)
    a.acquire()
    b = FastKeeper(store, SkewedClock(contender_skew), env="local", actor="b@h", command="canary set 10", ttl=0.1)
    with pytest.raises(Locked) as e:
        b.acquire()  # a live holder renews every 0.2 s: seen, so never taken over
    assert "alive" in e.value.message
    a.fence("a write")  # a still holds it
    crash(a)
    t0 = time.monotonic()
    b.acquire()  # a is gone: b takes over only after a's declared 0.6 s on b's own monotonic clock
    assert time.monotonic() - t0 >= 0.6
    with pytest.raises(Unverified):
        a.fence("a write")
    b.fence("b's write")
    b.release()


def test_contenders_racing_for_a_lapsed_lease_have_one_winner(store):
    gone = FastKeeper(store, SkewedClock(0), env="local", actor="gone@h", command="old", ttl=0.1,
                      identity=ELSEWHERE)
    gone.acquire()
    crash(gone)
    results: list = []
    keepers: list = []

    def contend(i):
        k = FastKeeper(SqliteStateStore(store.path), SkewedClock(60 * (i + 1) * (-1) ** i), env="local", actor=f"u{i}@h",
                       command=f"c{i}", ttl=5)
        keepers.append(k)
        try:
            results.append(k.acquire().token)
        except Locked:
            results.append(None)

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    winners = [t for t in results if t]
    assert len(results) == 4 and len(winners) == 1
    assert store.read_lock("local").token == winners[0]
    for k in keepers:
        k.release()


# ---- force release -----------------------------------------------------------------------------------

def test_force_release_needs_the_lease_id_it_breaks(store):
    clock = FakeClock()
    held = keeper(store, clock, "phase run 4", identity=ELSEWHERE).acquire()
    with pytest.raises(BadInput) as e:
        force_release(store, "local", "0123456789")
    assert e.value.message.startswith(f"the lease is now {lease_id(held)} (") and "not 0123456789" in e.value.message
    assert "nothing was changed" in e.value.message
    with pytest.raises(BadInput):
        force_release(store, "local", held.token[:3])  # too short to name one
    assert store.read_lock("local").token == held.token
    assert force_release(store, "local", lease_id(held)).token == held.token
    assert store.read_lock("local") is None
    assert force_release(store, "local", lease_id(held)) is None  # already free


def test_heartbeat_thread_and_main_thread_share_the_store_safely(store):
    from cato_migrate.core.clock import SystemClock
    from cato_migrate.core.state import JournalEntry

    k = FastKeeper(store, SystemClock(), env="local", actor="a@h", command="phase run 4", ttl=0.6)
    k.acquire()
    deadline = time.monotonic() + 1.0
    n = 0
    while time.monotonic() < deadline:
        store.append_journal(JournalEntry(env="local", key="k", event="started", actor="a", at=0.0))
        n += 1
    assert not k.lost.is_set()
    assert k._thread.is_alive()
    k.ensure_held()
    assert store.read_lock("local").token == k.lease.token and k.lease.rvn
    k.release()
    assert len(store.journal("local")) == n


def test_process_identity_reads_proc():
    if not ME.boot_id:
        pytest.skip("no /proc here")
    assert ME.start > 0 and ME.pid_ns > 0
    assert proc_identity.start_time(os.getpid()) == ME.start
    assert proc_identity.start_time(2 ** 22 + 7) == 0


def test_release_lock_operation_looks_first_and_audits_what_it_broke(store):
    # `lock release` as an operation: the look refuses a wrong lease (nothing changed) and finds a
    # free lock done; the run breaks that one lease, audits it, and reads the lock back free.
    from cato_migrate.core.lock_release import ReleaseLock, release_lock
    from tests.fakes import make_ctx

    ctx = make_ctx(store)
    assert ReleaseLock("0123456789", "gone").look(ctx).already  # free
    assert release_lock(ctx, "0123456789", "gone") is None
    held = keeper(store, FakeClock(), "phase run 2", identity=ELSEWHERE).acquire()
    refusal = ReleaseLock("0123456789", "gone").look(ctx).refusal
    assert isinstance(refusal, BadInput) and "nothing was changed" in refusal.message
    with pytest.raises(BadInput):
        release_lock(ctx, "0123456789", "gone")
    assert store.read_lock("local").token == held.token
    assert release_lock(ctx, lease_id(held), "laptop died").token == held.token
    assert store.read_lock("local") is None
    audit = [a for a in store.audit("local", 10) if a.action == "lock.force_release"]
    assert len(audit) == 1 and audit[0].reason == "laptop died"
