"""`status`, `state init`, `validate` and `report`, in process: a fresh SQLite store, no sandbox."""
from __future__ import annotations

import pytest

from tests.cli_inprocess.conftest import ATTEST_STEP, refused


def test_status_on_an_empty_store_names_the_first_step_and_the_failed_live_read(cli):
    r = cli("status", "--output", "json")
    assert r.code == 0, r.err
    data = r.json()
    assert data["env"] == "local" and data["steps_done"] == 0 and data["steps_total"] > 0
    assert data["next"]["step"] == "p1.w1.announce-kickoff" and data["next"]["implemented"] is True
    assert data["live_flag"] is None and "sandbox is not running" in data["live_error"]
    assert data["lock"] is None and data["hold"] is None and data["full_rollback_interrupted_at"] is None
    table = cli("status")
    assert "lock free" in table.out and "run: cato-migrate phase run 1" in table.out


def test_status_counts_an_attested_step(cli):
    assert cli("attest", ATTEST_STEP, "--by", "alice").code == 0
    assert cli("status", "--output", "json").json()["steps_done"] == 1


def test_status_reads_the_flag_live(cli, world):
    world.serve(10)
    data = cli("status", "--output", "json").json()
    assert data["live_flag"]["served_percentage"] == 10 and data["served"]["source"] == "live"


def test_status_handoff_is_at_most_40_lines(cli):
    r = cli("status", "--handoff", "--output", "json")
    assert r.code == 0, r.err
    text = r.json()["text"]
    assert 0 < len(text.splitlines()) <= 40 and "local" in text
    assert cli("status", "--handoff").out.strip() == text.strip()


@pytest.mark.parametrize("argv, says", [
    (["--env", "prod", "status"], ["local, staging or production"]),
    (["--output", "yaml", "status"], ["table or json"]),
    (["--output", "html", "status"], ["only `cato-migrate report"]),
    (["status", "--bogus"], ["No such option"]),
    (["statuss"], ["No such command"]),
])
def test_bad_global_options_are_exit_2_and_change_nothing(cli, argv, says):
    before = cli.snapshot()
    refused(cli(*argv), 2, *says)
    assert cli.snapshot() == before


def test_global_options_are_accepted_after_the_verb(cli):
    r = cli("status", "--output", "json", "--env", "local")
    assert r.code == 0 and r.json()["env"] == "local"


def test_help_lists_every_verb_and_the_exit_codes(cli):
    r = cli("--help")
    assert r.code == 0
    for verb in ("status", "phase", "validate", "canary", "rollback", "decommission", "history", "lock", "attest",
                 "sandbox", "orchestrator", "eval", "doctor", "notify", "announce", "state", "report", "cost"):
        assert verb in r.out, verb
    assert "Exit codes:" in r.out


def test_state_init_creates_the_store_once_and_audits_it(cli):
    cli.db = cli.tmp / "fresh" / "state.db"
    r = cli("state", "init", "--output", "json")
    assert r.code == 0, r.err
    assert r.json() == {"env": "local", "store": "sqlite", "path": str(cli.db), "created": True}
    again = cli("state", "init", "--output", "json")
    assert again.code == 0 and again.json()["created"] is False
    assert [e.action for e in cli.store.audit("local")] == ["state.init"]
    assert "already existed; nothing to do" in cli("state", "init").out


def test_state_init_with_a_url_it_does_not_understand_is_exit_2(cli, monkeypatch):
    monkeypatch.setenv("CATO_ENV", "local")
    monkeypatch.setenv("CATO_WORK_DIR", str(cli.work_dir))
    monkeypatch.setenv("CATO_STATE_URL", "ftp://x")
    refused(cli("state", "init", inject_settings=False), 2, "CATO_STATE_URL")
    assert not cli.work_dir.exists()


def test_validate_without_measurements_is_exit_1_with_every_criterion_waiting(cli):
    r = cli("validate", "1", "--output", "json")
    assert r.code == 1, r.err
    data = r.json()
    assert data["passed"] is False and data["counts"]["pass"] == 0
    assert data["counts"]["waiting"] == len(data["phases"][0]["criteria"]) > 0
    assert {c["status"] for c in data["phases"][0]["criteria"]} == {"waiting"}
    checked = cli("phase", "list", "--output", "json").json()["phases"][0]
    assert checked["criteria_passed"] == 0  # recorded in the journal, none passed


def test_validate_bad_phase_is_exit_2_and_changes_nothing(cli):
    before = cli.snapshot()
    refused(cli("validate", "9"), 2, "no phase 9")
    refused(cli("validate", "all"), 2, "valid integer")
    assert cli.snapshot() == before


def test_report_json_on_an_empty_store_measures_nothing_and_exits_0(cli):
    r = cli("report", "--output", "json", "--bench", "none")
    assert r.code == 0, r.err
    data = r.json()
    assert data["env"] == "local" and len(data["metrics"]) >= 5
    assert {m["state"] for m in data["metrics"]} <= {"not_measured", "stale", "partial"}
    assert data["drills"] == [] and data["overrides"] == []


def test_report_html_page_to_a_file(cli):
    page = cli.tmp / "report.html"
    r = cli("report", "--output", "html", "--out", str(page), "--bench", "none")
    assert r.code == 0, r.err
    assert page.read_text().startswith("<!DOCTYPE html>") and f"wrote the report page for local to {page}" in r.err


def test_report_bad_input_is_exit_2_and_changes_nothing(cli):
    before = cli.snapshot()
    refused(cli("report", "--bench", str(cli.tmp / "missing.json")), 2, "cannot read the bench file")
    refused(cli("report", "--out", str(cli.tmp / "no" / "such" / "dir" / "r.txt"), "--bench", "none"), 2, "cannot write")
    refused(cli("report", "--max-age-days", "0"), 2, "--max-age-days")
    assert cli.snapshot() == before
