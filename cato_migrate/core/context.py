"""What a running command hands to core functions, steps and checks."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from cato_migrate.core.lock import LeaseKeeper
from cato_migrate.core.runbook import RunbookSpec
from cato_migrate.core.state import AuditEntry, JournalEntry, JournalEvent
from cato_migrate.ports import Clock, Services, StateStore

if TYPE_CHECKING:  # settings.py reads the environment and TOML: only the checker needs it here
    from cato_migrate.settings import Settings


_SECRETISH = re.compile(r"secret|password|passwd|token|credential|api_?key|authorization", re.I)


def redact(details: dict[str, Any]) -> dict[str, Any]:
    """The audit log never holds a secret, whatever a caller passes."""
    return {k: ("***" if _SECRETISH.search(k) else redact(v) if isinstance(v, dict) else v)
            for k, v in details.items()}


@dataclass
class RunContext:
    env: str
    actor: str
    run_id: str
    store: StateStore
    clock: Clock
    services: Services
    runbook: RunbookSpec
    settings: Settings
    force: bool = False
    reason: str = ""
    lease: LeaseKeeper | None = None
    progress: Callable[[str], None] = field(default=lambda msg: None)
    # Sees every journal/audit entry written (and a lease taken, an Unverified ending); queues the
    # ones the on-call channel hears about (core.notify.NotifyHook). Never raises; None: no channel.
    notify: Callable[[object], None] | None = None

    def journal(self, key: str, event: JournalEvent, **kw: Any) -> JournalEntry:
        entry = self.store.append_journal(JournalEntry(
            env=self.env, key=key, event=event, actor=self.actor, at=self.clock.now(),
            run_id=self.run_id, **kw))
        if self.notify is not None:
            self.notify(entry)
        return entry

    def audit(self, action: str, target: str = "", reason: str = "", **details: Any) -> AuditEntry:
        entry = self.store.append_audit(AuditEntry(
            env=self.env, at=self.clock.now(), actor=self.actor, action=action, target=target,
            reason=reason, details=redact(details)))
        if self.notify is not None:
            self.notify(entry)
        return entry

    def ensure_held(self) -> None:
        if self.lease is not None:
            self.lease.ensure_held()

    def fence(self, what: str = "") -> None:
        """Call immediately before every external write: raises if the lease is no longer ours."""
        if self.lease is not None:
            self.lease.fence(what)
