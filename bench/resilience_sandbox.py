"""bench/resilience.py's harness: a sandbox of its own driven through the CLI, process-group kills,
and the state store read read-only (journal, audit, lock)."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


# --- the sandbox and the CLI ------------------------------------------------------------------

class Sandbox:
    def __init__(self, label: str):
        self.root = Path(tempfile.mkdtemp(prefix=f"cato-resilience-{label}-"))
        self.work = self.root / ".cato-migrate"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("CATO_", "AWS_"))}
        self.env.update({"PYTHONPATH": str(ROOT), "CATO_ENV": "local", "CATO_WORK_DIR": str(self.work),
                         "CATO_SANDBOX_MINUTE_SECONDS": "0.05", "CATO_DRAIN_QUIET_SECONDS": "2",
                         "CATO_LEGACY_REPLICAS": "1", "COLUMNS": "200"})
        self.logs = self.root / "runs"
        self.logs.mkdir()
        self.n = 0

    def argv(self, *a: str) -> list[str]:
        return [sys.executable, "-m", "cato_migrate", *a]

    def run(self, *a: str, timeout: float = 900) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv(*a), cwd=self.root, env=self.env, capture_output=True, text=True,
                              timeout=timeout)

    def must(self, *a: str, want: int = 0, timeout: float = 900) -> subprocess.CompletedProcess:
        r = self.run(*a, timeout=timeout)
        if r.returncode != want:
            raise SystemExit(f"`cato-migrate {' '.join(a)}` exited {r.returncode}, expected {want}:\n"
                             f"{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
        return r

    def json(self, *a: str) -> dict:
        return json.loads(self.must(*a, "--output", "json").stdout)

    def popen(self, *a: str) -> tuple[subprocess.Popen, Path]:
        """Its own process group (so a kill takes any child with it); output to a log file."""
        self.n += 1
        log = self.logs / f"{self.n:03d}.log"
        with open(log, "w") as f:
            p = subprocess.Popen(self.argv(*a), cwd=self.root, env=self.env, stdout=f, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
        return p, log

    def component(self, name: str) -> dict:
        from cato_sandbox.manager import load_sandbox_state

        return next(c for c in (load_sandbox_state(self.work) or {"components": []})["components"] if c["name"] == name)

    def up(self, orchestrator: bool = False) -> str | None:
        self.must("sandbox", "up", timeout=300)
        if orchestrator:
            return self.json("orchestrator", "install")["url"]
        return None

    def down(self) -> list[str]:
        """`sandbox down`, then any process still running in this sandbox's directory (a kill between a
        component's spawn and its record would leave one): reported, then stopped (ours: it runs here)."""
        self.run("sandbox", "down", timeout=300)
        deadline, left = time.monotonic() + 15, []
        while time.monotonic() < deadline:
            left = self.leftovers()
            if not left:
                return []
            time.sleep(0.5)
        for pid, _what in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return [f"pid {pid}: {what}" for pid, what in left]

    def leftovers(self) -> list[tuple[int, str]]:
        from cato_sandbox.ingress import haproxy_dir

        marks = (str(self.root), str(haproxy_dir(self.work.resolve())))
        found = []
        for d in Path("/proc").iterdir():
            if not d.name.isdigit() or int(d.name) == os.getpid():
                continue
            try:
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
                cwd = os.readlink(d / "cwd")
            except OSError:
                continue
            if cmd and (any(m in cmd for m in marks) or cwd.startswith(marks[0])):
                found.append((int(d.name), cmd[:120]))
        return found


def kill_group(p: subprocess.Popen) -> None:
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    p.wait()  # reaped: the pid is gone, as after a real crash


# --- reading the state store (read-only) -----------------------------------------------------

class Journal:
    """The sandbox's SQLite state (adapters/sqlite_store.py schema), read incrementally, never written."""

    def __init__(self, db: Path):
        self.db, self._con, self._seq, self.rows = db, None, 0, []

    def con(self) -> sqlite3.Connection | None:
        if self._con is None and self.db.exists():
            self._con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10, isolation_level=None)
        return self._con

    def refresh(self) -> list[dict]:
        con = self.con()
        if con is not None:
            try:
                rows = con.execute("SELECT seq, body FROM journal WHERE seq > ? ORDER BY seq", (self._seq,)).fetchall()
            except sqlite3.OperationalError:  # busy or schema not there yet
                rows = []
            for seq, body in rows:
                self.rows.append({**json.loads(body), "seq": seq})
                self._seq = seq
        return self.rows

    def boundaries(self, counted) -> int:
        return sum(1 for e in self.refresh() if e["event"] in ("started", "finished") and counted(e["key"]))

    def lock(self) -> dict | None:
        row = self.con().execute("SELECT body FROM lock").fetchone()
        return json.loads(row[0]) if row else None

    def audit(self) -> list[dict]:
        return [json.loads(b) for (b,) in self.con().execute("SELECT body FROM audit ORDER BY seq")]


def step_state(rows: list[dict], key: str) -> str:
    """As core/progress.step_state: the last started/finished/failed/attested entry decides."""
    state = "pending"
    for e in rows:
        if e["key"] == key and e["event"] in ("started", "finished", "failed", "attested"):
            state = {"started": "running", "finished": "done", "attested": "done", "failed": "failed"}[e["event"]]
    return state
