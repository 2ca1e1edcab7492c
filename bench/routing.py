"""Routing decision latency: p50/p99 of ComplexityRouter.decide over the labelled sets, against a
baseline of `query.lower().split()` on the same queries, measured in the same run (so machine
load affects both alike).

Run: .venv/bin/python bench/routing.py [--passes 200] [FILE.jsonl ...]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestrator.evals.routing_eval import EVAL_SHADOW_DOMAINS, load_cases  # noqa: E402
from orchestrator.routing import ComplexityRouter  # noqa: E402

DEFAULT_SETS = [ROOT / "evals" / "routing_cases.jsonl", ROOT / "evals" / "routing_heldout.jsonl"]


def timings_us(fn, items: list[tuple[str, str]], passes: int) -> list[float]:
    clock = time.perf_counter_ns
    out: list[float] = []
    for _ in range(passes):
        for query, domain in items:
            t0 = clock()
            fn(query, domain)
            out.append((clock() - t0) / 1000)
    out.sort()
    return out


def pct(sorted_vals: list[float], p: float) -> float:
    return sorted_vals[min(len(sorted_vals) - 1, int(p / 100 * len(sorted_vals)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="*", type=Path, default=DEFAULT_SETS)
    ap.add_argument("--passes", type=int, default=200)
    args = ap.parse_args()
    items = [(q, d) for f in args.files for q, d, _ in load_cases(f)]
    router = ComplexityRouter(shadow_self_domains=EVAL_SHADOW_DOMAINS)
    cases = {
        "baseline: str.lower()+split()": lambda q, d: q.lower().split(),
        "ComplexityRouter.decide": router.decide,
    }
    for fn in cases.values():          # warm-up: caches, allocator
        timings_us(fn, items, 3)
    print(f"{len(items)} queries x {args.passes} passes from {', '.join(f.name for f in args.files)}")
    results = {name: timings_us(fn, items, args.passes) for name, fn in cases.items()}
    base = results["baseline: str.lower()+split()"]
    for name, t in results.items():
        print(f"  {name:32s} p50 {pct(t, 50):8.2f} µs   p99 {pct(t, 99):8.2f} µs   "
              f"x{pct(t, 50) / pct(base, 50):.0f} of baseline p50")


if __name__ == "__main__":
    main()
