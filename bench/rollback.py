"""Wall time of `cato-migrate rollback --quick` on the sandbox, from a 10% canary and mid-bake.

Run: .venv/bin/python bench/rollback.py [--runs 5]   (starts and stops its own sandbox)
Baseline in the same run: `cato-migrate canary status` (one live read of the flag).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp())
    env = {**os.environ, "CATO_ENV": "local", "CATO_WORK_DIR": str(work / ".cato-migrate"),
           "CATO_SANDBOX_MINUTE_SECONDS": "0.05", "PYTHONPATH": str(ROOT)}

    def cli(*a: str) -> tuple[float, subprocess.CompletedProcess]:
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "cato_migrate", *a], cwd=work, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"{a} failed: {r.stderr}")
        return time.perf_counter() - t0, r

    cli("sandbox", "up")
    try:
        reads, rollbacks, internal = [], [], []
        for _ in range(args.runs):
            cli("canary", "set", "10", "--force", "--reason", "bench")
            reads.append(cli("canary", "status")[0])
            wall, r = cli("rollback", "--quick", "--output", "json")
            rollbacks.append(wall)
            internal.append(json.loads(r.stdout)["elapsed_seconds"])
        b, q = statistics.median(reads), statistics.median(rollbacks)
        print(f"sandbox, 1 strategy-minute = 0.05 s; median of {args.runs}")
        print(f"  baseline: canary status (live read)   {b * 1000:7.0f} ms")
        print(f"  rollback --quick, process wall time   {q * 1000:7.0f} ms   x{q / b:.1f} of baseline")
        print(f"  rollback --quick, as it reports        {statistics.median(internal) * 1000:7.0f} ms   "
              f"(budget 300 s: {statistics.median(internal) / 300 * 100:.2f}% used)")
    finally:
        cli("sandbox", "down")


if __name__ == "__main__":
    main()
