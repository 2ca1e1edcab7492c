"""CLI tests run the real `cato-migrate` in subprocesses against a real sandbox."""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


class Cli:
    def __init__(self, workdir: Path, env: dict[str, str]):
        self.workdir, self.env = workdir, env

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "cato_migrate", *args]

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv(*args), cwd=self.workdir, env=self.env, capture_output=True,
                              text=True, timeout=timeout)

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(self.argv(*args), cwd=self.workdir, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def json(self, *args: str) -> dict:
        r = self.run(*args, "--output", "json")
        assert r.returncode == 0, r.stderr + r.stdout
        return json.loads(r.stdout)


def cli_env(workdir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CATO_", "AWS_"))}
    env.update({"PYTHONPATH": str(ROOT), "CATO_ENV": "local", "CATO_WORK_DIR": str(workdir / ".cato-migrate"),
                "CATO_LOCK_TTL_SECONDS": "10", "COLUMNS": "200"})
    env.update(extra)
    return env


@contextlib.contextmanager
def orchestrator_stack(work: Path, overrides: dict | None = None, **env: str):
    """`sandbox up` then `orchestrator install` through the CLI in `work`; yields (cli, orchestrator url);
    `sandbox down` after. `overrides`: the orchestrator's orchestrator-overrides.json."""
    cli = Cli(work, cli_env(work, CATO_STATE_URL=str(work / "state.db"), **env))
    r = cli.run("sandbox", "up", timeout=120)
    assert r.returncode == 0, r.stderr
    if overrides:
        (work / ".cato-migrate" / "orchestrator-overrides.json").write_text(json.dumps(overrides))
    try:
        r = cli.run("orchestrator", "install", "--output", "json", timeout=400)
        assert r.returncode == 0, r.stderr
        yield cli, json.loads(r.stdout)["url"]
    finally:
        cli.run("sandbox", "down", timeout=120)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """One sandbox per test module (moto + AppConfig layer + redis), 1 strategy-minute = 1 s."""
    from cato_sandbox.manager import SandboxSettings, sandbox_down, sandbox_up

    workdir = tmp_path_factory.mktemp("cli")
    settings = SandboxSettings(state_dir=workdir / ".cato-migrate", minute_seconds=1.0)
    sandbox_up(settings)
    yield workdir
    sandbox_down(settings)


@pytest.fixture
def cli(sandbox, tmp_path):
    """A fresh journal per test, sharing the module's sandbox; AppConfig env name unique per test."""
    env = cli_env(sandbox, CATO_STATE_URL=str(tmp_path / "state.db"),
                  CATO_APPCONFIG_ENVIRONMENT=f"t{abs(hash(tmp_path)) % 10**8}")
    return Cli(sandbox, env)
