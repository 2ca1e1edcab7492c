"""A state store filled like `make demo` fills it, through the core API (no sandbox): phases
run, exit criteria checked, a load-test ramp, a canary analysis, traffic 10 -> 50 -> 100 with
forced raises, a quick and a full rollback drill, sign-offs and a cost comparison. Used by the
report's unit, CLI and browser tests and to draw docs/report.png."""
from __future__ import annotations

import dataclasses
import itertools

from cato_migrate.adapters.sqlite_store import SqliteStateStore
from cato_migrate.core.traffic import set_traffic
from tests.fakes import FakeClock, FakeFlag, FakeWorkloads, make_ctx

HOUR = 3600.0


class Gateway:
    """The edge's dual-write counters, as `canary status` reads them."""

    def __init__(self, counts: dict | None = None):
        self.counts = counts if counts is not None else {"served": 412, "stored": 412, "failed": 0, "dropped": 0,
                                                         "queued": 0, "active": False}

    def dual_write(self):
        return self.counts


LOAD_TEST = {
    "target": "http://127.0.0.1:8000", "concurrency": 10, "requests": 1000, "ok": 1000, "errors": 0, "error_rate": 0.0,
    "cached": 97, "p50_ms": 21.4, "p95_ms": 48.0, "p99_ms": 73.2, "max_ms": 140.1, "mean_ms": 24.0, "wall_s": 3.1,
    "throughput_rps": 322.6, "error_kinds": {}, "triggers_fired": [],
    "ramp": {"sustained_concurrency": 20, "target_p99_ms": 1000.0, "max_error_rate": 0.01, "levels": [
        {"concurrency": 5, "ok": True, "why": "p99 40 ms < 1000 ms, errors 0.00%", "requests": 1000, "errors": 0,
         "p50_ms": 12.0, "p99_ms": 40.0, "throughput_rps": 300.0},
        {"concurrency": 10, "ok": True, "why": "p99 71 ms < 1000 ms, errors 0.00%", "requests": 1000, "errors": 0,
         "p50_ms": 20.0, "p99_ms": 71.0, "throughput_rps": 330.0},
        {"concurrency": 20, "ok": True, "why": "p99 150 ms < 1000 ms, errors 0.00%", "requests": 1000, "errors": 0,
         "p50_ms": 45.0, "p99_ms": 150.0, "throughput_rps": 340.0}]},
}

ANALYSIS = {"analysis": {"verdict": "pass"}, "source": "prometheus http://127.0.0.1:9090",
            "stacks": {"new": {"stack": "new", "window_seconds": 900.0, "requests": 2400, "errors": 0, "p50_ms": 30.0,
                               "p99_ms": 95.0, "source": "prometheus http://127.0.0.1:9090"},
                       "legacy": {"stack": "legacy", "window_seconds": 900.0, "requests": 2100, "errors": 1,
                                  "p50_ms": 45.0, "p99_ms": 240.0, "source": "prometheus http://127.0.0.1:9090"}}}


def cost_evidence(at: float, efficiency: float = -0.41) -> dict:
    return {"measured_at": at, "requests": 400,
            "mix": {"name": "demo-mix", "prompts": 40, "repeated_share": 0.25,
                    "description": "simple, complex and Shadow Self prompts, a quarter repeated"},
            "prices": {"source": "config/pricing.yaml", "taken_on": "2026-12-01"},
            "legacy": {"total_usd": 1.20, "per_1k_requests_usd": 3.0, "source": "LiteLLM response_cost",
                       "by_model": {"claude-3-haiku": {"requests": 300, "usd": 0.30},
                                    "claude-3-5-sonnet": {"requests": 100, "usd": 0.90}}},
            "new": {"total_usd": 1.20 * (1 + efficiency), "per_1k_requests_usd": 3.0 * (1 + efficiency),
                    "by_tier": {"bedrock_haiku": {"requests": 220, "usd": 0.20, "input_tokens": 9000, "output_tokens": 4000},
                                "bedrock_sonnet": {"requests": 80, "usd": 0.45, "input_tokens": 5000, "output_tokens": 3000},
                                "shadow_self": {"requests": 40, "usd": 0.058, "input_tokens": 2000, "output_tokens": 900}},
                    "cache_hits": 60, "saved_usd": 0.18, "source": "orchestrator usage x config/pricing.yaml"},
            "efficiency": efficiency}


class World:
    def __init__(self, tmp_path, start: float = 1_796_300_000.0):
        self.store = SqliteStateStore(tmp_path / "state.db")
        self.clock = FakeClock(start)
        self.flag = FakeFlag(self.clock)
        self.workloads = FakeWorkloads(self.clock)
        self.workloads.add("litellm", 2)
        self.gateway = Gateway()
        self._runs = itertools.count(1)

    def ctx(self, *_, force=False, reason="", **__):
        """A context per command, as wiring gives each invocation its own run id."""
        c = make_ctx(self.store, clock=self.clock, flag=self.flag, force=force, reason=reason,
                     workloads=self.workloads, gateway=self.gateway, sandbox_minute_seconds=60.0)
        return dataclasses.replace(c, run_id=f"run{next(self._runs)}")

    def step(self, key: str, evidence: dict | None = None, message: str = "done", *, forced_reason: str = "") -> None:
        c = self.ctx()
        c.journal(key, "started", inputs={"forced": True, "reason": forced_reason} if forced_reason else {})
        self.clock.sleep(5)
        c.journal(key, "finished", evidence=evidence or {}, message=message)

    def check(self, key: str, status: str = "pass", message: str = "ok", evidence: dict | None = None) -> None:
        self.ctx().journal(key, "check", status=status, message=message, evidence=evidence or {})

    def attest(self, key: str, by: str = "demo", note: str = "") -> None:
        self.ctx().journal(key, "attested", evidence={"by": by, "note": note}, message=f"attested by {by}")

    def hours(self, n: float) -> None:
        self.clock.sleep(n * HOUR)


