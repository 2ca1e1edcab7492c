"""`phase list`, `phase show`, `phase run --dry-run`, `attest` and `history`, in process on a SQLite store."""
from __future__ import annotations

from tests.cli_inprocess.conftest import ATTEST_STEP, COMMAND_STEP, refused


def test_phase_list_json_has_four_phases_none_done(cli):
    r = cli("phase", "list", "--output", "json")
    assert r.code == 0, r.err
    data = r.json()
    assert data["env"] == "local" and [p["phase"] for p in data["phases"]] == [1, 2, 3, 4]
    for p in data["phases"]:
        assert set(p) == {"phase", "name", "weeks", "steps_done", "steps_total", "criteria_passed", "criteria_total"}
        assert p["steps_done"] == 0 and p["steps_total"] > 0 and p["criteria_passed"] == 0
    assert data["phases"][0]["weeks"].startswith("1-") and data["phases"][3]["weeks"].endswith("-16")


def test_phase_list_table(cli):
    r = cli("phase", "list")
    assert r.code == 0, r.err
    assert "exit criteria passed" in r.out and "0/" in r.out


def test_phase_show_lists_steps_and_criteria(cli):
    r = cli("phase", "show", "4", "--output", "json")
    assert r.code == 0, r.err
    data = r.json()
    assert data["phase"] == 4 and data["exit_criteria"]
    step = next(s for s in data["steps"] if s["id"] == ATTEST_STEP)
    assert step == {"id": ATTEST_STEP, "week": 13, "title": step["title"], "kind": "attest", "implemented": True,
                    "state": "pending"}
    assert all(c["last_result"] == "unchecked" for c in data["exit_criteria"])
    table = cli("phase", "show", "4")
    assert table.code == 0 and ATTEST_STEP in table.out and "Phase 4" in table.out


def test_phase_show_bad_number_is_exit_2_and_changes_nothing(cli):
    before = cli.snapshot()
    refused(cli("phase", "show", "0"), 2, "no phase 0")
    refused(cli("phase", "show", "four"), 2, "valid integer")
    refused(cli("phase", "show"), 2, "Missing argument")
    assert cli.snapshot() == before


def test_phase_run_dry_run_changes_nothing(cli):
    before = cli.snapshot()
    r = cli("phase", "run", "1", "--week", "1", "--dry-run", "--output", "json")
    assert r.code == 0, r.err
    data = r.json()
    assert data["dry_run"] is True and data["complete"] is False and data["steps"]
    assert cli.snapshot() == before


def test_attest_records_a_sign_off_shown_by_status_history_and_phase_show(cli):
    r = cli("attest", ATTEST_STEP, "--by", "alice", "--note", "paged [bold]on-call[/]", "--output", "json")
    assert r.code == 0, r.err
    assert r.json()["step"] == ATTEST_STEP and r.json()["by"] == "alice"
    journal = cli.store.journal("local", ATTEST_STEP)
    assert [(e.event, e.evidence["by"]) for e in journal] == [("attested", "alice")]
    assert cli.store.read_lock("local") is None  # the lock was taken and given back
    shown = cli("phase", "show", "4", "--output", "json").json()
    assert next(s for s in shown["steps"] if s["id"] == ATTEST_STEP)["state"] == "done"
    h = cli("history")
    assert h.code == 0 and "attest" in h.out and "paged [bold]on-call[/]" in h.out  # markup shown literally


def test_attest_again_is_harmless(cli):
    assert cli("attest", ATTEST_STEP, "--by", "alice").code == 0
    r = cli("attest", ATTEST_STEP, "--by", "bob")
    assert r.code == 0, r.err
    assert "attested by bob" in r.out


def test_attest_bad_input_is_exit_2_and_changes_nothing(cli):
    before = cli.snapshot()
    refused(cli("attest", "p9.nope", "--by", "a"), 2, "no step 'p9.nope'")
    refused(cli("attest", COMMAND_STEP, "--by", "a"), 2, "not a manual sign-off")
    refused(cli("attest", ATTEST_STEP, "--by", "  "), 2, "--by needs a name")
    refused(cli("attest", ATTEST_STEP), 2, "--by")
    assert cli.snapshot() == before


def test_attest_error_as_json(cli):
    r = cli("attest", "[/x]", "--by", "a", "--output", "json")
    assert r.code == 2
    assert r.json() == {"error": "BadInput", "message": "no step '[/x]' in the runbook", "exit_code": 2,
                        "hint": "see `cato-migrate phase show N` for step ids"}


def test_history_empty_then_newest_last_with_limit(cli):
    r = cli("history", "--output", "json")
    assert r.code == 0 and r.json() == {"env": "local", "entries": []}
    assert "no changes recorded yet" in cli("history").out
    for who in ("alice", "bob", "carol"):
        assert cli("attest", ATTEST_STEP, "--by", who).code == 0
    entries = cli("history", "--output", "json").json()["entries"]
    assert [e["details"]["by"] for e in entries if e["action"] == "attest"] == ["alice", "bob", "carol"]
    last = cli("history", "-n", "1", "--output", "json").json()["entries"]
    assert len(last) == 1 and last[0]["details"]["by"] == "carol"


def test_history_bad_limit_is_exit_2_and_changes_nothing(cli):
    before = cli.snapshot()
    refused(cli("history", "--limit", "0"), 2, "--limit")
    refused(cli("history", "-n", "ten"), 2, "valid integer")
    assert cli.snapshot() == before
