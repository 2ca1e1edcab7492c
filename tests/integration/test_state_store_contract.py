"""One contract for every StateStore: SQLite (a temp file) and DynamoDB (a real moto server over HTTP).

Each test gets a fresh SQLite file or a fresh DynamoDB table (uuid name), so nothing needs a reset.
`make_store()` opens another store instance on the same file/table, as a second process would.
"""
from __future__ import annotations

import subprocess
import sys
import threading
import uuid

import pytest

from cato_migrate.adapters.sqlite_store import SqliteStateStore
from cato_migrate.core.state import AuditEntry, JournalEntry, LockLease
from cato_migrate.errors import BadInput, ExternalError

pytestmark = pytest.mark.integration

REGION = "us-east-1"
NOW = 1_764_100_000.25


@pytest.fixture
def aws_env(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)


def _factory(request, tmp_path, server_fixture: str):
    if request.param == "sqlite":
        path = tmp_path / "state.db"
        return lambda: SqliteStateStore(path)
    request.getfixturevalue("aws_env")
    url = request.getfixturevalue(server_fixture)
    table = f"cato-state-{uuid.uuid4().hex}"
    from cato_migrate.adapters.dynamodb_store import DynamoStateStore
    DynamoStateStore(table, region=REGION, endpoint_url=url, create=True)  # `state init`
    return lambda: DynamoStateStore(table, region=REGION, endpoint_url=url)


@pytest.fixture(params=["sqlite", "dynamodb"])
def make_store(request, tmp_path):
    """Opens a store on this test's SQLite file / DynamoDB table (a fresh instance per call)."""
    return _factory(request, tmp_path, "moto_server")


