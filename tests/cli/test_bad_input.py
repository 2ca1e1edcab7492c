"""Strict input everywhere: each bad input, on every surface, exits with its documented code, says what
is wrong on stderr, prints no traceback, and changes nothing (journal, audit log, AppConfig flag versions).

One sandbox (moto + the AppConfig layer) for the module; the CLI runs in-process through
`cato_migrate.cli.app.main(argv)` with the environment and working directory monkeypatched.
"""
from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from cato_migrate.cli import _common
from cato_migrate.cli.app import main

RUNBOOK = Path(__file__).resolve().parents[2] / "runbook"
ATTEST_STEP = "p4.w13.alert-oncall"
COMMAND_STEP = "p1.w1.build-shadow-self-image"  # not an attest step
SEED_REASON = "[/x] drill"
SEED_BY, SEED_NOTE = "[bold]eve[/]", "[/] paged"


@dataclass
class Result:
    code: int
    out: str
    err: str


@dataclass
class World:
    work_dir: Path
    state_db: Path
    appconfig_url: str
    env: dict[str, str]


def _base_env(work: Path, state_db: Path) -> dict[str, str]:
    return {"CATO_ENV": "local", "CATO_WORK_DIR": str(work / ".cato-migrate"), "CATO_STATE_URL": str(state_db),
            "CATO_LOCK_TTL_SECONDS": "10", "CATO_CANARY_DEPLOY_MINUTES": "0", "CATO_CANARY_BAKE_MINUTES": "0",
            "CATO_APPCONFIG_ENVIRONMENT": "badinput", "COLUMNS": "200"}


def invoke(mp: pytest.MonkeyPatch, capsys, cwd: Path, env: dict[str, str | None], argv: list[str]) -> Result:
    import os

    for k in list(os.environ):
        if k.startswith(("CATO_", "AWS_")):
            mp.delenv(k)
    for k, v in env.items():
        if v is not None:
            mp.setenv(k, v)
    mp.chdir(cwd)
    mp.setattr("sys.argv", ["cato-migrate", *argv])
    capsys.readouterr()
    try:
        code = main(list(argv))
    except BaseException as exc:  # what a user would see as a traceback
        captured = capsys.readouterr()
        raise AssertionError(f"{argv}: escaped main(): {exc!r}\n{captured.err}") from exc
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    from cato_sandbox.manager import SandboxSettings, sandbox_down, sandbox_up

    work = tmp_path_factory.mktemp("bad-input")
    settings = SandboxSettings(state_dir=work / ".cato-migrate", minute_seconds=0.05, components=["moto", "appconfig"])
    up = sandbox_up(settings)
    url = next(c["url"] for c in up["components"] if c["name"] == "appconfig")
    w = World(work, work / "state.db", url, _base_env(work, work / "state.db"))
    try:
        # Stored user text that later verbs show back, and a flag version to keep.
        with pytest.MonkeyPatch.context() as mp:
            class _Cap:  # capsys is function-scoped; the seed only needs the exit codes
                def readouterr(self):
                    return type("C", (), {"out": "", "err": ""})()
            for argv in (["canary", "set", "10", "--force", "--reason", SEED_REASON],
                         ["attest", ATTEST_STEP, "--by", SEED_BY, "--note", SEED_NOTE]):
                r = invoke(mp, _Cap(), work, w.env, argv)
                assert r.code == 0, argv
        yield w
    finally:
        sandbox_down(settings)


def _appconfig(world: World):
    import boto3

    return boto3.client("appconfig", endpoint_url=world.appconfig_url, region_name="us-east-1",
                        aws_access_key_id="sandbox", aws_secret_access_key="sandbox")


def flag_versions(world: World) -> dict:
    """Hosted versions (probed by number: moto has no ListHostedConfigurationVersions) and deployments."""
    from botocore.exceptions import ClientError

    c = _appconfig(world)
    app = next(a["Id"] for a in c.list_applications()["Items"] if a["Name"] == "cato")
    prof = next(p["Id"] for p in c.list_configuration_profiles(ApplicationId=app)["Items"])
    env = next(e["Id"] for e in c.list_environments(ApplicationId=app)["Items"] if e["Name"] == "badinput")
    versions, n = [], 1
    while True:
        try:
            v = c.get_hosted_configuration_version(ApplicationId=app, ConfigurationProfileId=prof, VersionNumber=n)
        except ClientError:
            break
        versions.append(v["Content"].read().decode())
        n += 1
    deployments = [(d["DeploymentNumber"], d["ConfigurationVersion"], d["State"])
                   for d in c.list_deployments(ApplicationId=app, EnvironmentId=env)["Items"]]
    return {"versions": versions, "deployments": deployments}


