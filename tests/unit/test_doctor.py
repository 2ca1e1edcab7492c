"""doctor's judges, selection and drift rules: each fault planted in a reading, no I/O."""
from __future__ import annotations

import pytest

from cato_migrate.adapters.sqlite_store import SqliteStateStore
from cato_migrate.core import doctor as d
from cato_migrate.core.doctor import Expectations, Facts, Reading
from cato_migrate.core.rollback_hold import HOLD_KEY
from cato_migrate.core.traffic import TRAFFIC_KEY
from tests.fakes import make_ctx

EXP = Expectations(env="staging", endpoints=("cato-shadow-self", "cato-nli"),
                   tables={"cato-semantic-memory": ("us-west-2",), "cato-working-memory": ("us-west-2",)},
                   strategies=("cato-canary", "cato-rollback-zero-bake"), legacy_min_ready=1)


def ok(value) -> Reading:
    return Reading(source="test", value=value)


def healthy() -> dict[str, Reading]:
    return {
        "kubernetes": ok({"version": "v1.30", "crds": ["rayclusters.ray.io", "rayservices.ray.io"]}),
        "sagemaker": ok({"cato-shadow-self": {"status": "InService"}, "cato-nli": {"status": "InService"}}),
        "dynamodb": ok({t: {"status": "ACTIVE", "replicas": {"us-west-2": "ACTIVE"}} for t in EXP.tables}),
        "redis": ok({"used_memory": 100, "maxmemory": 1000}),
        "ray_serve": ok({"ok": True, "breakers": {"vllm": "closed"}}),
        "appconfig": ok({"application": True, "environment": True, "profile": True,
                         "strategies": ["cato-canary", "cato-rollback-zero-bake"], "monitors": ["arn:alarm"],
                         "region": "us-east-1"}),
        "identity": ok({"account": "123", "arn": "arn:aws:iam::123:user/x"}),
        "legacy": ok({"exists": True, "ready": 2, "desired": 2}),
        "orchestrator": ok({"exists": True, "ready": 1, "desired": 1}),
        "flag": ok({"served_percentage": 10, "configured_percentage": 10, "deployment_state": "COMPLETE"}),
        "gateway": ok({"requests_new": 10, "requests_legacy": 90, "share_new_pct": 10.0,
                       "in_flight_new": 0, "in_flight_legacy": 0}),
        "spend": ok({"status": "within", "message": "spent $1.0000 of the daily budget of $50.00 (2%)"}),
    }


FACTS = Facts(last_traffic={"value": 10, "verified": True, "at": 1.0, "by": "a"})


def run(readings=None, facts=FACTS, purpose=None, exp=EXP) -> dict[str, d.CheckResult]:
    rs = d.evaluate(d.select(purpose), readings or healthy(), facts, exp, purpose)
    return {r.id: r for r in rs}


def test_everything_healthy_passes():
    res = run()
    assert {r.status for r in res.values()} == {"pass"}, {k: (r.status, r.message) for k, r in res.items()}
    assert d.summary(list(res.values()))["ok"]


@pytest.mark.parametrize("key,value,check,needle", [
    ("dynamodb", {"cato-semantic-memory": {"status": "ACTIVE", "replicas": {"us-west-2": "ACTIVE"}}},
     "dynamodb", "cato-working-memory MISSING"),
    ("dynamodb", {t: {"status": "ACTIVE", "replicas": {"us-west-2": "CREATING"}} for t in EXP.tables},
     "dynamodb", "replica us-west-2 CREATING"),
    ("sagemaker", {"cato-shadow-self": {"status": "Failed", "failure_reason": "OOM"}, "cato-nli": {"status": "InService"}},
     "sagemaker", "cato-shadow-self Failed (OOM)"),
    ("sagemaker", {"cato-nli": {"status": "InService"}}, "sagemaker", "cato-shadow-self not deployed"),
    ("redis", {"used_memory": 950, "maxmemory": 1000}, "redis", "eviction is near"),
    ("legacy", {"exists": True, "ready": 0, "desired": 2}, "legacy_ready", "0 ready"),
    ("legacy", {"exists": False}, "legacy_ready", "does not exist"),
    ("kubernetes", {"version": "v1.30", "crds": ["rayclusters.ray.io"]}, "kubernetes", "rayservices.ray.io"),
    ("ray_serve", {"ok": False, "warm": {"ready": False}}, "ray_serve", "not ready"),
    ("appconfig", {"application": True, "environment": False, "profile": False, "strategies": ["cato-canary"],
                   "monitors": []}, "appconfig", "missing: environment, profile"),
    ("appconfig", {"application": True, "environment": True, "profile": True,
                   "strategies": ["cato-canary", "cato-rollback-zero-bake"], "monitors": []}, "appconfig", "no alarm"),
])
def test_planted_fault_fails(key, value, check, needle):
    rd = healthy()
    rd[key] = ok(value)
    r = run(rd)[check]
    assert r.status == "fail" and needle in r.message, r


