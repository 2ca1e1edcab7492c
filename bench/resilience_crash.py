"""bench/resilience.py's part 1: kill -9 at every step boundary of phases 1-4, `canary set` killed
after StartDeployment, `rollback --full` at every stage boundary (see resilience.py)."""
from __future__ import annotations

import time

from resilience_sandbox import ROOT, Journal, Sandbox, kill_group, step_state


def drill(sb: Sandbox, journal: Journal, argv: list[str], order: list[str], *, cap: int = 80) -> dict:
    """Kill `cato-migrate argv` at boundary k, re-run, kill at k+1, ... until a run ends unkilled.

    Boundaries are positions in a clean run: step i of `order` started = 2i+1, finished = 2i+2. A re-run
    that re-applies step i writes `started` again, which reaches no new position: it is killed only once
    it gets past the furthest boundary reached so far."""
    pos = {key: i for i, key in enumerate(order)}
    first_seq = journal.refresh()[-1]["seq"] if journal.rows else 0

    def reached() -> int:
        return max([2 * pos[e["key"]] + (1 if e["event"] == "started" else 2) for e in journal.refresh()
                    if e["seq"] > first_seq and e["key"] in pos and e["event"] in ("started", "finished")] or [0])

    target, kills, landed, pids, stale = 0, 0, [], [], 0  # landed: (aimed at, reached when killed)
    t0 = time.monotonic()
    while True:
        target = max(target + 1, reached() + 1)
        p, log = sb.popen(*argv)
        killed = False
        while p.poll() is None:
            if reached() >= target:
                kill_group(p)
                killed = True
                break
            time.sleep(0.005)
        if not killed:
            break
        kills += 1
        pids.append(p.pid)
        landed.append((target, reached()))
        lease = journal.lock()
        stale += bool(lease and lease["pid"] == p.pid)
        if kills >= cap:
            raise SystemExit(f"{' '.join(argv)}: still not done after {cap} kills (log {log})")
    rows = [e for e in journal.refresh() if e["seq"] > first_seq and e["key"] in pos]
    starts = [e["key"] for e in rows if e["event"] == "started"]
    audit = journal.audit()
    taken = [a for a in audit if a["action"] in ("lock.takeover", "lock.preempt")
             and a["details"].get("previous_pid") in pids]
    at_once = [a for a in taken if a["action"] == "lock.preempt" or "is gone" in a["details"].get("why", "")
               or "reused" in a["details"].get("why", "")]
    return {"command": " ".join(argv), "boundaries": reached(), "kills": kills,
            "resumes": kills,  # every kill is followed by a re-run that resumes
            "overshoot": sum(1 for aimed, held in landed if held > aimed),  # killed later than aimed
            "verified_after_interruption": sum(1 for e in rows if e["event"] == "finished"
                                               and e.get("message", "").startswith("resumed")),
            "re_applied": len(starts) - len(set(starts)),
            "steps": len({e["key"] for e in rows}), "stale_locks": stale, "takeovers": len(taken),
            "takeovers_at_once": len(at_once),
            "final_rc": p.returncode, "final_log": str(log), "seconds": round(time.monotonic() - t0, 1)}


PHASE_RUNS = {1: [(None, ["p1.w1.announce-kickoff"])], 2: [(None, ["p2.w8.midpoint-update"])],
              3: [(None, [])], 4: [(13, ["p4.w13.alert-oncall"]), (14, [])]}
SERVED_AFTER = {1: 0, 2: 0, 3: 0, 4: 50}
# the promotion gate wants a day's soak at 10% before 50%: a drill compresses it away, as the demo does
SOAK_OVERRIDE = ["--force", "--reason", "crash drill: the stage soak is compressed away"]


def phase_steps(n: int, week: int | None) -> list[str]:
    import yaml

    doc = yaml.safe_load(next((ROOT / "runbook").glob(f"phase-{n}-*.yaml")).read_text())
    return [s["id"] for w in doc["weeks"] if week is None or w["week"] == week for s in w["steps"]]


