"""`canary watch` and `canary analyze` in-process through `main(argv)`, on fakes (no sandbox).

wiring.make_context is replaced by one that hands out fakes sharing one store, clock, flag and
metrics source, so the watch's read-only context and the rollback's locked one see the same world;
the lock itself is the real LeaseKeeper on the SQLite store. The sandbox end-to-end drill (a
planted fault through the real gateway and Prometheus) is tests/integration's, not this file's.
"""
from __future__ import annotations

import json

import pytest

from cato_migrate.adapters.sqlite_store import SqliteStateStore
from cato_migrate.cli.app import main
from cato_migrate.core.traffic import flag_status, set_traffic
from tests.fake_metrics import UNREADABLE, FakeMetrics, steady, window_of
from tests.fakes import FakeClock, FakeFlag, FakeWorkloads, make_ctx


class World:
    def __init__(self, tmp_path):
        self.store = SqliteStateStore(tmp_path / "state.db")
        self.clock = FakeClock()
        self.flag = FakeFlag(self.clock)
        self.workloads = FakeWorkloads(self.clock)
        self.workloads.add("litellm", 2)
        self.metrics: FakeMetrics | None = FakeMetrics()

    def ctx(self, *_, force=False, reason="", **__):
        return make_ctx(self.store, clock=self.clock, flag=self.flag, force=force, reason=reason,
                        workloads=self.workloads, metrics=self.metrics)


@pytest.fixture
def world(tmp_path, monkeypatch):
    import os

    for k in list(os.environ):
        if k.startswith(("CATO_", "AWS_")):
            monkeypatch.delenv(k)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CATO_WORK_DIR", str(tmp_path / ".cato-migrate"))
    monkeypatch.setenv("COLUMNS", "100")
    w = World(tmp_path)
    monkeypatch.setattr("cato_migrate.wiring.make_context", w.ctx)
    set_traffic(w.ctx(force=True, reason="setup"), 10)
    return w


def run(capsys, monkeypatch, *argv):
    monkeypatch.setattr("sys.argv", ["cato-migrate", *argv])
    capsys.readouterr()
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def lines(out: str) -> list[dict]:
    return [json.loads(x) for x in out.splitlines() if x.strip()]


def test_auto_rollback_after_n_breaching_intervals_audited_with_the_figures(world, capsys, monkeypatch):
    world.metrics.set("new", steady("new", 500, errors=100)).set("legacy", steady("legacy", 5000))
    code, out, err = run(capsys, monkeypatch, "canary", "watch", "--interval", "5", "--for", "10m",
                         "--auto-rollback", "--output", "json")
    assert code == 1, err
    snaps = lines(out)
    n = world.ctx().runbook.meta.canary_analysis.consecutive_breaches
    assert snaps[-1]["rolled_back"] and snaps[-1]["evaluation"] == snaps[-2]["evaluation"]  # the result, last
    snaps = snaps[:-1]
    assert len(snaps) == n and [s["verdict"] for s in snaps] == ["breach"] * n
    assert snaps[-1]["decision"] == "rollback" and snaps[0]["flag"] == {
        "configured": 10, "served": 10, "deployment_state": "COMPLETE", "error": ""}
    assert flag_status(world.flag).served_percentage == 0
    audit = {a.action: a for a in world.store.audit("local")}
    assert "Error rate > 1%" in audit["rollback.quick"].reason and "20.00%" in audit["rollback.quick"].reason
    assert audit["canary.watch.rollback"].details["stacks"]["new"]["error_rate"] == 0.2
    assert "rolled back" in err and "canary resume" in err


def test_a_legacy_breach_never_rolls_back_and_a_clear_end_exits_0(world, capsys, monkeypatch):
    world.metrics.set("new", steady("new", 500)).set("legacy", steady("legacy", 5000, errors=1000))
    code, out, err = run(capsys, monkeypatch, "canary", "watch", "--interval", "5", "--for", "1m",
                         "--auto-rollback", "--output", "json")
    assert code == 0, err
    snaps = lines(out)
    assert len(snaps) == 13 and {s["verdict"] for s in snaps} == {"healthy"}  # t = 0, 5, ..., 60
    legacy = [t for t in snaps[-1]["triggers"] if t["stack"] == "legacy" and t["trigger"] == "error-rate"]
    assert legacy[0]["state"] == "fired"
    assert flag_status(world.flag).served_percentage == 10
    assert "canary.watch.rollback" not in {a.action for a in world.store.audit("local")}


