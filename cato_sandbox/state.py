"""The sandbox's state files, typed: the one module that reads and writes them.

`<state_dir>/sandbox.json` records what `sandbox up` started (written atomically after each
component, so an `up` that dies halfway leaves a file `down` can clean up from);
`<state_dir>/workloads.json` records what a local workload scale or delete changed, for the
sandbox it was written for. Everything else (the manager, the gateway's upstreams, the local
workloads adapter, the orchestrator's launcher, wiring's URL lookup, the benches) goes through
the models here, so the file's shape is checked in one place.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cato_migrate.errors import BadInput

STATE_FILE = "sandbox.json"
WORKLOADS_FILE = "workloads.json"
STATE_VERSION = 1


class ComponentRecord(BaseModel):
    """One process `sandbox up` (or `sandbox_add`) started."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="the component's registry name (moto, redis, litellm, orchestrator, ...)")
    url: str = Field(description="its base URL on loopback")
    # A server a drill places in the record by hand (an orchestrator it started itself) has no process here.
    port: int | None = Field(None, description="the port it listens on")
    pid: int | None = Field(None, description="its process id")
    pgid: int | None = Field(None, description="its process group (stopped as a whole)")
    start_time: int | None = Field(None, description="/proc start time: `down` signals only while it matches")
    argv: list[str] = Field(default_factory=list, description="the command it runs")
    log: str = Field("", description="its log file")
    started_at: str = Field("", description="when it was started (UTC, ISO 8601)")


class SandboxState(BaseModel):
    """`sandbox.json`, version 1. `complete` is false while `up` is still starting components."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(STATE_VERSION, description="the file's format version")
    complete: bool = Field(False, description="every component asked for started and became healthy")
    started_at: str = Field("", description="when this sandbox's `up` began (UTC, ISO 8601)")
    state_dir: str = Field("", description="the absolute state directory")
    minute_seconds: float = Field(1.0, gt=0, description="wall seconds per simulated minute")
    components: list[ComponentRecord] = Field(description="what runs, in start order")

    def url_of(self, name: str) -> str | None:
        return next((c.url for c in self.components if c.name == name), None)

    def urls(self) -> dict[str, str]:
        return {c.name: c.url for c in self.components}


class WorkloadEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    desired: int = Field(0, ge=0, description="replicas asked for (0: scaled to zero)")
    deleted: bool = Field(False, description="deleted by a decommission")


class WorkloadsFile(BaseModel):
    """`workloads.json`: only the sandbox started at `sandbox_started_at` honours it."""

    model_config = ConfigDict(extra="forbid")

    sandbox_started_at: str | None = Field(None, description="the `started_at` of the sandbox it was written for")
    workloads: dict[str, WorkloadEntry] = Field(default_factory=dict, description="by workload name")


def state_path(state_dir: str | os.PathLike[str]) -> Path:
    return Path(state_dir).expanduser().resolve() / STATE_FILE


def read_state(state_dir: str | os.PathLike[str]) -> SandboxState | None:
    """The recorded sandbox, or None if nothing is recorded; an unreadable file is BadInput."""
    path = state_path(state_dir)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        return SandboxState.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the file"
        raise BadInput(f"sandbox state file {path} is unreadable ({where}: {first['msg']})",
                       hint="check the processes listed in it by hand (ps), stop them, "
                            "then delete the file") from None


def as_record(state: SandboxState) -> dict[str, Any]:
    """The plain-dict view the manager and the drills work on: the keys the file holds, no defaults added."""
    return state.model_dump(exclude_unset=True)


def peek_state(state_dir: str | os.PathLike[str]) -> SandboxState | None:
    """As read_state, but None for a file caught mid-write or unreadable (for pollers that retry)."""
    try:
        return read_state(state_dir)
    except (BadInput, OSError):
        return None


def write_state(state_dir: Path, state: SandboxState | dict[str, Any]) -> SandboxState:
    """Validate, then write atomically (temp file in the same directory, fsync, os.replace)."""
    model = state if isinstance(state, SandboxState) else SandboxState.model_validate(state)
    # Only the keys set: a record round-trips as it was written, with no defaults added.
    _write_atomically(Path(state_dir) / STATE_FILE, model.model_dump(mode="json", exclude_unset=True), fsync=True)
    return model


def remove_state(state_dir: Path) -> None:
    try:
        (Path(state_dir) / STATE_FILE).unlink()
    except FileNotFoundError:
        pass


def read_workloads(state_dir: Path, sandbox: SandboxState | dict[str, Any]) -> dict[str, WorkloadEntry]:
    """What workloads.json says for this sandbox; {} if absent, unreadable or for an earlier one."""
    started = sandbox.started_at if isinstance(sandbox, SandboxState) else sandbox.get("started_at")
    try:
        data = WorkloadsFile.model_validate_json((Path(state_dir) / WORKLOADS_FILE).read_text())
    except (OSError, ValidationError):
        return {}
    return dict(data.workloads) if data.sandbox_started_at == started else {}


def write_workloads(state_dir: Path, sandbox: SandboxState | dict[str, Any],
                    entries: dict[str, WorkloadEntry]) -> None:
    started = sandbox.started_at if isinstance(sandbox, SandboxState) else sandbox.get("started_at")
    data = WorkloadsFile(sandbox_started_at=started, workloads=entries)
    _write_atomically(Path(state_dir) / WORKLOADS_FILE, data.model_dump(mode="json"), fsync=False)


def _write_atomically(path: Path, data: dict[str, Any], *, fsync: bool) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
        if fsync:
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, path)