def snapshot(world: World) -> dict:
    from cato_migrate.adapters.sqlite_store import SqliteStateStore

    store = SqliteStateStore(world.state_db)
    return {"journal": [e.model_dump() for e in store.journal("local")],
            "audit": [e.model_dump() for e in store.audit("local", 10**6)],
            "lock": store.read_lock("local"), "flag": flag_versions(world)}


# -- the table -------------------------------------------------------------------------------------

def toml(text: bytes | str) -> Callable[[Path, dict], None]:
    def plant(cwd: Path, env: dict) -> None:
        (cwd / "cato-migrate.toml").write_bytes(text.encode() if isinstance(text, str) else text)
    return plant


def toml_dir(cwd: Path, env: dict) -> None:
    (cwd / "cato-migrate.toml").mkdir()


def runbook(change: Callable[[Path], None]) -> Callable[[Path, dict], None]:
    def plant(cwd: Path, env: dict) -> None:
        d = cwd / "rb"
        shutil.copytree(RUNBOOK, d)
        change(d)
        env["CATO_RUNBOOK_DIR"] = str(d)
    return plant


def runbook_dir(value: str) -> Callable[[Path, dict], None]:
    def plant(cwd: Path, env: dict) -> None:
        (cwd / "a-file").write_text("x")
        env["CATO_RUNBOOK_DIR"] = str(cwd / value)
    return plant


def file_at(name: str, body: str | None) -> Callable[[Path, dict], None]:
    def plant(cwd: Path, env: dict) -> None:
        if body is None:
            (cwd / name).mkdir()
        else:
            (cwd / name).write_text(body)
    return plant


def _append(name: str, data: bytes):
    return lambda d: (d / name).write_bytes((d / name).read_bytes() + data)


def _replace(name: str, old: str, new: str):
    def change(d: Path) -> None:
        text = (d / name).read_text()
        assert old in text
        (d / name).write_text(text.replace(old, new, 1))
    return change


def _as_dir(name: str):
    def change(d: Path) -> None:
        (d / name).unlink()
        (d / name).mkdir()
    return change


@dataclass
class Case:
    id: str
    argv: list[str]
    says: list[str]                      # each must appear on stderr
    env: dict[str, str | None] = field(default_factory=dict)  # None: unset
    plant: Callable[[Path, dict], None] | None = None
    code: int = 2


SET10 = ["canary", "set", "10", "--force", "--reason", "x"]
P4 = "phase-4-traffic.yaml"