def test_no_traffic_is_waiting_every_interval_and_not_proven(world, capsys, monkeypatch):
    world.metrics.set("new", window_of("new", [])).set("legacy", window_of("legacy", []))
    code, out, err = run(capsys, monkeypatch, "canary", "watch", "--interval", "10", "--for", "30s",
                         "--auto-rollback", "--output", "json")
    assert code == 6, err
    assert [s["verdict"] for s in lines(out)] == ["waiting"] * 4
    assert "not proven" in err
    assert flag_status(world.flag).served_percentage == 10


def test_an_unreadable_source_is_unmeasured_and_held(world, capsys, monkeypatch):
    world.metrics.set("new", UNREADABLE).set("legacy", UNREADABLE)
    code, out, err = run(capsys, monkeypatch, "canary", "watch", "--interval", "10", "--for", "60s",
                         "--auto-rollback", "--output", "json")
    assert code == 6
    snaps = lines(out)
    assert {s["verdict"] for s in snaps} == {"unmeasured"} and snaps[-1]["unmeasured_run"] == 7
    assert flag_status(world.flag).served_percentage == 10  # policy hold


def test_without_auto_rollback_a_decided_rollback_is_reported_not_run(world, capsys, monkeypatch):
    world.metrics.set("new", steady("new", 500, errors=100)).set("legacy", steady("legacy", 5000))
    code, out, err = run(capsys, monkeypatch, "canary", "watch", "--interval", "5", "--for", "20s")
    assert code == 1 and "rollback is called for" in err and "rollback --quick" in err
    assert flag_status(world.flag).served_percentage == 10


def test_the_view_fits_24_lines(world, capsys, monkeypatch):
    world.metrics.set("new", steady("new", 500, cache_hit_rate=0.71)).set("legacy", steady("legacy", 5000))
    code, out, err = run(capsys, monkeypatch, "canary", "watch", "--interval", "5", "--for", "5s")
    assert code == 0, err
    frames = ["canary watch local" + f for f in out.split("canary watch local")[1:]]
    assert len(frames) == 2  # t = 0 and t = 5 s, reprinted (no terminal here)
    for frame in frames:
        assert len(frame.strip().splitlines()) <= 24
    for label in ("configured 10%", "served 10%", "share", "p50", "p99", "cache hit", "71.0%", "Error rate > 1%",
                  "HEALTHY"):
        assert label in frames[-1], label


def test_no_metrics_source_is_bad_input_saying_how_to_configure(world, capsys, monkeypatch):
    world.metrics = None
    code, out, err = run(capsys, monkeypatch, "canary", "watch", "--for", "5s")
    assert code == 2 and "no metrics source" in err and "prometheus_url" in err
    code, out, err = run(capsys, monkeypatch, "canary", "analyze")
    assert code == 2


def test_bad_duration_is_bad_input(world, capsys, monkeypatch):
    code, out, err = run(capsys, monkeypatch, "canary", "watch", "--for", "soon")
    assert code == 2 and "not a duration" in err


@pytest.mark.parametrize("new,code,verdict", [
    (steady("new", 3000, 0.3), 0, "pass"),
    (steady("new", 3000, 0.7), 1, "fail"),
    (window_of("new", []), 6, "waiting"),
])
def test_analyze_is_journaled_and_exits_by_verdict(world, capsys, monkeypatch, new, code, verdict):
    world.metrics.set("new", new).set("legacy", steady("legacy", 3000, 0.3))
    got, out, err = run(capsys, monkeypatch, "canary", "analyze", "--window", "600", "--output", "json")
    assert got == code, err
    data = json.loads(out)
    assert data["verdict"] == verdict and data["window_seconds"] == 600
    assert set(world.metrics.calls) == {("legacy", 600), ("new", 600)}
    assert world.store.journal("local", "canary.analysis")[-1].status == verdict


def test_the_window_option_sets_what_each_evaluation_looks_back_over(world, capsys, monkeypatch):
    world.metrics.set("new", steady("new", 500)).set("legacy", steady("legacy", 5000))
    code, out, _ = run(capsys, monkeypatch, "canary", "watch", "--interval", "5", "--for", "5s",
                       "--window", "45", "--output", "json")
    assert code == 0 and {s["window_seconds"] for s in lines(out)} == {45.0}
    assert world.metrics.calls and {s for _, s in world.metrics.calls} == {45.0}
