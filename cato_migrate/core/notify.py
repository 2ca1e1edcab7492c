"""Notifications, delivery side: the hook a RunContext calls, payloads, backoff and the flush loop.

    command --ctx.journal/ctx.audit--> NotifyHook --events_for--> Outbox (SQLite, a local write)
    detached `cato-migrate notify flush` --claim--> send (Slack / JSON webhook) --> delivered | retry later

Delivery never runs inside the command that made the event, so a receiver that is down never
slows a rollback. Nothing here reads or sees a webhook URL: channels are names; the adapter
(adapters/notifiers.py) holds the URL and redacts it in everything it prints.
"""
from __future__ import annotations

import json
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urlsplit

from cato_migrate.core.full_rollback import KEY as FULL_KEY
from cato_migrate.core.notify_events import NotifyEvent, cancels_for, events_for, unverified
from cato_migrate.core.rollback_hold import HOLD_KEY
from cato_migrate.core.state import AuditEntry, JournalEntry, LockLease
from cato_migrate.errors import CatoError, ExternalError
from cato_migrate.ports import Enqueuer, Outbox

if TYPE_CHECKING:  # annotations only: wiring builds the hook after the context
    from cato_migrate.core.context import RunContext

MAX_ATTEMPTS = 12          # 30 s doubling to 1 h: about 6 hours of a receiver being down
BACKOFF_BASE_SECONDS = 30.0
BACKOFF_CAP_SECONDS = 3600.0


def backoff_seconds(attempts: int) -> float:
    """Wait after the `attempts`-th failed try (1-based)."""
    return min(BACKOFF_BASE_SECONDS * 2.0 ** max(attempts - 1, 0), BACKOFF_CAP_SECONDS)


def redact_url(url: str) -> str:
    """What may be printed of a webhook URL: scheme, host and the last 4 characters."""
    parts = urlsplit(url.strip())
    tail = url.strip().rstrip("/")[-4:] if len(url.strip()) > 12 else ""
    if not parts.scheme or not parts.hostname:
        return "…" + tail if tail else "(set)"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    # never the user:password part of the netloc, nor the path (Slack's secret is in the path)
    return f"{parts.scheme}://{parts.hostname}{port}/…" + (f"/{tail}" if tail else "")


# ---- payloads --------------------------------------------------------------------------------

_ICON = {"critical": ":rotating_light:", "warning": ":warning:", "info": ":information_source:"}
_HIDDEN = {"text", "actions", "status", "title", "step", "week"}  # announce: shown as its own text


