"""CLI start-up: median wall time of `cato-migrate --help` and `status` vs `python -c "import typer, rich"`.

Run: .venv/bin/python bench/startup.py [--runs 15]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time


def median_ms(argv: list[str], runs: int, cwd: str) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as cwd:
        cases = {
            "baseline: python -c 'import typer, rich'": [py, "-c", "import typer, rich"],
            "cato-migrate --help": [py, "-m", "cato_migrate", "--help"],
            "cato-migrate status": [py, "-m", "cato_migrate", "status"],
        }
        results = {name: median_ms(argv, args.runs, cwd) for name, argv in cases.items()}
    base = results["baseline: python -c 'import typer, rich'"]
    print(f"median of {args.runs} runs each")
    for name, ms in results.items():
        print(f"  {name:45s} {ms:7.1f} ms   x{ms / base:.2f} of baseline")


if __name__ == "__main__":
    main()
