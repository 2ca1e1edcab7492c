"""The state store itself: the journal, the audit log and the lock live there."""
from __future__ import annotations

import typer

from cato_migrate.cli import _common, _render

app = typer.Typer(no_args_is_help=True)


@app.command("init")
def init() -> None:
    """Create the state store named by state_url, once per environment (idempotent): a DynamoDB
    table (pk S HASH, sk S RANGE, PAY_PER_REQUEST; waits until ACTIVE), or a SQLite file and schema.
    Example: CATO_STATE_URL='dynamodb://cato-migrate-state?region=us-east-1' cato-migrate --env staging state init"""
    from cato_migrate.core.clock import SystemClock
    from cato_migrate.core.state import AuditEntry
    from cato_migrate.wiring import default_actor, make_store

    s = _common.settings()
    store = make_store(s, create=True)
    data = {"env": s.env, **store.describe()}
    if data["created"]:
        store.append_audit(AuditEntry(env=s.env, at=SystemClock().now(), actor=s.actor or default_actor(),
                                      action="state.init", target=data.get("table") or data.get("path", ""),
                                      details={k: v for k, v in data.items() if k not in ("env", "created")}))

    def human(c) -> None:
        done = "created" if data["created"] else "already existed; nothing to do"
        if data["store"] == "dynamodb":
            at = f" at {data['endpoint_url']}" if data["endpoint_url"] else ""
            c.print(f"state store for {data['env']}: DynamoDB table {_render.esc(data['table'])} in "
                    f"{_render.esc(data['region'])}{_render.esc(at)} {done} ({data['status']})")
        else:
            c.print(f"state store for {data['env']}: SQLite file {_render.esc(data['path'])} {done}")

    _render.emit(_common.output(), data, human)
