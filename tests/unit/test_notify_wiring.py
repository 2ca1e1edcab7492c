"""The CLI's wiring: make_context sets the hook only when a channel is configured; `mutating` queues
an exit-5 ending and starts the detached flush on the way out."""
import pytest

from cato_migrate.adapters.outbox import SqliteOutbox
from cato_migrate.cli import _common
from cato_migrate.errors import Unverified


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    for k in list(__import__("os").environ):
        if k.startswith("CATO_"):
            monkeypatch.delenv(k)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CATO_WORK_DIR", str(tmp_path / "w"))
    return tmp_path


def test_no_channel_no_hook_and_no_outbox(workdir):
    ctx = _common.reading()
    assert ctx.notify is None
    ctx.audit("guardrail.override", "x", "why")
    assert not (workdir / "w" / "outbox.db").exists()


def test_mutating_queues_an_unverified_ending_and_spawns_the_flush(workdir, monkeypatch):
    import cato_migrate.adapters.outbox as outbox

    monkeypatch.setenv("CATO_NOTIFY_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    spawned = []
    monkeypatch.setattr(outbox, "spawn_flush", lambda s, **kw: spawned.append(s.env))
    with pytest.raises(Unverified):
        with _common.mutating("canary set 10") as ctx:
            assert ctx.notify is not None and ctx.notify.channels == ["webhook"]
            raise Unverified("deployment #3 is ROLLED_BACK", hint="run `cato-migrate canary status`")
    rows = SqliteOutbox(workdir / "w" / "outbox.db").rows("local")
    assert [r.event.event for r in rows] == ["unverified"]
    assert rows[0].event.details["next"] == "run `cato-migrate canary status`"
    assert spawned == ["local", "local"]  # once when the event was queued, once on the way out