def demo_world(tmp_path, *, with_cost: bool = True) -> World:
    """The state `make demo` leaves, compressed into fake hours."""
    from cato_migrate.core.quick_rollback import quick_rollback
    from cato_migrate.core.rollback_hold import resume

    from unittest import mock

    w = World(tmp_path)
    # the rollback triggers are measured on a live orchestrator before an unforced raise: clear here
    with mock.patch("cato_migrate.core.triggers.trigger_problems", lambda ctx: ([], [])):
        _fill(w, quick_rollback, resume, with_cost)
    return w


def _fill(w: World, quick_rollback, resume, with_cost: bool) -> None:
    rb = w.ctx().runbook
    w.attest("p1.w1.announce-kickoff", note="timeline announced")
    for p in rb.phases[:3]:
        for _, s in p.steps():
            if s.kind == "attest":
                w.attest(s.id)
            elif s.id == "p1.w4.load-test":
                w.step(s.id, LOAD_TEST, "1000 requests at concurrency 10; rollback triggers clear")
            else:
                w.step(s.id)
        w.hours(2)
        for c in p.exit_criteria:
            w.check(c.id, message=f"{c.title}: ok")
    w.attest("p4.w13.alert-oncall", note="#cato-oncall alerted")
    w.ctx().journal("canary.analysis", "check", status="pass", evidence=ANALYSIS, message="new no slower than legacy")
    set_traffic(w.ctx(), 10)
    w.hours(3)
    quick_rollback(w.ctx(reason="drill"))
    resume(w.ctx(reason="drill over"))
    set_traffic(w.ctx(), 10)
    w.hours(1)
    set_traffic(w.ctx(force=True, reason="sandbox rehearsal: the stage soak is compressed away"), 50)
    w.hours(1)
    _full_rollback_drill(w, reason="drill")
    resume(w.ctx(reason="full rollback drill over"))
    set_traffic(w.ctx(), 10)
    w.hours(1)
    set_traffic(w.ctx(force=True, reason="sandbox rehearsal: the stage soak is compressed away"), 50)
    w.hours(1)
    set_traffic(w.ctx(force=True, reason="sandbox rehearsal: the stage soak is compressed away"), 100)
    if with_cost:
        c = w.ctx()  # as `cost measure` and `cost status` journal them (core/cost_measure.py)
        c.journal("cost.comparison", "check", status="measured", evidence=cost_evidence(w.clock.now()),
                  inputs={"requests": 400}, message="400 requests per stack: -41.0%")
        c.journal("cost.budget", "check", status="within", message="spent $1.2000 of the daily budget of $50.00 (2%)",
                  evidence={"status": "within", "spend_usd": 1.2, "budget_usd": 50.0, "source": "prometheus",
                            "message": "spent $1.2000 of the daily budget of $50.00 (2%)"})
    w.attest("p4.w16.announce-completion", note="announced; retro booked; docs updated")
    w.attest("p4.w16.team-trained", note="on-call trained")
    for c in rb.phase(4).exit_criteria:
        w.check(c.id, message=f"{c.title}: ok")


def _full_rollback_drill(w: World, reason: str) -> None:
    """The journal and audit a `rollback --full` writes (its stages need processes; the records are the point)."""
    from cato_migrate.core.full_rollback import KEY, STAGES
    from cato_migrate.core.quick_rollback import quick_rollback
    from cato_migrate.core.rollback_hold import set_hold

    c = w.ctx(reason=reason)
    t0 = w.clock.now()
    set_hold(c, "rollback --full")
    c.journal(KEY, "started", inputs={"stages": list(STAGES)})
    c.audit("rollback.full", KEY, reason)
    stages = {}
    for name in STAGES:
        c.journal(f"{KEY}.{name}", "started")
        s0 = w.clock.now()
        if name == "flag-zero":
            quick_rollback(c, check_legacy=False)
        else:
            w.clock.sleep({"legacy-up": 14.0, "drain": 2.5, "orchestrator-down": 6.0}[name])
        stages[name] = round(w.clock.now() - s0, 3)
        c.journal(f"{KEY}.{name}", "finished", evidence={"seconds": stages[name], "outcome": "done"})
    total = round(w.clock.now() - t0, 3)
    c.journal(KEY, "finished", evidence={"seconds": total, "stages": stages},
              message=f"legacy serving, flag 0%, orchestrator at 0 in {total:.1f}s")
