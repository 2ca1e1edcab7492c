"""Added latency of the orchestrator over the model simulator, at 50 and 500 concurrent requests.

Run: .venv/bin/python bench/orchestrator_latency.py   (starts its own sandbox + orchestrator, stops them)

Baseline, in the same run: the same requests sent straight to the simulator's OpenAI API
(the Shadow Self/vLLM path) with the same per-request model latency. Orchestrator requests
use unique queries, so every one is a cache miss (embedding + routing + Redis + DynamoDB + model).
"""
from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
MODEL_MS = 100


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


async def load(url: str, concurrency: int, total: int, body_for) -> tuple[list[float], int]:
    lat, errors = [], 0
    sem = asyncio.Semaphore(concurrency)
    conn = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=120)) as s:
        async def one(i: int) -> None:
            nonlocal errors
            async with sem:
                t0 = time.perf_counter()
                try:
                    async with s.post(url, json=body_for(i)) as r:
                        await r.read()
                        if r.status != 200:
                            errors += 1
                            return
                except Exception:
                    errors += 1
                    return
                lat.append((time.perf_counter() - t0) * 1000)
        await asyncio.gather(*(one(i) for i in range(total)))
    return lat, errors


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--overrides", default="", help='orchestrator config overrides, e.g. \'{"cache": {"enabled": false}}\'')
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp())
    env = {**os.environ, "CATO_ENV": "local", "CATO_WORK_DIR": str(work / ".cato-migrate"), "PYTHONPATH": str(ROOT)}

    def cli(*a: str) -> dict:
        r = subprocess.run([sys.executable, "-m", "cato_migrate", *a, "--output", "json"], cwd=work, env=env,
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"{a}: {r.stderr[-2000:]}")
        return json.loads(r.stdout)

    cli("sandbox", "up")
    try:
        if args.overrides:
            (work / ".cato-migrate" / "orchestrator-overrides.json").write_text(args.overrides)
        cli("orchestrator", "install")
        urls = {c["name"]: c["url"] for c in cli("sandbox", "status")["components"]}
        sim, orch = urls["simulator"], urls["orchestrator"]
        import httpx

        tiers = {t: {"ttft_ms": MODEL_MS} for t in ("bedrock_haiku", "bedrock_sonnet", "shadow_self")}
        httpx.put(sim + "/admin/config", json={"tiers": tiers}, trust_env=False).raise_for_status()

        def q(i: int) -> str:
            return f"What is the capital of country number {uuid.uuid4().hex[:6]}?"

        def direct_body(i: int) -> dict:
            return {"model": "cato-shadow-self", "messages": [{"role": "user", "content": q(i)}]}

        def orch_body(i: int) -> dict:
            return {"model": "cato", "messages": [{"role": "user", "content": q(i)}]}

        print(f"model latency {MODEL_MS} ms per request at the simulator; p50/p99 in ms; overrides {args.overrides or 'none'}")
        for conc in (50, 500):
            total = conc * 4
            d, de = asyncio.run(load(sim + "/v1/chat/completions", conc, total, direct_body))
            o, oe = asyncio.run(load(orch + "/v1/chat/completions", conc, total, orch_body))
            dp50, dp99 = statistics.median(d), pct(d, 99)
            op50, op99 = (statistics.median(o), pct(o, 99)) if o else (float("nan"), float("nan"))
            print(f"  {conc:4d} concurrent, {total} requests: direct p50 {dp50:7.1f} p99 {dp99:7.1f} (errors {de}) | "
                  f"orchestrator p50 {op50:7.1f} p99 {op99:7.1f} (errors {oe}) | added p50 {op50 - dp50:+7.1f} "
                  f"p99 {op99 - dp99:+7.1f}")
    finally:
        cli("sandbox", "down")


if __name__ == "__main__":
    main()
