import subprocess

import pytest

from cato_migrate.adapters.sqlite_store import SqliteStateStore
from cato_migrate.core.lock import LeaseKeeper
from cato_migrate.errors import Locked, Unverified
from tests.fakes import FakeClock


@pytest.fixture
def store(tmp_path):
    return SqliteStateStore(tmp_path / "state.db")


def keeper(store, clock, command, **kw):
    return LeaseKeeper(store, clock, env="local", actor="alice@h", command=command, ttl=60, **kw)


def test_second_holder_fails_fast_naming_the_holder(store):
    clock = FakeClock()
    a = keeper(store, clock, "cato-migrate phase run 4")
    a.acquire()
    with pytest.raises(Locked) as e:
        keeper(store, clock, "cato-migrate canary set 10").acquire()
    assert e.value.exit_code == 3
    assert "alice@h" in e.value.message and "phase run 4" in e.value.message
    a.release()
    assert store.read_lock("local") is None


def test_expired_lease_is_taken_over_and_audited(store):
    clock = FakeClock()
    keeper(store, clock, "old", host="elsewhere", pid=1).acquire()
    clock.t += 61
    b = keeper(store, clock, "new")
    b.acquire()
    audit = store.audit("local")
    assert audit[-1].action == "lock.takeover" and audit[-1].details["why"] == "lease expired"
    b.release()


def test_dead_local_holder_is_taken_over(store):
    clock = FakeClock()
    p = subprocess.Popen(["true"])
    p.wait()
    keeper(store, clock, "crashed", pid=p.pid).acquire()
    b = keeper(store, clock, "new")
    b.acquire()
    assert store.audit("local")[-1].details["why"] == "holder process is gone"
    b.release()


def test_preempt_is_audited_and_the_old_holder_notices(store):
    clock = FakeClock()
    a = LeaseKeeper(store, clock, env="local", actor="a@h", command="canary set 50", ttl=0.3)
    a.acquire()
    r = LeaseKeeper(store, clock, env="local", actor="b@h", command="rollback --quick", ttl=60)
    r.acquire(preempt=True, reason="error rate")
    entry = store.audit("local")[-1]
    assert entry.action == "lock.preempt" and entry.details["previous_command"] == "canary set 50"
    assert a.lost.wait(2)
    with pytest.raises(Unverified):
        a.ensure_held()
    a.release()
    assert store.read_lock("local").command == "rollback --quick"
    r.release()


def test_heartbeat_thread_and_main_thread_share_the_store_safely(store):
    import time as _time

    from cato_migrate.core.clock import SystemClock
    from cato_migrate.core.state import JournalEntry

    k = LeaseKeeper(store, SystemClock(), env="local", actor="a@h", command="phase run 4", ttl=0.15)
    k.acquire()
    deadline = _time.monotonic() + 1.0
    n = 0
    while _time.monotonic() < deadline:
        store.append_journal(JournalEntry(env="local", key="k", event="started", actor="a", at=0.0))
        n += 1
    assert not k.lost.is_set()
    assert k._thread.is_alive()
    k.ensure_held()
    assert store.read_lock("local").expires > SystemClock().now()
    k.release()
    assert len(store.journal("local")) == n
