"""The state store (journal, audit log, lock) itself (placeholder: being built)."""
from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True)


@app.command("init")
def init() -> None:
    """Create the state store's table."""
    from cato_migrate.errors import CheckFailed

    raise CheckFailed("state init is not built yet")
