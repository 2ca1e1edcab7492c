"""`cato-migrate doctor`'s judges of the runbook's prerequisites (pure): EKS and the KubeRay CRDs,
SageMaker endpoints, DynamoDB tables and replicas, Redis headroom, Ray Serve, AppConfig and its
alarm monitors, the AWS identity, and LiteLLM ready to take traffic back. One reading in, a
(status, message) out, by the rule in core/doctor.py's docstring."""
from __future__ import annotations

from typing import Any

from cato_migrate.core.doctor_model import Expectations, Reading

REDIS_WARN_RATIO = 0.80   # used/maxmemory at which eviction pressure is near
REDIS_FAIL_RATIO = 0.90
CRDS = ("rayservices.ray.io", "rayclusters.ray.io")


# --- one judge per check: (readings, facts, exp) -> (status, message) ------------------------

def unreadable(r: Reading) -> tuple[str, str] | None:
    """unknown when nothing is configured to read, fail when it did not answer; None when it answered."""
    if r.unconfigured:
        return "unknown", f"not configured: {r.unconfigured}"
    if r.error:
        return "fail", r.error
    return None


def judge_kubernetes(r: Reading, exp: Expectations) -> tuple[str, str]:
    if (na := unreadable(r)) is not None:
        return na
    v = r.value
    if v.get("local"):
        ray = v.get("ray_head") or {}
        if ray.get("status") == "deployed":
            return "pass", "local: workloads are sandbox processes; the local Ray head stands in for KubeRay"
        return "fail", ("local: workloads are sandbox processes and the Ray head (KubeRay's stand-in) is not "
                        "running: run `cato-migrate orchestrator install`")
    missing = [c for c in CRDS if c not in (v.get("crds") or [])]
    if missing:
        return "fail", f"API {v.get('version', '?')} answers; KubeRay CRDs missing: {', '.join(missing)}"
    return "pass", f"API {v.get('version', '?')} answers; KubeRay CRDs present"


def judge_sagemaker(r: Reading, exp: Expectations) -> tuple[str, str]:
    if not exp.endpoints:
        return "unknown", "the runbook names no SageMaker endpoint"
    if (na := unreadable(r)) is not None:
        return na
    bad = []
    for name in exp.endpoints:
        ep = (r.value or {}).get(name) or {}
        status = ep.get("status")
        if status != "InService":
            why = f" ({ep['failure_reason']})" if ep.get("failure_reason") else ""
            bad.append(f"{name} {status or 'not deployed'}{why}")
    if bad:
        return "fail", "not InService: " + "; ".join(bad)
    return "pass", f"{len(exp.endpoints)} endpoint(s) InService"


def judge_dynamodb(r: Reading, exp: Expectations) -> tuple[str, str]:
    if not exp.tables:
        return "unknown", "the runbook names no memory table"
    if (na := unreadable(r)) is not None:
        return na
    bad = []
    for name, regions in exp.tables.items():
        t = (r.value or {}).get(name) or {}
        status = t.get("status", "MISSING")
        if status != "ACTIVE":
            bad.append(f"{name} {status}")
            continue
        for region in regions:
            rs = (t.get("replicas") or {}).get(region, "MISSING")
            if rs != "ACTIVE":
                bad.append(f"{name} replica {region} {rs}")
    if bad:
        return "fail", "; ".join(bad)
    n = sum(len(v) for v in exp.tables.values())
    return "pass", f"{len(exp.tables)} table(s) ACTIVE, {n} replica(s) ACTIVE"


def judge_redis(r: Reading, exp: Expectations) -> tuple[str, str]:
    if (na := unreadable(r)) is not None:
        return na
    used, limit = int(r.value.get("used_memory", 0)), int(r.value.get("maxmemory", 0))
    if limit <= 0:
        return "warn", f"answers; {used} B used and no maxmemory set: the host's memory is the only limit"
    ratio = used / limit
    text = f"answers; {used} of {limit} B used ({ratio:.0%})"
    if ratio >= REDIS_FAIL_RATIO:
        return "fail", text + f": under {1 - REDIS_FAIL_RATIO:.0%} headroom, eviction is near"
    if ratio >= REDIS_WARN_RATIO:
        return "warn", text + ": little headroom"
    return "pass", text