def crash_part(phases: int) -> dict:
    sb = Sandbox("crash")
    journal = Journal(sb.work / "state.db")
    results, mismatches, notes = [], [], []
    t0 = time.monotonic()
    sb.up()
    try:
        for n in range(1, phases + 1):
            for week, attest in PHASE_RUNS[n]:
                for step in attest:
                    sb.must("attest", step, "--by", "bench", "--note", "resilience drill")
                ids = phase_steps(n, week)
                argv = ["phase", "run", str(n)] + (["--week", str(week)] if week else []) \
                    + (SOAK_OVERRIDE if (n, week) == (4, 14) else [])
                res = drill(sb, journal, argv, ids)
                results.append(res)
                rows = journal.refresh()
                if res["final_rc"] != 0:
                    mismatches.append(f"{res['command']}: the unkilled run exited {res['final_rc']} "
                                      f"(clean run: 0; log {res['final_log']})")
                not_done = [s for s in sorted(ids) if step_state(rows, s) != "done"]
                if not_done:
                    mismatches.append(f"{res['command']}: steps not done: {not_done}")
            if n < 4:
                r = sb.run("validate", str(n))
                if r.returncode != 0:  # a measured criterion (p99) can miss on a busy machine: once more
                    notes.append(f"validate {n} exited {r.returncode} once, then re-run: {r.stdout[-400:]}")
                    r = sb.run("validate", str(n))
                if r.returncode != 0:
                    mismatches.append(f"validate {n} exited {r.returncode} (clean run: 0): {r.stdout[-600:]}")
            served = sb.json("canary", "status")["served_percentage"]
            if served != SERVED_AFTER[n]:
                mismatches.append(f"after phase {n}: flag serves {served}% (clean run: {SERVED_AFTER[n]}%)")
        results.append(canary_drill(sb, journal, mismatches, phases))
        rb = drill(sb, journal, ["rollback", "--full", "--reason", "crash drill"],
                   [f"rollback.full.{stage}" for stage in ("legacy-up", "flag-zero", "drain", "orchestrator-down")])
        results.append(rb)
        rows = journal.refresh()
        last = [e for e in rows if e["key"] == "rollback.full"][-1]
        st = sb.json("status")
        served = sb.json("canary", "status")["served_percentage"]
        if rb["final_rc"] != 0 or last["event"] != "finished" or served != 0 or st["full_rollback_interrupted_at"]:
            mismatches.append(f"rollback --full: rc {rb['final_rc']}, last entry {last['event']}, serves {served}%, "
                              f"interrupted at {st['full_rollback_interrupted_at']} (clean run: 0, finished, 0%, none)")
        steps_done = st["steps_done"]
    finally:
        leftovers = sb.down()
    return {"runs": results, "mismatches": mismatches, "notes": notes, "steps_done": steps_done,
            "leftover_processes": leftovers,
            "phases": phases, "seconds": round(time.monotonic() - t0, 1), "work_dir": str(sb.root)}


