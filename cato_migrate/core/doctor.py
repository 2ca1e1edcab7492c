"""`cato-migrate doctor`: the runbook's prerequisites and rollback readiness, judged from readings (pure).

The readers (adapters/doctor_probes.py) turn each system into a `Reading`: what was read and
from where, or why nothing could be read. This module only judges readings, so every check is
tested by planting the fault in a reading.

How a reading becomes a status (the rule every check follows):

    the system answered and it is as the runbook needs   -> pass
    it answered, something is off but not blocking      -> warn
    it answered wrongly, or did not answer (error)       -> fail   (the error is the evidence)
    nothing to read: not configured here (unconfigured)  -> unknown (never pass)

On --env local the sandbox decides what is configured: a component it does not run is down
(fail). `unknown` does not fail the command (exit 0 needs no `fail`), but it is never shown
as ok. `--for` picks the checks that matter before an action (PURPOSES).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from cato_migrate.core.doctor_model import STATUSES, CheckResult, Expectations, Facts, Reading
from cato_migrate.core.doctor_prereqs import (unreadable, judge_appconfig, judge_dynamodb, judge_identity, judge_kubernetes,
                                              judge_legacy, judge_ray_serve, judge_redis, judge_sagemaker)

if TYPE_CHECKING:  # annotations only: doctor's judges stay importable without a context or settings
    from cato_migrate.core.context import RunContext
    from cato_migrate.core.rollback_hold import Hold
    from cato_migrate.core.runbook import RunbookSpec
    from cato_migrate.core.state import JournalEntry, LockLease
    from cato_migrate.settings import Settings

SHARE_TOLERANCE_PCT = 15  # observed gateway share vs served percentage, in points, before a warning


# --- readiness and drift: (facts, readings) -> (status, message) ------------------------------

def judge_hold(facts: Facts, purpose: str | None) -> tuple[str, str]:
    h = facts.hold
    if h is None:
        return "pass", "no rollback hold: raises are allowed"
    text = (f"rolled back by {h.get('actor')} ({h.get('by_command') or 'rollback'}): raises refused until "
            "`cato-migrate canary resume --reason TEXT`")
    return ("fail" if purpose == "raise" else "warn"), text


def judge_lock(facts: Facts, purpose: str | None) -> tuple[str, str]:
    lk = facts.lock
    if lk is None:
        return "pass", "free"
    if lk.get("expired"):
        return "pass", f"expired lease of {lk.get('holder')} (the next command takes it over)"
    text = f"held by {lk.get('holder')} running `{lk.get('command')}`"
    if purpose == "rollback":
        return "warn", text + " (a rollback preempts it, audited)"
    return ("fail" if purpose in ("raise", "decommission") else "warn"), text


def observed_share(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Requests each stack served between two gateway scrapes; share_new_pct None when none."""
    def n(d: dict[str, Any], stack: str) -> int:
        return int(d.get(f"served_{stack}", 0)) + int(d.get(f"errors_{stack}", 0))

    new = max(n(after, "new") - n(before, "new"), 0)
    legacy = max(n(after, "legacy") - n(before, "legacy"), 0)
    total = new + legacy
    return {"requests_new": new, "requests_legacy": legacy,
            "share_new_pct": round(100.0 * new / total, 1) if total else None,
            "in_flight_new": int(after.get("in_flight_new", 0)),
            "in_flight_legacy": int(after.get("in_flight_legacy", 0))}


