"""In-process CLI tests: `main(argv, obj=CliState(...))` with injected consoles and settings, on a SQLite
state store in a tmp dir (or fakes, through an injected RunContext factory). No sandbox, no subprocess.

The subprocess tests in tests/cli/ stay the end-to-end layer; these pin each verb's parse -> core ->
render contract (exit codes, --output json shapes, "nothing changed") in milliseconds.
"""
from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest
from rich.console import Console

from cato_migrate.adapters.sqlite_store import SqliteStateStore
from cato_migrate.cli._common import CliState
from cato_migrate.cli.app import main
from cato_migrate.settings import Settings

ATTEST_STEP = "p4.w13.alert-oncall"
COMMAND_STEP = "p1.w1.build-shadow-self-image"  # a step of another kind


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    @property
    def all(self) -> str:
        return self.out + self.err


class Cli:
    """Runs one command in this process. `out`/`err`: what its injected consoles got plus what reached
    sys.stdout/sys.stderr directly (typer's usage errors, warnings)."""

    def __init__(self, tmp: Path, capsys: pytest.CaptureFixture[str]):
        self.tmp, self.capsys = tmp, capsys
        self.work_dir = tmp / ".cato-migrate"
        self.db = tmp / "state.db"
        self.context: Callable[..., Any] | None = None  # a RunContext factory (fakes); None: the real wiring
        self.settings_kw: dict[str, Any] = {}

    @property
    def store(self) -> SqliteStateStore:
        return SqliteStateStore(self.db)

    def settings(self) -> Settings:
        return Settings(**{"env": "local", "work_dir": self.work_dir, "state_url": str(self.db), "lock_ttl_seconds": 10,
                           **self.settings_kw})

    def __call__(self, *argv: str, inject_settings: bool = True) -> Result:
        out, err = io.StringIO(), io.StringIO()
        st = CliState(out=Console(file=out, width=200, highlight=False, soft_wrap=True),
                      err=Console(file=err, width=200, highlight=False, soft_wrap=True),
                      settings=self.settings() if inject_settings else None, context=self.context)
        self.capsys.readouterr()
        try:
            code = main(list(argv), obj=st)
        except BaseException as exc:  # what a user would see as a traceback
            raise AssertionError(f"{argv}: escaped main(): {exc!r}") from exc
        cap = self.capsys.readouterr()
        return Result(code, out.getvalue() + cap.out, err.getvalue() + cap.err)

    def snapshot(self) -> dict[str, Any]:
        """Everything a command could change in the store: journal, audit log, lock."""
        if not self.db.exists():
            return {"db": None}
        s = self.store
        lock = s.read_lock("local")
        return {"journal": [e.model_dump() for e in s.journal("local")],
                "audit": [e.model_dump() for e in s.audit("local", 10**6)],
                "lock": lock.model_dump() if lock else None}


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys) -> Cli:
    for k in list(os.environ):
        if k.startswith(("CATO_", "AWS_")):
            monkeypatch.delenv(k)
    monkeypatch.chdir(tmp_path)  # no cato-migrate.toml of the caller's
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr("sys.argv", ["cato-migrate"])
    c = Cli(tmp_path, capsys)
    SqliteStateStore(c.db)  # an empty store, as `state init` leaves it
    return c


def refused(r: Result, code: int, *says: str) -> None:
    """A documented exit code, the reason on stderr, no traceback."""
    assert r.code == code, (r.code, r.err, r.out)
    for text in says:
        assert text in r.err, (text, r.err)
    assert "Traceback" not in r.all


class FakeWorld:
    """Fakes for the systems (flag, workloads, clock) around the real SQLite store of `cli`: every
    RunContext the command makes (read-only and locked) sees the same world."""

    def __init__(self, cli: Cli):
        from tests.fakes import FakeClock, FakeFlag, FakeWorkloads

        self.cli = cli
        self.clock = FakeClock()
        self.flag = FakeFlag(self.clock)
        self.workloads = FakeWorkloads(self.clock)
        self.workloads.add("litellm", 2)

    def ctx(self, settings=None, *, force: bool = False, reason: str = "", **_: Any):
        from tests.fakes import make_ctx

        return make_ctx(self.cli.store, clock=self.clock, flag=self.flag, force=force, reason=reason,
                        workloads=self.workloads, work_dir=self.cli.work_dir, state_url=str(self.cli.db))

    def serve(self, percentage: int) -> None:
        """The flag deployed (forced, as a setup step) and served at `percentage`."""
        from cato_migrate.core.traffic import set_traffic

        set_traffic(self.ctx(force=True, reason="test setup"), percentage)

    def systems(self) -> dict[str, Any]:
        """What a command could change outside the store."""
        return {"flag_calls": list(self.flag.calls), "workloads": {k: dict(v) for k, v in self.workloads.items.items()},
                "workload_calls": list(self.workloads.calls)}


@pytest.fixture
def world(cli) -> FakeWorld:
    w = FakeWorld(cli)
    cli.context = w.ctx
    # The lease keeper runs on the fake clock, which jumps a deployment's minutes at once: a lease
    # that long keeps the command's own lock from looking lost meanwhile.
    cli.settings_kw["lock_ttl_seconds"] = 3600
    return w
