"""Which entries become notifications, and what the channels receive. Pure mapping + the hook on fakes."""
import json

import pytest

from cato_migrate.adapters.sqlite_store import SqliteStateStore
from cato_migrate.core.full_rollback import full_rollback
from cato_migrate.core.loader import load_runbook
from cato_migrate.core.notify import NotifyHook, redact_url, slack_payload, webhook_payload
from cato_migrate.core.notify_events import (MONITORING_ENDED, announcement, announcement_status, cancels_for,
                                             from_audit, from_journal)
from cato_migrate.core.quick_rollback import quick_rollback
from cato_migrate.core.state import AuditEntry, JournalEntry
from cato_migrate.core.traffic import set_traffic
from cato_migrate.errors import Unverified
from tests.fakes import FakeClock, FakeFlag, FakeGateway, FakeWorkloads, make_ctx

RUNBOOK = load_runbook()
SECRET = "https://hooks.slack.com/services/T0001/B0002/s3cretTOKENabcd"


class ListOutbox:
    def __init__(self, fail: bool = False):
        self.events, self.canceled, self.fail = [], [], fail

    def enqueue(self, events, channels):
        if self.fail:
            raise OSError("disk full")
        self.events.extend(events)
        return len(events) * len(channels)

    def cancel(self, env, kind):
        self.canceled.append((env, kind))
        return 0


@pytest.fixture
def store(tmp_path):
    return SqliteStateStore(tmp_path / "state.db")


def _hooked(ctx, outbox=None):
    outbox = outbox or ListOutbox()
    ctx.notify = NotifyHook(ctx, outbox, ["slack", "webhook"], command="cato-migrate test")
    return outbox


def _audit(action, **kw):
    return AuditEntry(env="staging", at=1_800_000_000.0, actor="ann@h", action=action, **kw)


def _kinds(outbox):
    return [e.event for e in outbox.events]


def test_forced_canary_is_an_override_then_started_then_finished(store):
    ctx = make_ctx(store, force=True, reason="drill")
    box = _hooked(ctx)
    set_traffic(ctx, 10)
    assert _kinds(box) == ["guardrail.override", "canary.started", "canary.finished"]
    override, started, finished = box.events
    assert override.details["reason"] == "drill" and override.severity == "warning"
    assert started.details["to_percentage"] == 10 and started.details["forced"] is True
    assert finished.details["served_percentage"] == 10 and "verified" in finished.summary


def test_canary_that_is_not_served_is_a_failure_and_exit_5_is_its_own_event(store):
    ctx = make_ctx(store, force=True, reason="x")
    box = _hooked(ctx)
    ctx.services.flag.serve_override = 0  # planted: clients keep getting 0%
    with pytest.raises(Unverified) as e:
        set_traffic(ctx, 10)
    ctx.notify(e.value)  # what cli._common.mutating does on the way out
    assert _kinds(box)[-2:] == ["canary.failed", "unverified"]
    assert box.events[-2].severity == box.events[-1].severity == "critical"
    assert "exit 5" in box.events[-1].summary and box.events[-1].details["command"] == "cato-migrate test"
    assert box.events[-1].details["next"]  # the hint travels: what to run next


def test_quick_rollback_reports_reason_measurement_and_budget(store):
    clock = FakeClock()
    wl = FakeWorkloads(clock)
    wl.add("litellm", 2)
    ctx = make_ctx(store, clock=clock, flag=FakeFlag(clock), force=True, reason="error rate 3%", workloads=wl)
    set_traffic(ctx, 10)
    box = _hooked(ctx)
    quick_rollback(ctx)
    kinds = _kinds(box)
    assert kinds[0] == "rollback.quick.started" and kinds[-1] == "rollback.quick.finished"
    assert "canary.finished" not in kinds  # the 0% is the rollback's, not a canary's
    assert "error rate 3%" in box.events[0].summary
    done = box.events[-1].details
    assert done["reason"] == "error rate 3%" and done["served_percentage"] == 0
    assert done["budget_seconds"] == 300 and done["within_budget"] is True and done["elapsed_seconds"] >= 0


def test_full_rollback_is_one_story_without_the_quick_rollback_inside_it(store):
    clock = FakeClock()
    wl = FakeWorkloads(clock)
    wl.add("litellm", 1)
    wl.add("cato-orchestrator", 2, kind="RayService")
    ctx = make_ctx(store, clock=clock, flag=FakeFlag(clock), workloads=wl, gateway=FakeGateway([0]), force=True,
                   reason="latency", drain_quiet_seconds=1)
    set_traffic(ctx, 10)
    box = _hooked(ctx)
    full_rollback(ctx)
    kinds = _kinds(box)
    assert kinds == ["rollback.full.started", "rollback.full.finished"], kinds
    done = box.events[-1].details
    assert done["budget_seconds"] == 3600 and done["within_budget"] is True and done["reason"] == "latency"
    assert set(done["stages"]) == {"legacy-up", "flag-zero", "drain", "orchestrator-down"}
    assert (ctx.env, MONITORING_ENDED) in box.canceled  # a rollback ends any monitoring period


@pytest.mark.parametrize("action,kind", [
    ("lock.preempt", "lock.preempted"), ("lock.takeover", "lock.taken_over"),
    ("lock.force_release", "lock.force_released"), ("guardrail.override", "guardrail.override"),
    ("phase.run.force", "guardrail.forced_steps"), ("attest", "attestation")])
