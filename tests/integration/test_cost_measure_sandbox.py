"""`cato-migrate cost measure` and `cost status` against the real stacks: the sandbox's LiteLLM proxy
(pricing each response itself, x-litellm-response-cost) and the orchestrator's real Serve app over
loopback HTTP without Ray (tests/orch_http.py), both in front of the model simulator."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from cato_migrate.adapters.gateway_metrics import parse_samples
from cato_migrate.adapters.sqlite_store import SqliteStateStore
from cato_migrate.core.price_loader import load_prices
from cato_sandbox.components import LITELLM_VENV
from cato_sandbox.manager import SandboxSettings, load_sandbox_state, sandbox_down, sandbox_up

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not (LITELLM_VENV / "bin" / "litellm").exists(),
                       reason=f"the LiteLLM proxy is not installed in {LITELLM_VENV}: run `make setup`"),
]
ROOT = Path(__file__).resolve().parents[2]
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope="module")
def stacks(tmp_path_factory):
    from cato_sandbox.orchestrator_config import sandbox_config
    from orchestrator.identity import key_hash
    from tests.orch_http import ServeAppServer

    workdir = tmp_path_factory.mktemp("cost") / ".cato-migrate"
    sbs = SandboxSettings(state_dir=workdir, components=["moto", "redis", "simulator", "litellm"])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ACCESS_KEY_ID", "sandbox")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "sandbox")
        t0 = time.monotonic()
        sandbox_up(sbs)
        try:
            key = (workdir / "litellm.key").read_text().strip()
            config = sandbox_config(load_sandbox_state(workdir),
                                                    api_keys=[{"principal": "cost", "sha256": key_hash(key)}])
            assert config.pricing is not None  # config/pricing.yaml, as the sandbox's orchestrator gets it
            with ServeAppServer(config) as srv:
                env = {k: v for k, v in os.environ.items() if not k.startswith(("CATO_", "AWS_"))}
                env.update({"PYTHONPATH": str(ROOT), "CATO_ENV": "local", "CATO_WORK_DIR": str(workdir),
                            "CATO_ORCHESTRATOR_URL": srv.url, "COLUMNS": "200"})
                print(f"\ncost sandbox + orchestrator ready in {time.monotonic() - t0:.1f} s")
                yield workdir, env, srv
        finally:
            sandbox_down(sbs)


def cli(env, workdir, *args, **extra) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cato_migrate", *args], cwd=workdir.parent, env={**env, **extra},
                          capture_output=True, text=True, timeout=180)


def test_both_stacks_priced_on_the_same_mix_and_journaled(stacks):
    workdir, env, srv = stacks
    table = load_prices()
    t0 = time.monotonic()
    r = cli(env, workdir, "cost", "measure", "--requests", "8", "--output", "json")
    assert r.returncode == 0, r.stderr + r.stdout
    ev = json.loads(r.stdout)
    print(f"cost measure (8 per stack) in {time.monotonic() - t0:.1f}s: legacy ${ev['legacy']['total_usd']}, "
          f"new ${ev['new']['total_usd']}, saved ${ev['new']['saved_usd']}, efficiency {ev['efficiency']}")

    journaled = [e for e in SqliteStateStore(workdir / "state.db").journal("local") if e.key == "cost.comparison"][-1]
    assert journaled.status == "measured" and journaled.evidence == {k: v for k, v in ev.items() if k != "env"}

    # legacy: LiteLLM's own figure, non-zero and equal to its tokens x config/pricing.yaml's price
    legacy = ev["legacy"]
    assert legacy["source"] == "LiteLLM x-litellm-response-cost" and legacy["unpriced"] == 0
    assert legacy["total_usd"] > 0
    by_model = table.bedrock_by_model()
    for model, row in legacy["by_model"].items():
        assert row["input_tokens"] > 0 and row["output_tokens"] > 0
        assert row["usd"] == pytest.approx(by_model[model].request_usd(row["input_tokens"], row["output_tokens"]),
                                           rel=1e-6, abs=1e-8), model

    # new: every tier the mix routes to, priced from the orchestrator's usage; two repeats hit the cache
    new = ev["new"]
    assert set(new["by_tier"]) == {"bedrock_haiku", "bedrock_sonnet", "shadow_self"}
    assert new["cache_hits"] == 2 and new["saved_usd"] > 0 and new["unpriced"] == 0
    for tier, row in new["by_tier"].items():
        priced = row["requests"] - row["cache_hits"]
        expected = (priced * table.request_usd(tier, 0, 0) if tier == "shadow_self"
                    else table.request_usd(tier, row["input_tokens"], row["output_tokens"]))
        assert row["usd"] == pytest.approx(expected, rel=1e-6, abs=1e-8), tier
    assert ev["efficiency"] == pytest.approx(new["total_usd"] / legacy["total_usd"] - 1, abs=1e-5)
    assert ev["prices"] == {"source": "config/pricing.yaml", "taken_on": table.taken_on.isoformat()}
    assert ev["mix"]["repeated_share"] == 0.25

    # the orchestrator's own counters say the same
    with _OPENER.open(srv.url + "/metrics", timeout=5) as resp:
        samples = parse_samples(resp.read().decode())
    spent = sum(v for n, _, v in samples if n == "cato_cost_usd_total")
    saved = sum(v for n, _, v in samples if n == "cato_cost_saved_usd_total")
    assert spent == pytest.approx(new["total_usd"], rel=1e-6) and saved == pytest.approx(new["saved_usd"], rel=1e-6)


def test_status_reads_the_orchestrators_counters_and_warns_over_budget(stacks):
    workdir, env, srv = stacks
    r = cli(env, workdir, "cost", "status", "--output", "json", CATO_COST_DAILY_BUDGET_USD="1000")
    assert r.returncode == 0, r.stderr + r.stdout
    out = json.loads(r.stdout)
    assert out["status"] == "within" and out["spend_usd"] > 0 and "since it started" in out["source"]
    r = cli(env, workdir, "cost", "status", "--output", "json", CATO_COST_DAILY_BUDGET_USD="0.0000001")
    assert r.returncode == 1 and json.loads(r.stdout)["status"] == "exceeded", r.stderr
    assert "budget is exceeded" in r.stderr
    r = cli(env, workdir, "doctor", "--output", "json", CATO_COST_DAILY_BUDGET_USD="0.0000001")
    budget = next(c for c in json.loads(r.stdout)["checks"] if c["id"] == "budget")
    assert budget["status"] == "warn" and "OVER" in budget["message"]
