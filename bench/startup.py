"""CLI start-up: median wall time of `cato-migrate --help` and `cato-migrate status --env local` against
`python -c "import typer, rich"` (what any typer + rich CLI pays), in one run, on one machine.

`status` runs in a fresh work directory with an empty SQLite state store (CATO_WORK_DIR, CATO_STATE_URL)
and no sandbox, so it reads the runbook, the store and (unreachable) the flag, like a first look would.
Bytecode is cached under a temporary PYTHONPYCACHEPREFIX (written by the warm-up, as an installed copy
has it), so a PYTHONDONTWRITEBYTECODE shell does not time the compiler; nothing is written in the tree.

Goals (issue 13): --help <= 1.5x the baseline, status <= 3x. Writes bench/results/startup.json;
exits 1 when a ratio is over its goal. Two reference rows (no goal) time what status cannot do without:
loading the settings and making a RunContext (the runbook, every step/check kind, the
store), so the CLI's own share of status is status minus ref_context.

Run: .venv/bin/python bench/startup.py [--runs 15] [--warmup 2] [--root OTHER_CHECKOUT --out FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "bench" / "results" / "startup.json"
GOALS = {"help": 1.5, "status": 3.0}
REF = "import os; os.environ.setdefault('PYDANTIC_DISABLE_PLUGINS', '__all__'); import typer, rich.console; "


def clean_env(root: Path, work: Path) -> dict[str, str]:
    """No CATO_*/AWS_* from the caller's shell: they would change what status reads."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CATO_", "AWS_")) and k != "PYTHONDONTWRITEBYTECODE"}
    env.update({"PYTHONPATH": str(root), "PYTHONPYCACHEPREFIX": str(work / "pycache"),
                "CATO_WORK_DIR": str(work / ".cato-migrate"), "CATO_STATE_URL": str(work / "state.db"),
                "COLUMNS": "120"})
    return env


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    ms = (time.perf_counter() - t0) * 1000
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {r.returncode}:\n{r.stderr[-2000:]}")
    return ms


def measure(cases: dict[str, list[str]], runs: int, warmup: int, cwd: Path, env: dict[str, str]) -> dict:
    """Interleaved (one of each per round), so a load spike on a shared machine hits every case alike."""
    for _ in range(warmup):
        for argv in cases.values():
            timed(argv, cwd, env)
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, argv in cases.items():
            samples[name].append(timed(argv, cwd, env))
    return {name: {"median_ms": round(statistics.median(s), 1), "min_ms": round(min(s), 1),
                   "max_ms": round(max(s), 1)} for name, s in samples.items()}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--out", type=Path, default=RESULT)
    ap.add_argument("--root", type=Path, default=ROOT, help="The checkout to measure (another commit's, to compare).")
    args = ap.parse_args()
    py = sys.executable
    cases = {
        "baseline": [py, "-c", "import typer, rich"],
        "help": [py, "-m", "cato_migrate", "--help"],
        "status": [py, "-m", "cato_migrate", "status", "--env", "local"],
        # Where status's time goes, below the CLI: what any read of settings and the runbook costs
        # (with pydantic's plugin scan off, as cato-migrate's entry point has it).
        "ref_settings": [py, "-c", REF + "from cato_migrate.settings import load_settings; load_settings(env='local')"],
        "ref_context": [py, "-c", REF + "from cato_migrate.settings import load_settings; "
                                        "from cato_migrate.wiring import make_context; make_context(load_settings(env='local'))"],
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = clean_env(args.root.resolve(), work)
        init = subprocess.run([py, "-m", "cato_migrate", "--env", "local", "state", "init"], cwd=work, env=env,
                              capture_output=True, text=True)
        if init.returncode != 0:
            raise SystemExit(f"state init failed:\n{init.stderr[-2000:]}")
        results = measure(cases, args.runs, args.warmup, work, env)
    base = results["baseline"]["median_ms"]
    ratios = {name: round(results[name]["median_ms"] / base, 2) for name in GOALS}
    over = {name: r for name, r in ratios.items() if r > GOALS[name]}
    print(f"median of {args.runs} runs each (after {args.warmup} warm-up rounds), {platform.python_version()}")
    labels = {"baseline": "python -c 'import typer, rich'", "help": "cato-migrate --help",
              "status": "cato-migrate status --env local",
              "ref_settings": "(ref) + rich.console + load_settings()",
              "ref_context": "(ref) + make_context(): runbook, store"}
    for name, r in results.items():
        ratio = f"x{r['median_ms'] / base:.2f}" + (f" (goal <= {GOALS[name]}x)" if name in GOALS else "")
        print(f"  {labels[name]:40s} {r['median_ms']:7.1f} ms  {ratio}")
    report = {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "runs": args.runs, "warmup": args.warmup,
              "python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
              "root": str(args.root.resolve()), "commands": {name: " ".join(argv[1:]) for name, argv in cases.items()},
              "results": results, "ratios": ratios, "goals": GOALS, "ok": not over,
              "reference_ratios": {n: round(results[n]["median_ms"] / base, 2) for n in results if n.startswith("ref_")}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    if over:
        print("over the goal: " + ", ".join(f"{n} x{r} > x{GOALS[n]}" for n, r in over.items()), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
