"""Check kinds whose measurement comes with later work. They never pass.

They are registered so the runbook loads and `phase validate` shows them as not implemented."""
from __future__ import annotations

from typing import Any

from pydantic import ConfigDict

from cato_migrate.core.kinds import CheckKind, register_check
from cato_migrate.core.model import CoreModel


class AnyParams(CoreModel):
    """A placeholder's params: whatever the runbook gives (it is never evaluated)."""

    model_config = ConfigDict(extra="allow")

    def __getattr__(self, item: str) -> Any:  # pragma: no cover - only for plan text
        return (self.model_extra or {}).get(item)


_PLANNED = {
    "complaints": "user complaints signal (needs a support-ticket source)",
}

for _name, _what in _PLANNED.items():
    register_check(type(f"Planned_{_name}", (CheckKind,), {
        "name": _name, "Params": AnyParams, "implemented": False, "planned_for": _what}))