CASES = [
    # global options and verbs
    Case("env-typo", ["--env", "prod", "status"], ["local, staging or production"]),
    Case("output-typo", ["--output", "yaml", "status"], ["table or json"]),
    Case("unknown-verb", ["statuss"], ["No such command"]),
    Case("unknown-option", ["status", "--bogus"], ["No such option"]),
    # canary set
    Case("canary-150", ["canary", "set", "150", "--force", "--reason", "x"], ["0 to 100", "nothing was changed"]),
    Case("canary-negative", ["canary", "set", "-5"], ["-5"]),
    Case("canary-fraction", ["canary", "set", "10.5", "--force", "--reason", "x"], ["'10.5'"]),
    Case("canary-word", ["canary", "set", "abc", "--force", "--reason", "x"], ["'abc'"]),
    Case("canary-empty", ["canary", "set", ""], ["whole number"]),
    Case("canary-markup", ["canary", "set", "[/]"], ["'[/]'"]),
    Case("canary-markup-bold", ["canary", "set", "[bold]10"], ["'[bold]10'"]),
    Case("canary-force-no-reason", ["canary", "set", "10", "--force"], ["--reason"]),
    Case("canary-force-blank-reason", ["canary", "set", "10", "--force", "--reason", "   "], ["--reason"]),
    Case("canary-missing-arg", ["canary", "set"], ["Missing argument"]),
    Case("canary-unknown-sub", ["canary", "sett", "10"], ["No such command"]),
    # rollback
    Case("rollback-neither", ["rollback"], ["--quick", "--full"]),
    Case("rollback-both", ["rollback", "--quick", "--full"], ["--quick", "--full"]),
    Case("rollback-unknown-option", ["rollback", "--fast"], ["No such option"]),
    Case("rollback-reason-no-value", ["rollback", "--quick", "--reason"], ["--reason"]),
    # decommission
    Case("decommission-force-no-reason", ["decommission", "--force"], ["--reason"]),
    Case("decommission-delete-force-blank", ["decommission", "--delete", "--force", "--reason", ""], ["--reason"]),
    Case("decommission-unknown-option", ["decommission", "--now"], ["No such option"]),
    # attest
    Case("attest-markup-step", ["attest", "[/x]", "--by", "a"], ["no step '[/x]'"]),
    Case("attest-command-step", ["attest", COMMAND_STEP, "--by", "a"], ["not a manual sign-off"]),
    Case("attest-blank-by", ["attest", ATTEST_STEP, "--by", "  "], ["--by needs a name"]),
    Case("attest-no-by", ["attest", ATTEST_STEP], ["--by"]),
    Case("attest-markup-by-unknown-step", ["attest", "[red]p9[/red]", "--by", "[/]"], ["no step '[red]p9[/red]'"]),
    # phase
    Case("phase-run-9", ["phase", "run", "9"], ["no phase 9"]),
    Case("phase-run-word", ["phase", "run", "one"], ["valid integer"]),
    Case("phase-run-step-markup", ["phase", "run", "1", "--step", "[/]"], ["no step '[/]' in phase 1"]),
    Case("phase-run-step-other-phase", ["phase", "run", "1", "--step", ATTEST_STEP], [f"no step '{ATTEST_STEP}'"]),
    Case("phase-run-week-99", ["phase", "run", "1", "--week", "99"], ["week 99"]),
    Case("phase-run-force-no-reason", ["phase", "run", "1", "--force"], ["--reason"]),
    Case("phase-dry-run-step-markup", ["phase", "run", "1", "--dry-run", "--step", "[b]x"], ["'[b]x'"]),
    Case("phase-show-0", ["phase", "show", "0"], ["no phase 0"]),
    # validate, history
    Case("validate-9", ["validate", "9"], ["no phase 9"]),
    Case("validate-word", ["validate", "all"], ["valid integer"]),
    Case("history-limit-0", ["history", "--limit", "0"], ["--limit"]),
    Case("history-limit-word", ["history", "-n", "ten"], ["--limit", "valid integer"]),
    # lock release
    Case("lock-release-no-force", ["lock", "release"], ["--force"]),
    Case("lock-release-no-reason", ["lock", "release", "--force"], ["--reason"]),
    Case("lock-release-blank-reason", ["lock", "release", "--force", "--reason", " "], ["--reason"]),
    # eval
    Case("eval-routing-missing-file", ["eval", "routing", "--cases", "nope.jsonl"], ["nope.jsonl", "no such file"]),
    Case("eval-cache-dir", ["eval", "cache", "--pairs", "d"], ["no such file"], plant=file_at("d", None)),
    Case("eval-routing-not-json", ["eval", "routing", "--cases", "c.jsonl"], ["c.jsonl", "line 1"],
         plant=file_at("c.jsonl", "[/] not json\n")),
    Case("eval-routing-no-option", ["eval", "routing"], ["--cases"]),
    # orchestrator, sandbox
    Case("orchestrator-unknown-sub", ["orchestrator", "deploy"], ["No such command"]),
    Case("orchestrator-install-bad-timeout", ["orchestrator", "install"], ["CATO_ROLLOUT_TIMEOUT_SECONDS"],
         env={"CATO_ROLLOUT_TIMEOUT_SECONDS": "0"}),
    Case("sandbox-unknown-sub", ["sandbox", "start"], ["No such command"]),
    Case("sandbox-bad-ingress", ["sandbox", "status"], ["CATO_SANDBOX_INGRESS"], env={"CATO_SANDBOX_INGRESS": "nginx"}),
    Case("sandbox-bad-minute", ["sandbox", "up"], ["CATO_SANDBOX_MINUTE_SECONDS"],
         env={"CATO_SANDBOX_MINUTE_SECONDS": "-1"}),
    # cato-migrate.toml
    Case("toml-directory", SET10, ["cato-migrate.toml", "cannot read"], plant=toml_dir),
    Case("toml-not-utf8", ["status"], ["cato-migrate.toml:2", "not UTF-8"], plant=toml(b'region = "x"\nx = "\xff"\n')),
    Case("toml-invalid", SET10, ["not valid TOML"], plant=toml("region = \n")),
    Case("toml-env-typo", SET10, ["[environments]", "prod", "local, staging, production"],
         plant=toml('[environments.prod]\nregion = "eu-west-1"\n')),
    Case("toml-environments-not-table", ["status"], ["`environments` must be a table"], plant=toml("environments = 5\n")),
    Case("toml-env-section-not-table", ["status"], ["[environments.local] must be a table"],
         plant=toml("[environments]\nlocal = 5\n")),
    Case("toml-wrong-type", SET10, ["cato-migrate.toml: region", "valid string"], plant=toml("region = 5\n")),
    Case("toml-unknown-key", ["status"], ["regoin", "unknown setting"], plant=toml('regoin = "us-east-1"\n')),
    Case("toml-env-section-wrong-type", SET10, ["[environments.local] deployment_timeout_seconds"],
         plant=toml('[environments.local]\ndeployment_timeout_seconds = "soon"\n')),
    Case("toml-env-value", ["status"], ["cato-migrate.toml: env"], env={"CATO_ENV": None}, plant=toml('env = "prod"\n')),
    Case("toml-inf", SET10, ["deployment_timeout_seconds", "finite"], plant=toml("deployment_timeout_seconds = inf\n")),
    Case("toml-regions-ints", ["status"], ["replica_regions"], plant=toml("replica_regions = [1, 2]\n")),
    Case("toml-markup-value", ["status"], ["[/]"], plant=toml('output = "[/]"\n')),
    # CATO_* variables
    Case("var-regions-bad-json", SET10, ["CATO_REPLICA_REGIONS", "JSON"], env={"CATO_REPLICA_REGIONS": "[us-west-2"}),
    Case("var-ttl-inf", SET10, ["CATO_LOCK_TTL_SECONDS", "finite"], env={"CATO_LOCK_TTL_SECONDS": "inf"}),
    Case("var-ttl-nan", SET10, ["CATO_LOCK_TTL_SECONDS", "finite"], env={"CATO_LOCK_TTL_SECONDS": "nan"}),
    Case("var-ttl-tiny", SET10, ["CATO_LOCK_TTL_SECONDS", "10"], env={"CATO_LOCK_TTL_SECONDS": "0.01"}),
    Case("var-ttl-huge", SET10, ["CATO_LOCK_TTL_SECONDS", "3600"], env={"CATO_LOCK_TTL_SECONDS": "99999"}),
    Case("var-ttl-word", ["status"], ["CATO_LOCK_TTL_SECONDS"], env={"CATO_LOCK_TTL_SECONDS": "a minute"}),
    Case("var-env", ["status"], ["local, staging or production"], env={"CATO_ENV": "prod"}),
    Case("var-output", ["status"], ["table or json"], env={"CATO_OUTPUT": "yaml"}),
    Case("var-yes", SET10, ["CATO_YES"], env={"CATO_YES": "maybe"}),
    Case("var-growth-0", SET10, ["CATO_CANARY_GROWTH_PERCENT"], env={"CATO_CANARY_GROWTH_PERCENT": "0"}),
    Case("var-fallback", ["status"], ["CATO_SAGEMAKER_UPDATE_FALLBACK"], env={"CATO_SAGEMAKER_UPDATE_FALLBACK": "sometimes"}),
    Case("var-state-url", SET10, ["CATO_STATE_URL"], env={"CATO_STATE_URL": "ftp://x"}),
    Case("var-legacy-replicas", ["status"], ["CATO_LEGACY_REPLICAS"], env={"CATO_LEGACY_REPLICAS": "0"}),
    Case("var-notify-timeout", ["status"], ["CATO_NOTIFY_TIMEOUT_SECONDS"], env={"CATO_NOTIFY_TIMEOUT_SECONDS": "1e9"}),
    Case("var-prometheus-url", ["status"], ["CATO_PROMETHEUS_URL", "http://"], env={"CATO_PROMETHEUS_URL": "prometheus:9090"}),
    Case("toml-prometheus-url-port", ["status"], ["cato-migrate.toml: prometheus_url", "port"],
         plant=toml('prometheus_url = "http://127.0.0.1:99999"\n')),
    # runbook files (CATO_RUNBOOK_DIR)
    Case("runbook-dir-missing", SET10, ["runbook directory", "nowhere"], plant=runbook_dir("nowhere")),
    Case("runbook-dir-is-file", ["status"], ["runbook directory", "a-file"], plant=runbook_dir("a-file")),
    Case("runbook-meta-not-utf8", SET10, ["runbook.yaml:", "not UTF-8"], plant=runbook(_append("runbook.yaml", b"\n# \xff\n"))),
    Case("runbook-phase-not-utf8", ["status"], [P4, "not UTF-8"], plant=runbook(_append(P4, b"\n# \xfe\n"))),
    Case("runbook-meta-is-dir", ["status"], ["runbook.yaml", "cannot read"], plant=runbook(_as_dir("runbook.yaml"))),
    Case("runbook-phase-is-dir", SET10, [P4, "cannot read"], plant=runbook(_as_dir(P4))),
    Case("runbook-bad-yaml", ["status"], ["runbook.yaml:", "not valid YAML"],
         plant=runbook(_append("runbook.yaml", b"\n  : : [\n"))),
    Case("runbook-unknown-kind", SET10, [P4, "unknown step kind 'attset'"],
         plant=runbook(_replace(P4, "kind: attest", "kind: attset"))),
    Case("runbook-phase-file-missing", ["status"], ["phase-5.yaml"],
         plant=runbook(_replace("runbook.yaml", "  - phase-4-traffic.yaml", "  - phase-4-traffic.yaml\n  - phase-5.yaml"))),
    Case("runbook-markup-in-error", ["status"], ["[/]"], plant=runbook(_replace(P4, "kind: attest", "kind: '[/]'"))),
]


