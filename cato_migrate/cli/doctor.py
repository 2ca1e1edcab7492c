"""Check the runbook's prerequisites and rollback readiness, with evidence (placeholder: being built)."""
from __future__ import annotations


def doctor() -> None:
    from cato_migrate.errors import CheckFailed

    raise CheckFailed("doctor is not built yet")
