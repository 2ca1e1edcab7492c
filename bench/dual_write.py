"""Dual-write's cost at the edge: the added p99 of a gateway-like aiohttp handler with the tee on
vs off, in the same run (goal: <= 5 ms added p99; issue 10).

    .venv/bin/python bench/dual_write.py [--requests 2000] [--concurrency 20] [--rounds 4]
                                         [--stream-share 0.5] [--ingest ok|down|slow|all]

Processes: (1) a local "legacy" upstream that answers /v1/chat/completions at once (JSON, or SSE
when the request streams) and an ingest endpoint (/v1/cato/exchanges: 200 at once; `slow`: after
250 ms; `down`: nothing listens, so every post is refused and retried); (2) two gateway apps in
one process, the same handler with the tee off and on (on: the edge's own hook, `DualWriter.active()` then `offer()`
of every legacy exchange), forwarding through
one pooled aiohttp session as the edge does; (3) this client, N requests at concurrency C per arm,
arms alternated ABBA for `--rounds` rounds, so machine load falls on both alike.

Both arms are the real edge app (cato_migrate/edge/gateway.py build_app) at flag 1% with users that
are all bucketed legacy, so every request is teed in the "on" arm (the tee's worst case). Prints p50/p99 per arm, the added p99 (on - off) and the
ratio, and the writer's counters (served, stored, failed, dropped).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import socket
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402

from types import SimpleNamespace  # noqa: E402

from cato_migrate.core.bucketing import pick_stack  # noqa: E402
from cato_migrate.edge.dual_write import DualWriter  # noqa: E402
from cato_migrate.edge.gateway import StaticUpstreams, build_app  # noqa: E402

ANSWER = "The answer is 4. " * 8
GOAL_ADDED_P99_MS = 5.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- process 1: the legacy upstream and the ingest endpoint --------------------------------------

def serve_upstream(port: int, ingest_port: int | None, ingest_delay_s: float) -> None:
    async def chat(request: web.Request) -> web.StreamResponse:
        doc = await request.json()
        if doc.get("stream"):
            resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await resp.prepare(request)
            for word in ANSWER.split(" "):
                chunk = {"id": "c1", "choices": [{"index": 0, "delta": {"content": word + " "}}]}
                await resp.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            await resp.write(b"data: [DONE]\n\n")
            await resp.write_eof()
            return resp
        return web.json_response({"id": "c1", "object": "chat.completion", "model": doc.get("model"),
                                  "choices": [{"index": 0, "message": {"role": "assistant", "content": ANSWER},
                                               "finish_reason": "stop"}]})

    async def ingest(request: web.Request) -> web.Response:
        await request.read()
        if ingest_delay_s:
            await asyncio.sleep(ingest_delay_s)
        return web.json_response({"stored": True})

    async def main() -> None:
        runners = []
        up = web.Application()
        up.router.add_post("/v1/chat/completions", chat)
        runners.append((up, port))
        if ingest_port:
            ing = web.Application()
            ing.router.add_post("/v1/cato/exchanges", ingest)
            runners.append((ing, ingest_port))
        for app, p in runners:
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", p).start()
        await asyncio.Event().wait()

    asyncio.run(main())


# -- process 2: the gateway-like handler, tee off and on ------------------------------------------

DUAL = web.AppKey("dual", DualWriter)


PERCENT = 1   # dual-write is active (0 < flag < 100) and the bench's users are all bucketed legacy
USERS = [u for u in (f"user-{k}" for k in range(5000)) if pick_stack(u, PERCENT) == "legacy"][:500]


def gateway_app(upstream: str, ingest: str | None, dual: DualWriter | None) -> web.Application:
    """The real edge (cato_migrate/edge/gateway.py build_app), with the tee on (`dual`) or off."""
    app = build_app(StaticUpstreams({"legacy": upstream, "new": ingest}),
                    SimpleNamespace(percentage=PERCENT, errors=0), dual=dual)

    async def status(request: web.Request) -> web.Response:
        return web.json_response(dual.status() if dual is not None else {})

    app.router.add_get("/dual-write", status)
    return app


def serve_gateways(off_port: int, on_port: int, upstream: str, ingest: str | None) -> None:
    async def main() -> None:
        dual = DualWriter(lambda: ingest, timeout_s=2.0)
        for app, port in ((gateway_app(upstream, ingest, None), off_port),
                          (gateway_app(upstream, ingest, dual), on_port)):
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
        await asyncio.Event().wait()

    asyncio.run(main())


# -- process 3: the client -------------------------------------------------------------------------

async def run_arm(session: aiohttp.ClientSession, url: str, n: int, c: int, stream_share: float,
                  offset: int, rps: float = 0) -> list[float]:
    latencies: list[float] = []
    counter = iter(range(n))

    async def one(i: int) -> None:
        stream = (i % 100) < stream_share * 100
        body = {"model": "claude-3-haiku", "user": USERS[(offset + i) % len(USERS)], "stream": stream,
                "messages": [{"role": "user", "content": f"What is 2+2? ({i})"}]}
        t0 = time.perf_counter()
        async with session.post(url + "/v1/chat/completions", json=body) as r:
            await r.read()
            if r.status != 200:
                raise RuntimeError(f"gateway answered {r.status}")
        latencies.append((time.perf_counter() - t0) * 1000)

    async def worker() -> None:
        for i in counter:
            await one(i)

    if rps <= 0:   # closed loop: C in flight; this measures the edge near its capacity
        await asyncio.gather(*(worker() for _ in range(c)))
        return latencies
    # open loop at a fixed rate, timed from each request's scheduled start (no coordinated omission)
    start, tasks = time.perf_counter(), []
    for i in range(n):
        due = start + i / rps
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(_timed(one, i, due, latencies)))
    await asyncio.gather(*tasks)
    return latencies


async def _timed(one, i: int, due: float, latencies: list[float]) -> None:
    before = len(latencies)
    await one(i)
    if len(latencies) > before:   # re-time from the scheduled start, so a late send counts
        latencies[-1] = (time.perf_counter() - due) * 1000


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100 * len(s)))]


async def measure(off: str, on: str, args) -> dict:
    out = {"off": [], "on": []}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), trust_env=False) as session:
        for _arm, url in (("off", off), ("on", on)):   # warm-up, discarded
            await run_arm(session, url, min(200, args.requests), args.concurrency, args.stream_share, 0, args.rps)
        for r in range(args.rounds):
            order = [("off", off), ("on", on)] if r % 2 == 0 else [("on", on), ("off", off)]
            for arm, url in order:
                out[arm] += await run_arm(session, url, args.requests, args.concurrency, args.stream_share,
                                          r * args.requests, args.rps)
        await asyncio.sleep(1.0 if args.ingest_mode != "down" else 3.0)   # let the writer finish or give up
        async with session.get(on + "/dual-write") as r:
            status = await r.json()
    return {"off": out["off"], "on": out["on"], "status": status}


def run_mode(mode: str, args) -> dict:
    up_port, ingest_port, off_port, on_port = free_port(), free_port(), free_port(), free_port()
    listening = mode != "down"
    delay = 0.25 if mode == "slow" else 0.0
    procs = [mp.Process(target=serve_upstream, args=(up_port, ingest_port if listening else None, delay), daemon=True),
             mp.Process(target=serve_gateways, daemon=True,
                        args=(off_port, on_port, f"http://127.0.0.1:{up_port}", f"http://127.0.0.1:{ingest_port}"))]
    for p in procs:
        p.start()
    try:
        deadline = time.monotonic() + 20
        for port in (up_port, off_port, on_port):
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"port {port} did not open") from None
                    time.sleep(0.05)
        args.ingest_mode = mode
        return asyncio.run(measure(f"http://127.0.0.1:{off_port}", f"http://127.0.0.1:{on_port}", args))
    finally:
        for p in procs:
            p.terminate()
            p.join(5)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=2000, help="requests per arm per round")
    ap.add_argument("--concurrency", type=int, default=20, help="closed loop: requests in flight")
    ap.add_argument("--rps", type=float, default=0,
                    help="open loop at this rate instead (timed from each request's scheduled start)")
    ap.add_argument("--rounds", type=int, default=4, help="ABBA-ordered rounds")
    ap.add_argument("--stream-share", type=float, default=0.5, help="share of requests that stream (SSE)")
    ap.add_argument("--ingest", choices=("ok", "slow", "down", "all"), default="all")
    ap.add_argument("--json", action="store_true", help="also print one JSON summary line")
    args = ap.parse_args()
    modes = ("ok", "slow", "down") if args.ingest == "all" else (args.ingest,)
    load = f"open loop at {args.rps:g} rps" if args.rps > 0 else f"closed loop at concurrency {args.concurrency}"
    print(f"dual-write at the edge: {args.requests} requests x {args.rounds} rounds per arm, {load}, "
          f"{args.stream_share:.0%} streamed, every request legacy-served")
    print(f"{'ingest':<7} {'arm':<4} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}   writer counters")
    summary, worst = {}, float("-inf")
    for mode in modes:
        res = run_mode(mode, args)
        row = {}
        for arm in ("off", "on"):
            lat = res[arm]
            row[arm] = {"p50": pct(lat, 50), "p99": pct(lat, 99), "mean": statistics.fmean(lat), "n": len(lat)}
        st = res["status"]
        counters = ", ".join(f"{k} {st.get(k)}" for k in ("served", "stored", "failed", "dropped", "queued"))
        for arm in ("off", "on"):
            r = row[arm]
            print(f"{mode:<7} {arm:<4} {r['p50']:8.2f} {r['p99']:8.2f} {r['mean']:8.2f}   "
                  f"{counters if arm == 'on' else ''}")
        added = row["on"]["p99"] - row["off"]["p99"]
        worst = max(worst, added)
        print(f"{mode:<7} added p99 {added:+.2f} ms (on/off x{row['on']['p99'] / row['off']['p99']:.2f}), "
              f"added p50 {row['on']['p50'] - row['off']['p50']:+.2f} ms")
        summary[mode] = {**row, "added_p99_ms": round(added, 3), "writer": st}
    verdict = "meets" if worst <= GOAL_ADDED_P99_MS else "MISSES"
    print(f"worst added p99 {worst:+.2f} ms: {verdict} the goal of <= {GOAL_ADDED_P99_MS:.0f} ms")
    if args.json:
        print(json.dumps(summary, default=str))
    return 0 if worst <= GOAL_ADDED_P99_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
