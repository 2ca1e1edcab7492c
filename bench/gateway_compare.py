"""Side by side, in one run on one machine, in front of the same model simulator:
the simulator direct, the sandbox's LiteLLM proxy (legacy stack) and the orchestrator (Ray Serve).

    .venv/bin/python bench/gateway_compare.py --quick        # <= 15 min, start-up included
    .venv/bin/python bench/gateway_compare.py                # full profile (hours; a quiet machine)
    make bench BENCH_ARGS=--quick

It starts its own sandbox in a fresh state dir under /tmp (simulator, LiteLLM, redis, moto, a
local Ray head and the orchestrator, exactly the components `cato-migrate orchestrator install
--env local` runs) and stops it at the end, whatever happens.

Endpoints compared (every target asks for the same simulator tier, bedrock_haiku, whose latency
is set with PUT /admin/config {"tiers": {"*": {"ttft_ms": L, "per_token_ms": 0}}}):
  direct-openai   simulator POST /v1/chat/completions, model anthropic.claude-3-haiku-20240307-v1:0:
                  byte for byte what LiteLLM forwards (config/litellm.yaml). Baseline of litellm.
  direct-bedrock  simulator POST /model/anthropic.claude-3-haiku-20240307-v1:0/converse[-stream]:
                  what the orchestrator calls for `claude-3-haiku` (boto3 converse). Baseline of
                  orchestrator.
  litellm         LiteLLM proxy POST /v1/chat/completions, model claude-3-haiku (1 worker).
  orchestrator    Ray Serve POST /v1/chat/completions, model claude-3-haiku (pinned tier; no routing
                  change), with the same bearer key (<state_dir>/litellm.key -> principal `sandbox`).
All four get the same body shape per scenario: full history in `messages`, `user` in sessions.

Method: closed loop per (latency, scenario, concurrency); each step runs every target back to back,
for --rounds rounds with the target order rotated; each target step has warm-up seconds whose
requests are discarded, then a measured window. One aiohttp session, connector limit above the
highest concurrency. CPU is psutil over each target's whole process tree, read at both ends of
its measured step. Results: bench/results/<timestamp>.json (+ PNG plots), docs/performance.md.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import aiohttp  # noqa: E402
import psutil  # noqa: E402

from gateway_load import (HAIKU_BEDROCK_ID, SCENARIOS, ProcTree, Questions, Target, cpu_delta,  # noqa: E402
                          names, rss_mb, run_step)

PROFILES = {
    # levels, latencies (ms), rounds, warm-up s, measured s, per-request timeout s, start warm-up s
    "full": dict(levels=[1, 10, 50, 100, 200, 500, 1000, 2000], latencies=[500, 100], rounds=3,
                 warmup_s=5.0, measure_s=20.0, timeout_s=10.0, prewarm_s=10.0),
    "quick": dict(levels=[10, 50, 200], latencies=[500], rounds=3,
                  warmup_s=1.5, measure_s=2.5, timeout_s=10.0, prewarm_s=3.0),
}
TARGETS = ["direct-openai", "direct-bedrock", "litellm", "orchestrator"]
COMPONENTS = ["simulator", "litellm", "ray", "orchestrator"]  # + redis, moto (orchestrator's deps)


def pct(xs: list[float], p: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def _r(x: float | None, nd: int = 1) -> float | None:
    return None if x is None else round(x, nd)


# --- the machine ----------------------------------------------------------------------------

def machine() -> dict:
    def ver(venv: str, mod: str) -> str:
        py = ROOT / venv / "bin" / "python"
        r = subprocess.run([str(py), "-c", f"import importlib.metadata as m; print(m.version('{mod}'))"],
                           capture_output=True, text=True)
        return r.stdout.strip() or "?"

    cpu_model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), platform.processor())
    return {"host": socket.gethostname(), "cpu_model": cpu_model, "cores": os.cpu_count(),
            "ram_gb": round(psutil.virtual_memory().total / 2**30, 1), "kernel": platform.release(),
            "python": platform.python_version(), "ray": ver(".venv", "ray"),
            "aiohttp": ver(".venv", "aiohttp"), "litellm": ver(".venv-litellm", "litellm"),
            "litellm_python": subprocess.run([str(ROOT / ".venv-litellm/bin/python"), "-V"], capture_output=True,
                                             text=True).stdout.strip()}


def load_record() -> dict:
    la = os.getloadavg()
    t = psutil.cpu_times_percent(interval=1.0)
    return {"at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "loadavg": [round(x, 2) for x in la],
            "cpu_busy_pct_1s": round(100 - t.idle, 1), "steal_pct_1s": round(getattr(t, "steal", 0.0), 1)}


# --- the sandbox ----------------------------------------------------------------------------

class Sandbox:
    """The components this bench starts, in its own state dir; `close` stops every one of them."""

    def __init__(self, state_dir: Path, orch_overrides: str, orch_env: list[str], ingress: str = "proxy") -> None:
        from cato_sandbox.manager import SandboxSettings

        self.state_dir = state_dir
        self.settings = SandboxSettings(state_dir=state_dir, components=COMPONENTS, health_timeout_s=120.0,
                                        stop_timeout_s=20.0, ingress=ingress)
        if orch_overrides:
            (state_dir / "orchestrator-overrides.json").write_text(orch_overrides)
        for kv in orch_env:  # e.g. RAY_SERVE_ENABLE_HA_PROXY=1: inherited by the Ray head and the driver
            k, _, v = kv.partition("=")
            os.environ[k] = v
        self.records: dict[str, dict] = {}

    def up(self) -> dict:
        from cato_sandbox.manager import load_sandbox_state, sandbox_up

        t0 = time.monotonic()
        status = sandbox_up(self.settings)
        self.records = {c["name"]: c for c in (load_sandbox_state(self.state_dir) or {"components": []})["components"]}
        return {"seconds": round(time.monotonic() - t0, 1), "message": status.get("message")}

    def url(self, name: str) -> str:
        return self.records[name]["url"]

    def pid(self, name: str) -> int:
        return int(self.records[name]["pid"])

    def key(self) -> str:
        return (self.state_dir / "litellm.key").read_text().strip()

    def close(self) -> dict:
        from cato_sandbox.manager import sandbox_down

        return sandbox_down(self.settings)


def make_targets(sb: Sandbox) -> dict[str, Target]:
    key = sb.key()
    sim = lambda: [sb.pid("simulator")]  # noqa: E731
    return {
        "direct-openai": Target("direct-openai", "openai", sb.url("simulator"), HAIKU_BEDROCK_ID, key, None, sim),
        "direct-bedrock": Target("direct-bedrock", "bedrock", sb.url("simulator"), HAIKU_BEDROCK_ID, key, None, sim),
        "litellm": Target("litellm", "openai", sb.url("litellm"), "claude-3-haiku", key, "direct-openai",
                          lambda: [sb.pid("litellm")]),
        "orchestrator": Target("orchestrator", "openai", sb.url("orchestrator"), "claude-3-haiku", key,
                               "direct-bedrock", lambda: [sb.pid("ray"), sb.pid("orchestrator")]),
    }


# --- one measured cell ----------------------------------------------------------------------

def summarise(samples, w0: float, w1: float, done: int, total_ok: int, cpu_s: float, deps_cpu_s: float, rss: float, gen_cpu_pct: float) -> dict:
    ok = [s for s in samples if s.status == 200]
    kinds = Counter("timeout" if s.status == -1 else "connection" if s.status == 0 else str(s.status)
                    for s in samples if s.status != 200)
    first_err = {}
    for s in samples:
        if s.status != 200:
            first_err.setdefault("timeout" if s.status == -1 else "connection" if s.status == 0 else str(s.status),
                                 s.error)
    lat = [s.latency_ms for s in ok]
    ttft = [s.ttft_ms for s in ok if s.ttft_ms is not None]
    cached = [s.cached for s in ok if s.cached is not None]
    n = len(samples)
    per_turn = {}
    for t in (1, 2, 3):
        xs = [s.latency_ms for s in ok if s.turn_no == t]
        if xs and any(s.turn_no > 1 for s in ok):
            per_turn[str(t)] = {"n": len(xs), "p50": _r(pct(xs, 50)), "p99": _r(pct(xs, 99))}
    hits_on_candidates = [s.cached for s in ok if s.hit_candidate and s.cached is not None]
    return {
        "requests": n, "ok": len(ok), "errors": sum(v for k, v in kinds.items() if k not in ("429", "timeout")),
        "http_429": kinds.get("429", 0), "timeouts": kinds.get("timeout", 0), "error_kinds": dict(kinds),
        "error_samples": first_err,
        "rps": round(done / (w1 - w0), 1),
        "p50": _r(pct(lat, 50)), "p90": _r(pct(lat, 90)), "p99": _r(pct(lat, 99)), "max": _r(max(lat) if lat else None),
        "ttft_p50": _r(pct(ttft, 50)), "ttft_p99": _r(pct(ttft, 99)),
        "per_turn": per_turn or None,
        "cache_hit_rate": round(sum(cached) / len(cached), 3) if cached else None,
        # end to end, as the client saw them: the answers the cache gave (the "hit <= 5 ms")
        "cache_hit_p50": _r(pct([s.latency_ms for s in ok if s.cached], 50)),
        "cache_hit_p99": _r(pct([s.latency_ms for s in ok if s.cached], 99)),
        "cache_hit_rate_on_repeats": (round(sum(hits_on_candidates) / len(hits_on_candidates), 3)
                                      if hits_on_candidates else None),
        "tiers": dict(Counter(s.tier for s in ok if s.tier)) or None,
        "cpu_ms_per_req": round(cpu_s * 1000 / total_ok, 2) if total_ok else None,
        "deps_cpu_ms_per_req": round(deps_cpu_s * 1000 / total_ok, 2) if total_ok and deps_cpu_s else None,
        "rss_mb": round(rss, 1), "loadgen_cpu_pct": round(gen_cpu_pct, 1),
        "client_bound": gen_cpu_pct > 85.0,
    }


async def measure_cell(session, target: Target, scenario, conc: int, prof: dict, trees: dict, deps: ProcTree | None):
    me = psutil.Process()
    tree = trees[target.name]
    b, bd = tree.snapshot(), deps.snapshot() if deps else {}
    g0, t0 = me.cpu_times(), time.perf_counter()
    samples, w0, w1, done, total_ok = await run_step(session, target, scenario, conc, prof["warmup_s"], prof["measure_s"],
                                                     prof["timeout_s"], prof["client_retries"])
    g1, t1 = me.cpu_times(), time.perf_counter()
    a, ad = tree.snapshot(), deps.snapshot() if deps else {}
    # CPU per request: the tree's CPU over the whole step (warm-up and drain included) / every 200 of the step.
    gen = ((g1.user + g1.system) - (g0.user + g0.system)) / (t1 - t0) * 100
    out = summarise(samples, w0, w1, done, total_ok, cpu_delta(b, a), cpu_delta(bd, ad) if deps else 0.0,
                    rss_mb(a), gen)
    out["processes"] = names(a)
    return out


# --- the run --------------------------------------------------------------------------------

async def set_latency(session, sim_url: str, ms: float) -> None:
    async with session.put(sim_url + "/admin/config",
                           json={"tiers": {"*": {"ttft_ms": ms, "per_token_ms": 0}}}) as r:
        if r.status != 200:
            raise SystemExit(f"simulator refused the latency setting: {r.status} {await r.text()}")


async def run(args, prof: dict, sb: Sandbox, results: dict) -> None:
    targets = make_targets(sb)
    chosen = [t for t in args.targets.split(",") if t]
    trees = {name: ProcTree(t.procs) for name, t in targets.items()}
    deps = ProcTree(lambda: [sb.pid("redis"), sb.pid("moto")])
    q = Questions()
    conn = aiohttp.TCPConnector(limit=max(prof["levels"]) * 2 + 100, limit_per_host=0, ttl_dns_cache=None)
    async with aiohttp.ClientSession(connector=conn, trust_env=False,
                                     timeout=aiohttp.ClientTimeout(total=None)) as session:
        results["processes_at_start"] = {n: names(trees[n].snapshot()) for n in chosen}
        for L in prof["latencies"]:
            await set_latency(session, sb.url("simulator"), L)
            print(f"\n== simulator latency {L} ms (ttft_ms, per_token_ms 0) ==", flush=True)
            for name in chosen:  # start-up warm-up: tables, model load, clients, connection pools
                for scen in ("stateless", "sessions"):
                    await run_step(session, targets[name], SCENARIOS[scen](q), 8, prof["prewarm_s"], 0.0,
                                   prof["timeout_s"])
            for scen in args.scenarios.split(","):
                scenario = SCENARIOS[scen](q)
                for conc in prof["levels"]:
                    for rnd in range(prof["rounds"]):
                        order = chosen[rnd % len(chosen):] + chosen[:rnd % len(chosen)]
                        for name in order:
                            cell = await measure_cell(session, targets[name], scenario, conc, prof, trees,
                                                      deps if name == "orchestrator" else None)
                            cell.update(target=name, scenario=scen, latency_ms=L, concurrency=conc, round=rnd + 1)
                            results["cells"].append(cell)
                            flag = " CLIENT-BOUND" if cell["client_bound"] else ""
                            print(f"  L={L} {scen:10s} c={conc:<5d} r{rnd + 1} {name:15s} rps {cell['rps']:7.1f} "
                                  f"p50 {cell['p50']} p99 {cell['p99']} ok {cell['ok']} err {cell['errors']} "
                                  f"429 {cell['http_429']} to {cell['timeouts']} cpu/req {cell['cpu_ms_per_req']} ms "
                                  f"gen {cell['loadgen_cpu_pct']}%{flag}"
                                  + (f" hits p50 {cell['cache_hit_p50']} p99 {cell['cache_hit_p99']} ms"
                                     if cell.get("cache_hit_p50") is not None else ""), flush=True)
                            await asyncio.sleep(0.2)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few levels, short steps: <= 15 min with start-up")
    ap.add_argument("--levels", help="comma-separated concurrency levels (overrides the profile)")
    ap.add_argument("--latencies", help="comma-separated simulator latencies in ms (profile: 500,100 / quick: 500)")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--warmup-s", type=float)
    ap.add_argument("--measure-s", type=float)
    ap.add_argument("--timeout-s", type=float, help="per-request client timeout")
    ap.add_argument("--client-retries", type=int, default=2,
                    help="retries of a 429/5xx per turn, with the openai SDK's waits (its default: 2); 0 starts "
                         "a new conversation at once")
    ap.add_argument("--scenarios", default="stateless,sessions,paraphrase,streaming")
    ap.add_argument("--targets", default=",".join(TARGETS))
    ap.add_argument("--orch-overrides", default="", help="JSON for orchestrator-overrides.json, e.g. "
                    "'{\"cache\": {\"enabled\": false}}'")
    ap.add_argument("--orch-env", action="append", default=[], help="KEY=VALUE for the Ray head and the "
                    "orchestrator, e.g. RAY_SERVE_ENABLE_HA_PROXY=1 (repeatable)")
    ap.add_argument("--ingress", choices=["proxy", "haproxy"], default="haproxy",
                    help="the orchestrator's Ray Serve ingress (CATO_SANDBOX_INGRESS): haproxy, as the RayService "
                         "manifest ships, or Ray's Python proxy (the fallback)")
    ap.add_argument("--label", default="", help="free text stored with the results")
    ap.add_argument("--out-dir", default=str(ROOT / "bench" / "results"))
    ap.add_argument("--doc", default=str(ROOT / "docs" / "performance.md"), help="'' to skip the doc")
    args = ap.parse_args()

    prof = dict(PROFILES["quick" if args.quick else "full"])
    if args.levels:
        prof["levels"] = [int(x) for x in args.levels.split(",")]
    if args.latencies:
        prof["latencies"] = [float(x) for x in args.latencies.split(",")]
    for k in ("rounds", "warmup_s", "measure_s", "timeout_s"):
        if getattr(args, k) is not None:
            prof[k] = getattr(args, k)
    prof["client_retries"] = args.client_retries
    n_targets, n_scen = len(args.targets.split(",")), len(args.scenarios.split(","))
    est = (len(prof["latencies"]) * n_scen * len(prof["levels"]) * prof["rounds"] * n_targets
           * (prof["warmup_s"] + prof["measure_s"] + 0.7)
           + len(prof["latencies"]) * n_targets * 2 * prof["prewarm_s"])
    print(f"profile {'quick' if args.quick else 'full'}: {prof}; ~{est / 60:.0f} min of load + ~2 min start-up",
          flush=True)

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results: dict = {"timestamp": stamp, "label": args.label, "profile": "quick" if args.quick else "full",
                     "settings": prof, "scenarios": args.scenarios.split(","), "targets": args.targets.split(","),
                     "orch_overrides": args.orch_overrides or None, "orch_env": args.orch_env,
                     "machine": machine(), "load_before": load_record(), "cells": [], "notes": []}
    print(f"machine: {results['machine']}\nload before: {results['load_before']}", flush=True)

    def _interrupt(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupt)
    state_dir = Path(tempfile.mkdtemp(prefix="cato-bench-"))
    sb = Sandbox(state_dir, args.orch_overrides, args.orch_env, args.ingress)
    t_start = time.monotonic()
    try:
        print(f"starting the sandbox in {state_dir} ({', '.join(COMPONENTS)} + redis, moto) ...", flush=True)
        results["startup"] = sb.up()
        print(f"  up in {results['startup']['seconds']} s", flush=True)
        try:
            import uvloop
            uvloop.run(run(args, prof, sb, results))
        except ImportError:
            asyncio.run(run(args, prof, sb, results))
    except KeyboardInterrupt:
        results["notes"].append("interrupted: partial results")
        print("interrupted: writing partial results", flush=True)
    finally:
        results["load_after"] = load_record()
        results["wall_s"] = round(time.monotonic() - t_start, 1)
        try:
            results["sandbox_down"] = sb.close()
        except Exception as exc:  # noqa: BLE001 - report it, never leave without writing results
            results["sandbox_down"] = f"failed: {exc}"
        logs = {}
        for name in ("orchestrator", "litellm", "ray"):
            log = state_dir / "logs" / f"{name}.log"
            if log.exists():
                logs[name] = log.read_text(errors="replace")[-3000:]
        results["log_tails"] = logs
        from gateway_report import aggregate, print_ratios, write_doc, write_plots

        results["summary"] = aggregate(results)
        path = out_dir / f"{stamp}.json"
        path.write_text(json.dumps(results, indent=1, default=str))
        plots = write_plots(results, out_dir / stamp) if results["cells"] else []
        print(f"\nresults: {path}", flush=True)
        if args.doc and results["cells"]:
            write_doc(results, Path(args.doc), path, plots)
            print(f"doc: {args.doc}")
        print_ratios(results)
        print(f"load after: {results['load_after']}; wall {results['wall_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