def test_unreachable_is_fail_with_the_error_as_evidence_and_unconfigured_is_unknown():
    rd = healthy()
    rd["redis"] = Reading(source="redis://127.0.0.1:1", error="Redis at 127.0.0.1:1 does not answer: refused")
    rd["identity"] = Reading(source="STS", unconfigured="no credentials")
    res = run(rd)
    assert res["redis"].status == "fail" and "refused" in res["redis"].message
    assert res["redis"].evidence["redis"] == {"source": "redis://127.0.0.1:1", "error": rd["redis"].error}
    assert res["identity"].status == "unknown"
    assert d.summary(list(res.values()))["failed"] == ["redis"]


def test_redis_headroom_and_no_limit():
    assert d.judge_redis(ok({"used_memory": 850, "maxmemory": 1000}), EXP)[0] == "warn"
    assert d.judge_redis(ok({"used_memory": 1, "maxmemory": 0}), EXP)[0] == "warn"


def test_a_strategy_not_created_yet_warns():
    v = healthy()["appconfig"].value | {"strategies": ["cato-canary"]}
    st, msg = d.judge_appconfig(ok(v), EXP)
    assert st == "warn" and "cato-rollback-zero-bake" in msg


def test_no_monitors_is_only_a_warning_on_the_sandbox():
    v = healthy()["appconfig"].value | {"monitors": []}
    assert d.judge_appconfig(ok(v), Expectations(env="local", strategies=EXP.strategies))[0] == "warn"


def test_local_kubernetes_says_workloads_are_processes():
    st, msg = d.judge_kubernetes(ok({"local": True, "ray_head": {"status": "deployed"}}), EXP)
    assert st == "pass" and "local processes" not in msg and "sandbox processes" in msg
    assert d.judge_kubernetes(ok({"local": True, "ray_head": None}), EXP)[0] == "fail"


def test_hold_blocks_a_raise_and_only_warns_otherwise():
    facts = Facts(last_traffic=FACTS.last_traffic, hold={"actor": "bob", "by_command": "rollback --quick"})
    assert run(facts=facts, purpose="raise")["hold"].status == "fail"
    r = run(facts=facts)["hold"]
    assert r.status == "warn" and "canary resume --reason TEXT" in r.message


def test_lock_held_fails_a_raise_warns_a_rollback_and_expired_passes():
    lock = {"holder": "amy@h", "command": "cato-migrate phase run 3", "expired": False}
    assert run(facts=Facts(lock=lock), purpose="raise")["lock"].status == "fail"
    assert run(facts=Facts(lock=lock), purpose="rollback")["lock"].status == "warn"
    assert run(facts=Facts(lock=lock | {"expired": True}), purpose="raise")["lock"].status == "pass"


@pytest.mark.parametrize("change,needle", [
    ({"flag": ok({"served_percentage": 50, "deployment_state": "COMPLETE"})}, "journal's last verified value 10%"),
    ({"orchestrator": ok({"exists": True, "ready": 0, "desired": 1})}, "orchestrator stack, which has 0 ready"),
    ({"legacy": ok({"exists": True, "ready": 0, "desired": 1})}, "legacy stack, which has 0 ready"),
    ({"flag": ok({"served_percentage": 0, "deployment_state": "COMPLETE"}),
      "gateway": ok({"requests_new": 3, "requests_legacy": 5, "share_new_pct": 37.5})}, "reached the orchestrator"),
    ({"flag": Reading(source="AppConfig", error="AppConfig unreachable")}, "served flag not read"),
])
def test_drift_fails(change, needle):
    rd = healthy() | change
    facts = FACTS if "gateway" not in change else Facts(last_traffic={"value": 0, "verified": True})
    r = run(rd, facts=facts)["drift"]
    assert r.status == "fail" and needle in r.message, r


