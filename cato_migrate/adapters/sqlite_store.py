"""SQLite state store: the sandbox's default (`.cato-migrate/state.db`); staging and production use
it only when `state_url` names it explicitly (it is per directory, so per operator).

Lock writes run inside `BEGIN IMMEDIATE` so two processes cannot both take the lock.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from functools import wraps
from pathlib import Path

from cato_migrate.core.state import AcquireResult, AuditEntry, JournalEntry, LockLease
from cato_migrate.errors import BadInput, ExternalError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, env TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS journal_env_key ON journal(env, key);
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, env TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS lock (env TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS audit_append_only_u BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_append_only_d BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
"""


def _serialised(method):
    """One connection, shared with the lock heartbeat thread: one operation at a time."""

    @wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._mutex:
            try:
                return method(self, *args, **kwargs)
            except sqlite3.Error as exc:
                raise ExternalError(f"state store {self.path}: {exc}",
                                    hint="another cato-migrate may be writing; retry in a few seconds") from exc
    return wrapper


class SqliteStateStore:
    def __init__(self, path: str | Path, *, open_attempts: int = 20):
        self.path = Path(path)
        self._mutex = threading.RLock()
        self.created = not self.path.exists()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BadInput(f"cannot create the state store directory {self.path.parent}: {exc}",
                           hint="check CATO_STATE_URL / CATO_WORK_DIR and that the directory is writable") from exc
        for attempt in range(open_attempts):
            try:
                self._db = sqlite3.connect(str(self.path), timeout=30, isolation_level=None,
                                           check_same_thread=False)
                # Switching to WAL and creating the schema can race another process opening a
                # new file at the same moment ("database is locked"); that is worth a retry.
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")
                self._db.executescript(_SCHEMA)
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == open_attempts - 1:
                    raise ExternalError(f"cannot open the state store at {self.path}: {exc}",
                                        hint="another cato-migrate may be starting; retry in a few seconds") from exc
                time.sleep(0.05 * (attempt + 1))
            except sqlite3.Error as exc:
                raise BadInput(f"cannot open the state store at {self.path}: {exc}",
                               hint="check CATO_STATE_URL points at a cato-migrate SQLite file") from exc

    def store_time(self) -> float:
        return time.time()  # the file lives on this host: its clock is the store's

    def describe(self) -> dict:
        return {"store": "sqlite", "path": str(self.path), "created": self.created}

    def _tx(self):
        return _Tx(self._db)

    @_serialised
    def append_journal(self, entry: JournalEntry) -> JournalEntry:
        with self._tx() as db:
            cur = db.execute("INSERT INTO journal(env, key, body) VALUES (?,?,?)",
                             (entry.env, entry.key, entry.model_dump_json()))
            return entry.model_copy(update={"seq": cur.lastrowid})

    @_serialised
    def journal(self, env: str, key: str | None = None) -> list[JournalEntry]:
        if key is None:
            rows = self._db.execute("SELECT seq, body FROM journal WHERE env=? ORDER BY seq", (env,))
        else:
            rows = self._db.execute("SELECT seq, body FROM journal WHERE env=? AND key=? ORDER BY seq", (env, key))
        return [JournalEntry.model_validate({**json.loads(b), "seq": s}) for s, b in rows.fetchall()]

    @_serialised
    def append_audit(self, entry: AuditEntry) -> AuditEntry:
        with self._tx() as db:
            cur = db.execute("INSERT INTO audit(env, body) VALUES (?,?)", (entry.env, entry.model_dump_json()))
            return entry.model_copy(update={"seq": cur.lastrowid})

    @_serialised
    def audit(self, env: str, limit: int = 100) -> list[AuditEntry]:
        rows = self._db.execute(
            "SELECT seq, body FROM (SELECT seq, body FROM audit WHERE env=? ORDER BY seq DESC LIMIT ?) ORDER BY seq",
            (env, limit)).fetchall()
        return [AuditEntry.model_validate({**json.loads(b), "seq": s}) for s, b in rows]

    @_serialised
    def read_lock(self, env: str) -> LockLease | None:
        row = self._db.execute("SELECT body FROM lock WHERE env=?", (env,)).fetchone()
        return LockLease.model_validate_json(row[0]) if row else None

    @_serialised
    def acquire_lock(self, lease: LockLease, *, preempt: bool = False,
                     replace: LockLease | None = None) -> AcquireResult:
        with self._tx() as db:
            row = db.execute("SELECT body FROM lock WHERE env=?", (lease.env,)).fetchone()
            previous = LockLease.model_validate_json(row[0]) if row else None
            if previous is not None and previous.token == lease.token:
                return AcquireResult(acquired=True, lease=previous, previous=None)
            free = previous is None or (replace is not None and previous.version == replace.version)
            if not (free or preempt):
                return AcquireResult(acquired=False, previous=previous)
            db.execute("INSERT OR REPLACE INTO lock(env, body) VALUES (?,?)", (lease.env, lease.model_dump_json()))
            return AcquireResult(acquired=True, lease=lease, previous=previous)

    @_serialised
    def renew_lock(self, env: str, token: str, *, rvn: str, heartbeat: float, expires: float) -> bool:
        with self._tx() as db:
            row = db.execute("SELECT body FROM lock WHERE env=?", (env,)).fetchone()
            if not row:
                return False
            cur = LockLease.model_validate_json(row[0])
            if cur.token != token:
                return False
            new = cur.model_copy(update={"rvn": rvn, "heartbeat": heartbeat, "expires": expires})
            db.execute("UPDATE lock SET body=? WHERE env=?", (new.model_dump_json(), env))
            return True

    @_serialised
    def release_lock(self, env: str, token: str | None) -> LockLease | None:
        with self._tx() as db:
            row = db.execute("SELECT body FROM lock WHERE env=?", (env,)).fetchone()
            if not row:
                return None
            cur = LockLease.model_validate_json(row[0])
            if token is not None and cur.token != token:
                return None
            db.execute("DELETE FROM lock WHERE env=?", (env,))
            return cur


class _Tx:
    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise ExternalError(f"state store is busy or unwritable: {exc}",
                                hint="another cato-migrate may be writing; retry in a few seconds") from exc
        return self.db

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.db.execute("COMMIT")
        else:
            self.db.execute("ROLLBACK")
