"""`doctor`, `notify`, `announce`, `eval`, `cost`, `orchestrator` and `sandbox`, in process, without servers:
what each says when nothing is up, its --output json shape, and its refusals (exit 2, nothing changed)."""
from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cato_migrate.cli._common import CliState
from cato_migrate.cli.app import app
from tests.cli_inprocess.conftest import refused

EVALS = Path(__file__).resolve().parents[2] / "evals"


def test_doctor_with_nothing_up_fails_with_evidence_exit_1(cli):
    r = cli("doctor", "--for", "decommission", "--output", "json")
    assert r.code == 1, r.err
    data = r.json()
    assert data["for"] == "decommission" and data["ok"] is False
    assert sum(data["counts"].values()) == len(data["checks"]) and data["failed"]
    for c in data["checks"]:
        assert {"id", "status", "message"} <= set(c) and c["status"] in ("pass", "warn", "fail", "unknown")
    table = cli("doctor", "--for", "decommission")
    assert table.code == 1 and "doctor: " in table.err and "next:" in table.err


def test_doctor_unknown_action_is_exit_2(cli):
    refused(cli("doctor", "--for", "bogus"), 2, "--for must be one of raise, rollback, decommission")


def test_notify_status_and_flush_on_an_empty_outbox(cli):
    r = cli("notify", "status", "--output", "json")
    assert r.code == 0, r.err
    assert r.json()["channels"] == [] and r.json()["rows"] == [] and r.json()["pending"] == 0
    assert "no channel configured" in cli("notify", "status").out
    f = cli("notify", "flush", "--output", "json")
    assert f.code == 0 and f.json()["delivered_now"] == 0 and f.json()["errors"] == [], f.err


def test_notify_bad_input_is_exit_2(cli):
    refused(cli("notify", "status", "--limit", "0"), 2, "--limit")
    refused(cli("notify", "send"), 2, "No such command")


def test_announce_dry_run_shows_both_payloads_and_sends_nothing(cli):
    before = cli.snapshot()
    r = cli("announce", "canary-start", "--dry-run", "--output", "json")
    assert r.code == 0, r.err
    data = r.json()
    assert data["dry_run"] is True and data["step"] == "canary-start" and data["channels"] == []
    assert data["webhook"]["event"] == "announce" and data["slack"]
    assert cli.snapshot() == before and not (cli.work_dir / "outbox.db").exists()


def test_announce_queues_for_a_configured_channel(cli, monkeypatch):
    import cato_migrate.adapters.outbox as outbox

    spawned: list[str] = []
    monkeypatch.setattr(outbox, "spawn_flush", lambda s, **kw: spawned.append(s.env))
    cli.settings_kw["notify_webhook_url"] = "http://127.0.0.1:9/hook"
    r = cli("announce", "kickoff", "--output", "json")
    assert r.code == 0, r.err
    assert r.json()["queued"] is True and r.json()["channels"] == ["webhook"] and spawned
    assert [e.action for e in cli.store.audit("local")] == ["announce"]


def test_announce_refusals_are_exit_2_and_send_nothing(cli):
    before = cli.snapshot()
    refused(cli("announce", "nope"), 2, "no communication plan step 'nope'", "canary-start")
    refused(cli("announce", "canary-start"), 2, "no notification channel is configured")
    assert cli.snapshot() == before and not (cli.work_dir / "outbox.db").exists()


def test_eval_routing_on_the_labelled_cases(cli):
    r = cli("eval", "routing", "--cases", str(EVALS / "routing_cases.jsonl"), "--output", "json")
    assert r.code == 0, r.err
    data = r.json()
    assert data["n"] > 0 and 0 <= data["accuracy"] <= 1 and data["confusion"]


@pytest.mark.parametrize("argv, says", [
    (["routing", "--cases", "nope.jsonl"], ["nope.jsonl", "no such file"]),
    (["routing"], ["--cases"]),
    (["cache", "--pairs", "."], ["no such file"]),
])
def test_eval_bad_input_is_exit_2(cli, argv, says):
    refused(cli("eval", *argv), 2, *says)


def test_eval_routing_file_that_is_not_json_is_exit_2(cli):
    (cli.tmp / "c.jsonl").write_text("[/] not json\n")
    refused(cli("eval", "routing", "--cases", "c.jsonl"), 2, "c.jsonl", "line 1")


def test_cost_status_unmeasured_without_a_source_is_exit_0(cli):
    r = cli("cost", "status", "--output", "json")
    assert r.code == 0, r.err
    assert r.json()["status"] == "unmeasured" and r.json()["spend_usd"] is None


def test_cost_measure_without_the_stacks_is_exit_2_and_sends_nothing(cli):
    before = cli.snapshot()
    refused(cli("cost", "measure"), 2, "legacy_url", "nothing was sent")
    refused(cli("cost", "measure", "-n", "0"), 2, "--requests")
    assert cli.snapshot() == before


def test_orchestrator_check_without_an_orchestrator_is_exit_2(cli):
    refused(cli("orchestrator", "check"), 2, "no orchestrator to probe")
    refused(cli("orchestrator", "deploy"), 2, "No such command")


def test_sandbox_unknown_subcommand_is_exit_2(cli):
    refused(cli("sandbox", "start"), 2, "No such command")


def test_typer_cli_runner_with_an_injected_state(cli):
    """The app itself under typer's CliRunner, its state passed as click's obj (what main() does; global
    options go first here: hoisting them from after the verb is main()'s)."""
    st = CliState(settings=cli.settings())
    r = CliRunner().invoke(app, ["--output", "json", "phase", "list"], obj=st)
    assert r.exit_code == 0, r.output
    assert '"phases"' in r.stdout and st.output == "json"