def test_drift_warns_and_unknowns():
    rd = healthy() | {"flag": ok({"served_percentage": 0, "deployment_state": "COMPLETE"}),
                      "gateway": Reading(source="-", unconfigured="no gateway_url")}
    r = run(rd, facts=Facts(last_traffic={"value": 0, "verified": True}))["drift"]
    assert r.status == "warn" and "orchestrator has 1 ready while the flag serves 0%" in r.message
    rd["orchestrator"] = ok({"exists": True, "ready": 0, "desired": 0})
    r = run(rd, facts=Facts(last_traffic={"value": 0, "verified": True}))["drift"]
    assert r.status == "unknown" and "no gateway" in r.message
    pending = Facts(last_traffic=FACTS.last_traffic, pending_intent={"target": 50, "actor": "amy"})
    assert "to 50% started by amy never finished" in run(facts=pending)["drift"].message


def test_observed_share_counts_the_window_only():
    before = {"served_new": 10, "served_legacy": 100, "errors_new": 0, "errors_legacy": 0}
    after = {"served_new": 20, "served_legacy": 190, "errors_new": 0, "errors_legacy": 0, "in_flight_legacy": 2}
    assert d.observed_share(before, after) == {"requests_new": 10, "requests_legacy": 90, "share_new_pct": 10.0,
                                               "in_flight_new": 0, "in_flight_legacy": 2}
    assert d.observed_share(after, after)["share_new_pct"] is None


def test_decommission_needs_100_verified_and_no_legacy_traffic():
    rd = healthy()
    res = run(rd, purpose="decommission")
    assert set(res) == {"flag_full", "no_legacy_traffic", "drift", "appconfig", "identity", "lock"}
    assert res["flag_full"].status == "fail" and res["no_legacy_traffic"].status == "fail"
    rd |= {"flag": ok({"served_percentage": 100, "deployment_state": "COMPLETE"}),
           "gateway": ok({"requests_new": 9, "requests_legacy": 0, "share_new_pct": 100.0, "in_flight_legacy": 0})}
    res = run(rd, facts=Facts(last_traffic={"value": 100, "verified": True}), purpose="decommission")
    assert res["flag_full"].status == "pass" and res["no_legacy_traffic"].status == "pass"
    assert d.judge_no_legacy_traffic(None)[0] == "unknown"


def test_selection_reads_only_what_the_purpose_needs():
    assert d.needed_readings(d.select("rollback")) == {"legacy", "appconfig", "identity", "flag", "gateway",
                                                       "orchestrator"}
    assert "sagemaker" in d.needed_readings(d.select("raise"))


def test_expectations_come_from_the_runbook():
    ctx = make_ctx(store=None)
    exp = d.expectations(ctx.runbook, ctx.settings)
    assert exp.endpoints == ("cato-shadow-self", "cato-nli")
    assert exp.tables == {"cato-semantic-memory": ("us-west-2",), "cato-working-memory": ("us-west-2",)}


def test_diagnose_reads_the_journal_hold_and_lock(tmp_path):
    store = SqliteStateStore(tmp_path / "s.db")
    ctx = make_ctx(store)
    ctx.journal(TRAFFIC_KEY, "finished", evidence={"served_percentage": 10})
    ctx.journal(HOLD_KEY, "started", inputs={"reason": "p99 spike", "by_command": "rollback --quick"})
    asked = []

    def read(names, exp):
        asked.append(names)
        return {n: healthy()[n] for n in names}

    out = d.diagnose(ctx, "raise", read)
    assert not out["ok"] and out["failed"] == ["hold"]
    assert asked[0] == d.needed_readings(d.select("raise"))
    assert next(c for c in out["checks"] if c["id"] == "drift")["status"] == "pass"