def test_the_table_is_big_enough():
    assert len(CASES) >= 60 and len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_refused_and_changes_nothing(case: Case, world: World, tmp_path, monkeypatch, capsys):
    env = {**world.env, **case.env}
    if case.plant:
        case.plant(tmp_path, env)
    before = snapshot(world)
    r = invoke(monkeypatch, capsys, tmp_path, env, case.argv)
    assert r.code == case.code, (r.code, r.err, r.out)
    for text in case.says:
        assert text in r.err, (text, r.err)
    assert "Traceback" not in r.err + r.out
    assert snapshot(world) == before


# -- stored text shown back, literally ------------------------------------------------------------

def test_history_shows_stored_markup_literally(world, tmp_path, monkeypatch, capsys):
    r = invoke(monkeypatch, capsys, tmp_path, world.env, ["history"])
    assert r.code == 0, r.err
    assert f'"{SEED_REASON}"' in r.out and SEED_BY in r.out and SEED_NOTE in r.out


def test_phase_show_and_list_with_stored_attest(world, tmp_path, monkeypatch, capsys):
    for argv in (["phase", "show", "4"], ["phase", "list"], ["status"]):
        r = invoke(monkeypatch, capsys, tmp_path, world.env, argv)
        assert r.code == 0 and "Traceback" not in r.err, (argv, r.err)


