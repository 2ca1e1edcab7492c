"""Notifications: the outbox of events for the on-call channel (placeholder: being built)."""
from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True)


@app.command("flush")
def flush() -> None:
    """Send what the outbox holds."""
    from cato_migrate.errors import CheckFailed

    raise CheckFailed("notify is not built yet")