@pytest.fixture(scope="module")
def serialized_moto_server():
    """A real moto server over HTTP (in-process, threaded) that handles one request at a time.

    DynamoDB applies each conditional write atomically per item; moto 5.2.5 does not: PutItem
    reads the item, evaluates the condition, then stores it, with no lock, in a threaded server.
    Against the plain `moto_server`, 4 of 300 eight-way acquire races had two winners. Handling
    one request at a time restores DynamoDB's per-item atomicity, so the race tests below test
    the store's use of conditional writes rather than moto's lack of locking.
    """
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    try:  # moto >= 5.2.5; older ones serve with werkzeug's own handler
        from moto.moto_server.werkzeug_app import MotoRequestHandler
        handler = {"request_handler": MotoRequestHandler}
    except ImportError:
        handler = {}

    app, lock = DomainDispatcherApplication(create_backend_app), threading.Lock()

    def one_at_a_time(environ, start_response):
        with lock:
            return list(app(environ, start_response))

    server = make_server("127.0.0.1", 0, one_at_a_time, threaded=True, **handler)
    thread = threading.Thread(target=server.serve_forever, name="serialized-moto", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(params=["sqlite", "dynamodb"])
def make_racing_store(request, tmp_path):
    return _factory(request, tmp_path, "serialized_moto_server")


@pytest.fixture
def store(make_store):
    return make_store()


def journal_entry(key: str, n: int, env: str = "prod", **kw) -> JournalEntry:
    return JournalEntry(env=env, key=key, event="finished", actor="alice@h1", at=NOW + n, run_id=f"run-{n}",
                        inputs={"percentage": 5, "ratio": 0.1 + 0.2, "nested": {"list": [1, 2.5, None]}},
                        evidence={"p99_ms": 812.337, "note": "naïve ✓"}, message=f"step {n}", **kw)


def audit_entry(n: int, env: str = "prod") -> AuditEntry:
    return AuditEntry(env=env, at=NOW + n, actor="alice@h1", action="canary.set", target="flag",
                      reason=f"reason {n}", details={"n": n, "pct": n * 1.5})


def lease(token: str, *, env: str = "prod", expires: float = NOW + 60, holder: str = "alice@h1",
          rvn: str | None = None) -> LockLease:
    return LockLease(env=env, token=token, holder=holder, command="cato-migrate canary set 5",
                     host="h1", pid=4242, started=NOW - 0.125, heartbeat=NOW - 0.125, expires=expires,
                     rvn=f"rvn-{token}" if rvn is None else rvn, ttl=60.0, boot_id="boot-1", pid_ns=4026531836,
                     proc_start=987654)


# ---- journal and audit ---------------------------------------------------------------------------

def test_journal_append_order_roundtrip_and_key_filter(store):
    keys = ["a", "b", "a", "c", "a", "b"]
    written = [store.append_journal(journal_entry(k, i)) for i, k in enumerate(keys)]
    seqs = [e.seq for e in written]
    assert all(s > 0 for s in seqs) and seqs == sorted(seqs) and len(set(seqs)) == len(seqs)

    got = store.journal("prod")
    assert got == written  # order, seq and every field (floats, nested dicts, unicode) round-trip
    assert got[1].inputs["ratio"] == 0.1 + 0.2 and got[0].evidence["note"] == "naïve ✓"
    assert store.journal("prod", "a") == [written[0], written[2], written[4]]
    assert store.journal("prod", "b") == [written[1], written[5]]
    assert store.journal("prod", "missing") == []
    assert store.journal("nowhere") == []


def test_journal_order_survives_a_new_store_instance(make_store):
    first, second = make_store(), make_store()
    a = first.append_journal(journal_entry("x", 1))
    b = second.append_journal(journal_entry("x", 2))
    c = first.append_journal(journal_entry("x", 3))
    assert a.seq < b.seq < c.seq
    assert make_store().journal("prod") == [a, b, c]


def test_env_isolation(store):
    store.append_journal(journal_entry("a", 1, env="prod"))
    store.append_journal(journal_entry("a", 2, env="prod-eu"))
    store.append_audit(audit_entry(1, env="prod"))
    assert [e.env for e in store.journal("prod")] == ["prod"]
    assert [e.env for e in store.journal("prod-eu")] == ["prod-eu"]
    assert store.journal("staging") == [] and store.audit("staging") == []
    assert [e.env for e in store.audit("prod")] == ["prod"]

    assert store.acquire_lock(lease("p", env="prod")).acquired
    assert store.read_lock("staging") is None
    staging = store.acquire_lock(lease("s", env="staging"))
    assert staging.acquired and staging.previous is None
    assert store.read_lock("prod").token == "p" and store.read_lock("staging").token == "s"
    assert store.release_lock("staging", "s").token == "s"
    assert store.read_lock("prod").token == "p"


def test_audit_order_and_limit(store):
    written = [store.append_audit(audit_entry(i)) for i in range(7)]
    assert [e.seq for e in written] == sorted(e.seq for e in written)
    assert store.audit("prod") == written
    assert store.audit("prod", limit=3) == written[-3:]  # the most recent 3, oldest first
    assert store.audit("prod", limit=1) == written[-1:]
    assert store.audit("prod", limit=100) == written
    assert store.audit("prod", limit=0) == []


# ---- lock ----------------------------------------------------------------------------------------

def test_acquire_free_lock(store):
    mine = lease("t1")
    res = store.acquire_lock(mine)
    assert res.acquired and res.lease == mine and res.previous is None
    assert store.read_lock("prod") == mine


def test_second_acquire_refused_names_the_holder(make_store):
    a, b = make_store(), make_store()
    first = lease("t1", holder="alice@h1")
    assert a.acquire_lock(first).acquired
    res = b.acquire_lock(lease("t2", holder="bob@h2"))
    assert not res.acquired and res.lease is None
    assert res.previous == first and res.previous.holder == "alice@h1"
    assert b.read_lock("prod") == first
    # the holder itself re-acquiring with a new token is refused too
    assert not a.acquire_lock(lease("t3")).acquired


def test_no_wall_clock_is_compared(store):
    # a lease whose `expires` is long past (by any clock) is still held: only a watched rvn decides
    old = lease("old", expires=NOW - 86_400)
    assert store.acquire_lock(old).acquired
    refused = store.acquire_lock(lease("new"))
    assert not refused.acquired and refused.previous == old
    assert store.read_lock("prod") == old


def test_takeover_replaces_only_the_version_watched(store):
    held = lease("held")
    assert store.acquire_lock(held).acquired
    watched = store.read_lock("prod")
    assert store.renew_lock("prod", "held", rvn="rvn-2", heartbeat=NOW + 20, expires=NOW + 80)
    # the holder renewed since it was watched: it is alive, the takeover is refused
    refused = store.acquire_lock(lease("new"), replace=watched)
    assert not refused.acquired and refused.previous.rvn == "rvn-2"
    assert not store.acquire_lock(lease("new"), replace=lease("other")).acquired
    res = store.acquire_lock(lease("new"), replace=refused.previous)
    assert res.acquired and res.previous == refused.previous
    assert store.read_lock("prod").token == "new"


def test_takeover_of_a_record_from_before_rvn(store):
    # records written before rvn existed carry none; their heartbeat identifies the version
    old = lease("old", rvn="")
    assert store.acquire_lock(old).acquired
    assert store.read_lock("prod") == old
    moved = old.model_copy(update={"heartbeat": NOW + 1})
    assert not store.acquire_lock(lease("new"), replace=moved).acquired
    res = store.acquire_lock(lease("new"), replace=old)
    assert res.acquired and res.previous == old


def test_acquiring_again_with_the_same_token_is_acquired(store):
    # what an ambiguous retry sees: its first try wrote the lease
    mine = lease("mine")
    assert store.acquire_lock(mine).acquired
    again = store.acquire_lock(mine)
    assert again.acquired and again.lease == mine
    assert store.read_lock("prod") == mine


def test_preempt(store):
    held = lease("held")
    assert store.acquire_lock(held).acquired
    res = store.acquire_lock(lease("rollback", holder="oncall@h9"), preempt=True)
    assert res.acquired and res.previous == held
    assert store.read_lock("prod").holder == "oncall@h9"
    # preempt on a free lock: acquired, nothing previous
    assert store.release_lock("prod", None) is not None
    res = store.acquire_lock(lease("again"), preempt=True)
    assert res.acquired and res.previous is None


def test_renew_only_by_token_holder(store):
    assert store.renew_lock("prod", "t1", rvn="r", heartbeat=NOW, expires=NOW + 30) is False  # nothing to renew
    held = lease("t1")
    assert store.acquire_lock(held).acquired
    assert store.renew_lock("prod", "intruder", rvn="r", heartbeat=NOW + 1, expires=NOW + 999) is False
    assert store.read_lock("prod") == held
    assert store.renew_lock("prod", "t1", rvn="rvn-b", heartbeat=NOW + 10.5, expires=NOW + 70.75) is True
    assert store.read_lock("prod") == held.model_copy(update={"rvn": "rvn-b", "heartbeat": NOW + 10.5,
                                                              "expires": NOW + 70.75})
    # a preempted holder can no longer renew
    assert store.acquire_lock(lease("t2"), preempt=True).acquired
    assert store.renew_lock("prod", "t1", rvn="r", heartbeat=NOW + 20, expires=NOW + 80) is False
    assert store.read_lock("prod").token == "t2"


def test_release_by_token(store):
    held = lease("t1")
    assert store.acquire_lock(held).acquired
    assert store.release_lock("prod", "t1") == held
    assert store.read_lock("prod") is None
    assert store.release_lock("prod", "t1") is None
    assert store.acquire_lock(lease("t2")).acquired


def test_forced_release(store):
    assert store.release_lock("prod", None) is None
    held = lease("t1")
    assert store.acquire_lock(held).acquired
    assert store.release_lock("prod", None) == held
    assert store.read_lock("prod") is None


def test_release_of_someone_elses_token_refused(store):
    held = lease("t1")
    assert store.acquire_lock(held).acquired
    assert store.release_lock("prod", "t2") is None
    assert store.read_lock("prod") == held


# ---- concurrency ---------------------------------------------------------------------------------

def _race(n: int, fn):
    barrier = threading.Barrier(n)
    results: list = [None] * n
    errors: list = []

    def run(i: int) -> None:
        try:
            results[i] = fn(i, barrier)
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    return results


def test_racing_acquires_exactly_one_wins(make_racing_store):
    n = 8
    # Each thread has its own store. The first creates the file/table; the other 7 open it at once.
    # (Opening a *fresh* SQLite file from several threads at once sometimes fails with "database is
    # locked" in SqliteStateStore.__init__; concurrent table creation on DynamoDB is tested below.)
    stores = [make_racing_store(), *_race(n - 1, lambda i, barrier: make_racing_store())]
    for round_ in range(6):
        env = f"race-{round_}"

        def acquire(i, barrier):
            barrier.wait(timeout=60)
            return stores[i].acquire_lock(lease(f"tok-{round_}-{i}", env=env, holder=f"user{i}@h"))

        results = _race(n, acquire)
        winners = [r for r in results if r.acquired]
        assert len(winners) == 1, (round_, [r.lease.token for r in winners])
        winner = winners[0].lease
        assert winners[0].previous is None
        assert all(r.previous == winner for r in results if not r.acquired)
        assert stores[0].read_lock(env) == winner


def test_racing_takeover_of_a_watched_lease_has_one_winner(make_racing_store):
    n = 8
    stores = [make_racing_store() for _ in range(n)]
    for round_ in range(4):
        env = f"lapsed-{round_}"
        stale = lease(f"stale-{round_}", env=env)
        assert stores[0].acquire_lock(stale).acquired

        def acquire(i, barrier):
            barrier.wait(timeout=60)
            return stores[i].acquire_lock(lease(f"tok-{round_}-{i}", env=env), replace=stale)

        results = _race(n, acquire)
        winners = [r for r in results if r.acquired]
        assert len(winners) == 1, (round_, [r.lease.token for r in winners])
        assert winners[0].previous == stale
        assert all(r.previous == winners[0].lease for r in results if not r.acquired)


def test_concurrent_appends_keep_unique_seqs_and_per_writer_order(make_racing_store):
    n, per = 4, 5
    stores = [make_racing_store() for _ in range(n)]

    def append(i, barrier):
        barrier.wait(timeout=60)
        out = [stores[i].append_journal(journal_entry(f"w{i}", j)) for j in range(per)]
        out.append(stores[i].append_audit(audit_entry(i)))
        return out

    written = _race(n, append)
    journal = stores[0].journal("prod")
    assert len(journal) == n * per and len({e.seq for e in journal}) == n * per
    assert [e.seq for e in journal] == sorted(e.seq for e in journal)
    for i in range(n):
        assert stores[0].journal("prod", f"w{i}") == written[i][:per]
    assert len(stores[0].audit("prod")) == n


# ---- DynamoDB-specific -----------------------------------------------------------------------------

def test_dynamodb_missing_table_is_bad_input_naming_state_init(aws_env, moto_server):
    from cato_migrate.adapters.dynamodb_store import DynamoStateStore

    table = f"cato-missing-{uuid.uuid4().hex}"
    with pytest.raises(BadInput) as exc:
        DynamoStateStore(table, region=REGION, endpoint_url=moto_server)  # never created on use
    assert exc.value.exit_code == 2
    assert f"{table} does not exist in region {REGION}" in exc.value.message
    assert "cato-migrate state init" in exc.value.message and "nothing was changed" in exc.value.message
    with pytest.raises(BadInput):
        DynamoStateStore(table, region=REGION, endpoint_url=moto_server)  # still not: no side effect
    made = DynamoStateStore(table, region=REGION, endpoint_url=moto_server, create=True)
    assert made.describe()["created"] is True and made.describe()["status"] == "ACTIVE"
    again = DynamoStateStore(table, region=REGION, endpoint_url=moto_server, create=True)
    assert again.describe()["created"] is False and again.describe()["status"] == "ACTIVE"
    DynamoStateStore(table, region=REGION, endpoint_url=moto_server)  # now it is there


def test_sqlite_init_is_idempotent(tmp_path):
    assert SqliteStateStore(tmp_path / "s" / "state.db").describe()["created"] is True
    assert SqliteStateStore(tmp_path / "s" / "state.db").describe()["created"] is False


def test_dynamodb_concurrent_create_of_one_table(aws_env, moto_server):
    from cato_migrate.adapters.dynamodb_store import DynamoStateStore

    table = f"cato-state-{uuid.uuid4().hex}"

    def open_store(i, barrier):
        barrier.wait(timeout=60)
        return DynamoStateStore(table, region=REGION, endpoint_url=moto_server, create=True)

    stores = _race(6, open_store)
    stores[0].append_journal(journal_entry("a", 1))
    assert [e.key for e in stores[-1].journal("prod")] == ["a"]


def test_dynamodb_ambiguous_retry_of_an_acquire_that_had_succeeded(aws_env, moto_server, monkeypatch):
    """The first PutItem is applied but its answer is lost; botocore retries it, and the retry's
    condition fails against our own lease. That is an acquire, not a refusal."""
    from cato_migrate.adapters.dynamodb_store import DynamoStateStore

    store = DynamoStateStore(f"cato-state-{uuid.uuid4().hex}", region=REGION, endpoint_url=moto_server, create=True)
    real_put = store._client.put_item

    def lost_answer_then_retry(**kw):
        real_put(**kw)          # applied; the answer never arrives
        return real_put(**kw)   # the retry: ConditionalCheckFailed against our own lease

    stale = lease("stale")
    assert store.acquire_lock(stale).acquired
    monkeypatch.setattr(store._client, "put_item", lost_answer_then_retry)
    mine = lease("mine")
    res = store.acquire_lock(mine, replace=stale)
    assert res.acquired and res.lease == mine and res.previous is None
    assert store.read_lock("prod") == mine
    assert not store.acquire_lock(lease("theirs"), replace=stale).acquired  # a real refusal stays one


def test_dynamodb_store_time_is_the_servers(aws_env, moto_server):
    import time

    from cato_migrate.adapters.dynamodb_store import DynamoStateStore

    store = DynamoStateStore(f"cato-state-{uuid.uuid4().hex}", region=REGION, endpoint_url=moto_server, create=True)
    store.read_lock("prod")
    assert store._server_time is not None and abs(store.store_time() - time.time()) < 600


def test_dynamodb_errors_after_retries_are_external(aws_env, moto_server, monkeypatch):
    from botocore.exceptions import ClientError, EndpointConnectionError

    from cato_migrate.adapters.dynamodb_store import DynamoStateStore

    store = DynamoStateStore(f"cato-state-{uuid.uuid4().hex}", region=REGION, endpoint_url=moto_server, create=True)

    def throttled(**_kw):
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "PutItem")

    monkeypatch.setattr(store._client, "put_item", throttled)
    with pytest.raises(ExternalError) as exc:
        store.acquire_lock(lease("t1"))
    assert store.table in exc.value.message and REGION in exc.value.message
    assert "ThrottlingException" in exc.value.message and exc.value.hint

    def unreachable(**_kw):
        raise EndpointConnectionError(endpoint_url=moto_server)

    monkeypatch.setattr(store._client, "get_item", unreachable)
    with pytest.raises(ExternalError) as exc:
        store.read_lock("prod")
    assert store.table in exc.value.message and "network" in exc.value.hint


def test_dynamodb_store_module_does_not_import_boto3():
    code = ("import sys, cato_migrate.adapters.dynamodb_store; "
            "sys.exit(1 if 'boto3' in sys.modules or 'botocore' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