def judge_ray_serve(r: Reading, exp: Expectations) -> tuple[str, str]:
    if (na := unreadable(r)) is not None:
        return na
    v = r.value or {}
    if not v.get("ok"):
        return "fail", "health says not ready" + (f" (warm: {v.get('warm')})" if v.get("warm") else "")
    open_ = [k for k, s in (v.get("breakers") or {}).items() if str(s).lower() != "closed"]
    if open_:
        return "warn", f"healthy; circuit breaker(s) not closed: {', '.join(open_)}"
    return "pass", "healthy, breakers closed"


def judge_appconfig(r: Reading, exp: Expectations) -> tuple[str, str]:
    if (na := unreadable(r)) is not None:
        return na
    v = r.value or {}
    missing = [k for k in ("application", "environment", "profile") if not v.get(k)]
    if missing:
        return "fail", "missing: " + ", ".join(missing) + " (`cato-migrate canary set 0` creates them)"
    # AppConfig must roll back on alarm by itself; on the sandbox that is a rehearsal, so only a warning.
    sev = "warn" if exp.env == "local" else "fail"
    if not v.get("monitors"):
        return sev, ("application, environment and profile present; no alarm monitor on the environment"
                     + (_alarm_gaps(list(exp.alarms), v.get("alarms") or {}) if exp.alarms else ""))
    attached = {m.rsplit(":alarm:", 1)[-1] for m in v["monitors"]}
    if unattached := [a for a in exp.alarms if a not in attached]:
        return sev, f"present, {len(v['monitors'])} alarm monitor(s)" + _alarm_gaps(unattached, v.get("alarms") or {})
    firing = [f"{n} is {a['state']}" for n, a in (v.get("alarms") or {}).items()
              if a and n in attached and a.get("state") in ("ALARM", "INSUFFICIENT_DATA")]
    if firing:
        return "warn", (f"present, {len(v['monitors'])} alarm monitor(s); {', '.join(firing)}: AppConfig rolls back "
                        "any deployment with deploy or bake time until it is OK")
    # `canary set` and `rollback --quick` create their strategy on first use; present beforehand is
    # better (no create rights needed mid-incident), absent is not a blocker.
    absent = [s for s in exp.strategies if s not in (v.get("strategies") or [])]
    if absent:
        return "warn", f"present, {len(v['monitors'])} alarm monitor(s); strategy not created yet: {', '.join(absent)}"
    return "pass", f"present, {len(v['monitors'])} alarm monitor(s), strategies present"


def _alarm_gaps(names: list[str], alarms: dict[str, Any]) -> str:
    """What to do about configured alarms the environment does not monitor (None in `alarms`: no such alarm)."""
    gone = [n for n in names if n in alarms and alarms[n] is None]
    idle = [n for n in names if n not in gone]
    out = ""
    if gone:
        out += (f"; alarm(s) not in CloudWatch: {', '.join(gone)} (the infrastructure creates them; "
                "on the sandbox `cato-migrate sandbox up`)")
    if idle:
        out += f"; not attached: {', '.join(idle)} (`cato-migrate canary set` attaches existing alarms)"
    return out


def judge_identity(r: Reading, exp: Expectations) -> tuple[str, str]:
    if (na := unreadable(r)) is not None:
        return na
    return "pass", f"{r.value.get('arn', '?')} (account {r.value.get('account', '?')})"


def judge_legacy(r: Reading, exp: Expectations) -> tuple[str, str]:
    if (na := unreadable(r)) is not None:
        return na
    v = r.value
    if not v.get("exists"):
        return "fail", f"{exp.legacy} does not exist: a rollback would have nowhere to send traffic"
    ready = int(v.get("ready", 0))
    text = f"{exp.legacy} {ready} ready of {v.get('desired', 0)} (need >= {exp.legacy_min_ready})"
    return ("pass" if ready >= exp.legacy_min_ready else "fail"), text
