"""Notifications end to end: the real CLI, a Slack-style and a JSON webhook receiver on loopback.

Receiver up: events are delivered by the detached `notify flush`. Receiver hanging: the command
still returns at once, rows stay pending with backoff; receiver back: `notify flush --now` delivers.
"""
from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.cli.conftest import Cli, cli_env


class Receiver:
    """Records POSTs by path; answers 200 ("ok", as Slack does)."""

    def __init__(self):
        self.posts: list[tuple[str, dict]] = []
        got = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                got.append((self.path, json.loads(body)))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def by_path(self, path: str) -> list[dict]:
        return [b for p, b in self.posts if p == path]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def hanging():
    """A listener that accepts connections and never answers: a receiver that is down the slow way."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    yield f"http://127.0.0.1:{s.getsockname()[1]}"
    s.close()


def _cli(tmp_path: Path, slack: str, hook: str) -> Cli:
    """URLs in secret files, configured for `local` under [environments.local] as an operator would."""
    (tmp_path / "slack.url").write_text(slack + "\n")
    (tmp_path / "hook.url").write_text(hook + "\n")
    (tmp_path / "cato-migrate.toml").write_text(
        "[environments.local]\n"
        f'notify_slack_url_file = "{tmp_path / "slack.url"}"\n'
        f'notify_webhook_url_file = "{tmp_path / "hook.url"}"\n'
        "notify_timeout_seconds = 1\n")
    return Cli(tmp_path, cli_env(tmp_path, CATO_STATE_URL=str(tmp_path / "state.db")))


def _poll(fn, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def test_events_reach_slack_and_the_json_webhook(tmp_path, receiver):
    cli = _cli(tmp_path, receiver.base + "/services/T1/B2/secretTOKEN1", receiver.base + "/events")
    r = cli.run("attest", "p4.w13.alert-oncall", "--by", "alice", "--note", "paged <!channel>")
    assert r.returncode == 0, r.stderr
    r = cli.run("announce", "canary-start")
    assert r.returncode == 0, r.stderr
    assert _poll(lambda: len(receiver.by_path("/events")) >= 2 and len(receiver.by_path("/services/T1/B2/secretTOKEN1")) >= 2)
    events = {e["event"]: e for e in receiver.by_path("/events")}
    assert set(events) == {"attestation", "announce"}
    assert events["attestation"]["actor"] and events["attestation"]["env"] == "local"
    assert "alice" in events["attestation"]["summary"]
    assert "Alert on-call team" in events["announce"]["details"]["text"]
    slack = receiver.by_path("/services/T1/B2/secretTOKEN1")
    assert all("text" in m and "blocks" in m for m in slack)
    assert "<!channel>" not in json.dumps(slack)  # user text cannot ping the channel
    status = cli.json("notify", "status")
    assert status["delivered"] == 4 and status["pending"] == 0
    assert len(receiver.by_path("/events")) == 2  # two detached flushes ran; each event went once
    port = receiver.server.server_address[1]
    assert [c["url"] for c in status["channels"]] == [f"http://127.0.0.1:{port}/…/KEN1", f"http://127.0.0.1:{port}/…/ents"]
    history = cli.run("history", "--output", "json")
    for text in (r.stdout, r.stderr, history.stdout, json.dumps(status)):
        assert "secretTOKEN1" not in text


def test_receiver_down_never_holds_the_command_and_flush_delivers_later(tmp_path, receiver, hanging):
    cli = _cli(tmp_path, hanging + "/services/T1/B2/secretTOKEN2", hanging + "/events")
    r = cli.run("attest", "p4.w13.alert-oncall", "--by", "bob", timeout=30)
    assert r.returncode == 0, r.stderr
    # the detached flush times out on both channels and backs off; nothing was delivered
    def all_retrying():
        rows = cli.json("notify", "status")["rows"]
        return rows if rows and all(x["state"] == "retrying" for x in rows) else None

    rows = _poll(all_retrying)
    assert rows and all(x["attempts"] == 1 and x["next_attempt_at"] > time.time() for x in rows)
    assert all("secretTOKEN2" not in x["last_error"] for x in rows)
    flushed = cli.run("notify", "flush", "--output", "json")  # nothing due yet: no attempt, exit 0
    assert flushed.returncode == 0 and json.loads(flushed.stdout)["delivered_now"] == 0
    # the receiver is back (the secret file now names it): flush --now delivers at once
    (tmp_path / "slack.url").write_text(receiver.base + "/services/T1/B2/secretTOKEN2")
    (tmp_path / "hook.url").write_text(receiver.base + "/events")
    flushed = cli.run("notify", "flush", "--now", "--output", "json")
    assert flushed.returncode == 0, flushed.stdout + flushed.stderr
    report = json.loads(flushed.stdout)
    assert report["delivered_now"] == 2 and report["pending"] == 0
    assert [e["event"] for e in receiver.by_path("/events")] == ["attestation"]
