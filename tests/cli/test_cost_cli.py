"""`cato-migrate cost` as on-call runs it, without a sandbox: the faults that stop it before it spends or journals."""
from __future__ import annotations

import json
import socket

from cato_migrate.adapters.sqlite_store import SqliteStateStore
from tests.cli.conftest import Cli, cli_env


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(tmp_path, **env) -> Cli:
    return Cli(tmp_path, cli_env(tmp_path, **{"CATO_STATE_URL": str(tmp_path / "state.db"), **env}))


def test_a_stack_that_is_not_running_is_exit_4_and_nothing_is_journaled(tmp_path):
    down = f"http://127.0.0.1:{_closed_port()}"
    cli = _cli(tmp_path, CATO_LEGACY_URL=down, CATO_ORCHESTRATOR_URL=down, CATO_ORCHESTRATOR_API_KEY="k")
    r = cli.run("cost", "measure", "--requests", "2", timeout=60)
    assert r.returncode == 4, r.stdout + r.stderr
    assert "LiteLLM (legacy stack)" in r.stderr and "is not running" in r.stderr and "nothing was" in r.stderr
    store = SqliteStateStore(tmp_path / "state.db")
    assert [e for e in store.journal("local") if e.key == "cost.comparison"] == []


def test_without_a_sandbox_or_urls_it_says_what_to_set_exit_2(tmp_path):
    r = _cli(tmp_path).run("cost", "measure", "--output", "json", timeout=60)
    assert r.returncode == 2, r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert "legacy_url" in out["message"] and "sandbox up" in out["hint"]


def test_outside_the_sandbox_it_asks_before_spending_real_money(tmp_path):
    down = f"http://127.0.0.1:{_closed_port()}"
    cli = _cli(tmp_path, CATO_ENV="staging", CATO_LEGACY_URL=down, CATO_ORCHESTRATOR_URL=down,
               CATO_ORCHESTRATOR_API_KEY="k", CATO_STATE_URL="sqlite://" + str(tmp_path / "s.db"))
    r = cli.run("cost", "measure", "--requests", "5", timeout=60)
    assert r.returncode == 2 and "real money" in r.stderr and "--yes" in r.stderr, r.stderr


def test_a_bad_budget_or_price_file_is_exit_2_naming_it(tmp_path):
    r = _cli(tmp_path, CATO_COST_DAILY_BUDGET_USD="-5").run("cost", "status", timeout=60)
    assert r.returncode == 2 and "CATO_COST_DAILY_BUDGET_USD" in r.stderr, r.stderr
    bad = tmp_path / "pricing.yaml"
    bad.write_text("region: us-east-1\ntaken_on: 2026-12-05\nsource: x\ntiers: {bedrock_haiku: {kind: bedrock}}\n")
    r = _cli(tmp_path, CATO_PRICING_FILE=str(bad)).run("cost", "measure", timeout=60)
    assert r.returncode == 2 and str(bad) in r.stderr and "tiers.bedrock_haiku.bedrock.model" in r.stderr, r.stderr


def test_status_without_any_spend_source_is_not_measured_never_within(tmp_path):
    cli = _cli(tmp_path, CATO_COST_DAILY_BUDGET_USD="10")
    out = cli.json("cost", "status")
    assert out["status"] == "unmeasured" and out["message"].startswith("not measured: ")
    assert out["budget_usd"] == 10.0 and out["spend_usd"] is None