def canary_drill(sb: Sandbox, journal: Journal, mismatches: list[str], phases: int) -> dict:
    """`canary set 10` SIGKILLed right after StartDeployment; `status` must show the intent; the next
    `canary set 10` takes the lock over and reconciles the change from what AppConfig serves."""
    before = sb.json("canary", "status")["served_percentage"]
    extra = [] if before >= 10 else ["--force", "--reason", "crash drill"]
    t0 = time.monotonic()
    p, log = sb.popen("canary", "set", "10", *extra)
    while p.poll() is None and "deployment #" not in log.read_text():
        time.sleep(0.005)
    killed = p.poll() is None
    kill_group(p)
    rows = journal.refresh()
    intent = [e for e in rows if e["key"] == "traffic.flag"][-1]
    audit_has = any(a["action"] == "canary.set" and a["details"].get("version") == intent["inputs"].get("version")
                    for a in journal.audit())
    lease = journal.lock()
    pending = sb.json("status")["pending_traffic_intent"]
    for _ in range(20):  # a deployment still in flight is left pending: the command refuses (exit 1)
        r = sb.run("canary", "set", "10", *extra)
        if not (r.returncode == 1 and any(s in r.stderr for s in ("DEPLOYING", "BAKING"))):
            break
        time.sleep(0.5)
    rows = journal.refresh()
    closed = [e for e in rows if e["key"] == "traffic.flag" and e["seq"] > intent["seq"]]
    audit = journal.audit()
    reconciled = any(a["action"] == "traffic.reconciled" and a["details"].get("interrupted_run") == intent["run_id"]
                     for a in audit)
    taken = [a for a in audit if a["action"] == "lock.takeover" and a["details"].get("previous_pid") == p.pid]
    served = sb.json("canary", "status")["served_percentage"]
    ok = (killed and intent["event"] == "started" and audit_has and pending is not None and r.returncode == 0
          and closed and closed[0]["event"] == "finished" and closed[0]["evidence"].get("reconciled") and reconciled
          and served == 10)
    if not ok:
        mismatches.append(f"canary set 10 killed after StartDeployment: killed={killed} intent={intent['event']} "
                          f"audit={audit_has} status-pending={pending is not None} next rc={r.returncode} "
                          f"closed={[(e['event'], e['evidence'].get('reconciled')) for e in closed]} "
                          f"traffic.reconciled={reconciled} serves {served}% (want 10%); {r.stderr[-400:]}")
    if phases >= 4:  # back to 50% for the full rollback drill, as the demo's
        sb.must("canary", "set", "50", *SOAK_OVERRIDE, timeout=600)
    return {"command": "canary set 10 (killed after StartDeployment)", "boundaries": 1, "kills": int(killed),
            "resumes": 1, "overshoot": 0,
            "verified_after_interruption": int(bool(closed and closed[0]["evidence"].get("reconciled"))),
            "re_applied": 0, "steps": 1, "stale_locks": int(bool(lease and lease["pid"] == p.pid)),
            "takeovers": len(taken), "takeovers_at_once": sum("is gone" in a["details"].get("why", "") for a in taken),
            "final_rc": r.returncode, "final_log": str(log), "seconds": round(time.monotonic() - t0, 1)}


def print_crash(c: dict) -> None:
    print(f"\ncrash drill: kill -9 at every step boundary (phases 1-{c['phases']}; phase 4 = weeks 13-14), "
          f"{c['seconds']:.0f} s")
    print(f"  {'command':44} {'bounds':>6} {'kills':>5} {'resum':>5} {'verif':>5} {'reapp':>5} "
          f"{'stale':>5} {'takeo':>5} {'rc':>3} {'secs':>6}")
    for r in c["runs"]:
        print(f"  {r['command'][:44]:44} {r['boundaries']:6d} {r['kills']:5d} {r['resumes']:5d} "
              f"{r['verified_after_interruption']:5d} {r['re_applied']:5d} {r['stale_locks']:5d} "
              f"{r['takeovers_at_once']:5d} {r['final_rc']:3d} {r['seconds']:6.1f}")
    tot = {k: sum(r[k] for r in c["runs"])
           for k in ("boundaries", "kills", "resumes", "stale_locks", "takeovers_at_once")}
    print(f"  total: {tot['boundaries']} boundaries, {tot['kills']} kills, {tot['resumes']} resumes, "
          f"{tot['stale_locks']} stale locks, {tot['takeovers_at_once']} taken over at once, "
          f"{len(c['mismatches'])} mismatches with a clean run")
    for m in c["mismatches"]:
        print(f"  MISMATCH {m}")
    for n in c["notes"]:
        print(f"  note: {n}")
    for p in c["leftover_processes"]:
        print(f"  LEFT RUNNING after sandbox down (stopped now): {p}")
    print("  (verif: steps verified done after the kill, not re-applied; reapp: steps applied again; "
          "takeo: stale locks taken over at once, audited)")