def _mrkdwn(text: object) -> str:
    """User text must not become a Slack link or an @channel: escape &, < and >."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _short(value: object, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, separators=(",", ":"))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def fact_lines(ev: NotifyEvent, limit: int = 12) -> list[str]:
    facts = [(k, v) for k, v in ev.details.items() if not (ev.event == "announce" and k in _HIDDEN)]
    return [f"{k}: {_short(v)}" for k, v in facts[:limit]]


def slack_payload(ev: NotifyEvent) -> dict[str, Any]:
    """An incoming-webhook message: `text` (the notification line) plus blocks for the detail."""
    head = f"{_ICON.get(ev.severity, '')} *[{_mrkdwn(ev.env)}]* {_mrkdwn(ev.summary)}".strip()
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": head[:2900]}}]
    body = ev.details.get("text") if ev.event == "announce" else "\n".join(fact_lines(ev))
    if body:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _mrkdwn(body)[:2900]}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _mrkdwn(
        f"{ev.event} · {ev.actor} · {iso(ev.at)} · cato-migrate")}]})
    return {"text": _mrkdwn(f"[{ev.env}] {ev.summary}")[:3000], "blocks": blocks}


def webhook_payload(ev: NotifyEvent) -> dict[str, Any]:
    """The generic JSON event document."""
    return {"id": ev.id, "event": ev.event, "env": ev.env, "at": iso(ev.at), "actor": ev.actor,
            "summary": ev.summary, "severity": ev.severity, "details": ev.details}


PAYLOADS: dict[str, Callable[[NotifyEvent], dict[str, Any]]] = {"slack": slack_payload, "webhook": webhook_payload}


# ---- the hook --------------------------------------------------------------------------------

def _stderr(line: str) -> None:
    sys.stderr.write(line + "\n")


class NotifyHook:
    """What `RunContext.notify` is: one per command. Remembers this run's `started` entries so a
    finish can be told apart (a quick rollback's 0% from a canary's N%), and never raises."""

    def __init__(self, ctx: RunContext, outbox: Enqueuer, channels: list[str], *, command: str = "",
                 on_error: Callable[[str], None] = _stderr, after_enqueue: Callable[[], None] | None = None):
        self.ctx, self.outbox, self.channels = ctx, outbox, list(channels)
        self.command, self.on_error = command, on_error
        self.after_enqueue = after_enqueue  # starts a detached flush: a 50-minute rollback's start goes out now
        self.queued: list[NotifyEvent] = []
        self._started: dict[str, JournalEntry] = {}
        self._full_open = False
        self._failed = False
        self._seen_audit: set[int] = set()

    def __call__(self, item: object) -> None:
        try:
            self._handle(item)
        except Exception as exc:  # a notification must never break the command
            if not self._failed:  # one line per command, not one per entry
                self.on_error(f"notify: could not queue a notification ({type(exc).__name__}: {exc}); "
                              "the command goes on")
            self._failed = True

    def _handle(self, item: object) -> None:
        ctx = self.ctx
        if isinstance(item, LockLease):
            # core.lock audits a preemption/takeover straight into the store: read it back.
            self.command = self.command or item.command
            for a in ctx.store.audit(ctx.env, 5):
                if (a.action in ("lock.preempt", "lock.takeover") and a.at >= item.started
                        and a.actor == item.holder and a.details.get("by_command") == item.command
                        and a.seq not in self._seen_audit):
                    self._seen_audit.add(a.seq)
                    self._handle(a)
            return
        if isinstance(item, CatoError):
            events = [unverified(item.message, item.hint, env=ctx.env, actor=ctx.actor, at=ctx.clock.now(),
                                 command=self.command)]
            return self._enqueue(events, [])
        if isinstance(item, JournalEntry) and item.event == "started":
            self._started[item.key] = item
            if item.key == FULL_KEY:
                self._full_open = True
        hold = self._started.get(HOLD_KEY)
        events = events_for(item, ctx.runbook, reason=ctx.reason,
                            started=self._started.get(getattr(item, "key", "")), in_full_rollback=self._full_open,
                            began=hold.at if hold is not None else None)
        if isinstance(item, JournalEntry) and item.key == FULL_KEY and item.event != "started":
            self._full_open = False
        if isinstance(item, (JournalEntry, AuditEntry)):
            self._enqueue(events, cancels_for(item))

    def _enqueue(self, events: list[NotifyEvent], cancels: list[str]) -> None:
        for kind in cancels:
            self.outbox.cancel(self.ctx.env, kind)
        if events:
            self.outbox.enqueue(events, self.channels)
            self.queued.extend(events)
            if self.after_enqueue is not None:
                self.after_enqueue()


# ---- the flush loop --------------------------------------------------------------------------

@dataclass(frozen=True)
class OutboxRow:
    id: int
    channel: str
    event: NotifyEvent
    attempts: int
    next_attempt_at: float
    created_at: float
    delivered_at: float | None = None
    failed_at: float | None = None
    last_error: str = ""
    canceled_at: float | None = None


def row_state(row: OutboxRow, now: float) -> str:
    if row.delivered_at is not None:
        return "delivered"
    if row.failed_at is not None:
        return "failed"
    if row.canceled_at is not None:
        return "canceled"
    if row.attempts == 0 and row.next_attempt_at > now:
        return "scheduled"
    return "retrying" if row.attempts else "pending"


def row_view(row: OutboxRow, now: float) -> dict[str, Any]:
    return {"id": row.id, "event": row.event.event, "channel": row.channel, "state": row_state(row, now),
            "attempts": row.attempts, "at": row.event.at, "next_attempt_at": row.next_attempt_at,
            "delivered_at": row.delivered_at, "last_error": row.last_error, "summary": row.event.summary}


@dataclass
class FlushReport:
    env: str
    delivered: int = 0
    retried: int = 0
    gave_up: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"env": self.env, "delivered_now": self.delivered, "retry_later_now": self.retried,
                "gave_up_now": self.gave_up, "errors": self.errors, **self.counts}


Sender = Callable[[NotifyEvent], None]


def flush(outbox: Outbox, senders: dict[str, Sender], *, env: str, now: Callable[[], float],
          lease_seconds: float, max_rows: int = 500) -> FlushReport:
    """Deliver what is due, oldest first per channel. A channel that fails is left for this flush
    (its rows keep their order and back off); another flush running at once claims other rows."""
    report = FlushReport(env=env)
    token = uuid.uuid4().hex
    budget = max_rows
    for channel in outbox.channels_due(env, now()):
        send = senders.get(channel)
        while budget > 0:
            row = outbox.claim(env, channel, now(), lease_seconds, token)
            if row is None:
                break
            budget -= 1
            try:
                if send is None:
                    raise ExternalError(f"no {channel} URL is configured for {env}")
                send(row.event)
            except CatoError as exc:
                attempts = row.attempts + 1
                give_up = attempts >= MAX_ATTEMPTS
                next_at = now() + backoff_seconds(attempts)
                outbox.mark_retry(row.id, token, attempts=attempts, next_at=next_at, error=exc.message,
                                  give_up=give_up, now=now())
                report.gave_up += give_up
                report.retried += not give_up
                report.errors.append({"channel": channel, "event": row.event.event, "attempts": attempts,
                                      "error": exc.message, "next_attempt_at": None if give_up else next_at})
                break
            outbox.mark_delivered(row.id, token, now())
            report.delivered += 1
    report.counts = outbox.counts(env, now())
    return report
