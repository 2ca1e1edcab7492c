"""Send one moment of the runbook's communication plan (placeholder: being built)."""
from __future__ import annotations

import typer


def announce(step: str = typer.Argument(..., help="Communication plan id.")) -> None:
    from cato_migrate.errors import CheckFailed

    raise CheckFailed("announce is not built yet")
