"""The hand-over builder and the served-value label (pure; journal in SQLite, no cloud)."""
from __future__ import annotations

from cato_migrate.adapters.sqlite_store import SqliteStateStore
from cato_migrate.core.doctor import last_traffic
from cato_migrate.core.handoff import MAX_LINES, build_handoff, handoff_lines, served_view
from cato_migrate.core.progress import where_are_we
from cato_migrate.core.rollback_hold import HOLD_KEY, hold_from_journal
from cato_migrate.core.traffic import TRAFFIC_KEY
from tests.fakes import make_ctx


def test_served_is_live_when_read_and_labelled_stale_when_not():
    live = {"served_percentage": 10, "configured_percentage": 50, "deployment_state": "BAKING",
            "deployment": {"number": 4}}
    v = served_view(live, None, None)
    assert v["source"] == "live" and v["in_flight"] and "#4 BAKING toward 50%" in v["label"]
    v = served_view(None, "AppConfig unreachable", {"value": 10, "verified": True, "at": 0.0, "by": "amy"})
    assert v["source"] == "journal" and "last verified 1970-01-01" in v["label"]
    assert "live read failed: AppConfig unreachable" in v["label"]
    v = served_view(None, "boom", {"value": 50, "verified": False, "at": 0.0, "by": "amy"})
    assert "UNVERIFIED" in v["label"]
    assert served_view(None, "boom", None)["served_percentage"] is None


def _busy_journal(ctx, n: int) -> None:
    ctx.journal(TRAFFIC_KEY, "started", inputs={"target": 10, "version": "1", "forced": True,
                                                "triggers": {"error-rate": "clear", "latency-p99": "fired"}})
    ctx.journal(TRAFFIC_KEY, "finished", evidence={"served_percentage": 10})
    ctx.journal(HOLD_KEY, "started", inputs={"reason": "p99 [red]spike[/red]", "by_command": "rollback --quick"})
    for i in range(n):
        ctx.audit("guardrail.override", TRAFFIC_KEY, f"override {i} " + "x" * 300, to_percentage=10)
        ctx.audit("phase.run.force", "p2", f"force {i}")
        ctx.journal("p3.w9.create-tables", "started", inputs={"forced": True, "reason": f"r{i}"})
    ctx.journal("rollback.full", "started")
    ctx.journal("rollback.full.legacy-up", "finished")
    ctx.journal("p1.exit.shadow-self-latency", "check", status="fail")


def test_handoff_stays_within_40_lines_with_many_overrides(tmp_path):
    ctx = make_ctx(SqliteStateStore(tmp_path / "s.db"))
    _busy_journal(ctx, 60)
    entries = ctx.store.journal(ctx.env)
    where = where_are_we(ctx.runbook, entries)
    served = served_view(None, "no sandbox", last_traffic(entries))
    h = build_handoff(env="local", where=where, served=served, observed={"error": "gateway down"}, entries=entries,
                      audit=ctx.store.audit(ctx.env, limit=1000), lock=None,
                      hold=hold_from_journal(entries).model_dump(),
                      intent={"target": 50, "actor": "amy", "at": 0.0}, runbook=ctx.runbook,
                      interrupted="flag-zero")
    lines = handoff_lines(h)
    assert len(lines) <= MAX_LINES and all(len(x) <= 170 for x in lines)
    text = "\n".join(lines)
    assert len(h["overrides"]) == 120 and len(h["forced_steps"]) == 60
    for needle in ("Served: 10% (last verified", "live read failed: no sandbox", "error-rate clear, latency-p99 fired",
                   "HOLD: rolled back by tester@host", "canary resume --reason TEXT", "UNFINISHED traffic change to 50%",
                   "UNFINISHED full rollback (stopped at flag-zero)", "Overrides: 120", "(+117 earlier",
                   "Forced steps: 60", "Pending attestations: 1", "p1.w1.announce-kickoff",
                   "cato-migrate rollback --quick   (budget 300 s", "cato-migrate rollback --full   (budget 3600 s",
                   "Migration Lead: @migration-lead", "not passing: p1.exit.shadow-self-latency",
                   "Observed (gateway): read failed: gateway down"):
        assert needle in text, needle
    assert "\x1b[" not in text


def test_quiet_journal_handoff(tmp_path):
    ctx = make_ctx(SqliteStateStore(tmp_path / "s.db"))
    where = where_are_we(ctx.runbook, [])
    h = build_handoff(env="local", where=where, served=served_view({"served_percentage": 0, "deployment_state": "NONE"},
                                                                     None, None),
                      observed=None, entries=[], audit=[], lock=None, hold=None, intent=None, runbook=ctx.runbook,
                      interrupted=None)
    text = "\n".join(handoff_lines(h))
    assert "Served: live: served 0%" in text and "Triggers: never measured" in text
    assert "Overrides: 0 (none)" in text and "HOLD" not in text and "UNFINISHED" not in text