def drift_findings(facts: Facts, flag: Reading, gateway: Reading | None, legacy: Reading | None,
                   orch: Reading | None) -> tuple[str, list[str]]:
    """Journal vs the served flag vs what the gateway sees vs the workloads: (status, findings)."""
    fails: list[str] = []
    warns: list[str] = []
    unknown: list[str] = []
    if not flag.ok:
        return ("unknown" if flag.unconfigured else "fail"), [f"served flag not read: {flag.error or flag.unconfigured}"]
    served = int(flag.value.get("served_percentage", 0))
    state = flag.value.get("deployment_state", "NONE")
    if state in ("DEPLOYING", "BAKING", "VALIDATING", "ROLLING_BACK"):
        warns.append(f"deployment in flight ({state}) toward {flag.value.get('configured_percentage')}%")
    last = facts.last_traffic
    if last is not None:
        if last.get("value") is not None and int(last["value"]) != served and state not in ("DEPLOYING", "BAKING"):
            fails.append(f"journal's last {'verified' if last.get('verified') else 'UNVERIFIED'} value "
                         f"{last['value']}% but clients are served {served}% (changed outside cato-migrate?)")
        elif not last.get("verified"):
            warns.append("the last traffic change was not verified")
    if facts.pending_intent:
        pi = facts.pending_intent
        warns.append(f"a traffic change to {pi.get('target')}% started by {pi.get('actor')} never finished")
    for r, name, needed in ((orch, "orchestrator", served > 0), (legacy, "legacy", served < 100)):
        if r is None:
            continue
        if not r.ok:
            unknown.append(f"{name} workload not read")
            continue
        ready = int(r.value.get("ready", 0)) if r.value.get("exists") else 0
        if needed and ready == 0:
            fails.append(f"the flag sends {served if name == 'orchestrator' else 100 - served}% to the "
                         f"{name} stack, which has 0 ready")
        elif name == "orchestrator" and served == 0 and ready > 0:
            warns.append(f"orchestrator has {ready} ready while the flag serves 0% "
                         "(normal before the canary; after a full rollback it should be at 0)")
    if gateway is None or gateway.unconfigured:
        unknown.append("no gateway metrics: observed share unknown")
    elif gateway.error:
        fails.append(f"gateway metrics not read: {gateway.error}")
    else:
        obs = gateway.value
        share = obs.get("share_new_pct")
        if share is None:
            unknown.append("no requests through the gateway in the window")
        elif served == 0 and obs.get("requests_new"):
            fails.append(f"{obs['requests_new']} request(s) reached the orchestrator while the flag serves 0%")
        elif served == 100 and obs.get("requests_legacy"):
            fails.append(f"{obs['requests_legacy']} request(s) reached LiteLLM while the flag serves 100%")
        elif abs(share - served) > SHARE_TOLERANCE_PCT:
            warns.append(f"gateway saw {share}% on the new stack; the flag serves {served}%")
    if fails:
        return "fail", fails + warns
    if warns:
        return "warn", warns
    if unknown:
        return "unknown", unknown
    return "pass", [f"journal, served flag ({served}%), gateway and workloads agree"]


def judge_flag_full(facts: Facts, flag: Reading) -> tuple[str, str]:
    """Before decommissioning LiteLLM: the flag serves 100%, and the journal verified it."""
    if (na := unreadable(flag)) is not None:
        return na
    served = int(flag.value.get("served_percentage", 0))
    last = facts.last_traffic or {}
    if served != 100:
        return "fail", f"clients are served {served}%, not 100%"
    if not (last.get("verified") and last.get("value") == 100):
        return "fail", "served 100% but the journal has no verified change to 100%"
    return "pass", "served 100%, verified in the journal"


def judge_no_legacy_traffic(gateway: Reading | None) -> tuple[str, str]:
    if gateway is None:
        return "unknown", "no gateway metrics configured: traffic to LiteLLM cannot be measured"
    if (na := unreadable(gateway)) is not None:
        return na
    v = gateway.value
    if v.get("requests_legacy") or v.get("in_flight_legacy"):
        return "fail", f"LiteLLM still serves: {v['requests_legacy']} request(s), {v['in_flight_legacy']} in flight"
    return "pass", "no request reached LiteLLM in the window"


def judge_budget(r: Reading) -> tuple[str, str]:
    """Today's spend (`cost status`'s verdict, core.cost.judge_budget) against cost_daily_budget_usd.
    Over budget warns and never fails: spending is no readiness fault. A spend that cannot be read
    is unknown ("not measured"), never within budget."""
    if r.unconfigured:
        return "unknown", f"not configured: {r.unconfigured}"
    if r.error:
        return "unknown", f"not measured: {r.error}"
    v = r.value or {}
    status = {"exceeded": "warn", "within": "pass"}.get(str(v.get("status")), "unknown")
    return status, v.get("message") or "not measured: no verdict"


# --- the catalogue ---------------------------------------------------------------------------

@dataclass(frozen=True)
class CheckDef:
    id: str
    title: str
    needs: tuple[str, ...]  # readings the check judges (the probes to run)
    judge: Callable[[dict[str, Any], Facts, Expectations, str | None], tuple[str, str]]


