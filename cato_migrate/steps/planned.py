"""Step kinds the runbook names whose implementation comes with later work.

They are registered so the runbook loads and `plan` shows them; running one stops the
phase with "not implemented yet". They can never report done.
"""
from __future__ import annotations

from typing import Any

from pydantic import ConfigDict

from cato_migrate.core.kinds import StepKind, register_step
from cato_migrate.core.model import CoreModel


class AnyParams(CoreModel):
    model_config = ConfigDict(extra="allow")

    def __getattr__(self, item: str) -> Any:  # pragma: no cover - only for plan text
        return (self.model_extra or {}).get(item)


_PLANNED = {
    "orchestrator_install": "install the orchestrator (orchestrator work)",
}


def _make(kind_name: str, what: str) -> type[StepKind]:
    return register_step(type(f"Planned_{kind_name}", (StepKind,), {
        "name": kind_name, "Params": AnyParams, "implemented": False,
        "planned_for": what,
    }))


for _name, _what in _PLANNED.items():
    _make(_name, _what)
