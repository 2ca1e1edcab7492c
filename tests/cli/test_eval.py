"""`eval routing` / `eval cache` on the shipped labelled sets, and their bad-input errors."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.cli.conftest import ROOT, cli_env


def run(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "cato_migrate", *args], cwd=ROOT, env=cli_env(tmp_path),
                          capture_output=True, text=True, timeout=300)


def test_eval_routing_json(tmp_path):
    r = run(tmp_path, "eval", "routing", "--cases", "evals/routing_heldout.jsonl", "--output", "json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["n"] >= 30 and out["accuracy"] >= 0.8 and out["p99_decision_ms"] <= 1.0


def test_eval_cache_json(tmp_path):
    r = run(tmp_path, "eval", "cache", "--pairs", "evals/cache_pairs.jsonl", "--output", "json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["n"] >= 80 and out["paraphrase_hit_rate"] >= 0.8 and out["near_miss_false_hit_rate"] <= 0.02
    assert out["p99_lookup_ms"] > 0


def test_eval_bad_files_exit_2(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": "hi", "domain": "x", "expected_tier": "gpt5"}\n')
    r = run(tmp_path, "eval", "routing", "--cases", str(bad))
    assert r.returncode == 2 and "line 1" in r.stderr
    assert run(tmp_path, "eval", "cache", "--pairs", str(tmp_path / "missing.jsonl")).returncode == 2