def _r(readings: dict[str, Any], key: str) -> Reading:
    return readings.get(key) or Reading(source="-", unconfigured="not probed")


CHECKS: tuple[CheckDef, ...] = (
    CheckDef("kubernetes", "EKS API and KubeRay CRDs", ("kubernetes",),
             lambda rd, f, e, p: judge_kubernetes(_r(rd, "kubernetes"), e)),
    CheckDef("sagemaker", "SageMaker endpoints InService", ("sagemaker",),
             lambda rd, f, e, p: judge_sagemaker(_r(rd, "sagemaker"), e)),
    CheckDef("dynamodb", "DynamoDB memory tables and replicas ACTIVE", ("dynamodb",),
             lambda rd, f, e, p: judge_dynamodb(_r(rd, "dynamodb"), e)),
    CheckDef("redis", "Redis answers with memory headroom", ("redis",),
             lambda rd, f, e, p: judge_redis(_r(rd, "redis"), e)),
    CheckDef("ray_serve", "Ray Serve orchestrator healthy", ("ray_serve",),
             lambda rd, f, e, p: judge_ray_serve(_r(rd, "ray_serve"), e)),
    CheckDef("appconfig", "AppConfig app, env, profile, strategies, monitors", ("appconfig",),
             lambda rd, f, e, p: judge_appconfig(_r(rd, "appconfig"), e)),
    CheckDef("identity", "AWS caller identity", ("identity",),
             lambda rd, f, e, p: judge_identity(_r(rd, "identity"), e)),
    CheckDef("legacy_ready", "LiteLLM ready to take traffic back", ("legacy",),
             lambda rd, f, e, p: judge_legacy(_r(rd, "legacy"), e)),
    CheckDef("hold", "Rollback hold", (), lambda rd, f, e, p: judge_hold(f, p)),
    CheckDef("lock", "Operator lock", (), lambda rd, f, e, p: judge_lock(f, p)),
    CheckDef("flag_full", "Flag serves 100%, verified", ("flag",),
             lambda rd, f, e, p: judge_flag_full(f, _r(rd, "flag"))),
    CheckDef("no_legacy_traffic", "No traffic reaches LiteLLM", ("gateway",),
             lambda rd, f, e, p: judge_no_legacy_traffic(rd.get("gateway"))),
    CheckDef("drift", "Journal, flag, gateway and workloads agree", ("flag", "gateway", "legacy", "orchestrator"),
             lambda rd, f, e, p: _drift(rd, f)),
    CheckDef("budget", "Today's spend within the daily cost budget", ("spend",),
             lambda rd, f, e, p: judge_budget(_r(rd, "spend"))),
)


def _drift(rd: dict[str, Any], f: Facts) -> tuple[str, str]:
    status, findings = drift_findings(f, _r(rd, "flag"), rd.get("gateway"), rd.get("legacy"), rd.get("orchestrator"))
    return status, "; ".join(findings)


PURPOSES: dict[str, tuple[str, ...]] = {
    "raise": ("kubernetes", "sagemaker", "dynamodb", "redis", "ray_serve", "appconfig", "identity",
              "legacy_ready", "hold", "lock", "drift"),
    "rollback": ("legacy_ready", "appconfig", "identity", "lock", "drift"),
    "decommission": ("flag_full", "no_legacy_traffic", "drift", "appconfig", "identity", "lock"),
}
DEFAULT = ("kubernetes", "sagemaker", "dynamodb", "redis", "ray_serve", "appconfig", "identity",
           "legacy_ready", "hold", "lock", "drift", "budget")


def select(purpose: str | None) -> list[CheckDef]:
    ids = PURPOSES[purpose] if purpose else DEFAULT
    by_id = {c.id: c for c in CHECKS}
    return [by_id[i] for i in ids]


def needed_readings(checks: list[CheckDef]) -> set[str]:
    return {n for c in checks for n in c.needs}


def evaluate(checks: list[CheckDef], readings: dict[str, Reading | None], facts: Facts, exp: Expectations,
             purpose: str | None) -> list[CheckResult]:
    out = []
    for c in checks:
        status, message = c.judge(readings, facts, exp, purpose)
        evidence: dict[str, Any] = {n: _evidence(readings.get(n)) for n in c.needs}
        if not c.needs:
            evidence = {"journal": facts.hold if c.id == "hold" else facts.lock, "source": "state store"}
        elif c.id in ("drift", "flag_full"):
            evidence["journal"] = {"last_traffic": facts.last_traffic, "pending_intent": facts.pending_intent}
        out.append(CheckResult(c.id, c.title, status, message, evidence))
    return out


