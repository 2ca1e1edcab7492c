"""`cost measure` / `cost status` cores on fakes: what is journaled, the budget's notification and doctor line."""
from __future__ import annotations

import pytest

from cato_migrate.adapters.sqlite_store import SqliteStateStore
from cato_migrate.core import doctor as d
from cato_migrate.core.cost import Answer
from cato_migrate.core.cost_measure import budget_status, measure
from cato_migrate.core.loader import load_runbook
from cato_migrate.core.notify_events import BUDGET_EXCEEDED, from_journal
from cato_migrate.core.price_loader import load_prices
from cato_migrate.errors import ExternalError
from tests.fakes import make_ctx

TABLE = load_prices()


@pytest.fixture
def ctx(tmp_path):
    return make_ctx(SqliteStateStore(tmp_path / "state.db"))


class FakeLegacy:
    """LiteLLM: the model the client names, and its own price of the usage."""

    def check(self):
        pass

    def send(self, req):
        usd = TABLE.bedrock_by_model()[req.legacy_model].request_usd(100, 200)
        return Answer("legacy", req.legacy_model, 100, 200, usd=usd)


class FakeNew:
    def __init__(self, fail_at=None):
        self.seen, self.fail_at = {}, fail_at

    def check(self):
        pass

    def send(self, req):
        if req.index == self.fail_at:
            raise ExternalError("the orchestrator answered 503")
        tier = {"simple": "bedrock_haiku", "complex": "bedrock_sonnet", "shadow": "shadow_self"}[req.kind]
        if req.prompt in self.seen:
            return Answer("new", tier, 0, 0, cached=True, saved_usage={"prompt_tokens": 100, "completion_tokens": 200})
        self.seen[req.prompt] = True
        return Answer("new", tier, 100, 200)


def test_measure_journals_the_comparison_the_report_reads(ctx):
    ev = measure(ctx, FakeLegacy(), FakeNew(), TABLE, 8)
    entry = [e for e in ctx.store.journal("local") if e.key == "cost.comparison"][-1]
    assert entry.event == "check" and entry.status == "measured" and entry.evidence == ev
    assert ev["requests"] == 8 and ev["new"]["cache_hits"] == 2 and ev["mix"]["repeated_share"] == 0.25
    assert sum(r["requests"] for r in ev["new"]["by_tier"].values()) == 8
    assert sum(r["requests"] for r in ev["legacy"]["by_model"].values()) == 8
    assert ev["new"]["saved_usd"] > 0 and ev["legacy"]["total_usd"] > ev["new"]["total_usd"]
    assert ev["efficiency"] == pytest.approx(ev["new"]["total_usd"] / ev["legacy"]["total_usd"] - 1, abs=1e-6)
    assert ev["prices"]["taken_on"] == TABLE.taken_on.isoformat()


def test_a_stack_failing_mid_measurement_journals_nothing(ctx):
    with pytest.raises(ExternalError):
        measure(ctx, FakeLegacy(), FakeNew(fail_at=3), TABLE, 8)
    assert [e for e in ctx.store.journal("local") if e.key == "cost.comparison"] == []


def test_over_budget_is_journaled_and_becomes_one_budget_exceeded_event_a_day(ctx):
    v = budget_status(ctx, lambda: (12.5, "prometheus http://p:9090", ""), 10.0)
    assert v.status == "exceeded"
    entry = [e for e in ctx.store.journal("local") if e.key == "cost.budget"][-1]
    events = from_journal(entry, load_runbook())
    assert [e.event for e in events] == [BUDGET_EXCEEDED]
    ev = events[0]
    assert ev.severity == "warning" and ev.details["spend_usd"] == 12.5 and ev.details["budget_usd"] == 10.0
    assert "OVER the daily budget" in ev.summary
    again = from_journal(entry.model_copy(update={"at": entry.at + 60}), load_runbook())[0]
    assert again.id == ev.id  # the outbox keeps one per environment and day


@pytest.mark.parametrize("read,status", [
    (lambda: (None, "prometheus x", "Prometheus has no cato_cost_usd_total series"), "unmeasured"),
    (lambda: (_ for _ in ()).throw(ExternalError("Prometheus at x unreachable")), "unmeasured"),
    (lambda: (3.0, "orchestrator /metrics", ""), "within"),
])
def test_no_spend_data_is_not_measured_never_within_and_sends_nothing(ctx, read, status):
    v = budget_status(ctx, read, 10.0)
    assert v.status == status
    if status == "unmeasured":
        assert v.message.startswith("not measured: ")
    entry = [e for e in ctx.store.journal("local") if e.key == "cost.budget"][-1]
    assert from_journal(entry, load_runbook()) == []


def test_doctor_warns_over_budget_and_never_fails_or_passes_without_data():
    def judge(reading):
        return d.evaluate([c for c in d.CHECKS if c.id == "budget"], {"spend": reading}, d.Facts(),
                          d.Expectations(env="staging"), None)[0]

    over = judge(d.Reading(source="p", value={"status": "exceeded", "message": "spent $12, OVER"}))
    assert over.status == "warn" and "OVER" in over.message
    assert judge(d.Reading(source="p", value={"status": "within", "message": "ok"})).status == "pass"
    for r in (d.Reading(source="p", error="Prometheus unreachable"),
              d.Reading(source="p", unconfigured="no daily budget"),
              d.Reading(source="p", value={"status": "unmeasured", "message": "not measured: no series"})):
        assert judge(r).status == "unknown"
    assert "budget" in [c.id for c in d.select(None)]
