"""`cato-migrate report` in-process through `main(argv)`, on a demo-like state store (no sandbox)."""
from __future__ import annotations

import json

import pytest

from cato_migrate.cli.app import main
from tests.report_world import World, demo_world


@pytest.fixture
def world(tmp_path, monkeypatch):
    import os

    for k in list(os.environ):
        if k.startswith(("CATO_", "AWS_")):
            monkeypatch.delenv(k)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CATO_WORK_DIR", str(tmp_path / ".cato-migrate"))
    monkeypatch.setenv("COLUMNS", "160")
    w = demo_world(tmp_path)
    monkeypatch.setattr("cato_migrate.wiring.make_context", w.ctx)
    return w


def run(capsys, monkeypatch, *argv):
    monkeypatch.setattr("sys.argv", ["cato-migrate", *argv])
    capsys.readouterr()
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_table_puts_the_five_metrics_first(world, capsys, monkeypatch):
    code, out, err = run(capsys, monkeypatch, "report", "--bench", "none")
    assert code == 0, err
    head = out.split("RISK REGISTER")[0]
    for title in ("Max concurrent requests", "p99 latency", "Context persistence", "Hidden state extraction",
                  "Cost efficiency"):
        assert title in head
    assert out.index("SUCCESS METRICS") < out.index("RISK REGISTER") < out.index("EXIT CRITERIA") \
        < out.index("ROLLBACK DRILLS") < out.index("OVERRIDES")
    assert "not met" in head and "-41.0%" in head and "sandbox rehearsal" in out


def test_the_risk_register_fits_an_80_column_terminal_one_line_per_evidence(world, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    code, out, err = run(capsys, monkeypatch, "report", "--bench", "none")
    assert code == 0, err
    risks = out.split("RISK REGISTER")[1].split("EXIT CRITERIA")[0].strip("\n").splitlines()
    assert all(len(line) <= 80 for line in risks), [line for line in risks if len(line) > 80]
    heads = [line for line in risks if not line.startswith(" " * 16)]
    assert len(heads) == 4 and any("Data loss during migration (Critical)" in h for h in heads)
    assert any(line.strip().startswith("ok ") for line in risks)  # what is in place is named, not narrated
    code, out, _ = run(capsys, monkeypatch, "report", "--output", "json", "--bench", "none")
    details = [i["detail"] for k in json.loads(out)["risks"] for i in k["evidence"]]
    assert len(details) == len(risks) - 4 and all(details)  # json keeps every detail the table shortened


def test_json_is_the_model(world, capsys, monkeypatch):
    code, out, err = run(capsys, monkeypatch, "report", "--output", "json", "--bench", "none")
    assert code == 0, err
    data = json.loads(out)
    assert [m["state"] for m in data["metrics"]] == ["not_met", "met", "met", "met", "met"]
    assert data["env"] == "local" and len(data["risks"]) == 4 and len(data["drills"]) == 2


def test_html_page_to_a_file_and_html_refused_elsewhere(world, capsys, monkeypatch, tmp_path):
    target = tmp_path / "page.html"
    code, out, err = run(capsys, monkeypatch, "report", "--output", "html", "--out", str(target), "--bench", "none")
    assert code == 0, err
    assert target.read_text().startswith("<!DOCTYPE html>") and "wrote the report page" in err and out == ""
    code, out, err = run(capsys, monkeypatch, "--output", "html", "status")
    assert code == 2 and "only `cato-migrate report" in err


def test_dual_write_unreadable_is_not_measured(world, capsys, monkeypatch):
    world.gateway = None  # no gateway known: the counters cannot be read
    code, out, err = run(capsys, monkeypatch, "report", "--output", "json", "--bench", "none")
    data = json.loads(out)
    dl = next(k for k in data["risks"] if k["id"] == "data-loss")
    assert code == 0 and dl["evidence"][0]["state"] == "not_measured" and "no gateway URL" in dl["evidence"][0]["detail"]


def test_an_unreadable_bench_file_is_bad_input(world, capsys, monkeypatch, tmp_path):
    code, out, err = run(capsys, monkeypatch, "report", "--bench", str(tmp_path / "missing.json"))
    assert code == 2 and "bench file" in err


def test_empty_environment_reports_every_row_as_not_measured(tmp_path, capsys, monkeypatch):
    import os

    for k in list(os.environ):
        if k.startswith(("CATO_", "AWS_")):
            monkeypatch.delenv(k)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CATO_WORK_DIR", str(tmp_path / ".cato-migrate"))
    w = World(tmp_path)
    monkeypatch.setattr("cato_migrate.wiring.make_context", w.ctx)
    code, out, err = run(capsys, monkeypatch, "report", "--output", "json", "--bench", "none")
    assert code == 0, err
    assert {m["state"] for m in json.loads(out)["metrics"]} == {"not_measured"}