def _evidence(r: Reading | None) -> dict[str, Any]:
    if r is None:
        return {"source": None, "read": None, "note": "not configured"}
    out: dict[str, Any] = {"source": r.source}
    if r.error:
        out["error"] = r.error
    elif r.unconfigured:
        out["unconfigured"] = r.unconfigured
    else:
        out["read"] = r.value
    return out


def summary(results: list[CheckResult]) -> dict[str, Any]:
    counts = {s: sum(1 for r in results if r.status == s) for s in STATUSES}
    return {"ok": counts["fail"] == 0, "counts": counts,
            "failed": [r.id for r in results if r.status == "fail"]}


# --- inputs from the runbook, settings and journal (pure) ------------------------------------

def expectations(runbook: RunbookSpec, settings: Settings) -> Expectations:
    """The endpoints and tables the runbook's steps deploy, the strategies cato-migrate uses."""
    from cato_migrate.core.table_specs import KNOWN_TABLES, replica_regions

    endpoints: list[str] = []
    tables: dict[str, tuple[str, ...]] = {}
    replicas = tuple(replica_regions(settings.region, list(settings.replica_regions)))
    for p in runbook.phases:
        for _, s in p.steps():
            if s.kind == "sagemaker_model" and s.params.get("endpoint") and s.params["endpoint"] not in endpoints:
                endpoints.append(s.params["endpoint"])
            if s.kind == "dynamodb_tables":
                for t in s.params.get("tables") or []:
                    spec = KNOWN_TABLES.get(t)
                    tables[t] = replicas if spec is None or spec.replicate else ()
    return Expectations(env=settings.env, endpoints=tuple(endpoints), tables=tables,
                        strategies=(settings.canary_strategy, settings.rollback_strategy),
                        alarms=tuple(settings.appconfig_alarm_names),
                        legacy_min_ready=settings.legacy_min_ready, legacy=settings.legacy_workload,
                        orchestrator=settings.orchestrator_workload)


def last_traffic(entries: list[JournalEntry]) -> dict[str, Any] | None:
    """The journal's last traffic outcome: the served value read back, and whether it was verified."""
    from cato_migrate.core.traffic import TRAFFIC_KEY

    e = next((e for e in reversed(entries) if e.key == TRAFFIC_KEY and e.event in ("finished", "failed")), None)
    if e is None:
        return None
    return {"value": e.evidence.get("served_percentage"), "verified": e.event == "finished", "at": e.at,
            "by": e.actor, "deployment_state": e.evidence.get("deployment_state")}


def pending_intent(entries: list[JournalEntry]) -> dict[str, Any] | None:
    from cato_migrate.core import traffic

    fn = getattr(traffic, "pending_traffic_intent", None)
    return fn(entries) if fn else None


def facts_from(entries: list[JournalEntry], hold: Hold | None, lock: LockLease | None, now: float) -> Facts:
    return Facts(last_traffic=last_traffic(entries), pending_intent=pending_intent(entries),
                 hold=hold.model_dump() if hold is not None else None,
                 lock={**lock.model_dump(), "expired": lock.expires < now} if lock is not None else None)


def diagnose(ctx: RunContext, purpose: str | None,
             read: Callable[[set[str], Expectations], dict[str, Any]]) -> dict[str, Any]:
    """Read what the selected checks need (through `read`), judge it, and summarise."""
    from cato_migrate.core.rollback_hold import hold_from_journal

    if purpose is not None and purpose not in PURPOSES:
        from cato_migrate.errors import BadInput

        raise BadInput(f"--for must be one of {', '.join(PURPOSES)}, got {purpose!r}")
    checks = select(purpose)
    exp = expectations(ctx.runbook, ctx.settings)
    entries = ctx.store.journal(ctx.env)
    facts = facts_from(entries, hold_from_journal(entries), ctx.store.read_lock(ctx.env), ctx.clock.now())
    readings = read(needed_readings(checks), exp)
    results = evaluate(checks, readings, facts, exp, purpose)
    return {"env": ctx.env, "for": purpose, **summary(results), "checks": [r.to_dict() for r in results]}