@pytest.fixture
def held_lock(world, tmp_path):
    """Someone else holds the lock, running a command line with markup in it (its own journal)."""
    from cato_migrate.adapters.sqlite_store import SqliteStateStore
    from cato_migrate.core.state import LockLease

    db = tmp_path / "locked.db"
    now = time.time()
    lease = LockLease(env="local", token="t", holder="mallory@elsewhere", command="cato-migrate canary set 10 --reason '[/]'",
                      host="elsewhere", pid=1, started=now, heartbeat=now, expires=now + 3600, ttl=3600)
    assert SqliteStateStore(db).acquire_lock(lease, preempt=True).acquired
    return {**world.env, "CATO_STATE_URL": str(db)}, db


def test_locked_with_markup_in_holders_command_still_exits_3(world, held_lock, tmp_path, monkeypatch, capsys):
    env, db = held_lock
    before = flag_versions(world)
    r = invoke(monkeypatch, capsys, tmp_path, env, ["attest", ATTEST_STEP, "--by", "bob"])
    assert r.code == 3, r.err
    assert "--reason '[/]'" in r.err and "Traceback" not in r.err
    assert flag_versions(world) == before


@pytest.mark.parametrize("argv", [["status"], ["lock", "status"]])
def test_lock_holders_command_is_shown_literally(held_lock, tmp_path, monkeypatch, capsys, argv):
    env, _ = held_lock
    r = invoke(monkeypatch, capsys, tmp_path, env, argv)
    assert r.code == 0, r.err
    assert "--reason '[/]'" in r.out