def test_audited_overrides_lock_events_and_attestations(action, kind):
    [ev] = from_audit(_audit(action, target="lock:staging", reason="holder gone",
                             details={"previous_holder": "bob@h", "previous_command": "cato-migrate canary set 50"}),
                      RUNBOOK)
    assert ev.event == kind and ev.env == "staging" and "holder gone" in ev.summary
    if action.startswith("lock."):
        assert "bob@h" in ev.summary and "canary set 50" in ev.summary


def test_routine_entries_are_not_notifications():
    assert from_audit(_audit("canary.set"), RUNBOOK) == []
    assert from_audit(_audit("workload.scale"), RUNBOOK) == []
    step = JournalEntry(env="staging", key="p1.w1.terraform", event="finished", actor="a", at=1.0)
    assert from_journal(step, RUNBOOK) == []


def test_legacy_at_zero_schedules_the_end_of_monitoring():
    zero = JournalEntry(env="production", key="decommission.legacy-zero", event="finished", actor="a", at=1000.0)
    started, ended = from_journal(zero, RUNBOOK)
    assert started.event == "monitoring.started" and started.not_before is None
    assert ended.event == MONITORING_ENDED and ended.not_before == 1000.0 + 7 * 86400
    assert "decommission --delete" in ended.summary
    assert ended.id == from_journal(zero, RUNBOOK)[1].id  # the same start schedules one reminder, not two
    assert cancels_for(zero) == [MONITORING_ENDED]


def test_announcement_has_the_plan_step_status_and_contacts():
    step = next(c for c in RUNBOOK.meta.communication_plan if c.id == "canary-start")
    status = announcement_status(RUNBOOK, [JournalEntry(env="local", key="traffic.flag", event="finished",
                                                        actor="a", at=1.0, evidence={"served_percentage": 10})])
    ev = announcement(step, RUNBOOK, status, env="local", actor="a", at=2.0)
    text = ev.details["text"]
    assert "Alert on-call team" in text and "Prepare rollback procedures" in text
    assert "serves 10%" in text and "#cato-oncall" in text and "Canary Start" in ev.summary
    # the audit entry `announce` is what the hook maps: same message
    [again] = from_audit(AuditEntry(env="local", at=2.0, actor="a", action="announce", target="canary-start",
                                    details=status), RUNBOOK)
    assert again.details["text"] == text


def test_slack_payload_escapes_user_text_and_webhook_document_has_the_fields():
    [ev] = from_audit(_audit("guardrail.override", target="traffic.flag",
                             reason="<!channel> see <https://evil|here> & now"), RUNBOOK)
    slack = slack_payload(ev)
    assert set(slack) == {"text", "blocks"}
    rendered = json.dumps(slack["blocks"])
    assert "<!channel>" not in rendered and "&lt;!channel&gt;" in rendered and "&amp;" in rendered
    doc = webhook_payload(ev)
    assert {"event", "env", "at", "actor", "summary", "details"} <= set(doc)
    assert doc["event"] == "guardrail.override" and doc["at"].endswith("Z")


def test_redacted_url_keeps_host_and_last_four_only():
    shown = redact_url(SECRET)
    assert shown == "https://hooks.slack.com/…/abcd"
    assert "T0001" not in shown and "s3cret" not in shown


def test_a_broken_outbox_never_breaks_the_command(store, capsys):
    ctx = make_ctx(store, force=True, reason="x")
    _hooked(ctx, ListOutbox(fail=True))
    set_traffic(ctx, 10)  # three events, all failing to queue
    err = capsys.readouterr().err
    assert err.count("notify: could not queue") == 1 and "disk full" in err


def test_no_url_reaches_journal_audit_or_outbox(store, tmp_path):
    from cato_migrate.adapters.outbox import SqliteOutbox, notify_hook

    ctx = make_ctx(store, force=True, reason="x", notify_slack_url=SECRET, work_dir=tmp_path / "w")
    ctx.notify = notify_hook(ctx, background=False)  # no detached flush from a unit test
    assert ctx.notify is not None and ctx.notify.channels == ["slack"]
    set_traffic(ctx, 10)
    ctx.notify(Unverified("planted"))
    dumped = json.dumps([e.model_dump() for e in store.journal("local")] + [a.model_dump() for a in store.audit("local")])
    assert "hooks.slack.com" not in dumped
    ob = SqliteOutbox(tmp_path / "w" / "outbox.db")
    rows = ob.rows("local", 50)
    assert rows and all(SECRET not in r.event.model_dump_json() for r in rows)
    assert SECRET.encode() not in (tmp_path / "w" / "outbox.db").read_bytes()


def test_a_preemption_core_lock_audits_directly_is_read_back_once(store):
    from cato_migrate.core.lock import LeaseKeeper

    clock = FakeClock()
    holder = LeaseKeeper(store, clock, env="local", actor="a@h", command="cato-migrate canary set 50", ttl=60)
    holder.acquire()
    ctx = make_ctx(store, clock=clock, reason="error rate")
    box = _hooked(ctx)
    r = LeaseKeeper(store, clock, env="local", actor=ctx.actor, command="cato-migrate rollback --quick", ttl=60)
    try:
        r.acquire(preempt=True, reason="error rate")
        ctx.notify(r.lease)  # what cli._common.mutating does after acquiring
        ctx.notify(r.lease)
    finally:
        r.release()
        holder.release()
    assert _kinds(box) == ["lock.preempted"]
    assert "a@h" in box.events[0].summary and "canary set 50" in box.events[0].summary


def test_redaction_drops_credentials_in_the_netloc():
    shown = redact_url("https://user:pa55word@hooks.example.com:8443/x/y/zzzz9999")
    assert shown == "https://hooks.example.com:8443/…/9999" and "pa55" not in shown
