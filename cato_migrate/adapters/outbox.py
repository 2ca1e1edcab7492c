"""The notification outbox: SQLite at `<work_dir>/outbox.db`, one row per (event, channel).

Enqueueing is one local write. Delivery is `cato-migrate notify flush`, which a mutating command
starts detached when rows are due (`spawn_flush`). Flushes may run at once: a row is claimed by a
guarded UPDATE inside `BEGIN IMMEDIATE`, with a lease so a flush that dies frees its rows.
Rows never hold a URL, only the channel's name.
"""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from cato_migrate.core.notify import MAX_ATTEMPTS, NotifyHook, OutboxRow
from cato_migrate.core.notify_events import NotifyEvent
from cato_migrate.errors import ExternalError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL, channel TEXT NOT NULL, env TEXT NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL,
  created_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL NOT NULL,
  delivered_at REAL, failed_at REAL, canceled_at REAL, last_error TEXT NOT NULL DEFAULT '',
  claimed_by TEXT, claim_until REAL,
  UNIQUE (event_id, channel));
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(env, channel, delivered_at, next_attempt_at);
"""
_OPEN = "delivered_at IS NULL AND failed_at IS NULL AND canceled_at IS NULL"
_COLS = "id, channel, body, attempts, next_attempt_at, created_at, delivered_at, failed_at, last_error, canceled_at"


def outbox_path(settings) -> Path:
    return Path(settings.work_dir) / "outbox.db"


class SqliteOutbox:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._mutex = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), timeout=10, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ExternalError(f"cannot open the notification outbox {self.path}: {exc}") from None

    def close(self) -> None:
        self._db.close()

    def _write(self, fn):
        """One write transaction (BEGIN IMMEDIATE: a second writer waits, never interleaves)."""
        with self._mutex:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    out = fn(self._db)
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
                return out
            except sqlite3.Error as exc:
                raise ExternalError(f"notification outbox {self.path}: {exc}") from None

    def _read(self, sql: str, args: tuple) -> list:
        with self._mutex:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise ExternalError(f"notification outbox {self.path}: {exc}") from None

    def enqueue(self, events: list[NotifyEvent], channels: list[str]) -> int:
        rows = [(ev.id, ch, ev.env, ev.event, ev.model_dump_json(), ev.at, ev.not_before or ev.at)
                for ev in events for ch in channels]

        def ins(db):
            before = db.total_changes
            db.executemany("INSERT OR IGNORE INTO outbox(event_id, channel, env, kind, body, created_at, "
                           "next_attempt_at) VALUES (?,?,?,?,?,?,?)", rows)
            return db.total_changes - before

        return self._write(ins)

    def cancel(self, env: str, kind: str) -> int:
        """Drop undelivered, never-tried rows of a kind (a scheduled reminder that a newer fact made stale)."""
        return self._write(lambda db: db.execute(
            f"UPDATE outbox SET canceled_at=? WHERE env=? AND kind=? AND attempts=0 AND {_OPEN}",
            (time.time(), env, kind)).rowcount)

    def claim(self, env: str, channel: str, now: float, lease_seconds: float, token: str) -> OutboxRow | None:
        def take(db):
            row = db.execute(
                f"SELECT {_COLS} FROM outbox WHERE env=? AND channel=? AND {_OPEN} AND next_attempt_at<=? "
                "AND (claimed_by IS NULL OR claim_until<?) ORDER BY id LIMIT 1", (env, channel, now, now)).fetchone()
            if row is None:
                return None
            got = db.execute("UPDATE outbox SET claimed_by=?, claim_until=? WHERE id=? "
                             "AND (claimed_by IS NULL OR claim_until<?)",
                             (token, now + lease_seconds, row[0], now)).rowcount
            return _row(row) if got == 1 else None

        return self._write(take)

    def mark_delivered(self, row_id: int, token: str, now: float) -> bool:
        return self._write(lambda db: db.execute(
            "UPDATE outbox SET delivered_at=?, last_error='', claimed_by=NULL, claim_until=NULL "
            "WHERE id=? AND claimed_by=? AND delivered_at IS NULL", (now, row_id, token)).rowcount == 1)

    def mark_retry(self, row_id: int, token: str, *, attempts: int, next_at: float, error: str,
                   give_up: bool, now: float) -> bool:
        return self._write(lambda db: db.execute(
            "UPDATE outbox SET attempts=?, next_attempt_at=?, last_error=?, failed_at=?, claimed_by=NULL, "
            "claim_until=NULL WHERE id=? AND claimed_by=?",
            (attempts, next_at, error[:500], now if give_up else None, row_id, token)).rowcount == 1)

    def retry_now(self, env: str, now: float) -> int:
        """Make every row that has failed (backing off or given up) due now; a scheduled one keeps its time."""
        return self._write(lambda db: db.execute(
            "UPDATE outbox SET failed_at=NULL, attempts=MIN(attempts, ?), next_attempt_at=? WHERE env=? "
            "AND attempts>0 AND delivered_at IS NULL AND canceled_at IS NULL",
            (MAX_ATTEMPTS - 1, now, env)).rowcount)

    def channels_due(self, env: str, now: float) -> list[str]:
        return [r[0] for r in self._read(
            f"SELECT DISTINCT channel FROM outbox WHERE env=? AND {_OPEN} AND next_attempt_at<=? ORDER BY channel",
            (env, now))]

    def counts(self, env: str, now: float) -> dict:
        (delivered, failed, canceled, scheduled, pending), = self._read(
            "SELECT COALESCE(SUM(delivered_at IS NOT NULL),0), COALESCE(SUM(failed_at IS NOT NULL AND delivered_at IS NULL),0), "
            f"COALESCE(SUM(canceled_at IS NOT NULL),0), COALESCE(SUM({_OPEN} AND attempts=0 AND next_attempt_at>?),0), "
            f"COALESCE(SUM({_OPEN} AND NOT (attempts=0 AND next_attempt_at>?)),0) FROM outbox WHERE env=?",
            (now, now, env))
        return {"delivered": delivered, "pending": pending, "failed": failed, "scheduled": scheduled,
                "canceled": canceled}

    def rows(self, env: str, limit: int = 20) -> list[OutboxRow]:
        return [_row(r) for r in self._read(
            f"SELECT {_COLS} FROM outbox WHERE env=? ORDER BY id DESC LIMIT ?", (env, limit))]

    def has_due(self, env: str, now: float) -> bool:
        return bool(self.channels_due(env, now))


def _row(r) -> OutboxRow:
    return OutboxRow(id=r[0], channel=r[1], event=NotifyEvent.model_validate_json(r[2]), attempts=r[3],
                     next_attempt_at=r[4], created_at=r[5], delivered_at=r[6], failed_at=r[7], last_error=r[8] or "",
                     canceled_at=r[9])


def notify_hook(ctx, *, background: bool = True) -> NotifyHook | None:
    """RunContext.notify for this environment, or None when no channel is configured. With
    `background`, each enqueue starts a detached flush unless the last one started still runs."""
    from cato_migrate.adapters.notifiers import configured_channels

    channels = configured_channels(ctx.settings)
    if not channels:
        return None
    return NotifyHook(ctx, _LazyOutbox(outbox_path(ctx.settings)), sorted(channels),
                      after_enqueue=_Background(ctx.settings) if background else None)


class _Background:
    def __init__(self, settings):
        self.settings, self.child = settings, None

    def __call__(self) -> None:
        if self.child is not None and self.child.poll() is None:
            return  # the running flush claims rows until none are due, this one's included
        self.child = spawn_flush(self.settings) or self.child


class _LazyOutbox:
    """Opens the SQLite file on the first event, so a command that emits none never touches it."""

    def __init__(self, path: Path):
        self.path, self._ob = path, None

    def _get(self) -> SqliteOutbox:
        if self._ob is None:
            self._ob = SqliteOutbox(self.path)
        return self._ob

    def enqueue(self, events, channels) -> int:
        return self._get().enqueue(events, channels)

    def cancel(self, env, kind) -> int:
        return self._get().cancel(env, kind)


def spawn_flush(settings, *, now: float | None = None) -> subprocess.Popen | None:
    """Start a detached `cato-migrate notify flush` when rows are due; never raises, never waits."""
    try:
        path = outbox_path(settings)
        if not path.exists():
            return None
        ob = SqliteOutbox(path)
        try:
            due = ob.has_due(settings.env, time.time() if now is None else now)
        finally:
            ob.close()
        if not due:
            return None
        with open(Path(settings.work_dir) / "notify.log", "ab") as log:
            return subprocess.Popen([sys.executable, "-m", "cato_migrate", "--env", settings.env, "notify", "flush"],
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                                    close_fds=True, env=dict(os.environ))
    except Exception as exc:  # the command already did its job; delivery is best effort from here
        sys.stderr.write(f"notify: could not start the background delivery ({exc}); "
                         "run `cato-migrate notify flush`\n")
        return None