# -- warnings, Ctrl-C, completion ---------------------------------------------------------------

def test_unknown_cato_variable_is_a_warning_not_an_error(world, tmp_path, monkeypatch, capsys):
    env = {**world.env, "CATO_REGOIN": "eu-west-1", "CATO_ORCHESTRATOR_API_KEYS": "[]"}
    r = invoke(monkeypatch, capsys, tmp_path, env, ["status"])
    assert r.code == 0, r.err
    warnings = [line for line in r.err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "CATO_REGOIN" in warnings[0]
    assert "CATO_ORCHESTRATOR_API_KEYS" not in r.err  # the orchestrator's: known, not a typo


def test_comma_separated_replica_regions_are_accepted(world, tmp_path, monkeypatch, capsys):
    env = {**world.env, "CATO_REPLICA_REGIONS": "us-west-2, eu-west-1"}
    r = invoke(monkeypatch, capsys, tmp_path, env, ["status", "--output", "json"])
    assert r.code == 0, r.err


def test_ctrl_c_while_reading(world, tmp_path, monkeypatch, capsys):
    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(_common, "reading", interrupted)
    r = invoke(monkeypatch, capsys, tmp_path, world.env, ["status"])
    assert r.code == 130
    assert "interrupted; run `cato-migrate status` to see where things stand" in r.err
    assert "Traceback" not in r.err + r.out


def test_ctrl_c_while_holding_the_lock_releases_it(world, tmp_path, monkeypatch, capsys):
    import cato_migrate.core.traffic as traffic

    def interrupted(ctx, target):
        raise KeyboardInterrupt

    monkeypatch.setattr(traffic, "set_traffic", interrupted)
    before = snapshot(world)
    r = invoke(monkeypatch, capsys, tmp_path, world.env, SET10)
    assert r.code == 130 and "interrupted;" in r.err and "Traceback" not in r.err
    assert snapshot(world)["lock"] is None and snapshot(world)["flag"] == before["flag"]


def test_ctrl_c_in_a_real_process(world, tmp_path):
    """SIGINT to a real `cato-migrate` mid-command: exit 130, one line, no traceback."""
    import os
    import select
    import signal
    import subprocess
    import sys

    from tests.cli.conftest import ROOT

    script = ("import time, cato_migrate.cli._common as c\n"
              "def slow():\n    print('ready', flush=True); time.sleep(20)\n"
              "c.reading = slow\n"
              "from cato_migrate.cli.app import main\nraise SystemExit(main(['status']))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CATO_")}
    env.update(world.env, PYTHONPATH=str(ROOT))
    # A child of a background job inherits SIGINT ignored; a terminal's Ctrl-C reaches a default handler.
    p = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert select.select([p.stdout], [], [], 15)[0], "the child never got going"
        assert p.stdout.readline().strip() == "ready"
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=15)
    finally:
        p.kill()
    assert p.returncode == 130, err
    assert err.strip() == "interrupted; run `cato-migrate status` to see where things stand"


def test_shell_completion_is_on(tmp_path, monkeypatch, capsys):
    r = invoke(monkeypatch, capsys, tmp_path, {"CATO_ENV": "local"}, ["--show-completion", "bash"])
    assert r.code == 0, r.err
    assert "_CATO_MIGRATE_COMPLETE" in r.out
    r = invoke(monkeypatch, capsys, tmp_path, {}, ["--help"])
    assert "--install-completion" in r.out


def test_json_errors_are_json(world, tmp_path, monkeypatch, capsys):
    r = invoke(monkeypatch, capsys, tmp_path, world.env, ["attest", "[/x]", "--by", "a", "--output", "json"])
    assert r.code == 2 and json.loads(r.out)["message"] == "no step '[/x]' in the runbook"
