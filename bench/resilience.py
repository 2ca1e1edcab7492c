"""Resilience on the sandbox, in figures: kill -9 at every step boundary, Redis killed, the Serve replica killed.

Run: .venv/bin/python bench/resilience.py [--only crash|redis|replica] [--phases 4]
Each part starts and stops its own sandbox (a temporary work dir, 1 strategy-minute = 0.05 s).
Prints a table per part, then one JSON summary line (`{"resilience": ...}`).

crash    `phase run N` is SIGKILLed as soon as the journal holds boundary k (the k-th `started` or
         `finished` entry of the phase's steps), re-run and killed at k+1, ... until a run completes
         unkilled. Then the state is compared with what a clean run gives (scripts/demo.sh asserts
         it: every step done, `validate N` exits 0, the flag serves the phase's percentage).
         Phases 1..--phases (phase 4: weeks 13 and 14, as the demo's canary), then `canary set`
         killed right after StartDeployment, then `rollback --full` at every stage boundary.
         Each kill leaves a stale lock: the next command must take it over at once (audited).
redis    the orchestrator's Redis (working memory) SIGKILLed while a session talks to it (official
         openai SDK, x-session-id): answers, errors, whether the context (kept in DynamoDB) is kept;
         Redis restarted on its port: seconds until the session is in Redis again.
replica  the orchestrator's Ray Serve replica killed (ray.kill) under a steady request stream:
         seconds to the first answer after the kill, errors meanwhile.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from resilience_crash import crash_part, print_crash  # noqa: E402
from resilience_sandbox import Sandbox  # noqa: E402


# --- the orchestrator under fire: a client ------------------------------------------------------

def openai_client(sb: Sandbox, url: str):
    from openai import OpenAI

    key = (sb.work / "litellm.key").read_text().strip()
    # no retries: every failed request is counted, as a client without retries would see it
    return OpenAI(base_url=url.rstrip("/") + "/v1", api_key=key, max_retries=0, timeout=10.0)


def ask(client, text: str, session: str) -> str:
    r = client.chat.completions.create(model="cato", messages=[{"role": "user", "content": text}],
                                       extra_headers={"x-session-id": session})
    return r.choices[0].message.content or ""


# --- part 2: Redis killed ---------------------------------------------------------------------

def redis_part(sb: Sandbox, url: str, spawned: list, outage_s: float = 6.0, sessions: int = 8) -> dict:
    """Sessions are asked in turn, each a few times only: its "My name is" turn must stay within the
    history the orchestrator sends (history_turns = 20 turns), or the name would fall out of it."""
    import redis

    client = openai_client(sb, url)
    rec = sb.component("redis")
    r = redis.Redis(host="127.0.0.1", port=rec["port"], socket_timeout=1)
    nonce = uuid.uuid4().hex[:8]
    people = [(f"bench-redis-{nonce}-{i}", f"Alice{nonce[:3].capitalize()}{chr(65 + i)}x") for i in range(sessions)]

    def in_redis(session: str) -> bool:
        """Its turns list (orchestrator/memory/working.py: wm:{<principal>/<session>}:turns) is there."""
        try:
            return any(r.llen(k) > 0 for k in r.scan_iter(match=f"*/{session}}}:turns", count=1000))
        except (redis.RedisError, OSError):
            return False

    for sid, name in people:
        ask(client, f"My name is {name}", sid)
    deadline = time.monotonic() + 10
    while not all(in_redis(sid) for sid, _ in people) and time.monotonic() < deadline:  # written behind the reply
        time.sleep(0.05)
    before = all(in_redis(sid) for sid, _ in people)
    os.kill(rec["pid"], signal.SIGKILL)  # the sandbox's redis-server, started by this bench's `sandbox up`
    t_kill = time.monotonic()
    out = {"sent": 0, "errors": 0, "answers": 0, "kept": 0}
    turn = iter(range(10**6))

    def recall(tally: dict) -> str:
        sid, name = people[next(turn) % sessions]
        tally["sent"] += 1
        try:
            answer = ask(client, "What is my name?", sid)
        except Exception:  # noqa: BLE001 — every failure counts
            tally["errors"] += 1
            return sid
        tally["answers"] += 1
        tally["kept"] += name in answer
        return sid

    new_sid, new_name = f"bench-redis-new-{nonce}", f"Bob{nonce[4:].capitalize()}x"
    new_ok = None
    while time.monotonic() - t_kill < outage_s:
        t = time.monotonic()
        recall(out)
        if new_ok is None and time.monotonic() - t_kill > outage_s / 2:  # a session begun during the outage
            out["sent"] += 2
            try:
                ask(client, f"My name is {new_name}", new_sid)
                new_ok = new_name in ask(client, "What is my name?", new_sid)
            except Exception:  # noqa: BLE001
                out["errors"] += 1
                new_ok = False
        time.sleep(max(0.0, 0.25 - (time.monotonic() - t)))  # ~4 a second: a few asks per session
    # restart it as the sandbox did: same argv, same port; this bench stops it at the end
    log = open(Path(rec["log"]).with_name("redis-restarted.log"), "w")
    proc = subprocess.Popen(rec["argv"], cwd=sb.work, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    spawned.append(proc)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if r.ping():
                break
        except (redis.RedisError, OSError):
            time.sleep(0.02)
    t_up = time.monotonic()
    after = {"sent": 0, "errors": 0, "answers": 0, "kept": 0}
    recovered = None
    while after["sent"] < 4 * sessions:  # at most 4 more asks per session
        sid = recall(after)
        if in_redis(sid):  # empty after the restart: only the orchestrator's re-warm puts it back
            recovered = time.monotonic() - t_up
            break
    answers, kept = out["answers"] + after["answers"], out["kept"] + after["kept"]
    return {"redis_in_use_before": before, "outage_seconds": round(outage_s, 1),
            "requests_during_outage": out["sent"], "errors_during_outage": out["errors"],
            "context_kept": answers > 0 and kept == answers, "answers_with_context": kept, "answers": answers,
            "new_session_during_outage_kept": bool(new_ok),
            "requests_after_restart": after["sent"], "errors_after_restart": after["errors"],
            "recovery_seconds": round(recovered, 2) if recovered is not None else None}


def print_redis(d: dict) -> None:
    print("\nredis-server SIGKILLed while a session talks to the orchestrator (openai SDK, no retries)")
    print(f"  requests during the {d['outage_seconds']:.0f} s outage   {d['requests_during_outage']:5d}")
    print(f"  errors during the outage          {d['errors_during_outage']:5d}")
    print(f"  context kept (from DynamoDB)      {'yes' if d['context_kept'] else 'NO'} "
          f"({d['answers_with_context']}/{d['answers']} answers named the user; a session begun in the outage: "
          f"{'kept' if d['new_session_during_outage_kept'] else 'LOST'})")
    rec = d["recovery_seconds"]
    print(f"  Redis in use again after restart  {f'{rec:.2f} s' if rec is not None else 'NOT seen'} "
          f"({d['requests_after_restart']} requests, {d['errors_after_restart']} errors)")


# --- part 3: the Serve replica killed --------------------------------------------------------

def replica_part(sb: Sandbox, url: str) -> dict:
    import ray

    client = openai_client(sb, url)
    ray.init(address=sb.component("ray")["url"], namespace="cato-bench", log_to_driver=False,
             logging_level="ERROR")
    try:
        named = ray.util.list_named_actors(all_namespaces=True)
        replicas = [a for a in named if a["namespace"] == "serve" and "CatoOrchestrator" in a["name"]
                    and "REPLICA" in a["name"].upper()]
        if not replicas:
            raise SystemExit(f"no CatoOrchestrator replica among Ray's named actors: {named}")
        events: list[tuple[float, bool, str]] = []
        stop = threading.Event()

        def stream() -> None:
            i = 0
            while not stop.is_set():
                i += 1
                t = time.monotonic()
                try:
                    ask(client, f"What is the capital of France? ({i})", f"bench-replica-{i}")
                    events.append((t, True, ""))
                except Exception as exc:  # noqa: BLE001 — counted
                    events.append((t, False, type(exc).__name__))
                    time.sleep(0.05)

        th = threading.Thread(target=stream, daemon=True)
        th.start()
        time.sleep(3)
        t_kill = time.monotonic()
        ray.kill(ray.get_actor(replicas[0]["name"], namespace="serve"), no_restart=True)
        t_gone = None  # ray.kill is asynchronous: the replica is gone once Ray no longer lists it
        while time.monotonic() - t_kill < 180:
            if t_gone is None and replicas[0]["name"] not in {a["name"] for a in ray.util.list_named_actors(True)}:
                t_gone = time.monotonic()
            if t_gone is not None and sum(1 for e in events if e[0] >= t_gone and e[1]) >= 5:
                break
            time.sleep(0.05)
        stop.set()
        th.join(timeout=15)
    finally:
        ray.shutdown()
    before = [e for e in events if e[0] < t_kill]
    after = [e for e in events if e[0] >= t_kill]
    t_gone = t_gone or t_kill
    first_ok = next((e for e in after if e[1] and e[0] >= t_gone), None)
    errs = [e for e in after if not e[1] and (first_ok is None or e[0] < first_ok[0])]
    kinds: dict[str, int] = {}
    for e in errs:
        kinds[e[2]] = kinds.get(e[2], 0) + 1
    return {"replicas": len(replicas), "requests_before_kill": len(before),
            "errors_before_kill": sum(1 for e in before if not e[1]),
            "seconds_kill_to_gone": round(t_gone - t_kill, 2),
            "seconds_to_first_answer": round(first_ok[0] - t_kill, 2) if first_ok else None,
            "errors_until_then": len(errs), "error_kinds": kinds,
            "requests_after_kill": len(after), "errors_after_kill": sum(1 for e in after if not e[1])}


def print_replica(d: dict) -> None:
    print(f"\nthe orchestrator's Ray Serve replica killed (ray.kill; {d['replicas']} replica(s)), "
          "requests streaming")
    print(f"  before the kill                  {d['requests_before_kill']} requests, {d['errors_before_kill']} errors")
    s = d["seconds_to_first_answer"]
    print(f"  replica gone (Ray lists it no more) {d['seconds_kill_to_gone']:.2f} s after ray.kill")
    print(f"  first answer begun after that    {f'{s:.2f} s after the kill' if s is not None else 'NONE within 180 s'}")
    print(f"  errors until then                {d['errors_until_then']} {d['error_kinds'] or ''}")
    print(f"  after the kill, in all           {d['requests_after_kill']} requests, {d['errors_after_kill']} errors")


# --- main -------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["crash", "redis", "replica"])
    ap.add_argument("--phases", type=int, default=4, choices=[1, 2, 3, 4],
                    help="crash drill: phases 1..N (each needs the ones before)")
    args = ap.parse_args()
    summary: dict = {}
    t0 = time.monotonic()
    if args.only in (None, "redis", "replica"):
        sb = Sandbox("orchestrator")
        restarted: list[subprocess.Popen] = []
        try:
            url = sb.up(orchestrator=True)
            if args.only in (None, "redis"):
                summary["redis"] = redis_part(sb, url, restarted)
                print_redis(summary["redis"])
            if args.only in (None, "replica"):
                summary["replica"] = replica_part(sb, url)
                print_replica(summary["replica"])
        finally:
            for proc in restarted:  # the redis-server this bench restarted (not in sandbox.json)
                proc.terminate()
                proc.wait(timeout=10)
            summary["orchestrator_sandbox_leftovers"] = sb.down()
    if args.only in (None, "crash"):
        summary["crash"] = crash_part(args.phases)
        print_crash(summary["crash"])
    summary["seconds"] = round(time.monotonic() - t0, 1)
    print(json.dumps({"resilience": summary}, default=str))
    if summary.get("crash", {}).get("mismatches"):
        sys.exit(1)


if __name__ == "__main__":
    main()
