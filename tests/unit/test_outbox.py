"""The notification outbox: backoff, scheduled rows, cancel, and concurrent flushes delivering once."""
import threading

import pytest

from cato_migrate.adapters.outbox import SqliteOutbox
from cato_migrate.core.notify import MAX_ATTEMPTS, backoff_seconds, flush, row_state
from cato_migrate.core.notify_events import NotifyEvent
from cato_migrate.errors import ExternalError

T0 = 1_800_000_000.0


def _ev(i: int, env: str = "local", **kw) -> NotifyEvent:
    return NotifyEvent(id=f"e{i}", event="canary.finished", env=env, at=T0 + i, actor="a", summary=f"event {i}", **kw)


class Clock:
    def __init__(self):
        self.t = T0 + 100

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def outbox(tmp_path):
    ob = SqliteOutbox(tmp_path / "outbox.db")
    yield ob
    ob.close()


def test_backoff_doubles_and_is_capped():
    assert [backoff_seconds(n) for n in (1, 2, 3)] == [30, 60, 120]
    assert backoff_seconds(50) == 3600


def test_enqueue_is_one_row_per_event_and_channel_and_idempotent(outbox):
    assert outbox.enqueue([_ev(1), _ev(2)], ["slack", "webhook"]) == 4
    assert outbox.enqueue([_ev(1)], ["slack"]) == 0  # same event id: nothing new
    assert outbox.counts("local", T0 + 100)["pending"] == 4
    assert outbox.counts("staging", T0 + 100)["pending"] == 0  # per environment


def test_delivery_in_order_then_nothing_left(outbox):
    outbox.enqueue([_ev(1), _ev(2)], ["slack"])
    got = []
    report = flush(outbox, {"slack": lambda ev: got.append(ev.id)}, env="local", now=Clock(), lease_seconds=10)
    assert got == ["e1", "e2"] and report.delivered == 2
    assert report.counts["delivered"] == 2 and report.counts["pending"] == 0
    again = flush(outbox, {"slack": lambda ev: got.append(ev.id)}, env="local", now=Clock(), lease_seconds=10)
    assert again.delivered == 0 and got == ["e1", "e2"]


def test_a_down_receiver_backs_off_and_a_later_flush_delivers(outbox):
    outbox.enqueue([_ev(1), _ev(2)], ["slack"])
    clock = Clock()
    calls = []

    def down(ev):
        calls.append(ev.id)
        raise ExternalError("https://hooks.slack.com/…/abcd unreachable: Connection refused")

    report = flush(outbox, {"slack": down}, env="local", now=clock, lease_seconds=10)
    assert calls == ["e1"]  # the channel is left alone for the rest of this flush
    assert report.delivered == 0 and report.retried == 1 and report.errors[0]["attempts"] == 1
    [r2, r1] = outbox.rows("local")
    assert r1.attempts == 1 and r1.next_attempt_at == clock.t + 30 and "refused" in r1.last_error
    assert row_state(r1, clock.t) == "retrying" and row_state(r2, clock.t) == "pending"
    # before the backoff is over, e1 is not tried again (e2 is, and fails again)
    clock.t += 10
    flush(outbox, {"slack": down}, env="local", now=clock, lease_seconds=10)
    assert calls == ["e1", "e2"]
    clock.t += 25  # e1 due again: its second failure waits twice as long
    flush(outbox, {"slack": down}, env="local", now=clock, lease_seconds=10)
    r1 = outbox.rows("local")[-1]
    assert r1.attempts == 2 and r1.next_attempt_at == clock.t + 60
    clock.t += 3600
    got = []
    report = flush(outbox, {"slack": lambda ev: got.append(ev.id)}, env="local", now=clock, lease_seconds=10)
    assert sorted(got) == ["e1", "e2"] and report.counts["delivered"] == 2 and report.counts["pending"] == 0


def test_gives_up_after_max_attempts_and_retry_now_revives(outbox):
    outbox.enqueue([_ev(1)], ["webhook"])
    clock = Clock()

    def down(ev):
        raise ExternalError("HTTP 500")

    for _ in range(MAX_ATTEMPTS):
        flush(outbox, {"webhook": down}, env="local", now=clock, lease_seconds=10)
        clock.t += 4000
    [row] = outbox.rows("local")
    assert row.attempts == MAX_ATTEMPTS and row_state(row, clock.t) == "failed"
    assert outbox.counts("local", clock.t)["failed"] == 1
    assert outbox.retry_now("local", clock.t) == 1
    got = []
    flush(outbox, {"webhook": lambda ev: got.append(ev.id)}, env="local", now=clock, lease_seconds=10)
    assert got == ["e1"]


def test_scheduled_row_waits_for_its_time_and_can_be_canceled(outbox):
    outbox.enqueue([_ev(1, not_before=T0 + 1000)], ["slack"])
    clock = Clock()
    got = []
    flush(outbox, {"slack": lambda ev: got.append(ev.id)}, env="local", now=clock, lease_seconds=10)
    assert got == [] and outbox.counts("local", clock.t)["scheduled"] == 1 and not outbox.has_due("local", clock.t)
    assert outbox.retry_now("local", clock.t) == 0  # --now never sends a reminder early
    clock.t = T0 + 1000
    flush(outbox, {"slack": lambda ev: got.append(ev.id)}, env="local", now=clock, lease_seconds=10)
    assert got == ["e1"]
    outbox.enqueue([_ev(2, not_before=T0 + 5000)], ["slack"])
    assert outbox.cancel("local", "canary.finished") == 1  # only the never-tried, undelivered one
    assert outbox.counts("local", clock.t)["canceled"] == 1 and outbox.counts("local", clock.t)["delivered"] == 1


def test_a_claim_is_a_lease_a_dead_flusher_frees(outbox):
    outbox.enqueue([_ev(1)], ["slack"])
    row = outbox.claim("local", "slack", T0 + 100, 10, "dead-flusher")
    assert row is not None and outbox.claim("local", "slack", T0 + 105, 10, "other") is None
    assert outbox.claim("local", "slack", T0 + 111, 10, "other").id == row.id
    assert not outbox.mark_delivered(row.id, "dead-flusher", T0 + 112)  # its lease is gone


def test_concurrent_flushes_deliver_each_row_once(tmp_path):
    path = tmp_path / "outbox.db"
    seed = SqliteOutbox(path)
    seed.enqueue([_ev(i) for i in range(60)], ["slack", "webhook"])
    delivered, lock = [], threading.Lock()
    start = threading.Barrier(4)

    def send(channel):
        def _send(ev):
            with lock:
                delivered.append((channel, ev.id))
        return _send

    def worker():
        ob = SqliteOutbox(path)  # its own connection, as a second process would have
        start.wait()
        flush(ob, {"slack": send("slack"), "webhook": send("webhook")}, env="local", now=Clock(), lease_seconds=30)
        ob.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(delivered) == 120 and len(set(delivered)) == 120
    assert seed.counts("local", T0 + 100)["delivered"] == 120
    seed.close()
