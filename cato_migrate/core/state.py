"""Observed state records: journal entries, audit entries, lock leases. Immutable."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from cato_migrate.core.model import Record

JournalEvent = Literal["started", "finished", "failed", "attested", "check"]


class JournalEntry(Record):
    env: str = Field(description="Environment the entry belongs to.")
    key: str = Field(description="Step id or criterion id.")
    event: JournalEvent = Field(description="What happened.")
    actor: str = Field(description="Who ran it (user@host).")
    at: float = Field(description="Unix time.")
    run_id: str = Field(default="", description="Id of the command invocation that wrote it.")
    inputs: dict[str, Any] = Field(default_factory=dict, description="Parameters the step ran with.")
    evidence: dict[str, Any] = Field(default_factory=dict, description="What was measured or read back.")
    status: str = Field(default="", description="For checks: pass, fail, waiting, not_implemented.")
    message: str = Field(default="", description="One line for people.")
    seq: int = Field(default=0, description="Order within the store; assigned on append.")


class AuditEntry(Record):
    env: str = Field(description="Environment the change was made in.")
    at: float = Field(description="Unix time.")
    actor: str = Field(description="Who made the change.")
    action: str = Field(description="What was done, e.g. canary.set, rollback.quick, lock.force_release.")
    target: str = Field(default="", description="What it was done to.")
    reason: str = Field(default="", description="Why, where an override needs one.")
    details: dict[str, Any] = Field(default_factory=dict, description="Non-secret facts about the change.")
    seq: int = Field(default=0, description="Order within the store; assigned on append.")


class LockLease(Record):
    env: str = Field(description="The lock is per environment.")
    token: str = Field(description="Random id of this lease; only its holder may renew or release it.")
    holder: str = Field(description="user@host of the holder.")
    command: str = Field(description="The command line the holder runs.")
    host: str = Field(description="Host of the holder process.")
    pid: int = Field(description="Pid of the holder process.")
    started: float = Field(description="Unix time the lease was taken.")
    heartbeat: float = Field(description="Unix time of the last renewal.")
    expires: float = Field(description="Unix time the lease would lapse by the holder's own clock; shown to "
                                       "people only: no contender compares it with its clock.")
    rvn: str = Field(default="", description="Record version number: a fresh random id on every write of the "
                                             "lease (acquire, renew). A contender that sees it unchanged for `ttl` "
                                             "seconds of its own monotonic clock may take the lease over.")
    ttl: float = Field(default=0.0, description="Lease duration the holder declared, in seconds; it renews every "
                                                "ttl/3. 0 in records written before it existed.")
    boot_id: str = Field(default="", description="Kernel boot id of the holder's host (Linux), '' when unknown.")
    pid_ns: int = Field(default=0, description="Inode of the holder's pid namespace (a container discriminator); "
                                               "0 when unknown.")
    proc_start: int = Field(default=0, description="Start time of the holder process in clock ticks since boot "
                                                   "(/proc/PID/stat field 22): tells a reused pid apart; 0 when unknown.")

    @property
    def declared_ttl(self) -> float:
        """How long a contender waits without seeing a renewal (old records: their heartbeat-to-expiry span)."""
        if self.ttl > 0:
            return min(self.ttl, 3600.0)
        return min(max(self.expires - self.heartbeat, 10.0), 3600.0)

    @property
    def version(self) -> tuple[str, str, float]:
        """What a conditional takeover must find unchanged (old records have no rvn: their heartbeat)."""
        return self.token, self.rvn, self.heartbeat


class AcquireResult(Record):
    acquired: bool = Field(description="Whether the caller now holds the lock.")
    lease: LockLease | None = Field(default=None, description="The caller's lease when acquired.")
    previous: LockLease | None = Field(default=None, description="The lease that was there before (held, lapsed or "
                                                                 "preempted); None when there was none or it is "
                                                                 "unknown (an ambiguous retry that had succeeded).")
